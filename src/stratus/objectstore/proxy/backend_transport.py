"""The proxy's HTTP/1.1 transport to the storage servers, under ``httpx.AsyncClient``.

httpx's default pool scans every pooled connection (and polls its socket) on each request,
which costs more than the request itself once a busy proxy holds a hundred connections to
its object servers. This transport keeps a stack of idle connections per node instead, so
taking one is O(1). It speaks just what the backends need: a request body given whole,
by ``Content-Length`` or chunked; a response body by ``Content-Length``, chunked, or to
the end of the connection. A connection goes back to the pool only after a complete
exchange; one whose request or response was cut short (a cancelled upload, a body the
caller closed early) is closed, so a late byte can never be read as the next answer.
Idle connections are dropped before the server's keep-alive timeout could close them
under a request. Failures surface as httpx's own errors, which the ``Backend`` handles.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import httpx

READ_SIZE = 1 << 20
IDLE_SECONDS = 3.0  # below uvicorn's 5 s keep-alive, so servers never close under us
MAX_IDLE_PER_NODE = 256
NO_BODY = frozenset({204, 304})

Node = tuple[str, int]
RawHeaders = list[tuple[bytes, bytes]]


@dataclass(slots=True)
class _Conn:
    reader: asyncio.StreamReader
    writer: asyncio.StreamWriter
    idle_since: float = field(default=0.0)

    def reusable(self, now: float) -> bool:
        return (
            now - self.idle_since < IDLE_SECONDS
            and not self.reader.at_eof()
            and not self.writer.is_closing()
        )

    def close(self) -> None:
        self.writer.close()


class BackendTransport(httpx.AsyncBaseTransport):
    def __init__(self) -> None:
        self._idle: dict[Node, list[_Conn]] = {}

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        timeouts = request.extensions.get("timeout", {})
        node = (request.url.host, request.url.port or 80)
        conn = await self._checkout(node, timeouts.get("connect"))
        try:
            await self._send(conn, request, timeouts.get("write"))
            status, headers = await self._head(conn, timeouts.get("read"))
        except BaseException:
            conn.close()
            raise
        if request.method == "HEAD" or status in NO_BODY or status < 200:
            self._checkin(node, conn, headers)
            body: httpx.AsyncByteStream = _Empty()
        else:
            body = _Body(self, node, conn, headers, timeouts.get("read"))
        return httpx.Response(status, headers=headers, stream=body)

    async def _checkout(self, node: Node, timeout: float | None) -> _Conn:  # noqa: ASYNC109
        idle = self._idle.get(node)
        now = time.monotonic()
        while idle:
            conn = idle.pop()
            if conn.reusable(now):
                return conn
            conn.close()
        try:
            async with asyncio.timeout(timeout):
                reader, writer = await asyncio.open_connection(*node, limit=READ_SIZE)
        except TimeoutError as exc:
            raise httpx.ConnectTimeout(f"connect to {node} timed out") from exc
        except OSError as exc:
            raise httpx.ConnectError(f"connect to {node}: {exc}") from exc
        return _Conn(reader, writer)

    def _checkin(self, node: Node, conn: _Conn, headers: RawHeaders) -> None:
        idle = self._idle.setdefault(node, [])
        if _closes(headers) or len(idle) >= MAX_IDLE_PER_NODE or conn.writer.is_closing():
            conn.close()
            return
        conn.idle_since = time.monotonic()
        idle.append(conn)

    async def _send(self, conn: _Conn, request: httpx.Request, timeout: float | None) -> None:  # noqa: ASYNC109
        """Write the request; ``timeout`` bounds each wait for the node to take bytes,
        never the whole body. Time spent waiting for the body's next piece (a client
        uploading at its own pace) is not the node's: the proxy bounds it per piece with
        its client timeout. A 1 GiB upload lasting longer than one node timeout is fine;
        a node that stops reading for one node timeout is not."""
        url = request.url
        lines = [b"%s %s HTTP/1.1\r\n" % (request.method.encode(), url.raw_path)]
        lines += [b"%s: %s\r\n" % (k, v) for k, v in request.headers.raw]
        lines.append(b"\r\n")
        chunked = request.headers.get("transfer-encoding", "").lower() == "chunked"
        writer = conn.writer
        try:
            writer.write(b"".join(lines))
            assert isinstance(request.stream, httpx.AsyncByteStream)
            async for chunk in request.stream:
                if not chunk:
                    continue
                if chunked:
                    writer.writelines((b"%x\r\n" % len(chunk), chunk, b"\r\n"))
                else:
                    writer.write(chunk)
                await _drain(writer, timeout)
            if chunked:
                writer.write(b"0\r\n\r\n")
            await _drain(writer, timeout)
        except TimeoutError as exc:
            raise httpx.WriteTimeout("backend took no data for the node timeout") from exc
        except OSError as exc:
            raise httpx.WriteError(f"backend write: {exc}") from exc

    async def _head(
        self,
        conn: _Conn,
        timeout: float | None,  # noqa: ASYNC109
    ) -> tuple[int, RawHeaders]:
        try:
            async with asyncio.timeout(timeout):
                raw = await conn.reader.readuntil(b"\r\n\r\n")
        except TimeoutError as exc:
            raise httpx.ReadTimeout("backend answer timed out") from exc
        except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError) as exc:
            raise httpx.RemoteProtocolError(f"backend answer: {exc!r}") from exc
        lines = raw[:-4].split(b"\r\n")
        parts = lines[0].split(b" ", 2)
        if len(parts) < 2 or not parts[0].startswith(b"HTTP/1."):
            raise httpx.RemoteProtocolError(f"bad status line {lines[0][:100]!r}")
        headers = []
        for line in lines[1:]:
            name, sep, value = line.partition(b":")
            if not sep:
                raise httpx.RemoteProtocolError(f"bad header line {line[:100]!r}")
            headers.append((name.strip(), value.strip()))
        return int(parts[1]), headers

    async def aclose(self) -> None:
        for idle in self._idle.values():
            for conn in idle:
                conn.close()
        self._idle.clear()


async def _drain(writer: asyncio.StreamWriter, timeout: float | None) -> None:  # noqa: ASYNC109
    """Wait, at most ``timeout``, until the socket's buffer is below its high-water mark."""
    async with asyncio.timeout(timeout):
        await writer.drain()


