"""What the quota middleware need to know about an object write: where it lands, how
big it is, and a way to stop a body of unknown length once it outgrows the room left.

A PUT's size is its Content-Length; a copy's (``COPY``, or ``PUT`` with
``X-Copy-From``) is its source's, read with a HEAD. A chunked upload has no size until
it ends, so its body is counted as it arrives and the upload fails with 413 (storing
nothing) at the first chunk over the limit.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import unquote

from starlette.types import ASGIApp, Message, Receive, Scope

from stratus.objectstore.middleware.resource_info import head_headers, int_header, is_number
from stratus.objectstore.proxy.errors import TooLarge
from stratus.objectstore.proxy.swift_scope import RequestView

OVER_QUOTA = "Upload exceeds quota."


@dataclass(frozen=True, slots=True)
class Upload:
    container: str  # where the object lands
    length: int | None  # None: chunked, known only at the end


def _split(value: str) -> tuple[str, str] | None:
    container, _, obj = unquote(value.strip()).lstrip("/").partition("/")
    return (container, obj) if container and obj else None


async def upload_of(app: ASGIApp, scope: Scope, view: RequestView, source: str) -> Upload | None:
    """The object write this request makes, or ``None`` if it makes none (or is too
    malformed for the core to accept anyway)."""
    if view.container is None or view.obj is None:
        return None
    if view.method == "COPY":
        target = _split(view.headers.get("destination", ""))
        if target is None:
            return None
        size = await _size(app, scope, f"/v1/{view.account}/{view.container}/{view.obj}", source)
        return Upload(target[0], size)
    if view.method != "PUT":
        return None
    copied = view.headers.get("x-copy-from")
    if copied is not None:
        src = _split(copied)
        if src is None:
            return None
        size = await _size(app, scope, f"/v1/{view.account}/{src[0]}/{src[1]}", source)
        return Upload(view.container, size)
    length = view.headers.get("content-length")
    if length is None:
        return Upload(view.container, None)
    return Upload(view.container, int(length) if is_number(length.strip()) else 0)


async def _size(app: ASGIApp, scope: Scope, path: str, source: str) -> int:
    """A copy source's size; 0 if it is missing (the core then answers 404)."""
    return int_header(await head_headers(app, scope, path, source=source), "content-length") or 0


def bounded(receive: Receive, room: int) -> Receive:
    """``receive`` that raises 413 once more than ``room`` body bytes have come."""
    received = 0

    async def counting() -> Message:
        nonlocal received
        message = await receive()
        if message["type"] == "http.request":
            received += len(message.get("body", b""))
            if received > room:
                raise TooLarge(OVER_QUOTA)
        return message

    return counting


def over(used: int | None, quota: int | None, adding: int) -> bool:
    """Whether ``used + adding`` passes ``quota`` (no quota or no figure: never)."""
    return quota is not None and used is not None and used + adding > quota
