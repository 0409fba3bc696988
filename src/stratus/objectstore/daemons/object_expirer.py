"""The object expirer: deletes objects whose ``X-Delete-At`` has come, from the queue.

Reads already hide an expired object (the object server answers 404 past its
``delete_at``); this daemon reclaims the space and fixes the listing. Each pass lists the
reserved account ``.expiring_objects`` (``expiring.py``), and in each day container that
has begun, the entries due by now, in time order (names sort by time). For an entry:

1. DELETE the object on its replicas with ``X-Timestamp`` = its expiry time and
   ``X-If-Delete-At``: a version written since without that expiry refuses (412) or is
   newer (409) and survives; the tombstone's time being the expiry, not now, means a
   write made after it always wins too.
2. If the delete happened (2xx) or nothing was there (404), remove the object from its
   container listing (as of the expiry time; an async pending if that fails).
3. Remove the queue entry. When no replica set agrees (servers down), the entry stays for
   the next pass. A day container that is over and empty is deleted.

One expirer per cluster is enough for a rack; more would repeat each other's deletes
(harmless, since every step is idempotent, but wasted).
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass
from urllib.parse import urlencode

from stratus.common.service import Runtime
from stratus.objectstore.daemons.internal_cluster import internal_cluster
from stratus.objectstore.daemons.periodic import PeriodicDaemon
from stratus.objectstore.expiring import DAY, QUEUE_ACCOUNT, QueueEntry
from stratus.objectstore.proxy.backend import backend_path
from stratus.objectstore.proxy.cluster import Cluster
from stratus.objectstore.proxy.container_updates import update_containers
from stratus.objectstore.proxy.placement import Placement, best_status
from stratus.objectstore.proxy.replicas import read_one, write_all
from stratus.objectstore.proxy.request import ObjectName
from stratus.objectstore.ring.devices import Device
from stratus.objectstore.storage.timestamp import Timestamp

log = logging.getLogger(__name__)

PAGE = 1000


@dataclass
class ExpirerStats:
    expired: int = 0  # objects deleted (or found already gone) and taken off the queue
    kept_alive: int = 0  # entries dropped because the object changed since (412/409)
    retry: int = 0  # entries left for the next pass
    containers_removed: int = 0


class ExpiryQueue:
    """Works through the due part of the queue in ``cluster``."""

    def __init__(self, cluster: Cluster) -> None:
        self.cluster = cluster

    async def run_once(self) -> ExpirerStats:
        stats = ExpirerStats()
        now = int(time.time())
        for day in await self._names(self._account(), (QUEUE_ACCOUNT,), str(now + 1)):
            if not day.isdigit():
                continue
            done = await self._work_day(day, now, stats)
            if done and int(day) + DAY <= now:
                await self._remove_day(day, stats)
        log.info("object expirer: %s", stats)
        return stats

    def _account(self) -> Placement:
        return self.cluster.account_nodes(QUEUE_ACCOUNT)

    async def _work_day(self, day: str, now: int, stats: ExpirerStats) -> bool:
        """Expire the day's due entries; ``True`` when none is left to retry."""
        nodes = self.cluster.container_nodes(QUEUE_ACCOUNT, day)
        settled = True
        for name in await self._names(nodes, (QUEUE_ACCOUNT, day), str(now + 1)):
            entry = QueueEntry.parse(name)
            if entry is None:
                log.error("bad expiry queue entry %r in %s: dropped", name, day)
                await self._dequeue(day, name)
                continue
            if not await self.expire(entry, stats):
                settled = False
                stats.retry += 1
                continue
            await self._dequeue(day, name)
        return settled

    async def expire(self, entry: QueueEntry, stats: ExpirerStats) -> bool:
        """Delete one object if it still expires then; ``True`` once the entry is done."""
        name = ObjectName(entry.account, entry.container, entry.obj)
        when = Timestamp.from_seconds(entry.delete_at)
        headers = {"X-Timestamp": when.internal, "X-If-Delete-At": str(entry.delete_at)}
        nodes = self.cluster.object_nodes(name.account, name.container, name.obj)

        def path(dev: Device) -> str:
            return backend_path(dev, nodes.partition, name.account, name.container, name.obj)

        replies = await write_all(self.cluster, nodes, path, "DELETE", lambda _: headers)
        status = best_status((r.status for r in replies), nodes.quorum)
        if status is None:
            return False
        if status // 100 == 2 or status == 404:
            await update_containers(self.cluster, name, "DELETE", {"X-Timestamp": when.internal})
            stats.expired += 1
        else:  # 412 or 409: a newer version without this expiry stands
            stats.kept_alive += 1
        return True

    async def _dequeue(self, day: str, name: str) -> None:
        queued = ObjectName(QUEUE_ACCOUNT, day, name)
        headers = {"X-Timestamp": Timestamp.now().internal}
        await update_containers(self.cluster, queued, "DELETE", headers)

    async def _names(self, nodes: Placement, names: tuple[str, ...], end: str) -> list[str]:
        """Every name listed under ``names`` (an account or a container) before ``end``."""
        found: list[str] = []
        while True:
            query = {"limit": str(PAGE), "end_marker": end}
            if found:
                query["marker"] = found[-1]

            def path(dev: Device) -> str:
                return backend_path(dev, nodes.partition, *names)

            reply = await read_one(
                self.cluster, nodes, path, "GET", {}, query=urlencode(query).encode()
            )
            if not reply.ok:  # 404: nothing queued yet; else try again next pass
                return found
            page = [e["name"] for e in json.loads(reply.body or b"[]") if "name" in e]
            found += page
            if len(page) < PAGE:
                return found

    async def _remove_day(self, day: str, stats: ExpirerStats) -> None:
        """Delete a finished day's container (409 if an entry is still listed: later)."""
        nodes = self.cluster.container_nodes(QUEUE_ACCOUNT, day)
        account = self._account()
        base = {"X-Timestamp": Timestamp.now().internal}

        def headers_for(i: int) -> dict[str, str]:
            dev = account.primaries()[i % len(account.primaries())]
            host = f"[{dev.ip}]" if ":" in dev.ip else dev.ip
            return {
                **base,
                "X-Account-Host": f"{host}:{dev.port}",
                "X-Account-Device": dev.device,
                "X-Account-Partition": str(account.partition),
            }

        def path(dev: Device) -> str:
            return backend_path(dev, nodes.partition, QUEUE_ACCOUNT, day)

        replies = await write_all(self.cluster, nodes, path, "DELETE", headers_for)
        if best_status((r.status for r in replies), nodes.quorum) == 204:
            stats.containers_removed += 1


class ObjectExpirer(PeriodicDaemon):
    name = "object-expirer"

    def __init__(self) -> None:
        super().__init__()
        self.queue: ExpiryQueue | None = None

    def interval(self, runtime: Runtime) -> float:
        return runtime.settings.objectstore.expirer_interval

    async def setup(self, runtime: Runtime) -> None:
        self.queue = ExpiryQueue(internal_cluster(runtime))

    async def run_once(self) -> None:
        assert self.queue is not None, "setup() first"
        await self.queue.run_once()

    async def teardown(self) -> None:
        if self.queue is not None:
            await self.queue.cluster.close()
            self.queue = None
