"""The ``network-agent`` service: this host's agent, plus any simulated hosts the
settings ask for (each in its own namespace), all RPC only, no DB credentials."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any, Protocol

from stratus.common.rpc import Bus
from stratus.compute.metadata.settings import MetadataSettings
from stratus.network.agent.agent import AgentConfig, NetworkAgent
from stratus.network.agent.settings import NetworkAgentSettings
from stratus.registry.settings import RegistrySettings

log = logging.getLogger(__name__)


class _Settings(Protocol):
    @property
    def state_dir(self) -> Path: ...
    @property
    def network_agent(self) -> NetworkAgentSettings: ...
    @property
    def metadata(self) -> MetadataSettings: ...
    @property
    def registry(self) -> RegistrySettings: ...


class AgentRuntime(Protocol):
    @property
    def settings(self) -> _Settings: ...
    @property
    def bus(self) -> Bus: ...
    @property
    def host(self) -> str: ...


def agent_configs(s: _Settings, host: str) -> list[AgentConfig]:
    cfg = s.network_agent
    hosts = [(host, cfg.namespace, cfg.local_ip, cfg.l3)]
    hosts += [(h.host, h.namespace, h.local_ip, h.l3) for h in cfg.simulated_hosts]
    return [
        AgentConfig(
            host=name,
            namespace=ns,
            local_ip=ip,
            physical=dict(cfg.physical_interfaces),
            state_dir=s.state_dir / "network-agent" / name,
            resync_interval=cfg.resync_interval,
            debounce=cfg.debounce,
            poll_interval=cfg.poll_interval,
            heartbeat_interval=s.registry.heartbeat_interval,
            purge_on_stop=cfg.purge_on_stop,
            l3=l3,
        )
        for name, ns, ip, l3 in hosts
    ]


class NetworkAgentService:
    name = "network-agent"
    catalog: tuple[Any, ...] = ()
    own_heartbeats = True  # one heartbeat per agent host

    def __init__(self) -> None:
        self.agents: list[NetworkAgent] = []

    def migrations(self) -> tuple[()]:
        return ()

    async def start(self, runtime: AgentRuntime) -> None:
        s = runtime.settings
        try:
            for cfg in agent_configs(s, runtime.host):
                agent = NetworkAgent(runtime.bus, cfg, s.metadata)
                await agent.start()
                self.agents.append(agent)
        except BaseException:
            await self.stop()
            raise
        log.info("network agent: %d host(s)", len(self.agents))

    async def stop(self) -> None:
        for agent in reversed(self.agents):
            try:
                await agent.stop()
            except Exception:
                log.exception("stopping the network agent of %s failed", agent.host)
        self.agents.clear()
