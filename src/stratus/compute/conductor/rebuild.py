"""Rebuild (same host, maybe a new image) and evacuate (another host, the source dead).

Rebuild destroys the instance on its host and builds it again there; evacuate builds it
on a host the scheduler picks, and the dead source's copy goes when that host reports
again (``reports``: it is no longer that host's instance).
"""

from __future__ import annotations

from stratus.common.context import RequestContext
from stratus.compute import rpc
from stratus.compute.conductor import actions, ports, specs
from stratus.compute.conductor.state import Conductor, locked_instance
from stratus.compute.conductor_rpc import ServerAction
from stratus.compute.states import Action, PowerState, TaskState, VmState

T = TaskState
REBUILD = "compute_rebuild_instance"
NO_HOST = "the server is on no host"


async def start(c: Conductor, msg: ServerAction) -> None:
    async with c.db.session() as s:
        inst = await locked_instance(s, msg.instance_id)
        if inst.task_state != T.REBUILDING:
            return
        if inst.host is None:  # never left stuck in ``rebuilding``
            inst.task_state = None
            await actions.finish(s, inst, msg.request_id, REBUILD, ok=False,
                                 detail=NO_HOST, action=msg.action)  # fmt: skip
            return
        inst.image_ref = msg.params.get("image_ref") or inst.image_ref
        host = inst.host
        await actions.start(s, inst, msg.request_id, msg.action, REBUILD, host=host)
    await c.to_agent(host, rpc.DestroyInstance(instance_id=msg.instance_id))


async def on_destroyed(c: Conductor, ctx: RequestContext, ev: rpc.InstanceEvent) -> None:
    """The old guest is gone: build the new one on the same host."""
    async with c.db.session() as s:
        inst = await locked_instance(s, ev.instance_id)
        if inst.host != ev.host:
            return
        inst.task_state = T.REBUILD_SPAWNING
        inst.power_state = PowerState.NOSTATE
        build = rpc.BuildInstance(instance=specs.wire_instance(inst))
    await c.to_agent(ev.host, build)


async def evacuate(c: Conductor, msg: ServerAction) -> None:
    """Only from a host that is down (a live host would keep running the old copy)."""
    async with c.db.session() as s:
        inst = await locked_instance(s, msg.instance_id)
        if inst.task_state != T.REBUILDING:
            return
        source = inst.host
        await actions.start(s, inst, msg.request_id, msg.action, REBUILD, host=source)
        if source is not None and await c.host_is_up(s, source):
            inst.task_state = None
            await actions.finish(s, inst, msg.request_id, REBUILD, ok=False,
                                 detail=f"host {source} is up: evacuate needs it down")  # fmt: skip
            return
        spec = await specs.request_spec(s, inst, ignore_hosts=[source] if source else [],
                                        force_host=msg.params.get("host"))  # fmt: skip
    selection = await specs.select_hosts(c, spec)
    dest = selection.hosts.get(msg.instance_id)
    async with c.db.session() as s:
        inst = await locked_instance(s, msg.instance_id)
        if dest is None:
            inst.task_state = None
            await actions.finish(s, inst, msg.request_id, REBUILD, ok=False,
                                 detail=specs.no_host_message(selection))  # fmt: skip
            return
        inst.host = inst.node = dest
        inst.task_state = T.REBUILD_SPAWNING
        build = rpc.BuildInstance(instance=specs.wire_instance(inst))
    await c.release_claim(msg.instance_id, source)
    await ports.follow(c, build.instance, dest)
    await c.to_agent(dest, build)


async def on_spawned(c: Conductor, ctx: RequestContext, ev: rpc.InstanceEvent) -> None:
    ok = ev.event == rpc.Event.BUILT
    async with c.db.session() as s:
        inst = await locked_instance(s, ev.instance_id)
        if inst.host != ev.host:
            return
        await actions.finish(s, inst, ctx.request_id, REBUILD, ok=ok, host=ev.host,
                             detail=ev.fault, action=Action.REBUILD)  # fmt: skip
        inst.task_state = None
        inst.power_state = ev.power_state
        if ok:
            inst.vm_state = VmState.ACTIVE
            inst.launched_at = c.clock()
        else:
            inst.vm_state = VmState.ERROR
            inst.fault = actions.fault(f"Rebuild of instance {inst.id} failed", ev.fault,
                                       c.clock())  # fmt: skip
