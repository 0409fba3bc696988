"""The replicator's side of the object servers' replication calls.

Three calls (see ``storage/object_server.py``): ``REPLICATE`` for a partition's suffix
hashes (sent as the short-path ``POST``, since the fast HTTP parser refuses unknown
methods), ``GET`` of a suffix list for the versions a peer holds, and the replicated
``PUT`` that pushes one version with its stored metadata. The pushed bytes are read from
the local file as they go, so memory stays bounded whatever the object's size, and a local
copy whose metadata no longer describes it is reported as corrupt instead of spread.
"""

from __future__ import annotations

import asyncio
import enum
import logging
import os
from collections.abc import AsyncIterator, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

import httpx

from stratus.objectstore.ring import Device
from stratus.objectstore.storage.errors import CorruptObject
from stratus.objectstore.storage.hashes import SuffixHashes
from stratus.objectstore.storage.layout import DATA, TOMBSTONE, FileName, PathHasher
from stratus.objectstore.storage.metadata import ObjectMetadata, read_metadata
from stratus.objectstore.storage.server_request import REPLICATED_METADATA, REPLICATED_VERSION
from stratus.objectstore.storage.timestamp import Timestamp
from stratus.objectstore.storage.versions import VersionListing, newest_base, superseded_by

log = logging.getLogger(__name__)

SUFFIXES_PER_CALL = 256  # keeps request lines short whatever the partition holds
CHUNK = 1 << 20


class PushOutcome(enum.Enum):
    STORED = "stored"  # the peer has it now
    SUPERSEDED = "superseded"  # the peer has something newer: nothing to send
    GONE = "gone"  # replaced or removed here meanwhile: nothing to send
    CORRUPT = "corrupt"  # the local copy is bad (quarantine it; another replica has it)
    FAILED = "failed"  # the peer could not take it now: try again next pass

    @property
    def settled(self) -> bool:
        """Whether the peer holds this version or something that supersedes it."""
        return self in (PushOutcome.STORED, PushOutcome.SUPERSEDED, PushOutcome.GONE)


@dataclass(frozen=True, slots=True)
class LocalVersion:
    """One version file opened for sending; ``close()`` it."""

    fd: int
    meta: ObjectMetadata
    size: int

    def close(self) -> None:
        os.close(self.fd)


def open_version(hash_dir: Path, version: FileName, hasher: PathHasher) -> LocalVersion | None:
    """Blocking: the version's file and metadata, checked to belong to its hash dir and, for
    data, to have the recorded size; ``None`` when it is gone; ``CorruptObject`` if bad."""
    path = hash_dir / version.name
    try:
        fd = os.open(path, os.O_RDONLY)
    except FileNotFoundError:
        return None
    try:
        meta = read_metadata(fd, path)
        size = os.fstat(fd).st_size
        if hasher.hash_name(meta.name) != hash_dir.name:
            raise CorruptObject(str(path), f"holds {meta.name!r}, not an object of this dir")
        if meta.timestamp != version.timestamp:
            raise CorruptObject(str(path), f"metadata says {meta.timestamp.internal}")
        if version.ext == DATA and (meta.content_length != size or meta.etag is None):
            raise CorruptObject(str(path), f"{size} bytes, {meta.content_length} recorded")
    except BaseException:
        os.close(fd)
        raise
    return LocalVersion(fd, meta, size)


def object_path(device: str, partition: int, name: str) -> str:
    """``/<device>/<partition>/<account>/<container>/<object>``, percent-encoded (dots too,
    so URL normalisation cannot fold an object named ``a/../b``)."""
    account, container, obj = name[1:].split("/", 2)
    segments = [quote(device, safe=""), str(partition)]
    segments += [
        quote(s, safe="/" if i == 2 else "") for i, s in enumerate((account, container, obj))
    ]
    return "/" + "/".join(s.replace(".", "%2E") for s in segments)


def batches(items: Sequence[str], size: int = SUFFIXES_PER_CALL) -> list[Sequence[str]]:
    return [items[i : i + size] for i in range(0, len(items), size)]


