"""Where image data lives. A store is a small Protocol; the service picks one by name."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Protocol


class StoreError(Exception):
    """The store failed (disk full, object store down): the upload is abandoned."""


class Store(Protocol):
    name: str

    async def put(self, image_id: str, chunks: AsyncIterator[bytes]) -> str:
        """Store the whole stream and return its key. The data is visible under the key
        only once complete; on any failure (including the stream raising) nothing is
        left behind."""
        ...

    def get(self, key: str, start: int = 0, stop: int | None = None) -> AsyncIterator[bytes]:
        """The bytes ``[start, stop)`` of a stored image."""
        ...

    async def delete(self, key: str) -> None:
        """Remove the data; a key already gone is not an error."""
        ...
