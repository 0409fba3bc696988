"""What the agent tells the conductor unasked: host reports and power-state changes."""

from __future__ import annotations

import dataclasses

from stratus.common.context import RequestContext
from stratus.compute import rpc
from stratus.compute.agent.host import AgentHost
from stratus.compute.states import PowerState


async def report_host(agent: AgentHost) -> None:
    """Resources and every instance's power state (the conductor reconciles with them)."""
    resources = await agent.driver.host_resources()
    instances = await agent.driver.instances()
    report = rpc.HostReport(
        host=agent.host,
        resources=rpc.HostResources(**dataclasses.asdict(resources)),
        instances={iid: int(power) for iid, power in instances.items()},
    )
    await agent.bus.cast(rpc.CONDUCTOR_TOPIC, report, ctx=RequestContext())


async def sync_power_states(agent: AgentHost) -> None:
    """Report each instance whose power state changed since the conductor last heard
    (a guest that shut itself down, or vanished from the hypervisor)."""
    now = dict(await agent.driver.instances())
    gone = {iid: PowerState.NOSTATE for iid in agent.reported if iid not in now}
    for iid, seen in (now | gone).items():
        if agent.reported.get(iid) == seen:
            continue
        async with agent.lock(iid):  # a build or action in flight reports for itself
            power = await agent.power_of(iid)
            if agent.reported.get(iid) == power:
                continue
            event = rpc.InstanceEvent(
                instance_id=iid, host=agent.host, event=rpc.Event.POWER_CHANGED,
                power_state=int(power),
            )  # fmt: skip
            await agent.emit(event, RequestContext())
            if power == PowerState.NOSTATE:
                agent.forget(iid)
