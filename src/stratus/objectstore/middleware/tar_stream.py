"""A tar archive read as it arrives: Python's ``tarfile`` in stream mode, in a thread,
fed from the request body and handing its entries back to the event loop.

``tarfile`` is blocking and wants a file; the request body is async. The thread reads
through ``BodyFile`` (each ``read`` waits for the loop to receive the next piece) and
reports ``Entry`` events through a small queue, so at most a few chunks are ever held:
the archive is never buffered whole, and a slow PUT below slows the reading of the
client's body. If the loop stops listening, the thread's next hand-off fails and the
thread ends.
"""

from __future__ import annotations

import asyncio
import contextlib
import tarfile
import threading
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import TypeVar

T = TypeVar("T")
CHUNK = 64 * 1024
COMPRESSIONS = {"tar": "", "tar.gz": "gz", "tar.bz2": "bz2"}


class Stopped(Exception):
    """The loop no longer listens (the request ended)."""


@dataclass(frozen=True, slots=True)
class Entry:
    kind: str  # "file", "dir", or "other" (links, devices: not extracted)
    name: str
    size: int


class _Bridge:
    """Runs coroutines on the loop from the reading thread, until stopped."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.stopped = threading.Event()

    def call(self, make: Callable[[], Awaitable[T]]) -> T:
        async def run() -> T:
            return await make()

        future = asyncio.run_coroutine_threadsafe(run(), self.loop)
        while True:
            try:
                return future.result(timeout=0.5)
            except TimeoutError:
                if self.stopped.is_set():
                    future.cancel()
                    raise Stopped from None


class BodyFile:
    """A blocking, read-only file over an async chunk source (``b""`` at the end)."""

    def __init__(self, bridge: _Bridge, next_chunk: Callable[[], Awaitable[bytes]]) -> None:
        self.bridge = bridge
        self.next_chunk = next_chunk
        self.buffer = bytearray()
        self.ended = False

    def read(self, size: int = -1) -> bytes:
        while not self.ended and (size < 0 or len(self.buffer) < size):
            chunk = self.bridge.call(self.next_chunk)
            if not chunk:
                self.ended = True
            self.buffer += chunk
        count = len(self.buffer) if size < 0 else min(size, len(self.buffer))
        out = bytes(self.buffer[:count])
        del self.buffer[:count]
        return out


class TarReader:
    """The entries of an archive and each file's data, in archive order.

    Use as: ``async for entry in reader.entries()``; for a ``file`` entry, read its data
    with ``reader.data()`` before asking for the next entry (what is left is skipped)."""

    def __init__(self, compression: str, next_chunk: Callable[[], Awaitable[bytes]]) -> None:
        self.mode = f"r|{COMPRESSIONS[compression]}"
        self.events: asyncio.Queue[object] = asyncio.Queue(maxsize=4)
        self.bridge = _Bridge(asyncio.get_running_loop())
        self.body = BodyFile(self.bridge, next_chunk)
        self.in_file = False

    def _emit(self, item: object) -> None:
        self.bridge.call(lambda: self.events.put(item))

    def _read_all(self) -> None:
        try:
            with tarfile.open(fileobj=self.body, mode=self.mode) as archive:  # type: ignore[call-overload]
                for member in archive:
                    self._member(archive, member)
            self._emit(None)
        except Stopped:
            return
        except (tarfile.TarError, EOFError, OSError) as exc:
            with contextlib.suppress(Stopped):
                self._emit(exc)

    def _member(self, archive: tarfile.TarFile, member: tarfile.TarInfo) -> None:
        if not member.isfile():
            self._emit(Entry("dir" if member.isdir() else "other", member.name, 0))
            return
        self._emit(Entry("file", member.name, member.size))
        data = archive.extractfile(member)
        assert data is not None
        while chunk := data.read(CHUNK):
            self._emit(chunk)
        self._emit(b"")

    async def entries(self) -> AsyncGenerator[Entry, None]:
        """Raises ``tarfile.TarError`` (or ``EOFError``/``OSError``) for a bad archive."""
        thread = asyncio.create_task(asyncio.to_thread(self._read_all))
        try:
            while True:
                if self.in_file:
                    async for _ in self.data():
                        pass
                item = await self.events.get()
                if item is None:
                    return
                if isinstance(item, BaseException):
                    raise item
                assert isinstance(item, Entry)
                self.in_file = item.kind == "file"
                yield item
        finally:
            self.bridge.stopped.set()
            await thread

    async def data(self) -> AsyncIterator[bytes]:
        """The current file's bytes, piece by piece."""
        while self.in_file:
            item = await self.events.get()
            if isinstance(item, BaseException):
                raise item
            assert isinstance(item, bytes)
            if not item:
                self.in_file = False
                return
            yield item
