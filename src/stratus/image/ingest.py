"""Taking image data in: hashing, inspecting, bounding and storing it in one pass.

Every path that brings data (``PUT /file``, a ``glance-direct`` import, a copy between
stores) goes through ``ingest``: the stream is checked against the size limit as it
arrives, hashed (MD5 for ``checksum``, SHA-512 for ``os_hash_value``), inspected
(``formats.py``) and written to the store, which makes it visible only once complete.
The two digests run in worker threads on 4 MiB pieces (hashlib releases the GIL) while
the store writes the same piece and the next one arrives, so they use a second core
instead of stalling the event loop.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import AsyncIterator
from dataclasses import dataclass

from stratus.common.errors import InvalidInput, TooLarge
from stratus.image.formats import FormatInspector, UnsafeImage
from stratus.image.stores import Store

PIECE = 4 << 20
HASH_ALGO = "sha512"


@dataclass(frozen=True, slots=True)
class Ingested:
    key: str
    size: int
    checksum: str
    os_hash_value: str
    virtual_size: int


class _Digest:
    def __init__(self, limit: int) -> None:
        self.md5 = hashlib.md5(usedforsecurity=False)
        self.sha = hashlib.new(HASH_ALGO)
        self.inspector = FormatInspector()
        self.limit = limit

    async def pieces(self, chunks: AsyncIterator[bytes]) -> AsyncIterator[bytes]:
        """The stream in 4 MiB pieces; each piece is hashed while the store writes it
        and the next one arrives (the digests see the pieces in order)."""
        pending = bytearray()
        hashing: asyncio.Future[tuple[None, None]] | None = None
        try:
            async for chunk in chunks:
                pending += chunk
                if self.inspector.size + len(pending) > self.limit:
                    raise TooLarge(
                        "image.too_large", f"Image exceeds the limit of {self.limit} bytes"
                    )
                if len(pending) >= PIECE:
                    piece = bytes(pending)
                    pending.clear()
                    hashing = await self._hash_after(hashing, piece)
                    yield piece
            if pending:
                piece = bytes(pending)
                hashing = await self._hash_after(hashing, piece)
                yield piece
        finally:
            if hashing is not None:
                await hashing

    async def _hash_after(
        self, previous: asyncio.Future[tuple[None, None]] | None, piece: bytes
    ) -> asyncio.Future[tuple[None, None]]:
        if previous is not None:
            await previous
        self.inspector.feed(piece)
        return asyncio.gather(
            asyncio.to_thread(self.md5.update, piece), asyncio.to_thread(self.sha.update, piece)
        )


async def ingest(
    store: Store,
    image_id: str,
    chunks: AsyncIterator[bytes],
    *,
    disk_format: str,
    limit: int,
) -> Ingested:
    """Store ``chunks`` as the data of ``image_id``; on any failure nothing stays stored.

    Raises ``TooLarge`` over ``limit`` and ``InvalidInput`` when the content is not
    ``disk_format`` or is unsafe (a qcow2 with a backing file...)."""
    digest = _Digest(limit)
    key = await store.put(image_id, digest.pieces(chunks))
    try:
        found = digest.inspector.finish(disk_format)
    except UnsafeImage as exc:
        await store.delete(key)
        raise InvalidInput("image.data.refused", str(exc)) from None
    return Ingested(
        key=key,
        size=digest.inspector.size,
        checksum=digest.md5.hexdigest(),
        os_hash_value=digest.sha.hexdigest(),
        virtual_size=found.virtual_size,
    )
