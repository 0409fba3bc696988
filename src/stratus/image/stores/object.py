"""The object store backend: image data as segmented objects in a service account.

Images are large and the object store caps an object's size, so the data is cut into
``segment_bytes`` pieces, each its own object (``<container>/<id>/<n>``), then a small
manifest (``<container>/<id>``, JSON: each segment's name and size) is written last: an
image is there only once its manifest is. Reads walk the manifest, fetching just the
segments a range touches. It goes through the object store's public Swift API with an
ordinary account (the ``service`` project's, by default), authenticating with Swift's v1
auth and re-authenticating when the token expires: the image service needs no access to
the storage nodes or rings, and any Swift-compatible store would do.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass
from urllib.parse import quote

import httpx

from stratus.image.stores import StoreError

log = logging.getLogger(__name__)
READ_PIECE = 1 << 20


@dataclass(frozen=True, slots=True)
class ObjectStoreAccess:
    auth_url: str  # Swift v1 auth: GET with X-Auth-User / X-Auth-Key
    user: str  # "project:user"
    key: str
    container: str
    segment_bytes: int


class _Segmenter:
    """Cuts one stream into consecutive streams of at most ``size`` bytes each."""

    def __init__(self, chunks: AsyncIterator[bytes], size: int) -> None:
        self._chunks = aiter(chunks)
        self._carry = b""
        self._size = size
        self._exhausted = False

    async def has_more(self) -> bool:
        while not self._carry and not self._exhausted:
            try:
                self._carry = await anext(self._chunks)
            except StopAsyncIteration:
                self._exhausted = True
        return bool(self._carry)

    async def segment(self) -> AsyncIterator[bytes]:
        left = self._size
        while left and await self.has_more():
            piece, self._carry = self._carry[:left], self._carry[left:]
            left -= len(piece)
            yield piece


class ObjectStore:
    name = "object"

    def __init__(self, access: ObjectStoreAccess, *, timeout: float = 60.0) -> None:
        self.access = access
        self._client = httpx.AsyncClient(timeout=timeout)
        self._grant: tuple[str, str] | None = None  # storage URL, token
        self._auth_lock = asyncio.Lock()
        self._container_ready = False

    async def close(self) -> None:
        await self._client.aclose()

    async def _authenticate(self, stale: tuple[str, str] | None = None) -> tuple[str, str]:
        async with self._auth_lock:
            if self._grant is None or self._grant == stale:
                answer = await self._client.get(
                    self.access.auth_url,
                    headers={"X-Auth-User": self.access.user, "X-Auth-Key": self.access.key},
                )
                if answer.status_code != 200:
                    raise StoreError(f"object store auth failed: {answer.status_code}")
                self._grant = (answer.headers["x-storage-url"], answer.headers["x-auth-token"])
            return self._grant

    async def _request(self, method: str, path: str, **kwargs: object) -> httpx.Response:
        """A request to ``<storage url>/<path>`` (body read), authenticating once more
        when the token is refused."""
        grant = await self._authenticate()
        for attempt in range(2):
            url, token = grant
            try:
                response = await self._client.request(
                    method,
                    f"{url}/{path}",
                    headers={"X-Auth-Token": token},
                    **kwargs,  # type: ignore[arg-type]
                )
            except httpx.HTTPError as exc:
                raise StoreError(f"object store unreachable: {exc!r}") from exc
            if response.status_code != 401 or attempt:
                return response
            grant = await self._authenticate(stale=grant)
        raise AssertionError("unreachable")

    def _path(self, *parts: str) -> str:
        return "/".join(quote(p, safe="") for p in (self.access.container, *parts))

    async def _ensure_container(self) -> None:
        if not self._container_ready:
            made = await self._request("PUT", quote(self.access.container, safe=""))
            if made.status_code not in (201, 202):
                raise StoreError(f"cannot create container: {made.status_code}")
            self._container_ready = True

    async def put(self, image_id: str, chunks: AsyncIterator[bytes]) -> str:
        await self._ensure_container()
        segments: list[dict[str, object]] = []
        try:
            cutter = _Segmenter(chunks, self.access.segment_bytes)
            while await cutter.has_more():
                name = f"{image_id}/{len(segments):08d}"
                counted = _Counted(cutter.segment())
                stored = await self._request("PUT", self._path(name), content=counted)
                if stored.status_code != 201:
                    raise StoreError(f"segment PUT failed: {stored.status_code}")
                segments.append({"name": name, "size": counted.size})
            manifest = json.dumps({"segments": segments}).encode()
            done = await self._request("PUT", self._path(image_id), content=manifest)
            if done.status_code != 201:
                raise StoreError(f"manifest PUT failed: {done.status_code}")
        except BaseException:
            await asyncio.shield(self._delete_segments(segments))
            raise
        return image_id

    async def _manifest(self, key: str) -> list[dict[str, object]]:
        answer = await self._request("GET", self._path(key))
        if answer.status_code == 404:
            raise FileNotFoundError(key)
        if answer.status_code != 200:
            raise StoreError(f"manifest GET failed: {answer.status_code}")
        segments: list[dict[str, object]] = json.loads(answer.content)["segments"]
        return segments

    async def get(self, key: str, start: int = 0, stop: int | None = None) -> AsyncIterator[bytes]:
        try:
            segments = await self._manifest(key)
        except FileNotFoundError as exc:
            raise StoreError(f"image data {key} is missing from the object store") from exc
        offset = 0
        for seg in segments:
            size = int(str(seg["size"]))
            lo, hi = max(start - offset, 0), size if stop is None else min(stop - offset, size)
            offset += size
            if lo < hi:
                async for piece in self._read(str(seg["name"]), lo, hi, size):
                    yield piece

    async def _read(self, name: str, lo: int, hi: int, size: int) -> AsyncIterator[bytes]:
        url, token = await self._authenticate()
        headers = {"X-Auth-Token": token}
        if (lo, hi) != (0, size):
            headers["Range"] = f"bytes={lo}-{hi - 1}"
        try:
            async with self._client.stream(
                "GET", f"{url}/{self._path(name)}", headers=headers
            ) as r:
                if r.status_code not in (200, 206):
                    raise StoreError(f"segment GET {name} failed: {r.status_code}")
                async for piece in r.aiter_raw(READ_PIECE):
                    yield piece
        except httpx.HTTPError as exc:
            raise StoreError(f"object store read failed: {exc!r}") from exc

    async def delete(self, key: str) -> None:
        try:
            segments = await self._manifest(key)
        except FileNotFoundError:
            return
        await self._delete_segments(segments)
        gone = await self._request("DELETE", self._path(key))
        if gone.status_code not in (204, 404):
            raise StoreError(f"manifest DELETE failed: {gone.status_code}")

    async def _delete_segments(self, segments: list[dict[str, object]]) -> None:
        for seg in segments:
            try:
                await self._request("DELETE", self._path(str(seg["name"])))
            except StoreError:
                log.warning("image segment %s left behind", seg["name"])


class _Counted:
    """An async body that counts what it hands to the HTTP client."""

    def __init__(self, chunks: AsyncIterator[bytes]) -> None:
        self._chunks = chunks
        self.size = 0

    async def __aiter__(self) -> AsyncIterator[bytes]:
        async for chunk in self._chunks:
            self.size += len(chunk)
            yield chunk
