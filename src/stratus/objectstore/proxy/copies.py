"""Server-side copy: ``COPY`` with ``Destination``, and ``PUT`` with ``X-Copy-From``.

The source is read from one replica and streamed into a normal PUT of the destination
(``objects.store``): same quorum, same container update, and the source's ETag is sent
along so every destination replica checks what it received. The copy keeps the source's
content type and metadata, with the request's metadata on top, unless
``X-Fresh-Metadata: true`` asks for the request's alone.
"""

from __future__ import annotations

from urllib.parse import quote, unquote

import httpx

from stratus.objectstore.proxy.cluster import Cluster
from stratus.objectstore.proxy.errors import PreconditionFailed, TooLarge
from stratus.objectstore.proxy.objects import META, object_headers, open_object, store
from stratus.objectstore.proxy.request import ObjectName, SwiftRequest
from stratus.objectstore.proxy.responses import RawResponse
from stratus.objectstore.storage.server_request import STORED_HEADERS, InvalidPath


def split_copy_path(value: str, header: str) -> tuple[str, str]:
    """``[/]container/object`` (percent-encoded, as clients send it; the decoded name
    must be UTF-8 without NUL, as a path must)."""
    try:
        decoded = unquote(value.strip(), errors="strict")
    except UnicodeDecodeError:
        raise InvalidPath() from None
    if "\x00" in decoded:
        raise InvalidPath()
    container, _, obj = decoded.lstrip("/").partition("/")
    if not container or not obj:
        raise PreconditionFailed(
            f"{header} header must be of the form <container name>/<object name>"
        )
    return container, obj


async def put_copy(cluster: Cluster, req: SwiftRequest) -> RawResponse:
    assert req.container is not None and req.obj is not None
    length = req.headers.get("content-length", "0").strip()
    if length not in ("", "0"):
        raise PreconditionFailed("A copy request must have no body")
    src = split_copy_path(req.headers["x-copy-from"], "X-Copy-From")
    return await _copy(cluster, req, src, (req.container, req.obj))


async def copy(cluster: Cluster, req: SwiftRequest) -> RawResponse:
    assert req.container is not None and req.obj is not None
    if "destination" not in req.headers:
        raise PreconditionFailed("Destination header required")
    dst = split_copy_path(req.headers["destination"], "Destination")
    cluster.constraints.check_names(req.account, *dst)
    return await _copy(cluster, req, (req.container, req.obj), dst)


async def _copy(
    cluster: Cluster, req: SwiftRequest, src: tuple[str, str], dst: tuple[str, str]
) -> RawResponse:
    cluster.constraints.check_metadata(req.headers, "object")
    source = await open_object(cluster, ObjectName(req.account, *src), "GET", {})
    if isinstance(source, RawResponse):
        return source
    try:
        length = int(source.headers.get("content-length", "0"))
        if length > cluster.constraints.max_file_size:
            raise TooLarge
        headers = _copy_headers(req, source, dst[1], length)
        target = ObjectName(req.account, *dst)
        result = await store(cluster, req, target, headers, body=source.aiter_raw(), length=length)
    finally:
        await source.aclose()
    result.headers.append((b"x-copied-from", quote(f"{src[0]}/{src[1]}").encode()))
    modified = source.headers.get("last-modified")
    if modified:
        result.headers.append((b"x-copied-from-last-modified", modified.encode()))
    return result


def _copy_headers(
    req: SwiftRequest, source: httpx.Response, obj: str, length: int
) -> dict[str, str]:
    """The destination's headers: the source's type and metadata under the request's."""
    meta: dict[str, str] = {}
    if not req.flag("x-fresh-metadata"):
        for raw_name, raw_value in source.headers.raw:
            name = raw_name.decode("latin-1").lower()
            if name.startswith(META) or name in STORED_HEADERS:
                meta[name] = raw_value.decode("utf-8", "replace")
    given = dict(req.headers)
    given.setdefault("content-type", source.headers.get("content-type", ""))
    given.pop("etag", None)
    headers = object_headers(_with_headers(req, given, obj), length=length)
    merged = {**meta, **headers}  # the request's own metadata wins
    etag = source.headers.get("etag", "").strip('"')
    if etag:
        merged["ETag"] = etag
    return merged


def _with_headers(req: SwiftRequest, headers: dict[str, str], obj: str) -> SwiftRequest:
    return SwiftRequest(
        req.scope,
        req.receive,
        "PUT",
        req.account,
        req.container,
        obj,
        headers,
        req.query,
        req.caller,
        req.timestamp,
    )
