"""Delete: destroy on the host, then mark deleted; never wait for a host that is down.

An instance deleted while its agent was down is still on that host: the host's next
report names it, and ``reports`` sends the ``DestroyInstance`` then.
"""

from __future__ import annotations

from stratus.common.context import RequestContext
from stratus.compute import rpc
from stratus.compute.conductor import actions, ports
from stratus.compute.conductor.state import Conductor, locked_instance
from stratus.compute.conductor_rpc import DeleteServer
from stratus.compute.models import Instance
from stratus.compute.states import PowerState, TaskState, VmState

ACTION = "delete"
TERMINATE = "compute_terminate_instance"


def mark_deleted(c: Conductor, inst: Instance) -> None:
    now = c.clock()
    inst.vm_state = VmState.DELETED
    inst.task_state = None
    inst.power_state = PowerState.NOSTATE
    inst.deleted_at = inst.terminated_at = now
    inst.vif_deadline = None  # no longer waiting for its ports


async def delete_server(c: Conductor, msg: DeleteServer) -> None:
    async with c.db.session() as s:
        inst = await locked_instance(s, msg.instance_id)
        if inst.vm_state == VmState.DELETED:
            return
        hosts = [h for h in (inst.host, inst.source_host) if h is not None]
        await actions.start(s, inst, msg.request_id, ACTION, TERMINATE, host=inst.host)
        up = await c.host_is_up(s, inst.host)
        nics = ports.nics_of(inst)
        if not up:  # nothing to wait for: a report of the host cleans up later
            mark_deleted(c, inst)
            await actions.finish(s, inst, msg.request_id, TERMINATE, ok=True, host=inst.host)
        else:
            inst.task_state = TaskState.DELETING
    if not up and nics is not None:
        await ports.unbind(c, msg.instance_id, nics.given_ports())
    for host in hosts:
        if up:
            await c.to_agent(host, rpc.DestroyInstance(instance_id=msg.instance_id))
        else:
            await c.release_claim(msg.instance_id, host)


async def on_destroyed(c: Conductor, ctx: RequestContext, ev: rpc.InstanceEvent) -> None:
    async with c.db.session() as s:
        inst = await locked_instance(s, ev.instance_id)
        if inst.task_state != TaskState.DELETING or ev.host != inst.host:
            return
        mark_deleted(c, inst)
        await actions.finish(s, inst, ctx.request_id, TERMINATE, ok=True, host=ev.host,
                             action=ACTION)  # fmt: skip
        nics = ports.nics_of(inst)
    await c.release_claim(ev.instance_id, ev.host)
    if nics is not None:
        await ports.unbind(c, ev.instance_id, nics.given_ports())
