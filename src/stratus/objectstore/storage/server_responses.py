"""Responses that stream an open object to the client and always close it.

The body goes out chunk by chunk from ``ObjectReader.chunks`` while another task listens
for the client's disconnect: a client that goes away stops the disk reads at once instead
of the server reading the rest of the object into the void.
"""

from __future__ import annotations

from collections.abc import Mapping

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
    if view.delete_at is not None:
        headers["X-Delete-At"] = str(view.delete_at)
    return headers


class ObjectResponse(Response):
    """200 with the whole object or 206 with one range; closes the reader when done."""

    def __init__(
        self,
        reader: ObjectReader,
        *,
        byte_range: ByteRange | None,
        head: bool,
        headers: Mapping[str, str],
    ) -> None:
        size = reader.view.content_length
        self.reader = reader
        self.head = head
        self.span = byte_range or ByteRange(0, size)
        all_headers = dict(headers)
        all_headers["Content-Length"] = str(self.span.stop - self.span.start)
        if byte_range is not None:
            all_headers["Content-Range"] = byte_range.content_range(size)
        super().__init__(status_code=206 if byte_range else 200, headers=all_headers)

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
            async for chunk in self.reader.chunks(self.span.start, self.span.stop):
                await send({"type": "http.response.body", "body": chunk, "more_body": True})
        await send({"type": "http.response.body", "body": b"", "more_body": False})
