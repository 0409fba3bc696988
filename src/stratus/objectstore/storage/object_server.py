"""The object server: Swift's backend HTTP contract over the storage layer.

Used by the proxy (and later the replicator), never by end users::

    PUT|GET|HEAD|DELETE|POST /<device>/<partition>/<account>/<container>/<object>
    REPLICATE /<device>/<partition>[/<suffix>-<suffix>...]     -> {"<suffix>": "<md5>"}

Writes need ``X-Timestamp``; the newest timestamp wins on every replica, and an older one
gets 409 with the newer ``X-Backend-Timestamp``. A 404 for a deleted or expired object
carries the tombstone's (or data's) timestamp the same way. ``POST /<device>/<partition>
[/<suffixes>]`` is accepted as REPLICATE too, because the fast HTTP parser (httptools)
refuses methods it does not know; an object POST always has five path segments.

Handlers are named after the verb; errors are mapped in ``server_faults.py``; anything
unexpected becomes a plain-text 500 at the ``EdgeMiddleware``.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable

from starlette.applications import Starlette
from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp

from stratus.common.asgi.edge import EdgeMiddleware
from stratus.common.errors import StratusError
from stratus.objectstore.storage import server_request as req
from stratus.objectstore.storage.diskfile import DiskFileManager
from stratus.objectstore.storage.metadata import ObjectMetadata
from stratus.objectstore.storage.ranges import Unsatisfiable, parse_range
from stratus.objectstore.storage.server_faults import (
    BACKEND_TIMESTAMP,
    ClientGone,
    plain_text_fault,
    storage_fault,
)
from stratus.objectstore.storage.server_responses import ObjectResponse, object_headers

DEFAULT_CONTENT_TYPE = "application/octet-stream"
METHODS = ["PUT", "GET", "HEAD", "DELETE", "POST", "REPLICATE"]


class ObjectServer:
    """The handlers; ``client_timeout`` bounds the wait for each piece of a PUT body."""

    def __init__(self, disk: DiskFileManager, *, client_timeout: float = 60.0) -> None:
        self.disk = disk
        self.client_timeout = client_timeout

    async def dispatch(self, request: Request) -> Response:
        method = request.method
        try:
            path = req.request_path(request.scope)
            if method == "REPLICATE" or (method == "POST" and path.count("/") < 5):
                return await self.REPLICATE(request, path)
            handler = self._handlers()[method]
            return await handler(request, path)
        except StratusError as exc:
            return storage_fault(exc)

    def _handlers(self) -> dict[str, Callable[[Request, str], Awaitable[Response]]]:
        return {
            "PUT": self.PUT,
            "GET": self.GET,
            "HEAD": self.HEAD,
            "DELETE": self.DELETE,
            "POST": self.POST,
        }

    async def PUT(self, request: Request, path: str) -> Response:
        """Stream the body to a temp file; it becomes visible only once complete."""
        addr = req.object_address(path)
        headers = request.headers
        timestamp = req.required_timestamp(headers)
        expected = req.content_length(headers)
        meta = ObjectMetadata(
            name=addr.name,
            timestamp=timestamp,
            content_type=headers.get("content-type") or DEFAULT_CONTENT_TYPE,
            user_meta=req.user_meta(headers),
            delete_at=req.delete_at(headers),
        )
        writer = await self.disk.create(
            addr, timestamp, expected_length=expected, expected_etag=headers.get("etag")
        )
        async with writer:
            async for chunk in self._body(request):
                await writer.write(chunk)
            stored = await writer.commit(meta)
        return Response(
            status_code=201,
            headers={"ETag": f'"{stored.etag}"', BACKEND_TIMESTAMP: timestamp.internal},
        )

    async def GET(self, request: Request, path: str) -> Response:
        return await self._read(request, path, head=False)

    async def HEAD(self, request: Request, path: str) -> Response:
        return await self._read(request, path, head=True)

    async def DELETE(self, request: Request, path: str) -> Response:
        """Always leaves a tombstone; 204 if live data was replaced, else 404."""
        addr = req.object_address(path)
        timestamp = req.required_timestamp(request.headers)
        outcome = await self.disk.delete(addr, timestamp)
        headers = {BACKEND_TIMESTAMP: timestamp.internal}
        return Response(status_code=204 if outcome.existed else 404, headers=headers)

    async def POST(self, request: Request, path: str) -> Response:
        """Replace user metadata and X-Delete-At; a Content-Type here changes it too."""
        addr = req.object_address(path)
        headers = request.headers
        timestamp = req.required_timestamp(headers)
        await self.disk.post(
            addr,
            timestamp,
            user_meta=req.user_meta(headers),
            delete_at=req.delete_at(headers),
            content_type=headers.get("content-type") or None,
        )
        return Response(status_code=202, headers={BACKEND_TIMESTAMP: timestamp.internal})

    async def REPLICATE(self, request: Request, path: str) -> Response:
        """The partition's suffix hashes, recalculating the suffixes named in the path."""
        target = req.replicate_target(path)
        hashes = await self.disk.suffix_hashes(
            target.device, target.partition, recalculate=target.suffixes
        )
        return JSONResponse(hashes)

    async def _read(self, request: Request, path: str, *, head: bool) -> Response:
        addr = req.object_address(path)
        reader = await self.disk.open(addr)
        try:
            view = reader.view
            headers = object_headers(view)
            byte_range = (
                None if head else parse_range(request.headers.get("range"), view.content_length)
            )
        except Unsatisfiable:
            reader.close()
            response = plain_text_fault(416, "range", "Requested range not satisfiable")
            response.headers["Content-Range"] = f"bytes */{reader.view.content_length}"
            return response
        except BaseException:
            reader.close()
            raise
        return ObjectResponse(reader, byte_range=byte_range, head=head, headers=headers)

    async def _body(self, request: Request) -> AsyncIterator[bytes]:
        """The request body, each piece within ``client_timeout``; ``ClientGone`` if the
        client disconnects or stalls (the writer is then aborted: nothing visible)."""
        chunks = request.stream().__aiter__()
        while True:
            try:
                async with asyncio.timeout(self.client_timeout):
                    chunk = await anext(chunks)
            except StopAsyncIteration:
                return
            except ClientDisconnect:
                raise ClientGone(timed_out=False) from None
            except TimeoutError:
                raise ClientGone(timed_out=True) from None
            yield chunk


def create_object_server(disk: DiskFileManager, *, client_timeout: float = 60.0) -> ASGIApp:
    """The ASGI app, wrapped in the shared edge with a plain-text fault renderer."""
    server = ObjectServer(disk, client_timeout=client_timeout)
    app = Starlette(routes=[Route("/{path:path}", server.dispatch, methods=METHODS)])
    return EdgeMiddleware(app, render=plain_text_fault)
