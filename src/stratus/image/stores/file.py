"""The file store: one file per image in a directory.

Data goes to ``<dir>/.<id>.<random>.part``, is fsynced, then renamed to ``<dir>/<id>``
and the directory fsynced, so a crash or a failed upload never leaves a partial image
under a real name (stale ``.part`` files are removed at start). Disk I/O runs in worker
threads in 4 MiB pieces, so the event loop never blocks and thread hops stay rare.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import secrets
from collections.abc import AsyncIterator
from pathlib import Path

from stratus.image.stores import StoreError

PIECE = 4 << 20


class FileStore:
    name = "file"

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        directory.mkdir(parents=True, exist_ok=True)
        for stale in directory.glob(".*.part"):
            stale.unlink(missing_ok=True)

    def _path(self, key: str) -> Path:
        if not key or "/" in key or key.startswith("."):
            raise StoreError(f"invalid file store key {key!r}")
        return self.directory / key

    async def put(self, image_id: str, chunks: AsyncIterator[bytes]) -> str:
        final = self._path(image_id)
        tmp = self.directory / f".{image_id}.{secrets.token_hex(4)}.part"
        fd = await asyncio.to_thread(os.open, tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            await self._write_all(fd, chunks)
            await asyncio.to_thread(os.fsync, fd)
        except BaseException:
            os.close(fd)
            tmp.unlink(missing_ok=True)
            raise
        os.close(fd)
        try:
            await asyncio.to_thread(_publish, tmp, final)
        except OSError as exc:
            tmp.unlink(missing_ok=True)
            raise StoreError(f"cannot store image data: {exc}") from exc
        return image_id

    @staticmethod
    async def _write_all(fd: int, chunks: AsyncIterator[bytes]) -> None:
        pending = bytearray()
        try:
            async for chunk in chunks:
                pending += chunk
                if len(pending) >= PIECE:
                    await asyncio.to_thread(_write, fd, bytes(pending))
                    pending.clear()
            if pending:
                await asyncio.to_thread(_write, fd, bytes(pending))
        except OSError as exc:
            raise StoreError(f"cannot store image data: {exc}") from exc

    async def get(self, key: str, start: int = 0, stop: int | None = None) -> AsyncIterator[bytes]:
        path = self._path(key)
        try:
            fd = await asyncio.to_thread(os.open, path, os.O_RDONLY)
        except FileNotFoundError as exc:
            raise StoreError(f"image data {key} is missing from the file store") from exc
        try:
            end = os.fstat(fd).st_size if stop is None else stop
            pos = start
            while pos < end:
                data = await asyncio.to_thread(os.pread, fd, min(PIECE, end - pos), pos)
                if not data:
                    break
                pos += len(data)
                yield data
        finally:
            os.close(fd)

    async def delete(self, key: str) -> None:
        with contextlib.suppress(FileNotFoundError):
            await asyncio.to_thread(self._path(key).unlink)


def _write(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


def _publish(tmp: Path, final: Path) -> None:
    os.rename(tmp, final)
    dir_fd = os.open(final.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)
