"""A small keep-alive HTTP/1.1 client for the object-store benchmark.

Both systems are driven by this same code, so neither pays for a client the other does
not. It knows just enough protocol: a request line and headers, a body given whole or as
an iterator of chunks (with ``Content-Length``), and a response body read whole, counted
and dropped (``discard=True``), by ``Content-Length`` or chunked transfer encoding.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

READ_LIMIT = 1 << 20  # stream buffer: large reads for the 1 GiB GET
NO_BODY = frozenset({204, 304})


@dataclass(slots=True)
class Response:
    status: int
    headers: dict[str, str]
    body: bytes  # empty when the body was discarded
    length: int  # bytes of body received


class Conn:
    """One connection; requests go one after another."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer

    @classmethod
    async def open(cls, host: str, port: int) -> Conn:
        return cls(*await asyncio.open_connection(host, port, limit=READ_LIMIT))

    def close(self) -> None:
        self.writer.close()

    async def request(
        self,
        method: str,
        path: str,
        headers: Mapping[str, str] | None = None,
        body: bytes | Iterable[bytes] = b"",
        *,
        length: int | None = None,
        discard: bool = False,
    ) -> Response:
        """Send one request; ``body`` chunks need ``length``, their total."""
        size = len(body) if isinstance(body, bytes) else length
        if size is None:
            raise ValueError("a chunked body needs its length")
        lines = [f"{method} {path} HTTP/1.1", "Host: 127.0.0.1"]
        lines += [f"{k}: {v}" for k, v in (headers or {}).items()]
        lines.append(f"Content-Length: {size}")
        head = ("\r\n".join(lines) + "\r\n\r\n").encode("utf-8")
        if isinstance(body, bytes):
            self.writer.write(head + body)
        else:
            self.writer.write(head)
            for chunk in body:
                self.writer.write(chunk)
                await self.writer.drain()
        return await self._response(method, discard)

    async def _response(self, method: str, discard: bool) -> Response:
        head = await self.reader.readuntil(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        status = int(lines[0].split()[1])
        headers: dict[str, str] = {}
        for line in lines[1:]:
            name, sep, value = line.partition(":")
            if sep:
                headers[name.strip().lower()] = value.strip()
        if method == "HEAD" or status in NO_BODY or 100 <= status < 200:
            return Response(status, headers, b"", 0)
        if headers.get("transfer-encoding", "").lower() == "chunked":
            return await self._chunked(status, headers, discard)
        return await self._sized(status, headers, int(headers.get("content-length", "0")), discard)

    async def _sized(
        self, status: int, headers: dict[str, str], size: int, discard: bool
    ) -> Response:
        if not discard:
            return Response(status, headers, await self.reader.readexactly(size), size)
        left = size
        while left:
            got = await self.reader.read(min(left, READ_LIMIT))
            if not got:
                raise asyncio.IncompleteReadError(b"", left)
            left -= len(got)
        return Response(status, headers, b"", size)

    async def _chunked(self, status: int, headers: dict[str, str], discard: bool) -> Response:
        parts: list[bytes] = []
        total = 0
        while True:
            size = int((await self.reader.readuntil(b"\r\n")).split(b";")[0], 16)
            if size == 0:
                await self.reader.readuntil(b"\r\n")  # no trailers are sent to us
                break
            chunk = await self.reader.readexactly(size)
            await self.reader.readexactly(2)
            total += size
            if not discard:
                parts.append(chunk)
        return Response(status, headers, b"".join(parts), total)
