"""Responses to the client: headers forwarded from a backend, and object bodies streamed
straight from a storage node without buffering.

Headers travel as raw bytes in both directions, because metadata values are UTF-8 and
Starlette would encode ``str`` headers as latin-1. Backend-only headers (``X-Backend-*``)
and hop-by-hop headers never reach the client.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping

import httpx
from starlette.types import Receive, Scope, Send

from stratus.common.asgi.faults import title
from stratus.objectstore.asgi_io import stream_unless_disconnected
from stratus.objectstore.proxy.backend import RawHeaders

log = logging.getLogger(__name__)

_DROP = frozenset(
    {
        b"connection",
        b"keep-alive",
        b"transfer-encoding",
        b"date",
        b"server",
        b"x-openstack-request-id",
        b"content-length",
    }
)


def forwarded(raw: Iterable[tuple[bytes, bytes]]) -> RawHeaders:
    """The backend headers a client may see (length is set by the response itself).

    Swift sends an object's ETag without quotes, and clients compare it as sent."""
    out: RawHeaders = []
    for name, value in raw:
        key = name.lower()
        if key in _DROP or key.startswith(b"x-backend-"):
            continue
        out.append((key, value.strip(b'"') if key == b"etag" else value))
    return out


def plain_headers(headers: Mapping[str, str]) -> RawHeaders:
    return [(k.lower().encode("latin-1"), v.encode("utf-8")) for k, v in headers.items()]


class RawResponse:
    """A complete response with raw headers and ``Content-Length`` from the body; an
    error without a body gets Swift's one-line reason (except to a HEAD, or when ``bare``:
    a 412 from a condition carries the object's headers and nothing else)."""

    def __init__(
        self, status: int, headers: RawHeaders, body: bytes = b"", *, bare: bool = False
    ) -> None:
        self.status = status
        self.headers = headers
        self.body = body
        self.bare = bare

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        body, headers = self.body, list(self.headers)
        explain = self.status >= 400 and not self.bare and scope.get("method") != "HEAD"
        if explain and not body:
            body = f"{title(self.status)}\n".encode()
            headers.append((b"content-type", b"text/plain; charset=utf-8"))
        headers.append((b"content-length", str(len(body)).encode()))
        await send({"type": "http.response.start", "status": self.status, "headers": headers})
        await send({"type": "http.response.body", "body": body, "more_body": False})


class StreamedResponse:
    """An object body read from one backend response as the client takes it.

    A client that disconnects stops the backend read at once; the backend response is
    always closed, so its pooled connection is either reused or dropped, never leaked."""

    def __init__(self, status: int, headers: RawHeaders, source: httpx.Response) -> None:
        self.status = status
        length = source.headers.get("content-length")
        extra = [(b"content-length", length.encode())] if length is not None else []
        self.headers = [*headers, *extra]
        self.source = source

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            failure = await stream_unless_disconnected(self._stream(send), receive)
            if failure is not None:
                log.warning("object stream broke: %r", failure)
        finally:
            await self.source.aclose()

    async def _stream(self, send: Send) -> None:
        await send({"type": "http.response.start", "status": self.status, "headers": self.headers})
        if self.source.request.method != "HEAD":
            async for chunk in self.source.aiter_raw():
                await send({"type": "http.response.body", "body": chunk, "more_body": True})
        await send({"type": "http.response.body", "body": b"", "more_body": False})
