"""One pass of container or account replication over a node's local databases.

For each database: purge tombstone rows older than the reclaim age; drop the whole file
once it has been deleted for longer than that (every replica does the same, and no
replica can bring it back after the reclaim age); otherwise push it into every other
primary of its partition with ``merge.replicate`` (the remote merges row by row, newest
wins, so pushes in all directions converge). A copy on a device that is not a primary
any more (a handoff, or after a rebalance) is removed once every primary took it, unless
rows arrived meanwhile (the next pass pushes those).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import shutil
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import httpx

from stratus.objectstore.daemons.db_peer import HttpPeer, PeerFailed
from stratus.objectstore.daemons.db_walk import DbFile, db_files, local_devices
from stratus.objectstore.dbs import merge
from stratus.objectstore.dbs.account_broker import AccountBroker
from stratus.objectstore.dbs.broker import Broker, DbInfo
from stratus.objectstore.dbs.container_broker import ContainerBroker
from stratus.objectstore.dbs.dbfile import DbConfig, DbKind, locate
from stratus.objectstore.dbs.errors import CorruptDatabase, DbNotFound
from stratus.objectstore.dbs.registry import AsyncDb
from stratus.objectstore.ring.devices import Device
from stratus.objectstore.ring.ring import Ring
from stratus.objectstore.storage.timestamp import Timestamp

log = logging.getLogger(__name__)


@dataclass
class ReplicationStats:
    """What one pass did (logged, and read by tests)."""

    checked: int = 0
    rows_pushed: int = 0
    pushes_failed: int = 0
    handoffs_removed: int = 0
    reclaimed: int = 0


class DbReplication:
    """Replicates every database of ``kind`` on the ring's devices under ``devices_root``."""

    def __init__(
        self,
        kind: DbKind,
        devices_root: Path,
        ring: Callable[[], Ring],
        config: DbConfig,
        *,
        node_timeout: float = 10.0,
        conn_timeout: float = 1.0,
    ) -> None:
        self.kind = kind
        self.devices_root = devices_root
        self.ring = ring
        self.config = config
        self.client = httpx.AsyncClient(timeout=httpx.Timeout(node_timeout, connect=conn_timeout))

    async def run_once(self) -> ReplicationStats:
        stats = ReplicationStats()
        ring = self.ring()
        for dev in local_devices(self.devices_root, ring):
            for found in await db_files(self.devices_root, dev.device, self.kind):
                try:
                    await self._replicate_one(ring, dev, found, stats)
                except (CorruptDatabase, DbNotFound) as exc:  # corrupt, or gone meanwhile
                    log.warning("%s: skipped %s: %s", self.kind.value, found, exc)
        log.info("%s replication: %s", self.kind.value, stats)
        return stats

    async def close(self) -> None:
        await self.client.aclose()

    def _open(self, dev: Device, found: DbFile) -> AsyncDb[Broker[object]]:
        loc = locate(self.devices_root, self.kind, dev.device, found.partition, found.name_hash)
        broker = ContainerBroker if self.kind is DbKind.CONTAINER else AccountBroker
        return AsyncDb(broker(loc, self.config))  # type: ignore[arg-type]

    async def _replicate_one(
        self, ring: Ring, dev: Device, found: DbFile, stats: ReplicationStats
    ) -> None:
        db = self._open(dev, found)
        try:
            stats.checked += 1
            info = await self._reclaim(db)
            if info is None:
                stats.reclaimed += 1
                return
            primaries = ring.primaries(found.partition)
            peers = [d for d in primaries if d.device != dev.device]
            pushed = await self._push(db, peers, found, stats)
            handoff = all(d.device != dev.device for d in primaries)
            if handoff and pushed and await db.call(lambda b: _remove(b, info.max_row)):
                stats.handoffs_removed += 1
        finally:
            await db.close()

    async def _reclaim(self, db: AsyncDb[Broker[object]]) -> DbInfo | None:
        """Purge old tombstone rows; remove the file (``None``) if long deleted."""
        before = Timestamp.from_seconds(max(0.0, time.time() - self.config.reclaim_age))
        await db.call(lambda b: b.reclaim(before))
        info = await db.call(Broker.info)
        if info.is_deleted and info.status_changed_at < before:
            await db.call(lambda b: _remove(b, info.max_row))
            return None
        return info

    async def _push(
        self,
        db: AsyncDb[Broker[object]],
        peers: list[Device],
        found: DbFile,
        stats: ReplicationStats,
    ) -> bool:
        """Push into every peer; ``True`` when every one of them took it."""
        results = await asyncio.gather(
            *(
                merge.replicate(db, HttpPeer(self.client, p, found.partition, found.name_hash))
                for p in peers
            ),
            return_exceptions=True,
        )
        ok = True
        for peer, result in zip(peers, results, strict=True):
            if isinstance(result, PeerFailed | DbNotFound):
                log.warning("push of %s to %s failed: %s", found.name_hash, peer.address, result)
                stats.pushes_failed += 1
                ok = False
            elif isinstance(result, BaseException):
                raise result
            else:
                stats.rows_pushed += result
        return ok


def _remove(b: Broker[object], max_row: int) -> bool:
    """Move the database's directory aside and delete it, under the write lock and only
    if no row arrived since ``max_row`` (a writer elsewhere waits, then finds it gone)."""
    hash_dir = b.loc.hash_dir
    doomed = b.loc.device_dir / "tmp" / f".removed-{uuid.uuid4().hex}"
    with b.write():
        if b.info().max_row != max_row:
            return False
        doomed.parent.mkdir(exist_ok=True)
        hash_dir.rename(doomed)
    b.close()
    shutil.rmtree(doomed, ignore_errors=True)
    with contextlib.suppress(OSError):
        hash_dir.parent.rmdir()  # the suffix dir, if now empty
    return True
