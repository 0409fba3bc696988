"""What a data plane needs to build routers: for each router its gateway, interfaces,
static routes, floating IP mappings and port forwardings, as typed messages.

The network agent gets these over RPC (``rpc.HostConfig.routers``; it never reads the
database); the network service builds them here with a fixed number of queries whatever
the number of routers.
"""

from __future__ import annotations

import ipaddress
from collections import defaultdict
from collections.abc import Collection

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from stratus.common.db import Database
from stratus.network import l3
from stratus.network import models as m
from stratus.network.rpc import (
    FloatingIpMapping,
    Gateway,
    Interface,
    PortForwardingRule,
    Route,
    RouterL3,
)

__all__ = [
    "FloatingIpMapping",
    "Gateway",
    "Interface",
    "PortForwardingRule",
    "Route",
    "RouterL3",
    "read",
    "routers",
]


async def _addresses(session: AsyncSession, router_ids: list[str]) -> dict[str, list[l3.Attached]]:
    out: dict[str, list[l3.Attached]] = defaultdict(list)
    rows = await session.execute(
        sa.select(m.Port, m.Subnet, m.IpAllocation.ip_address)
        .join(m.IpAllocation, m.IpAllocation.port_id == m.Port.id)
        .join(m.Subnet, m.Subnet.id == m.IpAllocation.subnet_id)
        .where(
            m.Port.device_id.in_(router_ids), m.Port.device_owner.in_((l3.GATEWAY, l3.INTERFACE))
        )
        .order_by(m.Port.created_at, m.Port.id)
    )
    for port, subnet, ip in rows:
        out[port.device_id].append(l3.Attached(port, subnet, ip))
    return out


async def _mtus(session: AsyncSession, held: dict[str, list[l3.Attached]]) -> dict[str, int]:
    network_ids = {a.port.network_id for attached in held.values() for a in attached}
    if not network_ids:
        return {}
    rows = await session.execute(
        sa.select(m.Network.id, m.Network.mtu).where(m.Network.id.in_(network_ids))
    )
    return {network_id: mtu for network_id, mtu in rows}


def _gateway(router: m.Router, held: list[l3.Attached], mtus: dict[str, int]) -> Gateway | None:
    for a in held:
        if a.port.id == router.gw_port_id and a.subnet.ip_version == 4:
            return Gateway(
                network_id=a.port.network_id,
                port_id=a.port.id,
                mac_address=a.port.mac_address,
                ip_address=a.ip_address,
                cidr=f"{a.ip_address}/{ipaddress.ip_network(a.subnet.cidr).prefixlen}",
                gateway_ip=a.subnet.gateway_ip,
                enable_snat=router.enable_snat,
                mtu=mtus[a.port.network_id],
            )
    return None


def _interfaces(held: list[l3.Attached], mtus: dict[str, int]) -> list[Interface]:
    return [
        Interface(
            port_id=a.port.id,
            mac_address=a.port.mac_address,
            network_id=a.port.network_id,
            subnet_id=a.subnet.id,
            subnet_cidr=a.subnet.cidr,
            ip_address=a.ip_address,
            mtu=mtus[a.port.network_id],
            ipv6_ra_mode=a.subnet.ipv6_ra_mode if a.subnet.ip_version == 6 else None,
        )
        for a in held
        if a.port.device_owner == l3.INTERFACE
    ]


async def _floating(
    session: AsyncSession, router_ids: list[str]
) -> tuple[dict[str, list[FloatingIpMapping]], dict[str, list[PortForwardingRule]]]:
    mappings: dict[str, list[FloatingIpMapping]] = defaultdict(list)
    forwardings: dict[str, list[PortForwardingRule]] = defaultdict(list)
    fips = (
        await session.scalars(sa.select(m.FloatingIp).where(m.FloatingIp.router_id.in_(router_ids)))
    ).all()
    for f in fips:
        if f.fixed_port_id is not None and f.fixed_ip_address is not None and f.router_id:
            mappings[f.router_id].append(
                FloatingIpMapping(
                    id=f.id,
                    floating_ip_address=f.floating_ip_address,
                    fixed_ip_address=f.fixed_ip_address,
                    fixed_port_id=f.fixed_port_id,
                )
            )
    by_fip = {f.id: f for f in fips}
    pfs = await session.scalars(
        sa.select(m.PortForwarding).where(m.PortForwarding.floatingip_id.in_(list(by_fip)))
    )
    for pf in pfs:
        fip = by_fip[pf.floatingip_id]
        assert fip.router_id is not None
        forwardings[fip.router_id].append(
            PortForwardingRule(
                id=pf.id,
                floating_ip_address=fip.floating_ip_address,
                protocol=pf.protocol,
                external_port=pf.external_port,
                internal_ip_address=pf.internal_ip_address,
                internal_port=pf.internal_port,
            )
        )
    return mappings, forwardings


async def routers(
    session: AsyncSession, router_ids: Collection[str] | None = None
) -> list[RouterL3]:
    """The routers named (all when None), ordered by id; unknown ids are skipped."""
    query = sa.select(m.Router).order_by(m.Router.id)
    if router_ids is not None:
        query = query.where(m.Router.id.in_(list(router_ids)))
    rows = list((await session.scalars(query)).all())
    ids = [r.id for r in rows]
    held = await _addresses(session, ids)
    mtus = await _mtus(session, held)
    routes = await l3.routes_of(session, ids)
    mappings, forwardings = await _floating(session, ids)
    return [
        RouterL3(
            id=r.id,
            project_id=r.project_id,
            admin_state_up=r.admin_state_up,
            gateway=_gateway(r, held[r.id], mtus),
            interfaces=_interfaces(held[r.id], mtus),
            routes=[Route(**route) for route in routes[r.id]],
            floating_ips=mappings[r.id],
            port_forwardings=forwardings[r.id],
        )
        for r in rows
    ]


async def read(db: Database, router_ids: Collection[str] | None = None) -> list[RouterL3]:
    """``routers`` in a session of its own."""
    async with db.session() as session:
        return await routers(session, router_ids)
