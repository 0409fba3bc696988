"""Build: schedule, send to the chosen host, and on failure retry elsewhere or give up.

Each attempt is an instance action event on its host; the hosts where it failed are
read back from those events, so any conductor can take the next failure.
"""

from __future__ import annotations

import datetime as dt
import logging

from stratus.common.context import RequestContext
from stratus.common.errors import StratusError
from stratus.compute import rpc
from stratus.compute.conductor import actions, ports, specs
from stratus.compute.conductor.metadata import current_record
from stratus.compute.conductor.state import Conductor, locked_instance
from stratus.compute.conductor_rpc import BuildServers
from stratus.compute.models import Instance
from stratus.compute.states import PowerState, TaskState, VmState
from stratus.scheduler.rpc import Selection

log = logging.getLogger(__name__)

ACTION = "create"
SCHEDULE = "conductor_schedule_and_build_instances"
SPAWN = "compute_build_and_run_instance"
WAIT_PORTS = "compute_wait_for_vif_plugged"  # see plugging.py


def _gone(inst: Instance) -> bool:
    return inst.vm_state == VmState.DELETED or inst.task_state == TaskState.DELETING


async def build_servers(c: Conductor, msg: BuildServers) -> None:
    nics: dict[str, ports.Nics | None] = {}
    async with c.db.session() as s:
        for iid in msg.instance_ids:
            inst = await locked_instance(s, iid)
            nics[iid] = ports.nics_of(inst)
            await actions.start(s, inst, msg.request_id, ACTION, SCHEDULE, host=None)
    spec = msg.request_spec.model_copy(update={"instance_ids": msg.instance_ids})
    selection = await specs.select_hosts(c, spec)
    for iid in msg.instance_ids:
        host = selection.hosts.get(iid)
        if host is not None:
            await send_build(c, iid, host, msg.request_id, scheduled=True, nics=nics[iid])
            continue
        async with c.db.session() as s:
            inst = await locked_instance(s, iid)
            await actions.finish(s, inst, msg.request_id, SCHEDULE, ok=False,
                                 detail=selection.reason)  # fmt: skip
        await fail(c, iid, msg.request_id, specs.no_host_message(selection), selection)


async def send_build(
    c: Conductor,
    instance_id: str,
    host: str,
    request_id: str,
    *,
    scheduled: bool = False,
    nics: ports.Nics | None = None,
) -> None:
    """Bind the ports to ``host``, record it and cast ``BuildInstance`` to its agent
    (``scheduled``: and close the scheduling event in the same transaction)."""
    bound, refusal = None, None
    if nics is not None:
        try:
            bound = await ports.bind(c, nics, host)
        except StratusError as exc:
            refusal = str(exc)
    msg: rpc.BuildInstance | None = None
    async with c.db.session() as s:
        inst = await locked_instance(s, instance_id)
        if scheduled:
            await actions.finish(s, inst, request_id, SCHEDULE, ok=True)
        gone = _gone(inst)  # deleted while it was being scheduled
        if not gone and refusal is None:
            if bound is not None:
                ports.store(inst, bound)
            inst.host = inst.node = host
            inst.task_state = TaskState.SPAWNING
            inst.build_attempts += 1
            await actions.start(s, inst, request_id, ACTION, SPAWN, host=host)
            wired = specs.wire_instance(inst)
            if inst.config_drive:  # the zone of the host it is being built on
                wired.drive_metadata = await current_record(s, inst)
            msg = rpc.BuildInstance(instance=wired, attempt=inst.build_attempts)
    if msg is None:
        await c.release_claim(instance_id, host)
        if gone and nics is not None:
            await ports.unbind(c, instance_id, nics.given_ports())
        elif not gone:
            await fail(c, instance_id, request_id, ports.ALLOCATION_FAILED, None, detail=refusal)
        return
    if not await c.to_agent(host, msg):
        event = rpc.InstanceEvent(instance_id=instance_id, host=host,
                                  event=rpc.Event.BUILD_FAILED, power_state=0,
                                  fault=f"host {host} could not be reached")  # fmt: skip
        await on_failed(c, RequestContext(request_id=request_id), event)


