"""Cold resize and cold migrate: spawn on a host the scheduler picks, then confirm or revert.

The instance is stopped on its source, built on the destination with the new flavor
(a migrate keeps its flavor) and waits in ``resized`` (VERIFY_RESIZE). Confirm destroys
the source copy; revert destroys the destination copy and starts the source again.
While it waits, ``source_host`` names the source, so host reports keep both copies.

When no other host has room and ``allow_resize_to_same_host`` is on, a resize stays on
its own host (``source_host == host``): the scheduler grows the instance's claim there
to the larger of both flavors, the agent resizes the disks in place and keeps the old
ones, and confirm or revert ask that agent to drop or restore them, then shrink the
claim to the flavor that stays.
"""

from __future__ import annotations

import logging
from typing import Any

from stratus.common.context import RequestContext
from stratus.common.errors import NotFound
from stratus.compute import rpc
from stratus.compute.conductor import actions, ports, specs
from stratus.compute.conductor.state import Conductor, locked_instance
from stratus.compute.conductor_rpc import ServerAction
from stratus.compute.models import Flavor, Instance
from stratus.compute.states import Action, PowerState, TaskState, VmState
from stratus.scheduler.rpc import SCHEDULER_TOPIC, ResizeClaim

log = logging.getLogger(__name__)

T = TaskState
PREP = "compute_prep_resize"
FINISH = "compute_finish_resize"
CONFIRM = "compute_confirm_resize"
REVERT = "compute_revert_resize"


def flavor_copy(f: Flavor) -> dict[str, Any]:
    """The flavor as instances keep it (a copy: later edits never reach them)."""
    return {
        "id": f.id, "name": f.name, "vcpus": f.vcpus, "memory_mb": f.memory_mb,
        "root_gb": f.root_gb, "ephemeral_gb": f.ephemeral_gb, "swap_mb": f.swap_mb,
        "rxtx_factor": f.rxtx_factor, "extra_specs": dict(f.extra_specs or {}),
    }  # fmt: skip


async def start(c: Conductor, msg: ServerAction) -> None:
    """Resize (``params['flavor_id']``) or migrate (optional ``params['host']``)."""
    async with c.db.session() as s:
        inst = await locked_instance(s, msg.instance_id)
        if inst.task_state != T.RESIZE_PREP:
            return
        if inst.host is None:  # never left stuck in ``resize_prep``
            inst.task_state = None
            await actions.finish(s, inst, msg.request_id, PREP, ok=False,
                                 detail="the server is on no host", action=msg.action)  # fmt: skip
            return
        new = inst.flavor
        if msg.action == Action.RESIZE:
            flavor = await s.get(Flavor, msg.params.get("flavor_id", ""))
            if flavor is None:
                raise NotFound("compute.flavor.not_found", "the new flavor is gone")
            new = flavor_copy(flavor)
        await actions.start(s, inst, msg.request_id, msg.action, PREP, host=inst.host)
        spec = await specs.request_spec(s, inst, ignore_hosts=[inst.host], flavor=new,
                                        force_host=msg.params.get("host"))  # fmt: skip
        source, old = inst.host, inst.flavor
    selection = await specs.select_hosts(c, spec)
    dest = selection.hosts.get(msg.instance_id)
    in_place = False
    if dest is None and msg.action == Action.RESIZE and c.settings.allow_resize_to_same_host:
        in_place = await claim_in_place(c, msg.instance_id, source, old, new)
        dest = source if in_place else None
    async with c.db.session() as s:
        inst = await locked_instance(s, msg.instance_id)
        await actions.finish(s, inst, msg.request_id, PREP, ok=dest is not None,
                             detail=None if dest else specs.no_host_message(selection))  # fmt: skip
        if dest is None:
            inst.task_state = None
            return
        power_on = inst.vm_state == VmState.ACTIVE
        inst.source_host, inst.host, inst.node = source, dest, dest
        inst.old_flavor, inst.new_flavor = inst.flavor, new
        inst.task_state = T.RESIZE_MIGRATING
        await actions.start(s, inst, msg.request_id, msg.action, FINISH, host=dest)
        wired = specs.wire_instance(inst, new)
    if in_place:
        await c.to_agent(source, rpc.ResizeInPlace(instance=wired, power_on=power_on))
        return
    await c.to_agent(source, rpc.PowerAction(instance_id=msg.instance_id, action=rpc.Power.STOP))
    await ports.follow(c, wired, dest)
    await c.to_agent(dest, rpc.BuildInstance(instance=wired))


