"""The object server: Swift's backend HTTP contract over the storage layer.

Used by the proxy (and later the replicator), never by end users::

    PUT|GET|HEAD|DELETE|POST /<device>/<partition>/<account>/<container>/<object>
    REPLICATE /<device>/<partition>[/<suffix>-<suffix>...]     -> {"<suffix>": "<md5>"}
    GET /<device>/<partition>/<suffix>-<suffix>...   -> {"<hash>": ["<ts>.data", ...]}

A replicator pushes one version of an object as a ``PUT`` of the object's path with
``X-Backend-Replicated-Version: <ts>.data|.ts|.meta`` and the version's stored metadata in
``X-Backend-Replicated-Metadata``; the body is the data (empty for ``.ts``/``.meta``). It
is installed like any write (temp file, fsync, rename, newest wins), keeping every fact of
the original: ETag, content type and its timestamp, user metadata, X-Delete-At.

A PUT from the proxy ends with the body's MD5 and CRC-32 (``X-Backend-Body-Footer``,
``body_footer.py``): the server checks the CRC-32 and stores the MD5 as the ETag instead
of hashing the body with MD5 itself.

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
import math
from collections.abc import AsyncIterator, Awaitable, Callable

from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, Response
from starlette.types import ASGIApp

from stratus.common.asgi.edge import EdgeMiddleware
from stratus.common.errors import InvalidInput, StratusError
from stratus.objectstore.asgi_io import one_handler_app
from stratus.objectstore.storage import body_footer
from stratus.objectstore.storage import server_request as req
from stratus.objectstore.storage.conditions import etag_for, precondition_status
from stratus.objectstore.storage.diskfile import DiskFileManager
from stratus.objectstore.storage.layout import DATA
from stratus.objectstore.storage.metadata import ObjectMetadata
from stratus.objectstore.storage.ranges import Unsatisfiable, parse_ranges
from stratus.objectstore.storage.reader import ObjectView
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
            short = path.count("/") < 5
            if method == "REPLICATE" or (method == "POST" and short):
                return await self.REPLICATE(request, path)
            if method == "GET" and short:
                return await self.VERSIONS(request, path)
            if method == "PUT" and req.REPLICATED_VERSION in request.headers:
                return await self.REPLICATED_PUT(request, path)
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
        footer = _footer(headers.get(body_footer.HEADER))
        if footer is not None and expected is not None:
            if expected < body_footer.LENGTH:
                raise InvalidInput(
                    "objectstore.object.bad_footer",
                    f"Content-Length {expected} leaves no room for the body's footer",
                )
            expected -= body_footer.LENGTH
        meta = ObjectMetadata(
            name=addr.name,
            timestamp=timestamp,
            content_type=headers.get("content-type") or DEFAULT_CONTENT_TYPE,
            user_meta=req.user_meta(headers),
            delete_at=req.delete_at(headers),
            headers=req.stored_headers(headers),
            sysmeta=req.sysmeta(headers),
        )
        writer = await self.disk.create(
            addr,
            timestamp,
            expected_length=expected,
            expected_etag=headers.get("etag"),
            md5=footer is None,
        )
        async with writer:
            if footer is None:
                async for chunk in self._body(request):
                    await writer.write(chunk)
                stored = await writer.commit(meta)
            else:
                async for chunk in self._body(request):
                    for piece in footer.feed(chunk):
                        await writer.write(piece)
                stored = await writer.commit(meta, footer.digest())
        return Response(
            status_code=201,
            headers={"ETag": f'"{stored.etag}"', BACKEND_TIMESTAMP: timestamp.internal},
        )

    async def GET(self, request: Request, path: str) -> Response:
        return await self._read(request, path, head=False)

    async def HEAD(self, request: Request, path: str) -> Response:
        return await self._read(request, path, head=True)

    async def DELETE(self, request: Request, path: str) -> Response:
        """Always leaves a tombstone; 204 if live data was replaced, else 404. With
        ``X-If-Delete-At`` (the expirer) live data that no longer expires then is kept: 412."""
        addr = req.object_address(path)
        timestamp = req.required_timestamp(request.headers)
        condition = req.if_delete_at(request.headers)
        outcome = await self.disk.delete(addr, timestamp, if_delete_at=condition)
        headers = {BACKEND_TIMESTAMP: timestamp.internal}
        return Response(status_code=204 if outcome.existed else 404, headers=headers)

    async def POST(self, request: Request, path: str) -> Response:
        """Replace user metadata, stored headers and X-Delete-At (a Content-Type too)."""
        addr = req.object_address(path)
        headers = request.headers
        timestamp = req.required_timestamp(headers)
        await self.disk.post(
            addr,
            timestamp,
            user_meta=req.user_meta(headers),
            stored_headers=req.stored_headers(headers),
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

    async def VERSIONS(self, request: Request, path: str) -> Response:
        """The current versions in the suffixes named in the path (what a peer lacks)."""
        target = req.replicate_target(path)
        listing = await self.disk.versions(target.device, target.partition, target.suffixes)
        return JSONResponse(listing)

    async def REPLICATED_PUT(self, request: Request, path: str) -> Response:
        """One version pushed by a replicator, stored with the metadata it had there."""
        addr = req.object_address(path)
        version, meta = req.replicated_version(request.headers, addr.name)
        headers = {BACKEND_TIMESTAMP: version.timestamp.internal}
        if version.ext != DATA:
            async for chunk in self._body(request):
                if chunk:
                    raise InvalidInput("objectstore.request.invalid", "Markers have no body")
            await self.disk.install_marker(addr, version, meta)
            return Response(status_code=201, headers=headers)
        writer = await self.disk.create(
            addr, meta.timestamp, expected_length=meta.content_length, expected_etag=meta.etag
        )
        async with writer:
            async for chunk in self._body(request):
                await writer.write(chunk)
            await writer.commit(meta)
        return Response(status_code=201, headers=headers)

    async def _read(self, request: Request, path: str, *, head: bool) -> Response:
        """The object, a range or several of it, or the 304/412/416 its headers call for."""
        addr = req.object_address(path)
        reader = await self.disk.open(addr)
        try:
            view = reader.view
            headers = object_headers(view)
            refused = _precondition(request, view, headers)
            if refused is not None:
                reader.close()
                return refused
            ranges = (
                None if head else parse_ranges(request.headers.get("range"), view.content_length)
            )
            body = None if head or ranges else await reader.verified_body()
        except Unsatisfiable:
            reader.close()
            response = plain_text_fault(416, "range", "Requested range not satisfiable")
            response.headers["Content-Range"] = f"bytes */{reader.view.content_length}"
            return response
        except BaseException:
            reader.close()
            raise
        if body is not None:
            reader.close()
            return Response(body, headers=headers)
        return ObjectResponse(reader, ranges=ranges, head=head, headers=headers)

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


def _footer(announced: str | None) -> body_footer.FooterSplitter | None:
    """The splitter for a body that ends with the proxy's digests, if it does."""
    if announced is None:
        return None
    if announced.strip().lower() != body_footer.KIND:
        raise InvalidInput(
            "objectstore.object.bad_footer", f"{body_footer.HEADER} must be {body_footer.KIND}"
        )
    return body_footer.FooterSplitter()


def _precondition(request: Request, view: ObjectView, headers: dict[str, str]) -> Response | None:
    """304 or 412 with the object's headers and no body, when the conditions say so."""
    lowered = {k.lower(): v for k, v in headers.items()}
    etag = etag_for(request.headers, view.etag, lowered)
    status = precondition_status(request.headers, etag, math.ceil(view.timestamp.seconds))
    if status is None:
        return None
    return Response(status_code=status, headers={**headers, "Content-Length": "0"})


def create_object_server(disk: DiskFileManager, *, client_timeout: float = 60.0) -> ASGIApp:
    """The ASGI app, wrapped in the shared edge with a plain-text fault renderer."""
    server = ObjectServer(disk, client_timeout=client_timeout)
    return EdgeMiddleware(one_handler_app(server.dispatch, METHODS), render=plain_text_fault)
