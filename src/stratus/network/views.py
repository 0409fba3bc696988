"""Neutron's representation of each resource, with what only admins may see removed.

Loaders fetch the related rows of many resources in one query each (a network's
subnet ids, a port's addresses and groups, a group's rules), so a list costs a fixed
number of queries whatever its length.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from stratus.common.context import RequestContext
from stratus.network import models as m

View = dict[str, Any]
ADMIN_ONLY = {
    "network": ("provider:network_type", "provider:physical_network", "provider:segmentation_id"),
    "port": ("binding:host_id", "binding:vif_type", "binding:vif_details", "binding:profile"),
}


def timestamp(value: dt.datetime) -> str:
    return value.strftime("%Y-%m-%dT%H:%M:%SZ")


def standard(row: m.Standard, project_id: str) -> View:
    return {
        "tenant_id": project_id,
        "project_id": project_id,
        "description": row.description,
        "created_at": timestamp(row.created_at),
        "updated_at": timestamp(row.updated_at),
        "revision_number": row.revision_number,
    }


def _strip(ctx: RequestContext, kind: str, view: View) -> View:
    if not ctx.is_admin:
        for key in ADMIN_ONLY.get(kind, ()):
            view.pop(key, None)
    return view


# ---- networks --------------------------------------------------------------------------


async def subnet_ids(session: AsyncSession, network_ids: Sequence[str]) -> dict[str, list[str]]:
    out: dict[str, list[str]] = defaultdict(list)
    if network_ids:
        rows = await session.execute(
            sa.select(m.Subnet.network_id, m.Subnet.id)
            .where(m.Subnet.network_id.in_(network_ids))
            .order_by(m.Subnet.created_at, m.Subnet.id)
        )
        for network_id, subnet_id in rows:
            out[network_id].append(subnet_id)
    return out


def network(ctx: RequestContext, net: m.Network, subnets: list[str], is_default: bool) -> View:
    view = {
        "id": net.id,
        "name": net.name,
        "admin_state_up": net.admin_state_up,
        "status": net.status,
        "subnets": subnets,
        "shared": net.shared,
        "router:external": net.external,
        "mtu": net.mtu,
        "port_security_enabled": net.port_security_enabled,
        "is_default": is_default,
        "provider:network_type": net.network_type,
        "provider:physical_network": net.physical_network,
        "provider:segmentation_id": net.segmentation_id,
        **standard(net, net.project_id),
    }
    return _strip(ctx, "network", view)


async def networks(
    session: AsyncSession, ctx: RequestContext, nets: Sequence[m.Network]
) -> list[View]:
    subnets = await subnet_ids(session, [n.id for n in nets])
    default = await session.scalar(sa.select(m.DefaultExternalNetwork.network_id))
    return [network(ctx, n, subnets.get(n.id, []), n.id == default) for n in nets]


# ---- subnets ---------------------------------------------------------------------------


def subnet(sub: m.Subnet) -> View:
    return {
        "id": sub.id,
        "name": sub.name,
        "network_id": sub.network_id,
        "ip_version": sub.ip_version,
        "cidr": sub.cidr,
        "gateway_ip": sub.gateway_ip,
        "allocation_pools": list(sub.allocation_pools),
        "dns_nameservers": list(sub.dns_nameservers),
        "host_routes": list(sub.host_routes),
        "enable_dhcp": sub.enable_dhcp,
        "ipv6_ra_mode": sub.ipv6_ra_mode,
        "ipv6_address_mode": sub.ipv6_address_mode,
        **standard(sub, sub.project_id),
    }


# ---- ports -----------------------------------------------------------------------------


async def _fixed_ips(session: AsyncSession, port_ids: Sequence[str]) -> dict[str, list[View]]:
    out: dict[str, list[View]] = defaultdict(list)
    if port_ids:
        rows = await session.scalars(
            sa.select(m.IpAllocation).where(m.IpAllocation.port_id.in_(port_ids))
        )
        for a in rows:
            out[a.port_id].append({"subnet_id": a.subnet_id, "ip_address": a.ip_address})
    return out


async def _groups(session: AsyncSession, port_ids: Sequence[str]) -> dict[str, list[str]]:
    out: dict[str, list[str]] = defaultdict(list)
    if port_ids:
        rows = await session.execute(
            sa.select(m.PortSecurityGroup.port_id, m.PortSecurityGroup.security_group_id).where(
                m.PortSecurityGroup.port_id.in_(port_ids)
            )
        )
        for port_id, group_id in rows:
            out[port_id].append(group_id)
    return out


def port(ctx: RequestContext, p: m.Port, fixed_ips: list[View], groups: list[str]) -> View:
    view = {
        "id": p.id,
        "name": p.name,
        "network_id": p.network_id,
        "mac_address": p.mac_address,
        "admin_state_up": p.admin_state_up,
        "status": p.status,
        "device_id": p.device_id,
        "device_owner": p.device_owner,
        "fixed_ips": sorted(fixed_ips, key=lambda f: (f["subnet_id"], f["ip_address"])),
        "allowed_address_pairs": list(p.allowed_address_pairs),
        "security_groups": sorted(groups),
        "port_security_enabled": p.port_security_enabled,
        "binding:host_id": p.binding_host_id,
        "binding:vif_type": p.binding_vif_type,
        "binding:vif_details": dict(p.binding_vif_details),
        "binding:vnic_type": p.binding_vnic_type,
        "binding:profile": dict(p.binding_profile),
        **standard(p, p.project_id),
    }
    return _strip(ctx, "port", view)


async def ports(session: AsyncSession, ctx: RequestContext, rows: Sequence[m.Port]) -> list[View]:
    ids = [p.id for p in rows]
    ips, groups = await _fixed_ips(session, ids), await _groups(session, ids)
    return [port(ctx, p, ips.get(p.id, []), groups.get(p.id, [])) for p in rows]


# ---- security groups -------------------------------------------------------------------


def rule(r: m.SecurityGroupRule) -> View:
    return {
        "id": r.id,
        "security_group_id": r.security_group_id,
        "direction": r.direction,
        "ethertype": r.ethertype,
        "protocol": r.protocol,
        "port_range_min": r.port_range_min,
        "port_range_max": r.port_range_max,
        "remote_ip_prefix": r.remote_ip_prefix,
        "remote_group_id": r.remote_group_id,
        **standard(r, r.project_id),
    }


async def security_groups(session: AsyncSession, groups: Sequence[m.SecurityGroup]) -> list[View]:
    rules: dict[str, list[View]] = defaultdict(list)
    ids = [g.id for g in groups]
    if ids:
        found = await session.scalars(
            sa.select(m.SecurityGroupRule)
            .where(m.SecurityGroupRule.security_group_id.in_(ids))
            .order_by(m.SecurityGroupRule.created_at, m.SecurityGroupRule.id)
        )
        for r in found:
            rules[r.security_group_id].append(rule(r))
    return [
        {
            "id": g.id,
            "name": g.name,
            "security_group_rules": rules.get(g.id, []),
            **standard(g, g.project_id),
        }
        for g in groups
    ]
