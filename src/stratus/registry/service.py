"""The registry service: keeps one row per service and host, fed by heartbeats over RPC."""

from __future__ import annotations

import logging

from stratus.common.context import RequestContext
from stratus.common.db import Database, MigrationSet, current_revision
from stratus.common.db.types import utcnow
from stratus.common.errors import Unavailable
from stratus.common.rpc import Dispatcher, Server
from stratus.common.service import CatalogEntry, Runtime
from stratus.registry.migrations import MIGRATIONS
from stratus.registry.records import Clock, ServiceRecords
from stratus.registry.rpc import (
    TOPIC,
    DeleteService,
    Heartbeat,
    ListServices,
    ServiceInfo,
    ServiceList,
    SetServiceState,
)

log = logging.getLogger(__name__)


def build_dispatcher(records: ServiceRecords) -> Dispatcher:
    dispatcher = Dispatcher()

    @dispatcher.handler(Heartbeat)
    async def heartbeat(ctx: RequestContext, msg: Heartbeat) -> None:
        await records.heartbeat(msg)

    @dispatcher.handler(ListServices)
    async def list_services(ctx: RequestContext, msg: ListServices) -> ServiceList:
        return ServiceList(services=await records.find(host=msg.host, binary=msg.binary))

    @dispatcher.handler(SetServiceState)
    async def set_service_state(ctx: RequestContext, msg: SetServiceState) -> ServiceInfo:
        return await records.set_state(msg)

    @dispatcher.handler(DeleteService)
    async def delete_service(ctx: RequestContext, msg: DeleteService) -> ServiceInfo:
        return await records.delete(msg)

    return dispatcher


class RegistryService:
    name = "registry"
    catalog: tuple[CatalogEntry, ...] = ()

    def __init__(self, *, clock: Clock = utcnow) -> None:
        self._clock = clock
        self._db: Database | None = None
        self._server: Server | None = None

    def migrations(self) -> tuple[MigrationSet, ...]:
        return (MIGRATIONS,)

    async def start(self, runtime: Runtime) -> None:
        s = runtime.settings
        db = Database(
            s.database_url("registry", s.registry.database_url),
            pool_size=s.database.pool_size,
            echo=s.database.echo,
        )
        try:
            await db.check()
            await _check_migrated(db)
            records = ServiceRecords(db, s.registry.down_after, self._clock)
            self._server = await runtime.bus.serve(
                TOPIC, build_dispatcher(records), host=runtime.host
            )
        except BaseException:
            await db.close()
            raise
        self._db = db
        log.info("registry serving on %s", runtime.host)

    async def stop(self) -> None:
        if self._server is not None:
            await self._server.stop()
            self._server = None
        if self._db is not None:
            await self._db.close()
            self._db = None


async def _check_migrated(db: Database) -> None:
    current, head = await current_revision(db, MIGRATIONS), MIGRATIONS.head()
    if current != head:
        raise Unavailable(
            "db.not_migrated",
            f"the registry tables at {db.safe_url} are at revision {current or 'none'}, "
            f"not {head}: run the registry migrations first",
        )
