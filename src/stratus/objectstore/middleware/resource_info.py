"""What middleware ask of a container or account before acting on an object: its
metadata, sysmeta and usage, from one HEAD sent down the pipeline.

Swift caches this "container info" per request and in memcache. Here a middleware that
has read it hands it down with the request (``with_info``), so the next one does not ask
again, but nothing outlives the request: a quota checked against a stale count would let
uploads through.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Scope

from stratus.objectstore.proxy import swift_scope
from stratus.objectstore.proxy.errors import QuorumLost
from stratus.objectstore.proxy.subrequest import subrequest

INFO = swift_scope.RESOURCE_INFO


async def head_headers(app: ASGIApp, scope: Scope, path: str, *, source: str) -> dict[str, str]:
    """The headers of ``HEAD path`` (lower-case names); empty when it does not exist.

    A server-side failure is a 503: acting without the facts could break a promise
    (a quota, a version) the metadata makes."""
    known: dict[str, dict[str, str]] = scope.get(INFO, {})
    if path in known:
        return known[path]
    async with await subrequest(app, scope, "HEAD", path, source=source) as sub:
        if sub.ok:
            return sub.headers()
        if sub.status >= 500:
            raise QuorumLost(f"Could not read {path}")
        return {}


def with_info(scope: Scope, path: str, headers: dict[str, str]) -> Scope:
    """``scope`` for the rest of the pipeline, carrying what ``path`` is known to hold."""
    return {**scope, INFO: {**scope.get(INFO, {}), path: headers}}


def is_number(text: str) -> bool:
    """ASCII digits only (``str.isdecimal`` would take other scripts' digits too)."""
    return text.isascii() and text.isdecimal()


def int_header(headers: dict[str, str], name: str) -> int | None:
    """A non-negative integer header's value; ``None`` when absent or not a number."""
    value = headers.get(name, "").strip()
    return int(value) if is_number(value) else None
