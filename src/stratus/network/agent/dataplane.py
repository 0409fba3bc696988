"""The DHCP servers and metadata proxies of one agent, one pair per network it serves."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx

from stratus.common.context import RequestContext
from stratus.network import rpc
from stratus.network.agent import dhcp, linux, names
from stratus.network.agent.metadata_proxy import MetadataProxy, ProxyServer, instances_of
from stratus.network.agent.netns_socket import listen_in

if TYPE_CHECKING:
    from stratus.network.agent.agent import NetworkAgent

log = logging.getLogger(__name__)
METADATA_PORT = 80


class DhcpServers:
    def __init__(self, agent: NetworkAgent, root: Path) -> None:
        self.agent = agent
        self.root = root
        self.proxies: dict[str, ProxyServer] = {}
        self.served: dict[str, dhcp.Served] = {}
        self._client: httpx.AsyncClient | None = None

    def namespace(self, network_id: str) -> str:
        return names.dhcp_namespace(network_id, self.agent.cfg.namespace)

    def files(self, network_id: str) -> dhcp.DhcpFiles:
        return dhcp.DhcpFiles(self.root / network_id)

    async def sync(self, config: rpc.HostConfig, links: dict[str, dict[str, Any]]) -> None:
        served = {n.id: n for n in config.networks if dhcp.dhcp_subnets(n)}
        for net in served.values():
            server = await self._server_port(config, net.id)
            ns = self.namespace(net.id)
            self.served[net.id] = await dhcp.ensure(
                self.agent.sh, ns, net, server=server, ports=config.ports,
                files=self.files(net.id), links=links, last=self.served.get(net.id),
            )  # fmt: skip
            await self._ensure_proxy(net.id, ns, config.ports)
        for ns in await linux.namespaces(names.DHCP_NS):
            net_id = names.network_of_namespace(ns, self.agent.cfg.namespace)
            if net_id is not None and net_id not in served:
                await self._stop_proxy(net_id)
                self.served.pop(net_id, None)
                await dhcp.remove(ns, self.files(net_id))

    async def _server_port(self, config: rpc.HostConfig, network_id: str) -> rpc.Port:
        device = f"dhcp-{self.agent.host}"
        net = next(n for n in config.networks if n.id == network_id)
        wanted = {s.id for s in dhcp.dhcp_subnets(net)}
        for p in config.ports:
            if (p.network_id, p.device_owner, p.device_id) != (network_id, rpc.DHCP_OWNER, device):
                continue
            if wanted <= {f.subnet_id for f in p.fixed_ips}:
                return p
            config.ports.remove(p)  # a subnet was added: the service gives it an address
            break
        ask = rpc.EnsureDhcpPort(host=self.agent.host, network_id=network_id)
        port = await self.agent.bus.call(rpc.TOPIC, ask, ctx=RequestContext())
        config.ports.append(port)
        return port

    async def _ensure_proxy(self, network_id: str, ns: str, ports: list[rpc.Port]) -> None:
        found = self.proxies.get(network_id)
        if found is None:
            if self._client is None:
                self._client = httpx.AsyncClient(timeout=30)
            md = self.agent.metadata
            sock = await listen_in(ns, names.METADATA_ADDRESS, METADATA_PORT)
            found = ProxyServer(MetadataProxy(md.url, md.shared_secret, self._client), sock)
            await found.start()
            self.proxies[network_id] = found
        found.app.instances = instances_of(network_id, ports)

    async def _stop_proxy(self, network_id: str) -> None:
        proxy = self.proxies.pop(network_id, None)
        if proxy is not None:
            await proxy.stop()

    async def stop_proxies(self) -> None:
        for net_id in list(self.proxies):
            await self._stop_proxy(net_id)
        if self._client is not None:
            await self._client.aclose()
            self._client = None
