"""Wait for a spawned server's ports to be wired before it is ACTIVE (Nova's
``network-vif-plugged``).

A driver whose taps the host's network agent plugs (qemu) says so in its capabilities;
its agent's ``BUILT`` then carries ``wait_for_ports``, and ``build.on_built`` keeps the
server BUILD/spawning with a deadline on its row (``vif_deadline``) and an open
``compute_wait_for_vif_plugged`` event. Any conductor may end the wait, so it survives
the one that started it:

- the network service's ``PortStatusChanged`` (whichever conductor takes it) makes it
  re-read the states of all the server's ports (``network.get_port_states``);
- the conductor that starts the wait reads them once the deadline is stored, so a port
  wired before the wait began is not missed;
- each conductor's sweep finds waits past their deadline and reads the states a last
  time before it gives up: ERROR with a fault naming the ports (the guest is destroyed
  and the ports released, as for any failed build), or, with
  ``compute.vif_plugging_is_fatal = false``, ACTIVE with a warning.

The deadline is cleared in the transaction that ends the wait, so however many
conductors race, one ends it.
"""

from __future__ import annotations

import asyncio
import logging

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from stratus.compute.conductor import actions, build
from stratus.compute.conductor.state import Conductor, locked_instance
from stratus.compute.conductor_rpc import PortStatusChanged
from stratus.compute.models import Instance, InstanceAction, InstanceActionEvent
from stratus.compute.rpc import DestroyInstance
from stratus.compute.states import TaskState, VmState
from stratus.network.binding_rpc import NETWORK_TOPIC, BoundPort, GetPortStates, PortState
from stratus.network.rpc import AGENT_BINARY
from stratus.registry.rpc import TOPIC as REGISTRY_TOPIC
from stratus.registry.rpc import ListServices

log = logging.getLogger(__name__)

ACTIVE = "ACTIVE"


def expected_ports(inst: Instance) -> list[str]:
    """The ports the server was built with, in NIC order."""
    return [BoundPort.model_validate(p).port_id for p in inst.network_info or []]


def _waiting(inst: Instance, host: str | None) -> bool:
    return (
        inst.vif_deadline is not None
        and inst.vm_state == VmState.BUILDING
        and inst.task_state == TaskState.SPAWNING
        and inst.host == host
    )


async def _wait_request(s: AsyncSession, instance_id: str) -> str:
    """The request id of the action whose wait event is open (the create's)."""
    found = await s.scalar(
        select(InstanceAction.request_id)
        .join(InstanceActionEvent, InstanceActionEvent.action_id == InstanceAction.id)
        .where(
            InstanceAction.instance_id == instance_id,
            InstanceActionEvent.event == build.WAIT_PORTS,
            InstanceActionEvent.finish_time.is_(None),
        )
        .order_by(InstanceActionEvent.id.desc())
        .limit(1)
    )
    return found or f"req-vif-{instance_id}"


async def check(c: Conductor, instance_id: str) -> None:
    """End the wait if every port is ACTIVE on the server's host, or if it is too late."""
    async with c.db.session() as s:
        inst = await s.get(Instance, instance_id)
        if inst is None or not _waiting(inst, inst.host):
            return
        host, wanted, deadline = inst.host, expected_ports(inst), inst.vif_deadline
    assert host is not None and deadline is not None
    try:
        reply = await c.bus.call(NETWORK_TOPIC, GetPortStates(instance_id=instance_id))
        states = {p.port_id: p for p in reply.ports}
        unreadable = ""
    except Exception as exc:  # at the deadline: not known to be wired is not wired
        log.warning("cannot read the port states of %s: %s", instance_id, exc)
        states, unreadable = {}, f" (the network service did not answer: {exc})"
    missing = [p for p in wanted if not _wired(states.get(p), host)]
    if not missing:
        await _plugged(c, instance_id, host)
    elif c.clock() >= deadline:
        detail = "; ".join(_describe(p, states.get(p)) for p in missing) + unreadable
        await _timed_out(c, instance_id, host, missing, detail)