class ReplicaClient:
    """Pooled HTTP to the other object servers; every call bounded in time."""

    def __init__(self, *, conn_timeout: float = 1.0, node_timeout: float = 30.0) -> None:
        timeout = httpx.Timeout(node_timeout, connect=conn_timeout)
        self.client = httpx.AsyncClient(timeout=timeout)

    async def aclose(self) -> None:
        await self.client.aclose()

    def _url(self, dev: Device, path: str) -> str:
        host = f"[{dev.ip}]" if ":" in dev.ip else dev.ip
        return f"http://{host}:{dev.port}{path}"

    async def suffix_hashes(
        self, dev: Device, partition: int, recalculate: Sequence[str] = ()
    ) -> SuffixHashes | None:
        """The peer's hashes (recalculating ``recalculate`` first); ``None`` if it failed."""
        answer: SuffixHashes = {}
        for batch in batches(recalculate) if recalculate else [()]:
            tail = f"/{'-'.join(batch)}" if batch else ""
            path = f"/{quote(dev.device, safe='')}/{partition}{tail}"
            found = await self._json(dev, "POST", path)
            if not isinstance(found, dict):
                return None
            answer = {str(k): v if isinstance(v, str) else None for k, v in found.items()}
        return answer

    async def versions(
        self, dev: Device, partition: int, suffixes: Sequence[str]
    ) -> VersionListing | None:
        listing: VersionListing = {}
        for batch in batches(suffixes):
            path = f"/{quote(dev.device, safe='')}/{partition}/{'-'.join(batch)}"
            found = await self._json(dev, "GET", path)
            if not isinstance(found, dict):
                return None
            for name_hash, names in found.items():
                if isinstance(names, list):
                    listing[str(name_hash)] = [str(n) for n in names]
        return listing

    async def push(
        self, dev: Device, partition: int, version: FileName, local: LocalVersion
    ) -> PushOutcome:
        """Send one version; the peer installs it unless it holds something newer."""
        headers = {
            REPLICATED_VERSION: version.name,
            REPLICATED_METADATA: local.meta.to_bytes().decode("ascii"),
            "Content-Length": str(local.size if version.ext == DATA else 0),
        }
        body = _read(local.fd, local.size) if version.ext == DATA else b""
        path = object_path(dev.device, partition, local.meta.name)
        try:
            response = await self.client.put(self._url(dev, path), headers=headers, content=body)
        except httpx.HTTPError as exc:
            log.warning("push of %s to %s failed: %r", version.name, dev.address, exc)
            return PushOutcome.FAILED
        if response.status_code == 201:
            return PushOutcome.STORED
        if response.status_code == 409:
            return PushOutcome.SUPERSEDED
        if response.status_code == 422:  # the bytes do not match their ETag: ours are bad
            return PushOutcome.CORRUPT
        log.warning("push of %s to %s: %d", version.name, dev.address, response.status_code)
        return PushOutcome.FAILED

    async def _json(self, dev: Device, method: str, path: str) -> object:
        try:
            response = await self.client.request(method, self._url(dev, path))
        except httpx.HTTPError as exc:
            log.warning("%s %s%s failed: %r", method, dev.address, path, exc)
            return None
        if response.status_code != 200:
            log.warning("%s %s%s: %d", method, dev.address, path, response.status_code)
            return None
        try:
            return response.json()
        except ValueError:
            return None


async def _read(fd: int, size: int) -> AsyncIterator[bytes]:
    pos = 0
    while pos < size:
        chunk = await asyncio.to_thread(os.pread, fd, min(CHUNK, size - pos), pos)
        if not chunk:
            return  # truncated under us: the peer sees a short body and refuses it
        pos += len(chunk)
        yield chunk


def missing_on_peer(
    versions: Iterable[FileName], theirs: Sequence[str], reclaim_before: Timestamp
) -> list[FileName]:
    """The versions a peer neither holds nor would refuse as older than its own, less
    tombstones past the reclaim age (the peer may rightly have forgotten them already)."""
    have = set(theirs)
    base = newest_base(theirs)
    return [
        v
        for v in versions
        if v.name not in have
        and not superseded_by(v, base)
        and not (v.ext == TOMBSTONE and v.timestamp < reclaim_before)
    ]
