"""What one host's network agent must build, read from the network tables
(``rpc.GetHostConfig``): the networks it has ports on, with every port of them, the
rules of the groups its ports use, the addresses of the remote groups they name, and
the routers placed on it."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from stratus.network import l3, l3_view, rpc
from stratus.network import models as m


async def build(session: AsyncSession, host: str, endpoints: dict[str, str]) -> rpc.HostConfig:
    """``endpoints``: each known agent host's VXLAN local_ip."""
    net_ids = set(
        await session.scalars(
            sa.select(m.Port.network_id)
            .where(m.Port.binding_host_id == host, m.Port.device_owner != rpc.DHCP_OWNER)
            .distinct()
        )
    )
    if not net_ids:
        return rpc.HostConfig(host=host)
    ports = list(await session.scalars(sa.select(m.Port).where(m.Port.network_id.in_(net_ids))))
    wired = await _port_views(session, ports)
    groups = {g for p in wired if p.host == host for g in p.security_groups}
    rules = await _rules(session, groups)
    remote = {r.remote_group_id for rs in rules.values() for r in rs if r.remote_group_id}
    networks = await _networks(session, net_ids, ports, host, endpoints)
    return rpc.HostConfig(
        host=host,
        networks=networks,
        ports=wired,
        rules=rules,
        group_members=await _members(session, remote),
        routers=await _routers(session, host),
    )


async def _routers(session: AsyncSession, host: str) -> list[rpc.RouterL3]:
    """The routers whose legs are bound to this host (l3_placement.py puts them there)."""
    ids = set(
        await session.scalars(
            sa.select(m.Port.device_id).where(
                m.Port.binding_host_id == host, m.Port.device_owner.in_((l3.GATEWAY, l3.INTERFACE))
            )
        )
    )
    return await l3_view.routers(session, ids) if ids else []


async def _networks(
    session: AsyncSession,
    net_ids: Iterable[str],
    ports: Sequence[m.Port],
    host: str,
    endpoints: dict[str, str],
) -> list[rpc.Network]:
    hosts: defaultdict[str, set[str]] = defaultdict(set)
    for p in ports:
        if p.binding_host_id and p.binding_host_id != host:
            hosts[p.network_id].add(p.binding_host_id)
    subnets: defaultdict[str, list[rpc.Subnet]] = defaultdict(list)
    for s in await session.scalars(sa.select(m.Subnet).where(m.Subnet.network_id.in_(net_ids))):
        subnets[s.network_id].append(
            rpc.Subnet(
                id=s.id,
                cidr=s.cidr,
                ip_version=s.ip_version,
                gateway_ip=s.gateway_ip,
                enable_dhcp=s.enable_dhcp,
                dns_nameservers=list(s.dns_nameservers),
                host_routes=list(s.host_routes),
                ipv6_address_mode=s.ipv6_address_mode,
            )
        )
    found = await session.scalars(sa.select(m.Network).where(m.Network.id.in_(net_ids)))
    return [
        rpc.Network(
            id=n.id,
            project_id=n.project_id,
            network_type=n.network_type,
            physical_network=n.physical_network,
            segmentation_id=n.segmentation_id,
            mtu=n.mtu,
            subnets=sorted(subnets[n.id], key=lambda s: s.id),
            peers=sorted({endpoints[h] for h in hosts[n.id] if h in endpoints}),
        )
        for n in found
    ]


async def _port_views(session: AsyncSession, ports: Sequence[m.Port]) -> list[rpc.Port]:
    ids = [p.id for p in ports]
    ips: defaultdict[str, list[rpc.FixedIp]] = defaultdict(list)
    for a in await session.scalars(
        sa.select(m.IpAllocation).where(m.IpAllocation.port_id.in_(ids))
    ):
        ips[a.port_id].append(rpc.FixedIp(subnet_id=a.subnet_id, ip_address=a.ip_address))
    groups: defaultdict[str, list[str]] = defaultdict(list)
    rows = await session.scalars(
        sa.select(m.PortSecurityGroup).where(m.PortSecurityGroup.port_id.in_(ids))
    )
    for g in rows:
        groups[g.port_id].append(g.security_group_id)
    return [
        rpc.Port(
            id=p.id,
            network_id=p.network_id,
            project_id=p.project_id,
            mac_address=p.mac_address,
            fixed_ips=ips[p.id],
            device_id=p.device_id,
            device_owner=p.device_owner,
            name=p.name,
            host=p.binding_host_id,
            admin_state_up=p.admin_state_up,
            status=p.status,
            port_security_enabled=p.port_security_enabled,
            security_groups=sorted(groups[p.id]),
            allowed_address_pairs=[rpc.AddressPair(**a) for a in p.allowed_address_pairs],
        )
        for p in ports
    ]


async def _rules(session: AsyncSession, groups: set[str]) -> dict[str, list[rpc.Rule]]:
    found: dict[str, list[rpc.Rule]] = {g: [] for g in groups}
    rows = await session.scalars(
        sa.select(m.SecurityGroupRule).where(m.SecurityGroupRule.security_group_id.in_(groups))
    )
    for r in rows:
        found[r.security_group_id].append(
            rpc.Rule(
                direction=r.direction,
                ethertype=r.ethertype,
                protocol=r.protocol,
                port_range_min=r.port_range_min,
                port_range_max=r.port_range_max,
                remote_ip_prefix=r.remote_ip_prefix,
                remote_group_id=r.remote_group_id,
            )
        )
    return found


async def _members(session: AsyncSession, groups: set[str]) -> dict[str, list[str]]:
    """The fixed addresses of every port in each group (remote-group rules match them)."""
    members: dict[str, list[str]] = {g: [] for g in groups}
    rows = await session.execute(
        sa.select(m.PortSecurityGroup.security_group_id, m.IpAllocation.ip_address)
        .join(m.IpAllocation, m.IpAllocation.port_id == m.PortSecurityGroup.port_id)
        .where(m.PortSecurityGroup.security_group_id.in_(groups))
    )
    for group, address in rows:
        members[group].append(address)
    return {g: sorted(set(a)) for g, a in members.items()}
