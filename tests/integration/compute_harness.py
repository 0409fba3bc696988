"""The registry, conductor, scheduler and fake compute agents in one process, on the
in-process bus and real SQLite tables, as ``stratus up`` runs them; the API's part (writing
the instance row and the task state before casting) is done here the way the API does it."""

from __future__ import annotations

import asyncio
import datetime as dt
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import select

from stratus.common import rpc as bus_rpc
from stratus.common.context import RequestContext
from stratus.common.db import Database, upgrade
from stratus.common.db.types import utcnow
from stratus.common.rpc import Bus
from stratus.common.service import Runtime
from stratus.compute import conductor_rpc as api
from stratus.compute.agent.service import ComputeAgentService
from stratus.compute.conductor.service import ConductorService
from stratus.compute.migrations import MIGRATIONS
from stratus.compute.models import (
    ComputeNode,
    Flavor,
    Instance,
    InstanceAction,
    InstanceActionEvent,
    ResourceClaim,
)
from stratus.compute.settings import ComputeSettings
from stratus.compute.states import Action, TaskState, VmState, begin
from stratus.registry.migrations import MIGRATIONS as REGISTRY_MIGRATIONS
from stratus.registry.service import RegistryService
from stratus.scheduler.rpc import RequestSpec
from stratus.scheduler.service import SchedulerService
from stratus.settings import Settings

WAIT = 30.0  # bound on a poll, never an expectation of speed
SMALL = {"id": "1", "name": "m1.small", "vcpus": 1, "memory_mb": 512, "root_gb": 1,
         "ephemeral_gb": 0, "swap_mb": 0, "extra_specs": {}}  # fmt: skip