def activate(c: Conductor, inst: Instance) -> None:
    inst.vm_state = VmState.ACTIVE
    inst.task_state = None
    inst.launched_at = c.clock()
    inst.fault = None


async def on_built(c: Conductor, ctx: RequestContext, ev: rpc.InstanceEvent) -> bool:
    """ACTIVE, or (the driver's taps wait for the network agent) start waiting for the
    ports: ``True`` then, and the caller asks ``plugging.check`` once this committed."""
    async with c.db.session() as s:
        inst = await locked_instance(s, ev.instance_id)
        if inst.task_state != TaskState.SPAWNING or inst.host != ev.host:
            return False  # stale (a retry moved on) or deleted meanwhile: delete handles it
        if inst.vif_deadline is not None:
            return True  # a duplicate: already waiting
        inst.power_state = ev.power_state
        await actions.finish(s, inst, ctx.request_id, SPAWN, ok=True, host=ev.host,
                             action=ACTION)  # fmt: skip
        if ev.wait_for_ports and inst.network_info:
            timeout = dt.timedelta(seconds=c.settings.vif_plugging_timeout)
            inst.vif_deadline = c.clock() + timeout
            await actions.start(s, inst, ctx.request_id, ACTION, WAIT_PORTS, host=ev.host)
            return True
        activate(c, inst)
        return False


async def on_failed(c: Conductor, ctx: RequestContext, ev: rpc.InstanceEvent) -> None:
    """Release the claim; reschedule away from every host that failed, or give up."""
    async with c.db.session() as s:
        inst = await locked_instance(s, ev.instance_id)
        if inst.task_state != TaskState.SPAWNING or inst.host != ev.host:
            return
        await actions.finish(s, inst, ctx.request_id, SPAWN, ok=False, host=ev.host,
                             detail=ev.fault, action=ACTION)  # fmt: skip
        inst.host = inst.node = None
        attempts = inst.build_attempts
        await s.flush()
        tried = await actions.hosts_tried(s, inst.id, SPAWN)
        spec = await specs.request_spec(s, inst, ignore_hosts=tried)
        nics = ports.nics_of(inst)
    await c.release_claim(ev.instance_id, ev.host)
    log.info("build of %s failed on %s (attempt %d): %s", ev.instance_id, ev.host, attempts,
             ev.fault)  # fmt: skip
    if attempts >= c.settings.max_build_attempts:
        message = f"Build of instance {ev.instance_id} failed after {attempts} attempt(s)"
        await fail(c, ev.instance_id, ctx.request_id, message, None, detail=ev.fault)
        return
    selection = await specs.select_hosts(c, spec)
    host = selection.hosts.get(ev.instance_id)
    if host is None:
        await fail(c, ev.instance_id, ctx.request_id, specs.no_host_message(selection),
                   selection)  # fmt: skip
        return
    await send_build(c, ev.instance_id, host, ctx.request_id, nics=nics)


async def fail(
    c: Conductor,
    instance_id: str,
    request_id: str,
    message: str,
    selection: Selection | None,
    *,
    detail: str | None = None,
) -> None:
    """ERROR with a fault saying why (the per-filter explanation when nothing fit)."""
    if selection is not None and selection.filters:
        detail = "; ".join(
            f"{f.name}: {f.hosts_in} in, {f.hosts_out} out" for f in selection.filters
        )
    async with c.db.session() as s:
        inst = await locked_instance(s, instance_id)
        if inst.vm_state == VmState.DELETED:
            return
        inst.vm_state = VmState.ERROR
        inst.task_state = None if inst.task_state != TaskState.DELETING else inst.task_state
        inst.power_state = PowerState.NOSTATE
        inst.host = inst.node = None
        inst.fault = actions.fault(message, detail, c.clock())
        nics = ports.nics_of(inst)
        inst.network_info, inst.addresses = [], {}
    if nics is not None:  # a server in ERROR holds no ports, as in Nova
        await ports.unbind(c, instance_id, nics.given_ports())