async def claim_in_place(
    c: Conductor, instance_id: str, host: str, *flavors: dict[str, Any]
) -> bool:
    """Make the instance's claim on its own host the larger of ``flavors`` (all of them
    while a resize in place waits for confirm or revert, the one that stays after)."""
    msg = ResizeClaim(
        instance_id=instance_id, host=host,
        vcpus=max(int(f.get("vcpus", 1)) for f in flavors),
        memory_mb=max(int(f.get("memory_mb", 0)) for f in flavors),
        disk_gb=max(specs.disk_gb(f) for f in flavors),
    )  # fmt: skip
    try:
        answer = await c.bus.call(SCHEDULER_TOPIC, msg)
    except Exception as exc:
        log.warning("cannot resize the claim of %s on %s: %s", instance_id, host, exc)
        return False
    return answer.claimed


def _back_to_source(inst: Instance) -> str | None:
    """Undo the move in the row; return the destination to clean."""
    dest = inst.host
    inst.host = inst.node = inst.source_host
    inst.source_host = None
    if inst.old_flavor is not None:
        inst.flavor = inst.old_flavor
    inst.old_flavor = inst.new_flavor = None
    return dest


async def on_spawned(c: Conductor, ctx: RequestContext, ev: rpc.InstanceEvent) -> None:
    """The destination built it (now VERIFY_RESIZE) or failed (back on the source)."""
    ok = ev.event == rpc.Event.BUILT
    async with c.db.session() as s:
        inst = await locked_instance(s, ev.instance_id)
        if inst.host != ev.host:
            return
        await actions.finish(s, inst, ctx.request_id, FINISH, ok=ok, host=ev.host,
                             detail=ev.fault, action=Action.RESIZE)  # fmt: skip
        inst.task_state = None
        if ok:
            inst.vm_state = VmState.RESIZED
            inst.power_state = ev.power_state
            assert inst.new_flavor is not None
            inst.flavor = inst.new_flavor
            return
        source, restart = inst.source_host, inst.vm_state == VmState.ACTIVE
        in_place = source == ev.host
        _back_to_source(inst)
        if in_place:  # the agent put the old disks back and restarted it
            inst.power_state = ev.power_state
        old = inst.flavor
    if in_place:
        await claim_in_place(c, ev.instance_id, ev.host, old)
        return
    await c.release_claim(ev.instance_id, ev.host)
    if source is not None:
        await ports.follow(c, inst, source)
    if source is not None and restart:
        await c.to_agent(source, rpc.PowerAction(instance_id=ev.instance_id,
                                                 action=rpc.Power.START))  # fmt: skip


async def confirm(c: Conductor, msg: ServerAction) -> None:
    await _finish_move(c, msg, T.RESIZE_CONFIRMING, CONFIRM)


async def revert(c: Conductor, msg: ServerAction) -> None:
    await _finish_move(c, msg, T.RESIZE_REVERTING, REVERT)


