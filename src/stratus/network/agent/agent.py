"""One host's network agent: resyncs with the service (on notice, debounced, and on a
timer), builds what the config says, removes what it no longer says, and plugs taps as
they appear. It owns every device, namespace and table whose name has its prefixes."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from stratus.common.context import RequestContext
from stratus.common.rpc import Bus, BusUnavailable, Dispatcher, NoServer, RpcTimeout, Server
from stratus.compute.metadata.settings import MetadataSettings
from stratus.network import rpc
from stratus.network.agent import linux, names, wiring
from stratus.network.agent.dataplane import DhcpServers
from stratus.network.agent.firewall import Firewall
from stratus.network.agent.linux import Shell
from stratus.network.agent.routers import Routers
from stratus.registry.reporter import HeartbeatReporter

log = logging.getLogger(__name__)
BINARY = rpc.AGENT_BINARY


@dataclass(frozen=True)
class AgentConfig:
    host: str
    namespace: str
    local_ip: str
    physical: dict[str, str]
    state_dir: Path
    resync_interval: float = 30.0
    debounce: float = 0.2
    poll_interval: float = 0.5
    heartbeat_interval: float = 10.0
    purge_on_stop: bool = False
    l3: bool = True  # runs routers (l3_placement.py chooses among such agents)


@dataclass
class NetworkAgent:
    bus: Bus
    cfg: AgentConfig
    metadata: MetadataSettings
    config: rpc.HostConfig | None = None
    # the status last reported per port (until a resync shows the service has it)
    reported: dict[str, str] = field(default_factory=dict)
    _changed: asyncio.Event = field(default_factory=asyncio.Event)
    _tasks: list[asyncio.Task[None]] = field(default_factory=list)
    _server: Server | None = None

    def __post_init__(self) -> None:
        self.sh = Shell(self.cfg.namespace)
        self.firewall = Firewall(self.sh)
        self.dhcp = DhcpServers(self, self.cfg.state_dir / "dhcp")
        self.routers = Routers(self.sh, self.cfg.namespace, self.cfg.state_dir / "routers")
        self._heartbeat = HeartbeatReporter(self.bus, self.cfg.host, BINARY, rpc.AGENT_TOPIC,
                                            self.cfg.heartbeat_interval)  # fmt: skip
        self._lock = asyncio.Lock()

    @property
    def host(self) -> str:
        return self.cfg.host

    async def start(self) -> None:
        try:
            await self._prepare()
        except (OSError, linux.CommandFailed) as exc:  # no root or no tools: say so, run on
            log.warning("%s: cannot prepare the data plane (%s); syncs will retry", self.host, exc)
        dispatcher = Dispatcher()

        @dispatcher.handler(rpc.NetworkChanged)
        async def changed(ctx: RequestContext, msg: rpc.NetworkChanged) -> None:
            self._changed.set()

        self._server = await self.bus.serve(rpc.AGENT_TOPIC, dispatcher, host=self.host)
        await self._heartbeat.start()
        self._changed.set()
        self._tasks = [
            asyncio.create_task(self._sync_loop(), name=f"network sync {self.host}"),
            asyncio.create_task(self._plug_loop(), name=f"network plug {self.host}"),
        ]

    async def _prepare(self) -> None:
        if self.cfg.namespace:
            await linux.ensure_namespace(self.cfg.namespace)
        # no table reset here: the first apply replaces both tables in one transaction,
        # so a restarting agent never leaves its ports unfiltered

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks.clear()
        await self._heartbeat.stop()
        if self._server is not None:
            await self._server.stop()
            self._server = None
        await self.dhcp.stop_proxies()
        if self.cfg.purge_on_stop:
            await self.purge()

    async def _sync_loop(self) -> None:
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._changed.wait(), self.cfg.resync_interval)
            await asyncio.sleep(self.cfg.debounce)  # let a burst of changes settle
            self._changed.clear()
            try:
                await self.sync()
            except (NoServer, RpcTimeout, BusUnavailable) as exc:  # the service is away
                log.warning("%s: cannot reach the network service: %s", self.host, exc)
            except Exception:
                log.exception("%s: network sync failed", self.host)

    async def _plug_loop(self) -> None:
        """Plug taps as they appear: a pass after each burst of link events (``ip
        monitor``), and one every ``resync_interval`` in case an event was missed."""
        changed = asyncio.Event()
        watcher = asyncio.create_task(self._watch_links(changed))
        try:
            while True:
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(self.cfg.resync_interval):
                        await changed.wait()
                await asyncio.sleep(self.cfg.poll_interval)  # one pass for a burst
                changed.clear()
                try:
                    await self.plug_new()
                except Exception:
                    log.exception("%s: plugging ports failed", self.host)
        finally:
            watcher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await watcher

    async def _watch_links(self, changed: asyncio.Event) -> None:
        while True:
            try:
                async for _ in self.sh.link_events():
                    changed.set()
            except Exception:
                log.exception("%s: watching links failed", self.host)
            await asyncio.sleep(1.0)

    async def sync(self) -> None:
        """Fetch this host's config and make the data plane match it."""
        links = await self.sh.links()
        uplinks = sorted(n for n, dev in self.cfg.physical.items() if dev in links)
        ask = rpc.GetHostConfig(host=self.host, local_ip=self.cfg.local_ip, l3=self.cfg.l3,
                                physical_networks=uplinks)  # fmt: skip
        config = await self.bus.call(rpc.TOPIC, ask, ctx=RequestContext())
        async with self._lock:
            links = await self.sh.links()
            for net in config.networks:
                await wiring.ensure_network(self.sh, net, links, local_ip=self.cfg.local_ip,
                                            physical=self.cfg.physical)  # fmt: skip
            await self.firewall.apply(self.own_ports(config), config)
            links = await self.sh.links()
            await self.dhcp.sync(config, links)
            await self.routers.sync(config, links)
            await self._remove_stale(config, await self.sh.links())
            self.config = config
        await self.plug_new()

    def own_ports(self, config: rpc.HostConfig) -> list[rpc.Port]:
        return [p for p in config.ports
                if p.host == self.host and p.device_owner != rpc.DHCP_OWNER]  # fmt: skip

    async def plug_new(self) -> None:
        """Enslave each of this host's taps that appeared; report ports whose state
        (tap on the bridge or gone) differs from what the service has."""
        config = self.config
        if config is None:
            return
        nets = {n.id: n for n in config.networks}
        changed: dict[str, list[str]] = {"ACTIVE": [], "DOWN": []}
        async with self._lock:
            links = await self.sh.links()
            for port in self.own_ports(config):
                link, net = links.get(names.tap(port.id)), nets.get(port.network_id)
                if link is not None and net is not None:
                    await self._plug(port, link, net)
                now = "ACTIVE" if link is not None and net is not None else "DOWN"
                if self.reported.get(port.id, port.status) != now:
                    changed[now].append(port.id)
        for status, ids in changed.items():
            if ids:
                msg = rpc.PortStatus(host=self.host, status=status, port_ids=ids)
                await self.bus.cast(rpc.TOPIC, msg, ctx=RequestContext())
                self.reported.update(dict.fromkeys(ids, status))

    async def _plug(self, port: rpc.Port, link: dict[str, Any], net: rpc.Network) -> None:
        if link.get("master") != names.bridge(net.id):
            await wiring.plug(self.sh, names.tap(port.id), net)

    async def _remove_stale(
        self, config: rpc.HostConfig, links: dict[str, dict[str, object]]
    ) -> None:
        """Bridges and uplinks of networks this host no longer serves."""
        wanted = {names.bridge(n.id).removeprefix(names.BRIDGE) for n in config.networks}
        for short in wiring.owned_networks(links) - wanted:
            for prefix in (names.VXLAN, names.VLAN, names.BRIDGE):
                if prefix + short in links:
                    await self.sh.run("ip", "link", "del", prefix + short, check=False)
        own = {p.id: p.status for p in self.own_ports(config)}
        self.reported = {k: v for k, v in self.reported.items() if own.get(k) not in (None, v)}

    async def purge(self) -> None:
        """Remove everything this agent made (its namespace too, if it made its own)."""
        await self.dhcp.sync(rpc.HostConfig(host=self.host), {})
        await self.routers.purge()
        await self.firewall.reset()
        links = await self.sh.links()
        for name in links:
            if names.owned(name):
                await self.sh.run("ip", "link", "del", name, check=False)
        await asyncio.to_thread(shutil.rmtree, self.cfg.state_dir, True)
