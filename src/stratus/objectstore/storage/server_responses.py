"""Responses that stream an open object to the client and always close it.

The body goes out chunk by chunk from ``ObjectReader.chunks`` while another task listens
for the client's disconnect: a client that goes away stops the disk reads at once instead
of the server reading the rest of the object into the void. Several ranges go out as one
``multipart/byteranges`` body whose length is known before the first byte is read.
"""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator, Mapping

from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from stratus.objectstore.asgi_io import stream_unless_disconnected
from stratus.objectstore.storage.ranges import ByteRange
from stratus.objectstore.storage.reader import ObjectReader, ObjectView
from stratus.objectstore.storage.server_request import USER_META_PREFIX


def object_headers(view: ObjectView) -> dict[str, str]:
    """What GET and HEAD say about an object (its body length is set by the caller)."""
    headers = {
        "Content-Type": view.content_type,
        "ETag": f'"{view.etag}"',
        "Last-Modified": view.timestamp.http_date,
        "X-Timestamp": view.data_timestamp.normal,
        "X-Backend-Timestamp": view.data_timestamp.internal,
        "X-Backend-Meta-Timestamp": view.timestamp.internal,
        "Accept-Ranges": "bytes",
    }
    for key, value in view.user_meta.items():
        headers[f"{USER_META_PREFIX}{key}"] = value
    headers.update(view.headers)
    headers.update(view.sysmeta)
    if view.delete_at is not None:
        headers["X-Delete-At"] = str(view.delete_at)
    return headers


class ObjectResponse(Response):
    """200 with the whole object, 206 with one range or several (multipart); closes the
    reader when done."""

    def __init__(
        self,
        reader: ObjectReader,
        *,
        ranges: list[ByteRange] | None,
        head: bool,
        headers: Mapping[str, str],
    ) -> None:
        size = reader.view.content_length
        self.reader = reader
        self.head = head
        self.ranges = ranges or [ByteRange(0, size)]
        self.multipart: Multipart | None = None
        all_headers = dict(headers)
        if ranges is not None and len(ranges) > 1:
            self.multipart = Multipart(ranges, size, all_headers["Content-Type"])
            all_headers["Content-Type"] = self.multipart.content_type
            all_headers["Content-Length"] = str(self.multipart.length())
        else:
            span = self.ranges[0]
            all_headers["Content-Length"] = str(span.stop - span.start)
            if ranges is not None:
                all_headers["Content-Range"] = span.content_range(size)
        super().__init__(status_code=206 if ranges else 200, headers=all_headers)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            failure = await stream_unless_disconnected(self._stream(send), receive)
            if failure is not None:
                raise failure
        finally:
            self.reader.close()

    async def _stream(self, send: Send) -> None:
        await send(
            {"type": "http.response.start", "status": self.status_code, "headers": self.raw_headers}
        )
        if not self.head:
            async for chunk in self._body():
                await send({"type": "http.response.body", "body": chunk, "more_body": True})
        await send({"type": "http.response.body", "body": b"", "more_body": False})

    async def _body(self) -> AsyncIterator[bytes]:
        if self.multipart is None:
            span = self.ranges[0]
            async for chunk in self.reader.chunks(span.start, span.stop):
                yield chunk
            return
        for span in self.ranges:
            yield self.multipart.part_head(span)
            async for chunk in self.reader.chunks(span.start, span.stop):
                yield chunk
            yield b"\r\n"
        yield self.multipart.closing()


class Multipart:
    """The framing of a ``multipart/byteranges`` body (RFC 9110 §14.6): each part is
    ``--boundary``, its Content-Type and Content-Range, a blank line, the bytes, CRLF;
    the body ends with ``--boundary--``."""

    def __init__(self, ranges: list[ByteRange], size: int, part_type: str) -> None:
        self.ranges = ranges
        self.size = size
        self.part_type = part_type
        self.boundary = secrets.token_hex(16)

    @property
    def content_type(self) -> str:
        return f"multipart/byteranges;boundary={self.boundary}"

    def part_head(self, span: ByteRange) -> bytes:
        return (
            f"--{self.boundary}\r\nContent-Type: {self.part_type}\r\n"
            f"Content-Range: {span.content_range(self.size)}\r\n\r\n"
        ).encode()

    def closing(self) -> bytes:
        return f"--{self.boundary}--".encode()

    def length(self) -> int:
        framing = sum(len(self.part_head(span)) + 2 for span in self.ranges)
        data = sum(span.stop - span.start for span in self.ranges)
        return framing + data + len(self.closing())