def _closes(headers: RawHeaders) -> bool:
    return any(k.lower() == b"connection" and v.lower() == b"close" for k, v in headers)


def _header(headers: RawHeaders, name: bytes) -> bytes | None:
    for k, v in headers:
        if k.lower() == name:
            return v
    return None


class _Empty(httpx.AsyncByteStream):
    async def __aiter__(self) -> AsyncIterator[bytes]:
        return
        yield  # an empty async generator

    async def aclose(self) -> None:
        return None


class _Body(httpx.AsyncByteStream):
    """A response body read from its connection; the connection is pooled again only
    when the body was read to its end."""

    def __init__(
        self,
        transport: BackendTransport,
        node: Node,
        conn: _Conn,
        headers: RawHeaders,
        timeout: float | None,
    ) -> None:
        self.transport, self.node, self.conn, self.headers = transport, node, conn, headers
        self.timeout = timeout
        length = _header(headers, b"content-length")
        encoding = _header(headers, b"transfer-encoding")
        self.chunked = encoding is not None and encoding.lower() == b"chunked"
        self.length = int(length) if length is not None and not self.chunked else None
        self.done = False
        self.closed = False

    async def __aiter__(self) -> AsyncIterator[bytes]:
        try:
            if self.chunked:
                parts = self._chunks()
            elif self.length is not None:
                parts = self._sized(self.length)
            else:
                parts = self._to_eof()
            async for part in parts:
                yield part
        except TimeoutError as exc:
            raise httpx.ReadTimeout("backend body timed out") from exc
        except (OSError, asyncio.IncompleteReadError, ValueError) as exc:
            raise httpx.ReadError(f"backend body: {exc!r}") from exc

    async def _read(self, size: int) -> bytes:
        async with asyncio.timeout(self.timeout):
            return await self.conn.reader.read(size)

    async def _sized(self, length: int) -> AsyncIterator[bytes]:
        left = length
        while left:
            data = await self._read(min(left, READ_SIZE))
            if not data:
                raise asyncio.IncompleteReadError(b"", left)
            left -= len(data)
            yield data
        self._finished(reusable=True)

    async def _chunks(self) -> AsyncIterator[bytes]:
        reader = self.conn.reader
        while True:
            async with asyncio.timeout(self.timeout):
                size = int((await reader.readuntil(b"\r\n")).split(b";")[0], 16)
            if size == 0:
                async with asyncio.timeout(self.timeout):
                    while await reader.readuntil(b"\r\n") != b"\r\n":
                        pass  # trailers, unused
                break
            async with asyncio.timeout(self.timeout):
                data = await reader.readexactly(size + 2)
            yield data[:-2]
        self._finished(reusable=True)

    async def _to_eof(self) -> AsyncIterator[bytes]:
        while data := await self._read(READ_SIZE):
            yield data
        self._finished(reusable=False)

    def _finished(self, *, reusable: bool) -> None:
        if self.done:
            return
        self.done = True
        if reusable and not self.closed:
            self.transport._checkin(self.node, self.conn, self.headers)
        else:
            self.conn.close()

    async def aclose(self) -> None:
        self.closed = True
        if not self.done:
            self.done = True
            self.conn.close()