def _wired(state: PortState | None, host: str) -> bool:
    return state is not None and state.status == ACTIVE and state.host == host


def _describe(port_id: str, state: PortState | None) -> str:
    if state is None:
        return f"port {port_id}: unknown"
    return f"port {port_id}: {state.status} on host {state.host or '(none)'}"


async def _plugged(c: Conductor, instance_id: str, host: str) -> None:
    async with c.db.session() as s:
        inst = await locked_instance(s, instance_id)
        if not _waiting(inst, host):
            return  # another conductor ended it, or the server moved on
        request_id = await _wait_request(s, instance_id)
        inst.vif_deadline = None
        build.activate(c, inst)
        await actions.finish(s, inst, request_id, build.WAIT_PORTS, ok=True, host=host,
                             action=build.ACTION)  # fmt: skip
    log.info("ports of %s wired on %s: active", instance_id, host)


async def _timed_out(
    c: Conductor, instance_id: str, host: str, missing: list[str], detail: str
) -> None:
    timeout = c.settings.vif_plugging_timeout
    message = (
        f"Timed out after {timeout:g} s waiting for port(s) {', '.join(missing)} to become "
        f"ACTIVE on host {host} (network-vif-plugged): {await _likely_cause(c, host)}"
    )
    fatal = c.settings.vif_plugging_is_fatal
    async with c.db.session() as s:
        inst = await locked_instance(s, instance_id)
        if not _waiting(inst, host):
            return
        request_id = await _wait_request(s, instance_id)
        inst.vif_deadline = None
        if not fatal:
            build.activate(c, inst)
        await actions.finish(s, inst, request_id, build.WAIT_PORTS, ok=not fatal, host=host,
                             detail=f"{message} {detail}", action=build.ACTION)  # fmt: skip
    if not fatal:
        log.warning("%s; active anyway (compute.vif_plugging_is_fatal is false)", message)
        return
    log.warning("build of %s failed: %s", instance_id, message)
    await c.release_claim(instance_id, host)
    await c.to_agent(host, DestroyInstance(instance_id=instance_id))
    await build.fail(c, instance_id, request_id, message, None, detail=detail)


async def _likely_cause(c: Conductor, host: str) -> str:
    """Whether the host has a live network agent (the registry's heartbeats)."""
    ask = ListServices(host=host, binary=AGENT_BINARY)
    try:
        found = await c.bus.call(REGISTRY_TOPIC, ask)
    except Exception as exc:
        log.warning("cannot ask the registry about host %s: %s", host, exc)
        return f"is a network agent running on host {host}?"
    if not found.services:
        return f"no network agent has ever reported from host {host}"
    if not any(s.up for s in found.services):
        return f"the network agent of host {host} is down"
    return f"the network agent of host {host} is up but never saw the port's tap device"


async def on_port_status(c: Conductor, msg: PortStatusChanged) -> None:
    if msg.status == ACTIVE:
        await check(c, msg.instance_id)


async def sweep(c: Conductor) -> int:
    """Check every wait past its deadline; return how many there were."""
    async with c.db.session() as s:
        due = list(
            await s.scalars(
                select(Instance.id).where(
                    Instance.vif_deadline <= c.clock(),
                    Instance.task_state == TaskState.SPAWNING,
                )
            )
        )
    for instance_id in due:
        try:
            await check(c, instance_id)
        except Exception:
            log.exception("ending the port wait of %s failed", instance_id)
    return len(due)


async def run_sweeps(c: Conductor) -> None:
    """Every conductor runs this: a wait ends even if its conductor died."""
    while True:
        await asyncio.sleep(c.settings.vif_plugging_sweep_interval)
        try:
            await sweep(c)
        except Exception:
            log.exception("the port wait sweep failed")
