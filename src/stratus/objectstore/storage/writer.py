"""Streaming a PUT's body to disk without holding it in memory or blocking the loop.

Chunks from the network are gathered up to ``write_buffer`` bytes, then written and hashed
(MD5 releases the GIL on large buffers) in a worker thread while the next buffer fills, so
network and disk overlap and at most two buffers are in memory. Nothing is visible until
``commit()``: a writer that is aborted, or never committed (client gone, length or ETag
wrong, exception), leaves no trace but an unlinked temp file.

A body announced smaller than one buffer is *deferred*: nothing touches the disk until
``commit()``, which then creates the temp file, writes, fsyncs and installs it in a
single worker-thread hop. Small objects are bound by per-write overhead (each hop is a
thread hand-off and a wake-up of the event loop), so one hop instead of three per replica
matters; the durability steps are exactly the same.

With ``direct_io`` on, a body that is not deferred is written with ``O_DIRECT`` where the
filesystem allows it (``direct_io.py``): gathered into two page-aligned buffers that take
turns, one filling while the other is written, so the bytes never pass through the page
cache.

A writer told ``md5=False`` hashes nothing but the CRC-32: its sender computed the MD5 and
hands it to ``commit`` with its own CRC-32 (``body_footer.py``), which must match.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import os
import zlib
from pathlib import Path
from types import TracebackType

from stratus.objectstore.storage import direct_io
from stratus.objectstore.storage.body_footer import BodyDigest
from stratus.objectstore.storage.config import DiskConfig
from stratus.objectstore.storage.errors import EtagMismatch, LengthMismatch, TransferCorrupted
from stratus.objectstore.storage.install import attach_metadata, install, new_temp, storage_error
from stratus.objectstore.storage.layout import DATA, FileName, ObjectLocation
from stratus.objectstore.storage.metadata import ObjectMetadata


class ObjectWriter:
    """One PUT in progress: ``async with manager.create(...) as w: await w.write(...)``."""

    def __init__(
        self,
        loc: ObjectLocation,
        config: DiskConfig,
        *,
        expected_length: int | None,
        expected_etag: str | None,
        deferred: bool = False,
        md5: bool = True,
    ) -> None:
        self.loc = loc
        self.deferred = deferred
        self.config = config
        self.expected_length = expected_length
        self.expected_etag = expected_etag.strip('"').lower() if expected_etag else None
        self.received = 0
        self._md5 = hashlib.md5(usedforsecurity=False) if md5 else None
        self._crc32 = 0  # of the bytes written, for the cheap check of every read
        self._buffer: list[bytes | memoryview] = []
        self._buffered = 0
        self._unsynced = 0  # bytes written since the last fdatasync
        self._pending: asyncio.Future[None] | None = None
        self._fd: int | None = None
        self._direct: int | None = None  # the temp file again, opened with O_DIRECT
        self._aligned: list[memoryview] = []  # the two buffers of direct writes
        self._filling = 0  # the index of the buffer being filled
        self._written = 0  # the file offset the next write goes to
        self._tmp: Path | None = None
        self._done = False

    async def open(self) -> ObjectWriter:
        """Create the temp file now, unless deferred (then ``commit()`` does)."""
        if not self.deferred:
            self._fd, self._tmp = await asyncio.to_thread(self._open_blocking)
        return self

    def _open_blocking(self) -> tuple[int, Path]:
        fd, tmp = new_temp(self.loc.device, self.config)
        try:
            if self.expected_length and not self.deferred:  # reserve room for a large body
                os.posix_fallocate(fd, 0, self.expected_length)
            if self.config.direct_io and not self.deferred:
                self._direct = direct_io.open_direct(tmp)
        except OSError as exc:
            os.close(fd)
            tmp.unlink()
            raise storage_error(exc, self.loc.device) from exc
        return fd, tmp

    async def write(self, chunk: bytes | memoryview) -> None:
        """Accept the next piece of the body (a too-long body fails at once)."""
        if not chunk:
            return
        self.received += len(chunk)
        if self.expected_length is not None and self.received > self.expected_length:
            raise LengthMismatch(self.expected_length, self.received)
        if self._direct is not None or self._aligned:  # once begun, even after a refusal
            await self._fill_aligned(memoryview(chunk))
            return
        self._buffer.append(chunk)
        self._buffered += len(chunk)
        if self._buffered >= self.config.write_buffer:
            await self._wait_pending()
            data = self._take_buffer()
            self._pending = asyncio.ensure_future(asyncio.to_thread(self._write_blocking, data))

    async def _fill_aligned(self, chunk: memoryview) -> None:
        """Copy ``chunk`` into the buffer being filled; a full one goes to a worker
        thread once the other buffer's write is done, and the two swap roles."""
        if not self._aligned:
            self._aligned = [direct_io.aligned_buffer(self.config.write_buffer) for _ in "ab"]
        while chunk:
            buffer = self._aligned[self._filling]
            room = len(buffer) - self._buffered
            taken = min(room, len(chunk))
            buffer[self._buffered : self._buffered + taken] = chunk[:taken]
            self._buffered += taken
            chunk = chunk[taken:]
            if self._buffered == len(buffer):
                await self._wait_pending()
                self._pending = asyncio.ensure_future(
                    asyncio.to_thread(self._write_blocking, buffer)
                )
                self._filling ^= 1
                self._buffered = 0

    async def commit(self, meta: ObjectMetadata, sent: BodyDigest | None = None) -> ObjectMetadata:
        """Check length and ETag, attach metadata, fsync, and make the object visible.

        ``meta`` gives name, timestamp, content type and user metadata; length and ETag
        are filled in from what was received (the ETag from ``sent``, the sender's
        digests, when this writer does not hash MD5). Raises ``NewerExists`` when a newer
        write reached the object first (the temp file is then removed).
        """
        await self._wait_pending()
        data = self._take_buffer()
        commit = self._commit_blocking if self._fd is not None else self._create_and_commit
        self._pending = asyncio.ensure_future(asyncio.to_thread(commit, meta, data, sent))
        await self._wait_pending()
        return meta.updated(content_length=self.received, etag=self._etag(sent), crc32=self._crc32)

    def abort(self) -> None:
        """Drop the write (safe to call any time, twice, or from a ``finally``)."""
        if self._done:
            return
        self._done = True
        if self._tmp is not None:
            with contextlib.suppress(FileNotFoundError):
                self._tmp.unlink()
        pending = self._pending
        if pending is not None and not pending.done():
            pending.add_done_callback(lambda _: self._close())  # the thread still uses fd
        else:
            self._close()

    async def __aenter__(self) -> ObjectWriter:
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.abort()

    # ---- worker-thread side ------------------------------------------------------------

    def _write_blocking(self, data: bytes | memoryview) -> None:
        assert self._fd is not None
        view = memoryview(data)
        try:
            direct = self._write_direct(view)
            direct_io.write_all(self._fd, view[direct:], self._written + direct)
            self._unsynced += len(view) - direct  # direct writes leave no dirty pages
            if (
                self.config.fsync
                and self.config.sync_every
                and (self._unsynced >= self.config.sync_every)
            ):
                os.fdatasync(self._fd)
                self._unsynced = 0
        except OSError as exc:
            raise storage_error(exc, self.loc.device) from exc
        self._written += len(view)
        if self._md5 is not None:
            self._md5.update(view)
        self._crc32 = zlib.crc32(view, self._crc32)

    def _write_direct(self, view: memoryview) -> int:
        """Write the whole blocks at the start of ``view`` with O_DIRECT; how many bytes
        that was (0 without a direct descriptor, or once the filesystem refused one)."""
        whole = len(view) - len(view) % direct_io.ALIGN
        if self._direct is None or not whole:
            return 0
        try:
            direct_io.write_all(self._direct, view[:whole], self._written)
        except OSError as exc:
            if not (direct_io.refused(exc) and self._written == 0):
                raise
            os.close(self._direct)  # accepted at open, refused at the first write
            self._direct = None
            return 0
        return whole

    def _create_and_commit(
        self, meta: ObjectMetadata, data: bytes | memoryview, sent: BodyDigest | None
    ) -> None:
        """A deferred writer's whole life in one hop: temp file, data, commit."""
        if self._done:  # aborted before the hop began
            return
        self._fd, self._tmp = self._open_blocking()
        self._commit_blocking(meta, data, sent)

    def _commit_blocking(
        self, meta: ObjectMetadata, data: bytes | memoryview, sent: BodyDigest | None
    ) -> None:
        if data:
            self._write_blocking(data)
        if self.expected_length is not None and self.received != self.expected_length:
            raise LengthMismatch(self.expected_length, self.received)
        if sent is not None and sent.crc32 != self._crc32:
            raise TransferCorrupted(sent.crc32, self._crc32)
        etag = self._etag(sent)
        if self.expected_etag is not None and self.expected_etag != etag:
            raise EtagMismatch(self.expected_etag, etag)
        assert self._fd is not None and self._tmp is not None
        meta = meta.updated(content_length=self.received, etag=etag, crc32=self._crc32)
        # no truncation needed: fallocate reserved exactly ``expected_length``, which the
        # body has just been checked to match (and without it nothing was reserved)
        sidecar = attach_metadata(self._fd, meta, self.config)
        if self.config.fsync:
            os.fsync(self._fd)
        self._close()
        self._done = True  # from here, install() owns (and always removes) the temp file
        version = FileName.of(meta.timestamp, DATA)
        install(self.loc, self._tmp, version, meta, sidecar=sidecar, config=self.config)

    # ---- internals ---------------------------------------------------------------------

    def _etag(self, sent: BodyDigest | None) -> str:
        if self._md5 is not None:
            return self._md5.hexdigest()
        if sent is None:
            raise AssertionError("a writer without MD5 needs the sender's digests")
        return sent.etag

    def _take_buffer(self) -> bytes | memoryview:
        if self._aligned:  # direct writes: the part of the buffer filled so far
            data: bytes | memoryview = self._aligned[self._filling][: self._buffered]
        else:
            data = b"".join(self._buffer)
            self._buffer.clear()
        self._buffered = 0
        return data

    async def _wait_pending(self) -> None:
        """Wait for the worker thread; shielded, so a cancelled request still lets
        ``abort()`` see the thread running and close the file only after it."""
        pending = self._pending
        if pending is not None:
            await asyncio.shield(pending)
            self._pending = None

    def _close(self) -> None:
        for fd in (self._fd, self._direct):
            if fd is not None:
                os.close(fd)
        self._fd = self._direct = None
