"""ASGI plumbing shared by the proxy and the storage servers.

Swift carries UTF-8 in header values and query strings, which Starlette would read as
latin-1, and object bodies must stop streaming the moment the client goes away.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, Collection, Coroutine
from typing import Any
from urllib.parse import parse_qsl

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send

from stratus.common.errors import InvalidInput

INVALID = "objectstore.request.invalid"


def utf8_headers(scope: Scope) -> dict[str, str]:
    """Lower-cased names; values as strict UTF-8 text (a repeated header: the last one)."""
    out: dict[str, str] = {}
    for raw_name, raw_value in scope["headers"]:
        name = raw_name.decode("latin-1").lower()
        try:
            out[name] = raw_value.decode("utf-8")
        except UnicodeDecodeError:
            raise InvalidInput(INVALID, f"Invalid UTF-8 in header {name}") from None
    return out


def query_params(scope: Scope) -> dict[str, str]:
    """The query string as strict UTF-8 pairs (a repeated key: the last one)."""
    raw: bytes = scope.get("query_string", b"")
    try:
        pairs = parse_qsl(raw.decode("utf-8"), keep_blank_values=True, errors="strict")
    except (UnicodeDecodeError, ValueError):
        raise InvalidInput(INVALID, "Invalid UTF-8 in query string") from None
    return dict(pairs)


async def until_disconnect(receive: Receive) -> None:
    while (await receive())["type"] != "http.disconnect":
        pass


async def stream_unless_disconnected(
    stream: Coroutine[Any, Any, None], receive: Receive
) -> BaseException | None:
    """Run ``stream`` until it ends or the client disconnects; return its failure, if any.

    Whichever finishes first cancels the other, so a departed client stops the reads
    (from disk or from a backend) at once instead of them running into the void.
    """
    streaming = asyncio.ensure_future(stream)
    watching = asyncio.ensure_future(until_disconnect(receive))
    try:
        await asyncio.wait({streaming, watching}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in (streaming, watching):
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
    if streaming.cancelled():
        return None
    return streaming.exception()


def one_handler_app(
    handler: Callable[[Request], Awaitable[Response]], methods: Collection[str]
) -> ASGIApp:
    """An ASGI app sending every path to ``handler``: a storage server has one route.

    Starlette's router, exception layers and endpoint wrapper cost about a tenth of a
    small GET's CPU in the storage servers for nothing they use. A method outside
    ``methods`` (HEAD is allowed with GET) is a 405 rendered by the ``EdgeMiddleware``
    around this app, as the router's was.
    """
    allowed = frozenset(methods) | ({"HEAD"} if "GET" in methods else set())
    allow = ", ".join(sorted(allowed))

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await _acknowledge_lifespan(receive, send)
            return
        if scope["method"] not in allowed:
            raise HTTPException(405, headers={"Allow": allow})
        response = await handler(Request(scope, receive, send))
        await response(scope, receive, send)

    return app


async def _acknowledge_lifespan(receive: Receive, send: Send) -> None:
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await send({"type": "lifespan.shutdown.complete"})
            return
