"""The scheduler service: SelectHosts and ReleaseClaim over the bus, on compute's tables.

It owns no tables: its view and its claims live in compute's database (a claim shares a
transaction with ``compute_nodes``), so it brings compute's migrations (the same set
compute's API brings; running it twice is a no-op) to find those tables at ``up``.
Several schedulers may run; the database keeps their claims consistent (``claims.py``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time

from stratus.common.context import RequestContext
from stratus.common.db import Database, MigrationSet, current_revision
from stratus.common.errors import Unavailable
from stratus.common.rpc import Dispatcher, Server
from stratus.common.service import CatalogEntry, Runtime
from stratus.compute.migrations import MIGRATIONS as COMPUTE_MIGRATIONS
from stratus.scheduler.claims import ClaimLedger
from stratus.scheduler.host_state import Amounts, Claim, HostView
from stratus.scheduler.rpc import (
    SCHEDULER_TOPIC,
    ClaimAnswer,
    HostsChanged,
    ReleaseClaim,
    ResizeClaim,
    SelectHosts,
    Selection,
)
from stratus.scheduler.selector import HostSelector
from stratus.scheduler.settings import SchedulerSettings
from stratus.scheduler.sources import DatabaseHosts
from stratus.scheduler.switched_off import RegistrySwitches
from stratus.settings import Settings

log = logging.getLogger(__name__)


def build_dispatcher(selector: HostSelector) -> Dispatcher:
    dispatcher = Dispatcher()

    @dispatcher.handler(SelectHosts)
    async def select_hosts(ctx: RequestContext, msg: SelectHosts) -> Selection:
        return await selector.select(msg.spec)

    @dispatcher.handler(ReleaseClaim)
    async def release_claim(ctx: RequestContext, msg: ReleaseClaim) -> None:
        if not await selector.release(msg.instance_id, msg.host):
            log.debug("no claim of %s on %s to release", msg.instance_id, msg.host)

    @dispatcher.handler(ResizeClaim)
    async def resize_claim(ctx: RequestContext, msg: ResizeClaim) -> ClaimAnswer:
        amounts = Amounts(msg.vcpus, msg.memory_mb, msg.disk_gb)
        return ClaimAnswer(claimed=await selector.resize(Claim(msg.instance_id, msg.host, amounts)))

    @dispatcher.handler(HostsChanged)
    async def hosts_changed(ctx: RequestContext, msg: HostsChanged) -> None:
        await selector.reload()

    return dispatcher


def compute_database_url(s: Settings) -> str:
    """Compute's database: compute's own override (``[compute]``) or the shared one."""
    override = getattr(getattr(s, "compute", None), "database_url", "")
    return s.database_url("compute", override if isinstance(override, str) else "")


class SchedulerService:
    name = "scheduler"
    catalog: tuple[CatalogEntry, ...] = ()

    def __init__(self) -> None:
        self.selector: HostSelector | None = None
        self._db: Database | None = None
        self._server: Server | None = None
        self._refresher: asyncio.Task[None] | None = None

    def migrations(self) -> tuple[MigrationSet, ...]:
        return (COMPUTE_MIGRATIONS,)

    async def start(self, runtime: Runtime) -> None:
        s = runtime.settings
        db = Database(compute_database_url(s), pool_size=s.database.pool_size)
        try:
            await db.check()
            await _check_migrated(db)
            switches = RegistrySwitches(runtime.bus, s.scheduler.compute_binaries)
            source = DatabaseHosts(db, s.scheduler, switches.hosts_switched_off)
            self.selector = await self._selector(db, source, s.scheduler)
            dispatcher = build_dispatcher(self.selector)
            self._server = await runtime.bus.serve(SCHEDULER_TOPIC, dispatcher, host=runtime.host)
        except BaseException:
            await db.close()
            raise
        self._db = db
        self._refresher = asyncio.create_task(
            self._refresh_forever(source, s.scheduler.refresh_interval)
        )
        log.info("scheduler serving on %s", runtime.host)

    async def _selector(
        self, db: Database, source: DatabaseHosts, cfg: SchedulerSettings
    ) -> HostSelector:
        view = HostView()
        await source.reload(view)
        log.info("scheduler loaded %d hosts", len(view.states.hosts))
        return HostSelector(view, ClaimLedger(db, cfg), source, cfg)

    async def _refresh_forever(self, source: DatabaseHosts, interval: float) -> None:
        assert self.selector is not None
        view = self.selector.view
        while True:
            await asyncio.sleep(interval)
            try:
                await source.reload(view, unless_loaded_since=time.monotonic() - interval / 2)
            except Exception as exc:  # the database may come back: keep the old view
                log.warning("could not reload host state: %r", exc)

    async def stop(self) -> None:
        if self._refresher is not None:
            self._refresher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._refresher
            self._refresher = None
        if self._server is not None:
            await self._server.stop()
            self._server = None
        if self._db is not None:
            await self._db.close()
            self._db = None
        self.selector = None


async def _check_migrated(db: Database) -> None:
    current, head = await current_revision(db, COMPUTE_MIGRATIONS), COMPUTE_MIGRATIONS.head()
    if current != head:
        raise Unavailable(
            "db.not_migrated",
            f"the compute tables at {db.safe_url} are at revision {current or 'none'}, "
            f"not {head}: run the compute migrations first",
        )
