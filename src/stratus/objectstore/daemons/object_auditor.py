"""The object auditor: finds bit rot before a reader does, and lets replication repair it.

Each pass re-reads the current ``.data`` of every object on this node's devices and checks
what a GET checks (``reader.checked_data_metadata``: readable metadata, a length and an
ETag, the size on disk), plus that the metadata names an object of this hash dir and that
the bytes hash to the ETag; the current ``.meta`` files must be readable too, as a GET
reads them. A failure moves the whole hash dir to ``<device>/quarantined/objects`` (the
same ``quarantine_hash_dir`` a GET uses), which invalidates the suffix: the next
replication pass sees the object missing here and another replica pushes a good copy.

Reads are paced to ``auditor_bytes_per_second`` per device, so an audit never starves
client traffic; devices are audited side by side.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import os
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

from stratus.common.service import Runtime
from stratus.objectstore.daemons.local_devices import (
    LocalNode,
    local_devices,
    partitions,
    suffixes,
)
from stratus.objectstore.daemons.node_setup import local_storage
from stratus.objectstore.daemons.periodic import PeriodicDaemon
from stratus.objectstore.ring import Device, Ring
from stratus.objectstore.storage.diskfile import DiskFileManager
from stratus.objectstore.storage.errors import CorruptObject
from stratus.objectstore.storage.hashdir import list_versions
from stratus.objectstore.storage.layout import DevicePaths, FileName
from stratus.objectstore.storage.metadata import read_metadata_at
from stratus.objectstore.storage.quarantine import quarantine_hash_dir
from stratus.objectstore.storage.reader import checked_data_metadata
from stratus.objectstore.storage.versions import hash_dirs

log = logging.getLogger(__name__)
CHUNK = 1 << 20


@dataclass
class AuditStats:
    objects: int = 0
    bytes: int = 0
    quarantined: int = 0

    def add(self, other: AuditStats) -> None:
        self.objects += other.objects
        self.bytes += other.bytes
        self.quarantined += other.quarantined


class ByteRate:
    """Paces reads to ``rate`` bytes per second, averaged from the start of the pass."""

    def __init__(
        self,
        rate: float,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.rate = rate
        self.clock = clock
        self.sleep = sleep
        self.started = clock()
        self.spent = 0

    async def spend(self, size: int) -> None:
        """Count ``size`` bytes read; wait until the average is back under the rate."""
        self.spent += size
        ahead = self.spent / self.rate - (self.clock() - self.started)
        if ahead > 0:
            await self.sleep(ahead)


class ObjectAuditor:
    def __init__(
        self,
        ring: Callable[[], Ring],
        node: LocalNode,
        disk: DiskFileManager,
        *,
        bytes_per_second: float,
    ) -> None:
        self.ring = ring
        self.node = node
        self.disk = disk
        self.bytes_per_second = bytes_per_second

    async def run_once(self) -> AuditStats:
        devices = await asyncio.to_thread(local_devices, self.ring(), self.node)
        total = AuditStats()
        for stats in await asyncio.gather(*(self.audit_device(d) for d in devices)):
            total.add(stats)
        return total

    async def audit_device(self, dev: Device) -> AuditStats:
        paths = self.disk.device(dev.device)
        pace = ByteRate(self.bytes_per_second)
        stats = AuditStats()
        for part in await asyncio.to_thread(partitions, paths.objects):
            partition_dir = paths.partition(part)
            for suffix in await asyncio.to_thread(suffixes, partition_dir):
                for hash_dir in await asyncio.to_thread(hash_dirs, partition_dir / suffix):
                    await self.audit(paths, hash_dir, pace, stats)
        return stats

    async def audit(
        self, device: DevicePaths, hash_dir: Path, pace: ByteRate, stats: AuditStats
    ) -> None:
        """Check one object; quarantine it if its current version is bad."""
        _, listing = await asyncio.to_thread(list_versions, hash_dir)
        data = listing.data
        if data is None:
            return
        try:
            stats.bytes += await self.check_data(hash_dir, data, pace)
            for meta in listing.metas:
                await asyncio.to_thread(_readable_meta, hash_dir / meta.name)
        except FileNotFoundError:
            return  # replaced or removed while we looked: the new version is next pass's
        except CorruptObject as exc:
            if await self.still_current(hash_dir, data):
                await asyncio.to_thread(quarantine_hash_dir, device, hash_dir, exc.message)
                stats.quarantined += 1
            return
        stats.objects += 1

    async def check_data(self, hash_dir: Path, data: FileName, pace: ByteRate) -> int:
        """Read the whole ``.data``, paced; its size, or ``CorruptObject``."""
        path = hash_dir / data.name
        fd = await asyncio.to_thread(os.open, path, os.O_RDONLY)
        try:
            meta = await asyncio.to_thread(checked_data_metadata, fd, path)
            if self.disk.hasher.hash_name(meta.name) != hash_dir.name:
                raise CorruptObject(str(path), f"holds {meta.name!r}, not an object of this dir")
            size = meta.content_length or 0  # checked: never None here
            md5 = hashlib.md5(usedforsecurity=False)
            pos = 0
            while pos < size:
                read = await asyncio.to_thread(_read_into, fd, pos, md5)
                if not read:
                    break
                pos += read
                await pace.spend(read)
        finally:
            os.close(fd)
        if pos != size or md5.hexdigest() != meta.etag:
            raise CorruptObject(str(path), f"MD5 {md5.hexdigest()} != ETag {meta.etag}")
        return pos

    async def still_current(self, hash_dir: Path, data: FileName) -> bool:
        """Quarantine only the version found bad, not a newer one written meanwhile."""
        _, listing = await asyncio.to_thread(list_versions, hash_dir)
        return listing.data == data


def _read_into(fd: int, pos: int, md5: hashlib._Hash) -> int:
    chunk = os.pread(fd, CHUNK, pos)
    md5.update(chunk)
    return len(chunk)


def _readable_meta(path: Path) -> None:
    read_metadata_at(path)


class ObjectAuditorDaemon(PeriodicDaemon):
    """``object-auditor``: one ``ObjectAuditor`` pass every ``auditor_interval``."""

    name = "object-auditor"

    def __init__(self) -> None:
        super().__init__()
        self.auditor: ObjectAuditor | None = None

    def interval(self, runtime: Runtime) -> float:
        return runtime.settings.objectstore.auditor_interval

    async def setup(self, runtime: Runtime) -> None:
        local = await local_storage(runtime.settings)
        rate = runtime.settings.objectstore.auditor_bytes_per_second
        self.auditor = ObjectAuditor(local.ring, local.node, local.disk, bytes_per_second=rate)

    async def run_once(self) -> None:
        assert self.auditor is not None, "setup() first"
        stats = await self.auditor.run_once()
        log.info("object audit: %s", stats)