async def _finish_move(c: Conductor, msg: ServerAction, task: TaskState, event: str) -> None:
    """Destroy the copy that goes: the source (confirm) or the destination (revert)."""
    async with c.db.session() as s:
        inst = await locked_instance(s, msg.instance_id)
        if inst.task_state != task:
            return
        target = inst.source_host if task == T.RESIZE_CONFIRMING else inst.host
        await actions.start(s, inst, msg.request_id, msg.action, event, host=target)
        up = await c.host_is_up(s, target)
        in_place = target is not None and inst.source_host == inst.host
        power_on = inst.power_state == PowerState.RUNNING
    if in_place and target is not None:
        revert = task == T.RESIZE_REVERTING
        finish = rpc.FinishResizeInPlace(instance_id=msg.instance_id, revert=revert,
                                         power_on=power_on)  # fmt: skip
        await c.to_agent(target, finish)
        if not up:  # the agent does it when it is back; the row does not wait for it
            done = rpc.InstanceEvent(instance_id=msg.instance_id, host=target,
                                     event=rpc.Event.ACTION_DONE, power_state=0)  # fmt: skip
            await on_finished_in_place(c, RequestContext(request_id=msg.request_id), done)
        return
    if target is not None:
        await c.to_agent(target, rpc.DestroyInstance(instance_id=msg.instance_id))
    # no copy to destroy, or a down host (cleaned by its next report): do not wait
    if not up:
        gone = rpc.InstanceEvent(instance_id=msg.instance_id, host=target or "",
                                 event=rpc.Event.DESTROYED, power_state=0)  # fmt: skip
        await on_destroyed(c, RequestContext(request_id=msg.request_id), gone)


async def on_destroyed(c: Conductor, ctx: RequestContext, ev: rpc.InstanceEvent) -> None:
    async with c.db.session() as s:
        inst = await locked_instance(s, ev.instance_id)
        confirming = inst.task_state == T.RESIZE_CONFIRMING
        if (ev.host or None) != (inst.source_host if confirming else inst.host):
            return
        await actions.finish(s, inst, ctx.request_id, CONFIRM if confirming else REVERT,
                             ok=True, host=ev.host)  # fmt: skip
        inst.task_state = None
        inst.vm_state = VmState.ACTIVE
        if confirming:
            inst.source_host = None
            inst.old_flavor = inst.new_flavor = None
        else:
            _back_to_source(inst)
            inst.power_state = PowerState.SHUTDOWN
            source = inst.host
    await c.release_claim(ev.instance_id, ev.host)
    if not confirming and source is not None:
        await ports.follow(c, inst, source)
        await c.to_agent(source, rpc.PowerAction(instance_id=ev.instance_id,
                                                 action=rpc.Power.START))  # fmt: skip


async def on_finished_in_place(c: Conductor, ctx: RequestContext, ev: rpc.InstanceEvent) -> None:
    """The agent confirmed (dropped the old disks) or reverted (restored them) a resize
    on the instance's own host; the claim shrinks to the flavor that stays."""
    async with c.db.session() as s:
        inst = await locked_instance(s, ev.instance_id)
        finishing = inst.task_state in (T.RESIZE_CONFIRMING, T.RESIZE_REVERTING)
        if not finishing or inst.source_host != inst.host or ev.host != inst.host:
            return  # a repeated event, or one from another host
        confirming = inst.task_state == T.RESIZE_CONFIRMING
        ok = ev.event == rpc.Event.ACTION_DONE
        await actions.finish(s, inst, ctx.request_id, CONFIRM if confirming else REVERT,
                             ok=ok, host=ev.host, detail=ev.fault)  # fmt: skip
        inst.task_state = None
        if ev.power_state:
            inst.power_state = ev.power_state
        if not ok and not confirming:  # the disks are neither the old nor the new ones
            inst.vm_state = VmState.ERROR
            return
        if not ok:
            log.warning("the old disks of %s stay on %s: %s", inst.id, ev.host, ev.fault)
        if confirming:
            inst.source_host = None
            inst.old_flavor = inst.new_flavor = None
        else:
            _back_to_source(inst)
        running = inst.power_state == PowerState.RUNNING
        inst.vm_state = VmState.ACTIVE if running else VmState.STOPPED
        host, stays = inst.host, inst.flavor
    if host is not None:
        await claim_in_place(c, ev.instance_id, host, stays)
