"""Power actions (reboot, stop, start, pause, suspend and back) and the power sync."""

from __future__ import annotations

from stratus.common.context import RequestContext
from stratus.compute import rpc
from stratus.compute.conductor import actions
from stratus.compute.conductor.state import Conductor, locked_instance
from stratus.compute.conductor_rpc import ServerAction
from stratus.compute.states import Action, PowerState, TaskState, VmState

P = rpc.Power
V = VmState

# action -> (the agent's verb, the vm state it leaves, the task state it runs under)
POWER: dict[Action, tuple[rpc.Power, VmState, TaskState]] = {
    Action.REBOOT: (P.REBOOT, V.ACTIVE, TaskState.REBOOTING),
    Action.REBOOT_HARD: (P.REBOOT_HARD, V.ACTIVE, TaskState.REBOOTING_HARD),
    Action.STOP: (P.STOP, V.STOPPED, TaskState.POWERING_OFF),
    Action.START: (P.START, V.ACTIVE, TaskState.POWERING_ON),
    Action.PAUSE: (P.PAUSE, V.PAUSED, TaskState.PAUSING),
    Action.UNPAUSE: (P.UNPAUSE, V.ACTIVE, TaskState.UNPAUSING),
    Action.SUSPEND: (P.SUSPEND, V.SUSPENDED, TaskState.SUSPENDING),
    Action.RESUME: (P.RESUME, V.ACTIVE, TaskState.RESUMING),
}
_BY_VERB = {verb: (action, vm, task) for action, (verb, vm, task) in POWER.items()}


def event_name(verb: rpc.Power) -> str:
    """Nova's event names: ``compute_stop_instance``, ``compute_reboot_instance``..."""
    word = {P.REBOOT_HARD: "reboot", P.STOP: "stop", P.START: "start"}.get(verb, verb.value)
    return f"compute_{word}_instance"


async def power_action(c: Conductor, msg: ServerAction) -> None:
    verb, _, task = POWER[msg.action]
    async with c.db.session() as s:
        inst = await locked_instance(s, msg.instance_id)
        if inst.task_state != task:
            return  # the API sets the task state first; anything else is stale
        host = inst.host
        await actions.start(s, inst, msg.request_id, msg.action, event_name(verb), host=host)
        if host is None:
            inst.task_state = None
            await actions.finish(s, inst, msg.request_id, event_name(verb), ok=False,
                                 detail="the instance is on no host")  # fmt: skip
            return
    if not await c.to_agent(host, rpc.PowerAction(instance_id=msg.instance_id, action=verb)):
        failed = rpc.InstanceEvent(instance_id=msg.instance_id, host=host, action=verb,
                                   event=rpc.Event.ACTION_FAILED, power_state=0,
                                   fault=f"host {host} could not be reached")  # fmt: skip
        await on_action(c, RequestContext(request_id=msg.request_id), failed)


async def on_action(c: Conductor, ctx: RequestContext, ev: rpc.InstanceEvent) -> None:
    """ACTION_DONE moves to the action's vm state; ACTION_FAILED leaves it as it was."""
    if ev.action is None:
        return
    action, vm, task = _BY_VERB[ev.action]
    done = ev.event == rpc.Event.ACTION_DONE
    async with c.db.session() as s:
        inst = await locked_instance(s, ev.instance_id)
        if inst.host != ev.host:
            return  # e.g. the source host of a resize, stopped on the way
        if ev.power_state or done:
            inst.power_state = ev.power_state
        if inst.task_state != task:
            return  # a step of another workflow (resize, revert): it tracks its own
        inst.task_state = None
        if done:
            inst.vm_state = vm
        await actions.finish(s, inst, ctx.request_id, event_name(ev.action), ok=done,
                             host=ev.host, detail=ev.fault, action=action)  # fmt: skip


async def on_power_changed(c: Conductor, ev: rpc.InstanceEvent) -> None:
    """The hypervisor says otherwise: believe it (a guest that shut itself down is
    stopped, as Nova's power sync decides)."""
    async with c.db.session() as s:
        inst = await locked_instance(s, ev.instance_id)
        if inst.host != ev.host or inst.task_state is not None:
            return
        inst.power_state = ev.power_state
        off = ev.power_state in (PowerState.SHUTDOWN, PowerState.CRASHED)
        if off and inst.vm_state == VmState.ACTIVE:
            inst.vm_state = VmState.STOPPED
