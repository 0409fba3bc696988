"""The ``compute-agent`` service: the agent hosts of this process and their handlers.

With the ``fake`` driver one process runs ``compute.fake_hosts`` simulated hosts named
``<host>-fake-<i>``; a real driver runs exactly one host, named after this node.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any, Protocol

from stratus.common.context import RequestContext
from stratus.common.rpc import Bus, Dispatcher
from stratus.compute import rpc
from stratus.compute.agent import build, power, resize, snapshot
from stratus.compute.agent.host import AgentHost
from stratus.compute.settings import ComputeSettings
from stratus.compute.virt import registry
from stratus.registry.settings import RegistrySettings

log = logging.getLogger(__name__)


class _NetworkAgentSettings(Protocol):
    @property
    def namespace(self) -> str: ...


class _Settings(Protocol):
    @property
    def state_dir(self) -> Path: ...
    @property
    def network_agent(self) -> _NetworkAgentSettings: ...
    @property
    def compute(self) -> ComputeSettings: ...
    @property
    def registry(self) -> RegistrySettings: ...


class AgentRuntime(Protocol):
    """What the agent takes from ``common.service.Runtime`` (whose module reaches the SQL
    layer's types, which an agent must not import)."""

    @property
    def settings(self) -> _Settings: ...
    @property
    def bus(self) -> Bus: ...
    @property
    def host(self) -> str: ...


def build_dispatcher(agent: AgentHost) -> Dispatcher:
    dispatcher = Dispatcher()

    @dispatcher.handler(rpc.BuildInstance)
    async def build_instance(ctx: RequestContext, msg: rpc.BuildInstance) -> None:
        await build.build(agent, ctx, msg)

    @dispatcher.handler(rpc.DestroyInstance)
    async def destroy_instance(ctx: RequestContext, msg: rpc.DestroyInstance) -> None:
        await build.destroy(agent, ctx, msg)

    @dispatcher.handler(rpc.PowerAction)
    async def power_action(ctx: RequestContext, msg: rpc.PowerAction) -> None:
        await power.power_action(agent, ctx, msg)

    @dispatcher.handler(rpc.ResizeInPlace)
    async def resize_in_place(ctx: RequestContext, msg: rpc.ResizeInPlace) -> None:
        await resize.resize(agent, ctx, msg)

    @dispatcher.handler(rpc.FinishResizeInPlace)
    async def finish_resize(ctx: RequestContext, msg: rpc.FinishResizeInPlace) -> None:
        await resize.finish(agent, ctx, msg)

    @dispatcher.handler(rpc.LiveMigrateInstance)
    async def live_migrate(ctx: RequestContext, msg: rpc.LiveMigrateInstance) -> None:
        await power.live_migrate(agent, ctx, msg)

    @dispatcher.handler(rpc.SnapshotInstance)
    async def snapshot_instance(ctx: RequestContext, msg: rpc.SnapshotInstance) -> None:
        await snapshot.snapshot(agent, ctx, msg)

    @dispatcher.handler(rpc.GetConsoleOutput)
    async def console(ctx: RequestContext, msg: rpc.GetConsoleOutput) -> rpc.ConsoleOutput:
        return await power.console_output(agent, msg)

    return dispatcher


def host_names(node: str, driver: str, fake_hosts: int) -> list[str]:
    if driver == "fake":
        return [f"{node}-fake-{i}" for i in range(1, fake_hosts + 1)]
    return [node]


class ComputeAgentService:
    name = "compute-agent"
    catalog: tuple[Any, ...] = ()  # no HTTP API (CatalogEntry lives beside the SQL types)
    # each agent host heartbeats under its own host name (runner: no process heartbeat)
    own_heartbeats = True

    def __init__(self) -> None:
        self.hosts: list[AgentHost] = []

    def migrations(self) -> tuple[()]:
        return ()  # no tables, no database credentials

    async def start(self, runtime: AgentRuntime) -> None:
        s = runtime.settings
        cfg = s.compute
        if not cfg.qemu_state_dir:  # the qemu driver's instances live in the state dir
            cfg = cfg.model_copy(update={"qemu_state_dir": str(s.state_dir / "qemu")})
        if not cfg.qemu_netns:  # taps go where the network agent that plugs them lives
            cfg = cfg.model_copy(update={"qemu_netns": s.network_agent.namespace})
        make_driver = registry.factory(cfg.driver or "fake")
        snapshots = Path(cfg.snapshot_dir or s.state_dir / "compute-snapshots")
        try:
            for host in host_names(runtime.host, cfg.driver or "fake", cfg.fake_hosts):
                agent = AgentHost(runtime.bus, host, make_driver(host, cfg), cfg,
                                  heartbeat_interval=s.registry.heartbeat_interval,
                                  snapshot_dir=snapshots / host)  # fmt: skip
                await agent.start(build_dispatcher(agent))
                self.hosts.append(agent)
        except BaseException:
            await self.stop()
            raise
        driver = cfg.driver or "fake"
        log.info("compute agent: %d host(s) on the %s driver", len(self.hosts), driver)

    async def stop(self) -> None:
        for agent in reversed(self.hosts):
            await agent.stop()
        self.hosts.clear()
