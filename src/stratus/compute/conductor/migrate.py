"""Live migration: the source's driver moves the running guest to a destination.

During the move ``host`` is already the destination and ``source_host`` the source, so
a report from either keeps the instance; ``MIGRATED`` from the source ends it, a
failure puts ``host`` back.
"""

from __future__ import annotations

from stratus.common.context import RequestContext
from stratus.compute import rpc
from stratus.compute.conductor import actions, ports, specs
from stratus.compute.conductor.state import Conductor, locked_instance
from stratus.compute.conductor_rpc import ServerAction
from stratus.compute.states import Action, TaskState

LIVE = "compute_live_migration"


async def live_migrate(c: Conductor, msg: ServerAction) -> None:
    async with c.db.session() as s:
        inst = await locked_instance(s, msg.instance_id)
        if inst.task_state != TaskState.MIGRATING or inst.host is None:
            return
        source = inst.host
        await actions.start(s, inst, msg.request_id, msg.action, LIVE, host=source)
        spec = await specs.request_spec(s, inst, ignore_hosts=[source],
                                        force_host=msg.params.get("host"))  # fmt: skip
    selection = await specs.select_hosts(c, spec)
    dest = selection.hosts.get(msg.instance_id)
    async with c.db.session() as s:
        inst = await locked_instance(s, msg.instance_id)
        if dest is None:
            inst.task_state = None
            await actions.finish(s, inst, msg.request_id, LIVE, ok=False,
                                 detail=specs.no_host_message(selection))  # fmt: skip
            return
        inst.source_host, inst.host, inst.node = source, dest, dest
    move = rpc.LiveMigrateInstance(instance_id=msg.instance_id, destination=dest)
    await c.to_agent(source, move)


async def on_migrated(c: Conductor, ctx: RequestContext, ev: rpc.InstanceEvent) -> None:
    ok = ev.event == rpc.Event.MIGRATED
    async with c.db.session() as s:
        inst = await locked_instance(s, ev.instance_id)
        if inst.source_host != ev.host:
            return
        await actions.finish(s, inst, ctx.request_id, LIVE, ok=ok, host=ev.host,
                             detail=ev.fault, action=Action.LIVE_MIGRATE)  # fmt: skip
        dest = inst.host
        if not ok:
            inst.host = inst.node = inst.source_host
        inst.source_host = None
        inst.task_state = None
    await c.release_claim(ev.instance_id, ev.host if ok else dest)
    if ok and dest is not None:
        await ports.follow(c, inst, dest)
