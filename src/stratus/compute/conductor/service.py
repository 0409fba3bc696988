"""The ``conductor`` service: takes the API's requests and the agents' events and reports
on topic ``conductor`` (any number of conductors share it), and writes the instances."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Iterator

from sqlalchemy import select

from stratus.common import context
from stratus.common.context import RequestContext
from stratus.common.db import Database, MigrationSet, current_revision
from stratus.common.errors import Conflict, Unavailable
from stratus.common.rpc import Dispatcher, Server
from stratus.common.service import CatalogEntry, Runtime
from stratus.compute import rpc
from stratus.compute.conductor import (
    build,
    delete,
    events,
    metadata,
    migrate,
    plugging,
    power,
    rebuild,
    reports,
    resize,
    snapshot,
)
from stratus.compute.conductor.state import Conductor, locked_instance
from stratus.compute.conductor_rpc import (
    BuildServers,
    DeleteServer,
    GetInstanceMetadata,
    GetServerConsole,
    PortStatusChanged,
    ServerAction,
)
from stratus.compute.metadata.record import InstanceMetadata
from stratus.compute.migrations import MIGRATIONS
from stratus.compute.models import ComputeNode
from stratus.compute.states import Action, VmState

log = logging.getLogger(__name__)

Workflow = Callable[[Conductor, ServerAction], Awaitable[None]]
WORKFLOWS: dict[Action, Workflow] = {
    **dict.fromkeys(power.POWER, power.power_action),
    Action.RESIZE: resize.start,
    Action.MIGRATE: resize.start,
    Action.CONFIRM_RESIZE: resize.confirm,
    Action.REVERT_RESIZE: resize.revert,
    Action.REBUILD: rebuild.start,
    Action.EVACUATE: rebuild.evacuate,
    Action.LIVE_MIGRATE: migrate.live_migrate,
    Action.SNAPSHOT: snapshot.create_image,
}


async def _delete_action(c: Conductor, msg: ServerAction) -> None:
    force = msg.action == Action.FORCE_DELETE
    await delete.delete_server(
        c, DeleteServer(instance_id=msg.instance_id, force=force, request_id=msg.request_id)
    )


WORKFLOWS[Action.DELETE] = WORKFLOWS[Action.FORCE_DELETE] = _delete_action


async def console_output(c: Conductor, msg: GetServerConsole) -> rpc.ConsoleOutput:
    async with c.db.session() as s:
        inst = await locked_instance(s, msg.instance_id)
        host, vm = inst.host, inst.vm_state
    if host is None or vm in (VmState.BUILDING, VmState.ERROR, VmState.DELETED):
        raise Conflict(
            "compute.instance.not_ready",
            f"Instance {msg.instance_id} has no console in vm_state {vm}",
        )
    ask = rpc.GetConsoleOutput(instance_id=msg.instance_id, length=msg.length)
    return await c.bus.call(rpc.AGENT_TOPIC, ask, host=host)


@contextlib.contextmanager
def _request(ctx: RequestContext, request_id: str) -> Iterator[None]:
    """Carry the API request's id on every message this one causes: the agents' events
    come back with it and find the instance action to record into."""
    token = context.bind(ctx.model_copy(update={"request_id": request_id}))
    try:
        yield
    finally:
        context.unbind(token)


def build_dispatcher(c: Conductor) -> Dispatcher:
    d = Dispatcher()

    @d.handler(BuildServers)
    async def build_servers(ctx: RequestContext, msg: BuildServers) -> None:
        with _request(ctx, msg.request_id):
            await build.build_servers(c, msg)

    @d.handler(ServerAction)
    async def server_action(ctx: RequestContext, msg: ServerAction) -> None:
        with _request(ctx, msg.request_id):
            await WORKFLOWS[msg.action](c, msg)

    @d.handler(DeleteServer)
    async def delete_server(ctx: RequestContext, msg: DeleteServer) -> None:
        with _request(ctx, msg.request_id):
            await delete.delete_server(c, msg)

    @d.handler(GetServerConsole)
    async def console(ctx: RequestContext, msg: GetServerConsole) -> rpc.ConsoleOutput:
        return await console_output(c, msg)

    @d.handler(GetInstanceMetadata)
    async def instance_metadata(ctx: RequestContext, msg: GetInstanceMetadata) -> InstanceMetadata:
        return await metadata.instance_metadata(c, msg)

    @d.handler(rpc.InstanceEvent)
    async def instance_event(ctx: RequestContext, msg: rpc.InstanceEvent) -> None:
        await events.on_instance_event(c, ctx, msg)

    @d.handler(PortStatusChanged)
    async def port_status_changed(ctx: RequestContext, msg: PortStatusChanged) -> None:
        await plugging.on_port_status(c, msg)

    @d.handler(rpc.HostReport)
    async def host_report(ctx: RequestContext, msg: rpc.HostReport) -> None:
        await reports.on_host_report(c, msg)

    return d


class ConductorService:
    name = "conductor"
    catalog: tuple[CatalogEntry, ...] = ()

    def __init__(self) -> None:
        self.conductor: Conductor | None = None
        self._server: Server | None = None
        self._sweeps: asyncio.Task[None] | None = None

    def migrations(self) -> tuple[MigrationSet, ...]:
        return (MIGRATIONS,)  # compute's tables: the conductor writes the instances

    async def start(self, runtime: Runtime) -> None:
        s = runtime.settings
        db = Database(s.database_url("compute", s.compute.database_url),
                      pool_size=s.database.pool_size, echo=s.database.echo)  # fmt: skip
        try:
            await db.check()
            if await current_revision(db, MIGRATIONS) != MIGRATIONS.head():
                raise Unavailable("db.not_migrated", "the compute tables are not migrated")
            image_url = s.compute.image_service_url(s.http.public_host, s.image.port)
            self.conductor = Conductor(db, runtime.bus, s.compute, image_url=image_url)
            dispatcher = build_dispatcher(self.conductor)
            self._server = await runtime.bus.serve(
                rpc.CONDUCTOR_TOPIC, dispatcher, host=runtime.host
            )
        except BaseException:
            await db.close()
            raise
        self._sweeps = asyncio.create_task(plugging.run_sweeps(self.conductor))
        log.info("conductor serving on %s", runtime.host)

    async def wait_for_hosts(self, names: list[str]) -> None:
        """Return once every host in ``names`` has a ``compute_nodes`` row (its first report
        was recorded), so ``stratus up`` is not ready before a server can be scheduled."""
        assert self.conductor is not None
        wanted = set(names)
        while True:
            async with self.conductor.db.session() as s:
                query = select(ComputeNode.host).where(ComputeNode.host.in_(wanted))
                if set((await s.scalars(query)).all()) == wanted:
                    return
            await asyncio.sleep(0.05)

    async def stop(self) -> None:
        if self._sweeps is not None:
            self._sweeps.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._sweeps
            self._sweeps = None
        if self._server is not None:
            await self._server.stop()
            self._server = None
        if self.conductor is not None:
            await self.conductor.db.close()
            self.conductor = None
