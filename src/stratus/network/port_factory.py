"""Making a port: the one path shared by ``POST /v2.0/ports`` and the ports compute binds
for its servers (``bindings.py``), so both check the same rules with the caller's context.

Callers run it inside ``retry.retrying``: a racer that took the same address or MAC first
fails the flush and the whole transaction runs again.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from stratus.common.asgi.policy import enforce
from stratus.common.context import RequestContext
from stratus.network import access, default_group, ipam, l3, macs, port_attrs, quotas
from stratus.network import models as m
from stratus.network.api.common import load
from stratus.network.attributes import to_bool, to_mac, to_str, to_uuid
from stratus.network.errors import conflict
from stratus.network.settings import NetworkSettings

BINDING = ("binding:host_id", "binding:profile", "binding:vnic_type")


def owner_only(ctx: RequestContext, net: m.Network, body: dict[str, Any], action: str) -> None:
    """What only the network's owner (or an admin) may set on a port of it."""
    owner = access.owns(ctx, net.project_id)
    for name in ("mac_address", "allowed_address_pairs", "port_security_enabled"):
        if name in body:
            enforce(owner, f"{action}:{name}")
    if any("ip_address" in f for f in body.get("fixed_ips") or [] if isinstance(f, dict)):
        enforce(owner, f"{action}:fixed_ips:ip_address")
    if str(body.get("device_owner") or "").startswith("network:"):
        enforce(owner, f"{action}:device_owner")
    for name in BINDING:
        if name in body:
            enforce(ctx.is_admin, f"{action}:{name}")


def set_strings(port: m.Port, body: dict[str, Any]) -> None:
    for name in ("name", "description", "device_id", "device_owner"):
        if name in body:
            setattr(port, name, to_str(body[name] or "", name))
    if "admin_state_up" in body:
        port.admin_state_up = to_bool(body["admin_state_up"], "admin_state_up")


async def network_for_port(
    ctx: RequestContext, session: AsyncSession, network_id: str
) -> m.Network:
    net = await load(session, m.Network, network_id, access.networks(ctx), "network")
    if not (net.shared or access.owns(ctx, net.project_id)):
        enforce(False, "create_port")
    return net


async def _groups_for(
    ctx: RequestContext, session: AsyncSession, port: m.Port, body: dict[str, Any]
) -> list[str]:
    if "security_groups" in body:
        groups = port_attrs.group_ids(body["security_groups"] or [])
        await port_attrs.check_groups(session, groups, port.project_id, ctx.is_admin)
        return groups
    if port.port_security_enabled and not port.device_owner.startswith("network:"):
        return [await default_group.ensure(session, port.project_id)]
    return []


async def create(
    ctx: RequestContext,
    settings: NetworkSettings,
    session: AsyncSession,
    body: dict[str, Any],
    project: str,
) -> m.Port:
    """A new port from a Neutron port body, checked as the caller (flushed, not committed)."""
    network_id = to_uuid(body.get("network_id"), "network_id")
    net = await network_for_port(ctx, session, network_id)
    owner_only(ctx, net, body, "create_port")
    await quotas.check(settings, session, "port", project)
    requests = ipam.parse_fixed_ips(body["fixed_ips"]) if "fixed_ips" in body else None
    if requests:
        await ipam.check_subnets_exist(session, requests)
    port = m.Port(id=m.new_uuid(), project_id=project, network_id=net.id)
    set_strings(port, body)
    port.port_security_enabled = to_bool(
        body.get("port_security_enabled", net.port_security_enabled), "port_security_enabled"
    )
    port.mac_address = await mac_for(session, net.id, body.get("mac_address"), settings.base_mac)
    pairs = port_attrs.address_pairs(body.get("allowed_address_pairs") or [])
    port.allowed_address_pairs = port_attrs.with_port_mac(pairs, port.mac_address)
    groups = await _groups_for(ctx, session, port, body)
    port_attrs.check_security(port.port_security_enabled, groups, pairs)
    port_attrs.apply_binding(port, body)
    session.add(port)
    await session.flush()
    await ipam.allocate(session, port, requests)
    await port_attrs.set_groups(session, port.id, groups)
    await session.flush()
    return port


async def mac_for(session: AsyncSession, network_id: str, given: Any, base: str) -> str:
    if given is None:
        return macs.generate(base)  # a collision fails the flush and the create is retried
    mac = to_mac(given)
    taken = await session.scalar(
        sa.select(m.Port.id).where(m.Port.network_id == network_id, m.Port.mac_address == mac)
    )
    if taken is not None:
        raise conflict(
            "MacAddressInUse",
            f"Unable to complete operation for network {network_id}. "
            f"The mac address {mac} is in use.",
        )
    return mac


async def delete(session: AsyncSession, port: m.Port) -> None:
    """A port and what hangs on it: its addresses and groups, and the floating IP
    mappings and port forwardings of its addresses (a deleted port takes them along)."""
    await session.execute(
        sa.update(m.FloatingIp)
        .where(m.FloatingIp.fixed_port_id == port.id)
        .values(fixed_port_id=None, fixed_ip_address=None, router_id=None)
    )
    await session.execute(
        sa.delete(m.PortForwarding).where(m.PortForwarding.internal_port_id == port.id)
    )
    await l3.release_idle_floating_ips(session)
    await session.execute(sa.delete(m.IpAllocation).where(m.IpAllocation.port_id == port.id))
    await session.execute(
        sa.delete(m.PortSecurityGroup).where(m.PortSecurityGroup.port_id == port.id)
    )
    await session.delete(port)