@dataclass
class Compute:
    settings: Settings
    bus: Bus
    db: Database
    conductor: ConductorService = field(default_factory=ConductorService)
    agents: ComputeAgentService = field(default_factory=ComputeAgentService)
    scheduler: SchedulerService = field(default_factory=SchedulerService)
    registry: RegistryService = field(default_factory=RegistryService)  # the scheduler asks it
    offset: dt.timedelta = dt.timedelta()

    def now(self) -> dt.datetime:
        return utcnow() + self.offset

    async def start(self) -> None:
        await upgrade(self.db, MIGRATIONS)
        registry_db = Database(self.settings.database_url("registry"))
        try:
            await upgrade(registry_db, REGISTRY_MIGRATIONS)
        finally:
            await registry_db.close()
        runtime = Runtime(settings=self.settings, bus=self.bus, host="node")
        await self.registry.start(runtime)
        await self.conductor.start(runtime)
        assert self.conductor.conductor is not None
        self.conductor.conductor.clock = self.now
        await self.agents.start(runtime)
        await self.wait_hosts(len(self.agents.hosts))
        # Started last, so its first view already holds every host. Its clock is the real
        # one: a test that moves the conductor's clock ages hosts for the conductor only.
        await self.scheduler.start(runtime)

    async def stop(self) -> None:
        await self.scheduler.stop()
        await self.agents.stop()
        await self.conductor.stop()
        await self.registry.stop()
        await self.bus.close()
        await self.db.close()

    async def wait_for(self, check: Callable[[], Any], what: str) -> Any:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + WAIT
        while True:
            found = await check()
            if found:
                return found
            assert loop.time() < deadline, f"still waiting for {what}"
            await asyncio.sleep(0.02)

    async def wait_hosts(self, count: int) -> list[ComputeNode]:
        async def nodes() -> list[ComputeNode] | None:
            async with self.db.session() as s:
                found = list(await s.scalars(select(ComputeNode)))
            return found if len(found) >= count else None

        found: list[ComputeNode] = await self.wait_for(nodes, f"{count} hosts")
        return found

    async def instance(self, iid: str) -> Instance:
        async with self.db.session() as s:
            row = await s.get(Instance, iid)
        assert row is not None
        return row

    async def wait_state(
        self, iid: str, vm: VmState, task: TaskState | None = None, host: str | None = None
    ) -> Instance:
        async def reached() -> Instance | None:
            row = await self.instance(iid)
            ok = row.vm_state == vm and row.task_state == task
            return row if ok and (host is None or row.host == host) else None

        found: Instance = await self.wait_for(reached, f"{iid} in {vm}/{task}")
        return found

    async def boot(
        self,
        name: str = "vm",
        flavor: dict[str, Any] | None = None,
        force_host: str | None = None,
        image_properties: dict[str, str] | None = None,
    ) -> str:
        """What the API does: the row in BUILD, the action, then ``BuildServers``
        (``force_host``: an admin's ``availability_zone`` of ``nova:<host>``)."""
        flavor = flavor or SMALL
        rid = f"req-{uuid.uuid4()}"
        async with self.db.session() as s:
            inst = Instance(project_id="p1", user_id="u1", name=name, hostname=name,
                            image_ref=str(uuid.uuid4()), flavor=flavor,
                            image_properties=image_properties or {},
                            vm_state=VmState.BUILDING, task_state=TaskState.SCHEDULING)  # fmt: skip
            s.add(inst)
            await s.flush()
            s.add(InstanceAction(instance_id=inst.id, request_id=rid, action="create",
                                 project_id="p1", user_id="u1"))  # fmt: skip
            iid = inst.id
        spec = RequestSpec(instance_ids=[iid], project_id="p1", vcpus=flavor["vcpus"],
                           memory_mb=flavor["memory_mb"], disk_gb=flavor["root_gb"],
                           force_host=force_host,
                           image_properties=image_properties or {})  # fmt: skip
        msg = api.BuildServers(instance_ids=[iid], request_spec=spec, request_id=rid,
                               user_id="u1", project_id="p1")  # fmt: skip
        await self.bus.cast("conductor", msg, ctx=RequestContext(request_id=rid))
        return iid

    async def act(self, iid: str, action: Action, **params: str) -> str:
        """What the API does for an action: ``begin`` sets the task state, then the cast."""
        rid = f"req-{uuid.uuid4()}"
        async with self.db.session() as s:
            inst = await s.get(Instance, iid)
            assert inst is not None
            vm = VmState(inst.vm_state)
            task = TaskState(inst.task_state) if inst.task_state else None
            inst.task_state = begin(action, iid, vm, task)
            s.add(InstanceAction(instance_id=iid, request_id=rid, action=action.value,
                                 project_id="p1", user_id="u1"))  # fmt: skip
        if action in (Action.DELETE, Action.FORCE_DELETE):
            msg: bus_rpc.Cast = api.DeleteServer(instance_id=iid, request_id=rid)
        else:
            msg = api.ServerAction(instance_id=iid, action=action, params=params, request_id=rid)
        await self.bus.cast("conductor", msg, ctx=RequestContext(request_id=rid))
        return rid

    async def events(self, iid: str) -> list[tuple[str, str | None, str | None]]:
        """(event, host, result) of every instance action event, in order."""
        async with self.db.session() as s:
            rows = await s.execute(
                select(InstanceActionEvent.event, InstanceActionEvent.host,
                       InstanceActionEvent.result)
                .join(InstanceAction, InstanceAction.id == InstanceActionEvent.action_id)
                .where(InstanceAction.instance_id == iid)
                .order_by(InstanceActionEvent.id)
            )  # fmt: skip
            return [(e, h, r) for e, h, r in rows]

    async def claims(self) -> list[tuple[str, str]]:
        """(instance id, host) of every live scheduler claim, in that order."""
        async with self.db.session() as s:
            claim = ResourceClaim
            query = select(claim.instance_id, claim.host).order_by(claim.instance_id, claim.host)
            rows = await s.execute(query)
            return [(i, h) for i, h in rows]

    async def add_flavor(self, flavor_id: str, vcpus: int, memory_mb: int) -> None:
        async with self.db.session() as s:
            s.add(Flavor(id=flavor_id, name=f"f{flavor_id}", vcpus=vcpus, memory_mb=memory_mb,
                         root_gb=1))  # fmt: skip


async def start_compute(tmp_path: Path, **compute: Any) -> Compute:
    settings = Settings(state_dir=tmp_path, compute=ComputeSettings(**compute))
    settings.registry.heartbeat_interval = 3600.0
    bus = await bus_rpc.connect(f"memory://compute-{uuid.uuid4().hex}")
    db = Database(settings.database_url("compute"))
    cloud = Compute(settings, bus, db)
    try:
        await cloud.start()
    except BaseException:
        await cloud.stop()  # what did start, stops: no task or connection outlives the test
        raise
    return cloud
