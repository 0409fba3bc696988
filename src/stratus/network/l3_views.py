"""Neutron's representation of routers, floating IPs and port forwardings; related rows
of a whole list are read in one query each, as ``views`` does."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from stratus.network import l3
from stratus.network import models as m
from stratus.network.views import View, standard

PORT_DETAILS = (
    "name",
    "network_id",
    "mac_address",
    "admin_state_up",
    "status",
    "device_id",
    "device_owner",
)


async def _gateway_ips(session: AsyncSession, port_ids: Sequence[str]) -> dict[str, list[View]]:
    out: dict[str, list[View]] = defaultdict(list)
    if port_ids:
        rows = await session.scalars(
            sa.select(m.IpAllocation).where(m.IpAllocation.port_id.in_(port_ids))
        )
        for a in rows:
            out[a.port_id].append({"subnet_id": a.subnet_id, "ip_address": a.ip_address})
    return out


def _gateway(r: m.Router, ips: list[View]) -> View | None:
    if r.gw_network_id is None:
        return None
    info: View = {"network_id": r.gw_network_id, "enable_snat": r.enable_snat}
    info["external_fixed_ips"] = sorted(ips, key=lambda f: (f["subnet_id"], f["ip_address"]))
    return info


async def routers(session: AsyncSession, rows: Sequence[m.Router]) -> list[View]:
    ips = await _gateway_ips(session, [r.gw_port_id for r in rows if r.gw_port_id])
    routes = await l3.routes_of(session, [r.id for r in rows])
    return [
        {
            "id": r.id,
            "name": r.name,
            "admin_state_up": r.admin_state_up,
            "status": r.status if r.admin_state_up else "DOWN",
            "external_gateway_info": _gateway(r, ips.get(r.gw_port_id or "", [])),
            "routes": routes.get(r.id, []),
            **standard(r, r.project_id),
        }
        for r in rows
    ]


def port_forwarding(pf: m.PortForwarding) -> View:
    return {
        "id": pf.id,
        "protocol": pf.protocol,
        "external_port": pf.external_port,
        "internal_port": pf.internal_port,
        "internal_port_id": pf.internal_port_id,
        "internal_ip_address": pf.internal_ip_address,
        "description": pf.description,
    }


async def _forwardings(session: AsyncSession, fip_ids: Sequence[str]) -> dict[str, list[View]]:
    out: dict[str, list[View]] = defaultdict(list)
    if fip_ids:
        rows = await session.scalars(
            sa.select(m.PortForwarding)
            .where(m.PortForwarding.floatingip_id.in_(fip_ids))
            .order_by(m.PortForwarding.external_port, m.PortForwarding.protocol)
        )
        for pf in rows:
            out[pf.floatingip_id].append(
                {k: v for k, v in port_forwarding(pf).items() if k != "description"}
            )
    return out


async def _port_details(session: AsyncSession, port_ids: Sequence[str]) -> dict[str, View]:
    if not port_ids:
        return {}
    rows = await session.scalars(sa.select(m.Port).where(m.Port.id.in_(port_ids)))
    return {p.id: {k: getattr(p, k) for k in PORT_DETAILS} for p in rows}


def fip_status(fip: m.FloatingIp) -> str:
    """ACTIVE once it is mapped to an address behind a router, DOWN before."""
    return "ACTIVE" if fip.router_id is not None and fip.fixed_port_id is not None else "DOWN"


async def floating_ips(session: AsyncSession, rows: Sequence[m.FloatingIp]) -> list[View]:
    details = await _port_details(session, [f.fixed_port_id for f in rows if f.fixed_port_id])
    forwardings = await _forwardings(session, [f.id for f in rows])
    out = []
    for f in rows:
        view: dict[str, Any] = {
            "id": f.id,
            "floating_ip_address": f.floating_ip_address,
            "floating_network_id": f.floating_network_id,
            "router_id": f.router_id,
            "port_id": f.fixed_port_id,
            "fixed_ip_address": f.fixed_ip_address,
            "status": fip_status(f),
            "port_details": details.get(f.fixed_port_id or ""),
            "port_forwardings": forwardings.get(f.id, []),
            **standard(f, f.project_id),
        }
        out.append(view)
    return out
