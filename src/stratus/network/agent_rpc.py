"""The network service's side of the agent RPC: host configs, DHCP ports, port status,
and where routers run (``l3_placement``, decided as agents call for their config).

Agents' VXLAN endpoints are learned from their ``GetHostConfig`` calls and kept in this
process (agents resync on a timer, so every service process learns them within one
period); a new or moved endpoint makes every agent resync to update its peers.
"""

from __future__ import annotations

import asyncio
import logging

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from stratus.common.context import RequestContext
from stratus.common.rpc import Bus, Dispatcher
from stratus.compute.conductor_rpc import PortStatusChanged
from stratus.compute.rpc import CONDUCTOR_TOPIC
from stratus.network import host_config, ipam, l3_placement, macs, rpc
from stratus.network import models as m
from stratus.network.retry import retrying
from stratus.network.state import NetworkState

log = logging.getLogger(__name__)

COMPUTE_OWNER = "compute:"  # device_owner of a server's port (``compute:<zone>``)


class AgentEndpoints:
    def __init__(self, state: NetworkState, bus: Bus) -> None:
        self.state = state
        self.bus = bus
        self.local_ips: dict[str, str] = {}
        self.l3 = l3_placement.L3Agents(down_time=state.settings.l3_agent_down_time)
        self._tasks: set[asyncio.Task[None]] = set()

    def learn(self, host: str, local_ip: str) -> None:
        if not local_ip or self.local_ips.get(host) == local_ip:
            return
        self.local_ips[host] = local_ip
        self.notify("agent")

    async def place_routers(self, msg: rpc.GetHostConfig) -> None:
        """Learn what the calling agent can host; bind routers that must move (and tell
        the agents, so both the old and the new host resync)."""
        if self.l3.learn(msg.host, msg.l3, msg.physical_networks, bool(msg.local_ip)):
            log.info("network agent %s: l3=%s physical=%s", msg.host, msg.l3,
                     msg.physical_networks)  # fmt: skip
        db = self.state.db
        async with db.session() as session:
            moving = await l3_placement.moves(session, self.l3)
        if not moving:
            return

        async def work(session: AsyncSession) -> None:
            await l3_placement.bind(session, await l3_placement.moves(session, self.l3))

        await retrying(db, work)
        log.info("routers placed: %s", moving)
        self.notify("router")

    def notify(self, resource: str) -> None:
        """Fan out ``NetworkChanged`` without making the caller wait for the bus."""
        task = asyncio.create_task(self._fanout(resource))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _fanout(self, resource: str) -> None:
        try:
            await self.bus.fanout(rpc.AGENT_TOPIC, rpc.NetworkChanged(resource=resource))
        except Exception as exc:  # agents resync on their timer anyway
            log.warning("cannot tell network agents of a %s change: %s", resource, exc)


def build_dispatcher(endpoints: AgentEndpoints) -> Dispatcher:
    dispatcher = Dispatcher()
    db = endpoints.state.db

    @dispatcher.handler(rpc.GetHostConfig)
    async def get_host_config(ctx: RequestContext, msg: rpc.GetHostConfig) -> rpc.HostConfig:
        endpoints.learn(msg.host, msg.local_ip)
        try:
            await endpoints.place_routers(msg)
        except Exception:  # the host's config matters more; placement retries next call
            log.exception("placing routers for %s failed", msg.host)
        async with db.session() as session:
            return await host_config.build(session, msg.host, endpoints.local_ips)

    @dispatcher.handler(rpc.EnsureDhcpPort)
    async def ensure_dhcp_port(ctx: RequestContext, msg: rpc.EnsureDhcpPort) -> rpc.Port:
        async def work(session: AsyncSession) -> str:
            return await _dhcp_port(session, msg, endpoints.state.settings.base_mac)

        port_id = await retrying(db, work)
        async with db.session() as session:
            port = await session.get_one(m.Port, port_id)
            (view,) = await host_config._port_views(session, [port])
        return view

    @dispatcher.handler(rpc.PortStatus)
    async def port_status(ctx: RequestContext, msg: rpc.PortStatus) -> None:
        async with db.session() as session:
            mine = sa.and_(m.Port.id.in_(msg.port_ids), m.Port.binding_host_id == msg.host)
            await session.execute(sa.update(m.Port).where(mine).values(status=msg.status))
            rows = await session.execute(
                sa.select(m.Port.id, m.Port.device_id).where(
                    mine, m.Port.device_owner.startswith(COMPUTE_OWNER), m.Port.device_id != ""
                )
            )
            servers: dict[str, list[str]] = {}
            for port_id, device_id in rows:
                servers.setdefault(device_id, []).append(port_id)
        for instance_id, port_ids in servers.items():  # after the commit: they read it back
            await _tell_compute(endpoints.bus, instance_id, msg, port_ids)

    return dispatcher


async def _tell_compute(bus: Bus, instance_id: str, msg: rpc.PortStatus, ports: list[str]) -> None:
    """Compute's ``network-vif-plugged``: a server waiting for its ports learns they are
    wired (a lost cast only delays it: the conductor re-reads the states at its deadline)."""
    changed = PortStatusChanged(instance_id=instance_id, host=msg.host, status=msg.status,
                                port_ids=ports)  # fmt: skip
    try:
        await bus.cast(CONDUCTOR_TOPIC, changed)
    except Exception as exc:
        log.warning("cannot tell compute that ports %s of %s are %s: %s", ports, instance_id,
                    msg.status, exc)  # fmt: skip


async def _cover_dhcp_subnets(session: AsyncSession, port_id: str) -> None:
    """A DHCP port made before a subnet was added gets an address on it too."""
    port = await session.get_one(m.Port, port_id)
    held = set(
        await session.scalars(
            sa.select(m.IpAllocation.subnet_id).where(m.IpAllocation.port_id == port_id)
        )
    )
    subnets = await ipam.subnets_of(session, port.network_id)
    missing = [s.id for s in subnets if s.enable_dhcp and s.id not in held and _stateful(s)]
    if missing:
        keep = [ipam.IpRequest(subnet_id=s) for s in held]
        await ipam.reallocate(session, port, keep + [ipam.IpRequest(subnet_id=s) for s in missing])


def _stateful(subnet: m.Subnet) -> bool:
    return subnet.ip_version == 4 or subnet.ipv6_address_mode == "dhcpv6-stateful"


async def _dhcp_port(session: AsyncSession, msg: rpc.EnsureDhcpPort, base_mac: str) -> str:
    device_id = f"dhcp-{msg.host}"
    found = await session.scalar(
        sa.select(m.Port.id).where(
            m.Port.network_id == msg.network_id,
            m.Port.device_owner == rpc.DHCP_OWNER,
            m.Port.device_id == device_id,
        )
    )
    if found is not None:
        await _cover_dhcp_subnets(session, found)
        return found
    net = await session.get_one(m.Network, msg.network_id)
    port = m.Port(
        id=m.new_uuid(), project_id=net.project_id, network_id=net.id,
        mac_address=macs.generate(base_mac), device_owner=rpc.DHCP_OWNER,
        device_id=device_id, binding_host_id=msg.host, port_security_enabled=False,
        status="ACTIVE",
    )  # fmt: skip
    session.add(port)
    await session.flush()
    await ipam.allocate(session, port, None)
    return port.id
