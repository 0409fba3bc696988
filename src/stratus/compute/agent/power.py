"""Power actions, console output and live migration through the driver."""

from __future__ import annotations

import logging

from stratus.common.context import RequestContext
from stratus.common.errors import Conflict, NotFound
from stratus.compute import rpc
from stratus.compute.agent.host import AgentHost
from stratus.compute.virt.driver import DriverError, LiveMigrating

log = logging.getLogger(__name__)

Power = rpc.Power


async def _apply(agent: AgentHost, iid: str, action: Power) -> None:
    d = agent.driver
    match action:
        case Power.REBOOT | Power.REBOOT_HARD:
            await d.reboot(iid, hard=action is Power.REBOOT_HARD)
        case Power.STOP:
            await d.power_off(iid, grace=agent.settings.power_off_grace)
        case Power.START:
            await d.power_on(iid)
        case Power.PAUSE:
            await d.pause(iid)
        case Power.UNPAUSE:
            await d.unpause(iid)
        case Power.SUSPEND:
            await d.suspend(iid)
        case Power.RESUME:
            await d.resume(iid)


async def power_action(agent: AgentHost, ctx: RequestContext, msg: rpc.PowerAction) -> None:
    iid = msg.instance_id
    async with agent.lock(iid):
        fault = None
        try:
            await _apply(agent, iid, msg.action)
        except DriverError as exc:
            log.warning("%s: %s of %s failed: %s", agent.host, msg.action, iid, exc)
            fault = str(exc)
        event = rpc.Event.ACTION_FAILED if fault else rpc.Event.ACTION_DONE
        done = rpc.InstanceEvent(
            instance_id=iid, host=agent.host, event=event,
            power_state=int(await agent.power_of(iid)), action=msg.action, fault=fault,
        )  # fmt: skip
        await agent.emit(done, ctx)


async def console_output(agent: AgentHost, msg: rpc.GetConsoleOutput) -> rpc.ConsoleOutput:
    if msg.instance_id not in await agent.driver.instances():
        raise NotFound(
            "compute.instance.not_on_host",
            f"instance {msg.instance_id} is not running on host {agent.host}",
        )
    try:
        text = await agent.driver.console_output(msg.instance_id, msg.length)
    except DriverError as exc:
        raise Conflict("compute.console.unavailable", str(exc)) from None
    return rpc.ConsoleOutput(output=text)


async def live_migrate(agent: AgentHost, ctx: RequestContext, msg: rpc.LiveMigrateInstance) -> None:
    iid = msg.instance_id
    async with agent.lock(iid):
        power = await agent.power_of(iid)
        fault = None
        try:
            if not isinstance(agent.driver, LiveMigrating):
                raise DriverError(f"the {agent.driver.name} driver cannot live-migrate")
            await agent.driver.migrate_out(iid, msg.destination)
        except DriverError as exc:
            fault = str(exc)
        event = rpc.Event.ACTION_FAILED if fault else rpc.Event.MIGRATED
        done = rpc.InstanceEvent(
            instance_id=iid, host=agent.host, event=event, power_state=int(power), fault=fault
        )
        await agent.emit(done, ctx)
    if fault is None:
        agent.forget(iid)
