"""A small keep-alive HTTP/1.1 client for the object-store benchmark.

Both systems are driven by this same code, so neither pays for a client the other does
not. It knows just enough protocol: a request line and headers, a body given whole or as
an iterator of chunks (with ``Content-Length``), and a response body read whole, counted
and dropped (``discard=True``), by ``Content-Length`` or chunked transfer encoding.

``StreamConn`` moves one large body with a blocking socket instead: ``sendall`` of each
chunk and ``recv_into`` one reused buffer. asyncio's stream reader copies every byte two
or three times on its way out of the kernel, which cost the client up to 1.9 s of CPU per
GiB received; on a machine of two cores that is CPU the servers under test lack.
"""

from __future__ import annotations

import asyncio
import socket
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


def request_head(method: str, path: str, headers: Mapping[str, str] | None, size: int) -> bytes:
    lines = [f"{method} {path} HTTP/1.1", "Host: 127.0.0.1"]
    lines += [f"{k}: {v}" for k, v in (headers or {}).items()]
    lines.append(f"Content-Length: {size}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("utf-8")


def parse_head(head: bytes) -> tuple[int, dict[str, str]]:
    lines = head.decode("latin-1").split("\r\n")
    headers: dict[str, str] = {}
    for line in lines[1:]:
        name, sep, value = line.partition(":")
        if sep:
            headers[name.strip().lower()] = value.strip()
    return int(lines[0].split()[1]), headers


class StreamConn:
    """One blocking connection for a large body each way (no chunked responses)."""

    def __init__(self, host: str, port: int) -> None:
        self.sock = socket.create_connection((host, port))
        self.buf = bytearray(READ_LIMIT)
        self.pending = b""  # read past the end of a response head

    def close(self) -> None:
        self.sock.close()

    def request(
        self,
        method: str,
        path: str,
        headers: Mapping[str, str],
        body: Iterable[bytes] = (),
        *,
        length: int = 0,
        discard: bool = True,
    ) -> Response:
        """Send ``body`` (``length`` bytes in all); the response body is counted and, with
        ``discard``, dropped."""
        self.sock.sendall(request_head(method, path, headers, length))
        for chunk in body:
            self.sock.sendall(chunk)
        status, got = self._head()
        if got.get("transfer-encoding", "").lower() == "chunked":
            raise RuntimeError("StreamConn reads Content-Length bodies only")
        size = 0 if method == "HEAD" or status in NO_BODY else int(got.get("content-length", "0"))
        kept = bytearray(self.pending[:size])
        left = size - len(kept)
        self.pending = self.pending[size:]
        view = memoryview(self.buf)
        while left:
            n = self.sock.recv_into(view[: min(left, READ_LIMIT)])
            if not n:
                raise ConnectionError(f"connection closed {left} bytes before the body's end")
            if not discard:
                kept += view[:n]
            left -= n
        return Response(status, got, b"" if discard else bytes(kept), size)

    def _head(self) -> tuple[int, dict[str, str]]:
        data = self.pending
        while b"\r\n\r\n" not in data:
            more = self.sock.recv(65536)
            if not more:
                raise ConnectionError("connection closed before a response")
            data += more
        head, _, self.pending = data.partition(b"\r\n\r\n")
        return parse_head(head)


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
        head = request_head(method, path, headers, size)
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
        status, headers = parse_head(head[:-4])
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
