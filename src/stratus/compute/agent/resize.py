"""Cold resize on this host (the scheduler found no other with room): stop, resize the
disks through the driver, start again; confirm or revert later.

The driver keeps the old disks until the user confirms or reverts, so a failure at any
step puts the instance back as it was (and running again if it ran) before the conductor
hears of it.
"""

from __future__ import annotations

import logging

from stratus.common.context import RequestContext
from stratus.compute import rpc
from stratus.compute.agent.build import instance_event, instance_spec
from stratus.compute.agent.host import AgentHost
from stratus.compute.states import PowerState
from stratus.compute.virt.driver import DriverError, Resizing

log = logging.getLogger(__name__)


def _resizing(agent: AgentHost) -> Resizing:
    driver = agent.driver
    if not (driver.capabilities.resize and isinstance(driver, Resizing)):
        raise DriverError(f"the {driver.name} driver cannot resize")
    return driver


async def _stop(agent: AgentHost, instance_id: str) -> None:
    if await agent.power_of(instance_id) != PowerState.SHUTDOWN:
        await agent.driver.power_off(instance_id, grace=agent.settings.power_off_grace)


async def resize(agent: AgentHost, ctx: RequestContext, msg: rpc.ResizeInPlace) -> None:
    iid = msg.instance.id
    async with agent.lock(iid):
        fault = None
        try:
            driver = _resizing(agent)
            await _stop(agent, iid)
            await driver.resize(instance_spec(msg.instance))
        except DriverError as exc:
            log.warning("%s: resize of %s failed: %s", agent.host, iid, exc)
            fault = f"Resize failed: {exc}"
            await _undo(agent, iid)
        if msg.power_on:
            await _power_on(agent, iid)
        event = rpc.Event.BUILD_FAILED if fault else rpc.Event.BUILT
        await agent.emit(instance_event(agent, iid, event, await agent.power_of(iid),
                                        fault=fault), ctx)  # fmt: skip


async def _undo(agent: AgentHost, instance_id: str) -> None:
    """A resize that failed half way: back to the kept disks, if any were kept."""
    driver = agent.driver
    if isinstance(driver, Resizing):
        try:
            await driver.revert_resize(instance_id)
        except DriverError as exc:
            log.info("%s: nothing to undo for %s: %s", agent.host, instance_id, exc)


async def _power_on(agent: AgentHost, instance_id: str) -> None:
    try:
        await agent.driver.power_on(instance_id)
    except DriverError as exc:  # the power sync reports what it really is
        log.warning("%s: cannot start %s after its resize: %s", agent.host, instance_id, exc)


async def finish(agent: AgentHost, ctx: RequestContext, msg: rpc.FinishResizeInPlace) -> None:
    iid = msg.instance_id
    async with agent.lock(iid):
        fault = None
        try:
            driver = _resizing(agent)
            if msg.revert:
                await _stop(agent, iid)
                await driver.revert_resize(iid)
                if msg.power_on:
                    await agent.driver.power_on(iid)
            else:
                await driver.confirm_resize(iid)
        except DriverError as exc:
            log.warning("%s: finishing the resize of %s failed: %s", agent.host, iid, exc)
            fault = str(exc)
        event = rpc.Event.ACTION_FAILED if fault else rpc.Event.ACTION_DONE
        await agent.emit(instance_event(agent, iid, event, await agent.power_of(iid),
                                        fault=fault), ctx)  # fmt: skip
