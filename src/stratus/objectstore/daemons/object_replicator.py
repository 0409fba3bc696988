"""The object replicator: keeps every partition's replicas complete, by pushing.

Each pass walks the partitions of this node's devices. On a device that is a primary for
the partition, it compares suffix hashes with each other primary and pushes what the peer
lacks, file by file (``object_sync.py``); the peers' own replicators push the other way,
so replicas converge without anyone pulling. On a device that is not a primary (a
handoff that stood in for a failed node, or a partition a rebalance moved away), it pushes
everything to the primaries and, once all of them hold it, removes what it sent
(``object_handoffs.py``).

Suffix hashes are cached and only rehashed when a write invalidates them; every
``full_rehash_every`` passes (and the first) every suffix is rehashed, which also finds
suffixes a crash left unrecorded and forgets tombstones older than the reclaim age.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
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
from stratus.objectstore.daemons.object_handoffs import remove_reverted, snapshot
from stratus.objectstore.daemons.object_sync import (
    PushOutcome,
    ReplicaClient,
    missing_on_peer,
    open_version,
)
from stratus.objectstore.daemons.periodic import PeriodicDaemon
from stratus.objectstore.ring import Device, Ring
from stratus.objectstore.storage.diskfile import DiskFileManager
from stratus.objectstore.storage.errors import CorruptObject
from stratus.objectstore.storage.hashes import SuffixHashes
from stratus.objectstore.storage.layout import FileName
from stratus.objectstore.storage.quarantine import quarantine_hash_dir
from stratus.objectstore.storage.versions import current_versions, hash_dirs

log = logging.getLogger(__name__)


@dataclass
class ReplicationStats:
    """What one pass did (logged, and what tests look at)."""

    partitions: int = 0
    pushed: int = 0
    failed: int = 0
    quarantined: int = 0
    reverted: int = 0


@dataclass(frozen=True, slots=True)
class Job:
    """One partition on one local device, and the devices it must reach."""

    device: Device
    partition: int
    peers: tuple[Device, ...]
    handoff: bool


class ObjectReplicator:
    """One node's replication, pass by pass; the daemon below runs it on a timer."""

    def __init__(
        self,
        ring: Callable[[], Ring],
        node: LocalNode,
        disk: DiskFileManager,
        client: ReplicaClient,
        *,
        full_rehash_every: int = 10,
    ) -> None:
        self.ring = ring
        self.node = node
        self.disk = disk
        self.client = client
        self.full_rehash_every = full_rehash_every
        self.passes = 0

    async def run_once(self) -> ReplicationStats:
        stats = ReplicationStats()
        full = self.passes % self.full_rehash_every == 0
        ring = self.ring()
        for job in await asyncio.to_thread(self.jobs, ring):
            stats.partitions += 1
            await self.replicate(job, stats, full_rehash=full)
        self.passes += 1
        return stats

    def jobs(self, ring: Ring) -> list[Job]:
        """Handoff partitions first: they hold the only extra copy of recent writes."""
        found = []
        for dev in local_devices(ring, self.node):
            for part in partitions(self.disk.device(dev.device).objects):
                if part >= ring.partition_count:
                    log.warning("%s: partition %d is not in the ring", dev.device, part)
                    continue
                primaries = ring.primaries(part)
                peers = tuple(p for p in primaries if p.id != dev.id)
                found.append(Job(dev, part, peers, handoff=len(peers) == len(primaries)))
        return sorted(found, key=lambda j: not j.handoff)

    async def replicate(self, job: Job, stats: ReplicationStats, *, full_rehash: bool) -> None:
        partition_dir = self.disk.device(job.device.device).partition(job.partition)
        sent = await asyncio.to_thread(snapshot, partition_dir) if job.handoff else []
        local = await self.local_hashes(job, partition_dir, full_rehash)
        settled = [await self.sync(job, peer, local, stats) for peer in job.peers]
        if not (job.handoff and all(settled)):
            return
        if await asyncio.to_thread(remove_reverted, partition_dir, sent):
            stats.reverted += 1
            log.info("reverted %s/%d to its primaries", job.device.device, job.partition)

    async def local_hashes(self, job: Job, partition_dir: Path, full: bool) -> SuffixHashes:
        every = await asyncio.to_thread(suffixes, partition_dir) if full else []
        return await self.disk.suffix_hashes(job.device.device, job.partition, every, listdir=full)

    async def sync(
        self, job: Job, peer: Device, local: SuffixHashes, stats: ReplicationStats
    ) -> bool:
        """Push to ``peer`` what it lacks; ``True`` when it then holds every local version."""
        remote = await self.client.suffix_hashes(peer, job.partition)
        if remote is None:
            stats.failed += 1
            return False
        differing = sorted(s for s, h in local.items() if h is not None and remote.get(s) != h)
        if not differing:
            return True
        listing = await self.client.versions(peer, job.partition, differing)
        if listing is None:
            stats.failed += 1
            return False
        settled = True
        partition_dir = self.disk.device(job.device.device).partition(job.partition)
        for suffix in differing:
            for hash_dir in await asyncio.to_thread(hash_dirs, partition_dir / suffix):
                theirs = listing.get(hash_dir.name, [])
                versions = await asyncio.to_thread(current_versions, hash_dir)
                todo = missing_on_peer(versions, theirs, self.disk.reclaim_before())
                for version in todo:
                    outcome = await self.push(job, peer, hash_dir, version)
                    settled &= self.count(outcome, stats)
                    if outcome is PushOutcome.CORRUPT:
                        break
        await self.client.suffix_hashes(peer, job.partition, differing)
        return settled

    async def push(self, job: Job, peer: Device, hash_dir: Path, version: FileName) -> PushOutcome:
        """Push one version; a local copy found bad is quarantined, never sent."""
        try:
            local = await asyncio.to_thread(open_version, hash_dir, version, self.disk.hasher)
        except CorruptObject as exc:
            await self.quarantine(job, hash_dir, exc.message)
            return PushOutcome.CORRUPT
        if local is None:
            return PushOutcome.GONE
        try:
            outcome = await self.client.push(peer, job.partition, version, local)
        finally:
            local.close()
        if outcome is PushOutcome.CORRUPT:
            await self.quarantine(job, hash_dir, f"{version.name} does not match its ETag")
        return outcome

    async def quarantine(self, job: Job, hash_dir: Path, why: str) -> None:
        device = self.disk.device(job.device.device)
        await asyncio.to_thread(quarantine_hash_dir, device, hash_dir, why)

    @staticmethod
    def count(outcome: PushOutcome, stats: ReplicationStats) -> bool:
        if outcome is PushOutcome.STORED:
            stats.pushed += 1
        elif outcome is PushOutcome.CORRUPT:
            stats.quarantined += 1
        elif outcome is PushOutcome.FAILED:
            stats.failed += 1
        return outcome.settled


class ObjectReplicatorDaemon(PeriodicDaemon):
    """``object-replicator``: one ``ObjectReplicator`` pass every ``replicator_interval``."""

    name = "object-replicator"

    def __init__(self) -> None:
        super().__init__()
        self.replicator: ObjectReplicator | None = None

    def interval(self, runtime: Runtime) -> float:
        return runtime.settings.objectstore.replicator_interval

    async def setup(self, runtime: Runtime) -> None:
        local = await local_storage(runtime.settings)
        self.replicator = ObjectReplicator(local.ring, local.node, local.disk, ReplicaClient())

    async def run_once(self) -> None:
        assert self.replicator is not None, "setup() first"
        stats = await self.replicator.run_once()
        log.info("object replication: %s", stats)

    async def teardown(self) -> None:
        if self.replicator is not None:
            await self.replicator.client.aclose()
            self.replicator = None
