"""What routers and floating IPs share: the ports they own, gateways and routes.

A router's gateway and interfaces, and a floating IP's address, are ordinary ports
(device owner ``network:router_*`` / ``network:floatingip``, device id the owner's id),
so IPAM, MAC uniqueness and "network/subnet in use" work on them unchanged.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from stratus.network import ipam, macs
from stratus.network import models as m
from stratus.network.attributes import IpNetwork, to_bool, to_cidr, to_ip, to_list
from stratus.network.errors import bad, bad_request, conflict, missing, not_found
from stratus.network.settings import NetworkSettings

GATEWAY = "network:router_gateway"
INTERFACE = "network:router_interface"
FLOATING = "network:floatingip"
OWNED = (GATEWAY, INTERFACE, FLOATING)


def bad_router(message: str) -> Exception:
    return bad("BadRequest", f"Bad router request: {message}")


async def new_port(
    session: AsyncSession,
    cfg: NetworkSettings,
    *,
    network: m.Network,
    owner: str,
    device_id: str,
    project_id: str,
    requests: Sequence[ipam.IpRequest] | None = None,
) -> m.Port:
    """A service port with its addresses (flushed: a lost address race raises here)."""
    port = m.Port(
        id=m.new_uuid(),
        project_id=project_id,
        network_id=network.id,
        device_owner=owner,
        device_id=device_id,
        port_security_enabled=False,
        mac_address=macs.generate(cfg.base_mac),
    )
    session.add(port)
    await session.flush()
    await ipam.allocate(session, port, requests)
    return port


async def delete_port(session: AsyncSession, port_id: str) -> None:
    await session.execute(sa.delete(m.IpAllocation).where(m.IpAllocation.port_id == port_id))
    await session.execute(
        sa.delete(m.PortSecurityGroup).where(m.PortSecurityGroup.port_id == port_id)
    )
    await session.execute(sa.delete(m.Port).where(m.Port.id == port_id))


@dataclass(frozen=True)
class Attached:
    """One address a router holds on a subnet (gateway or interface)."""

    port: m.Port
    subnet: m.Subnet
    ip_address: str

    @property
    def cidr(self) -> IpNetwork:
        return ipaddress.ip_network(self.subnet.cidr)


async def attached(session: AsyncSession, router_id: str, owners: Sequence[str]) -> list[Attached]:
    """The router's addresses on ports of the given owners, in creation order."""
    rows = await session.execute(
        sa.select(m.Port, m.Subnet, m.IpAllocation.ip_address)
        .join(m.IpAllocation, m.IpAllocation.port_id == m.Port.id)
        .join(m.Subnet, m.Subnet.id == m.IpAllocation.subnet_id)
        .where(m.Port.device_id == router_id, m.Port.device_owner.in_(owners))
        .order_by(m.Port.created_at, m.Port.id)
    )
    return [Attached(port, subnet, ip) for port, subnet, ip in rows]


async def interface_ports(session: AsyncSession, router_id: str) -> list[m.Port]:
    rows = await session.scalars(
        sa.select(m.Port).where(m.Port.device_id == router_id, m.Port.device_owner == INTERFACE)
    )
    return list(rows.all())


# ---- external gateway ------------------------------------------------------------------


@dataclass(frozen=True)
class GatewayRequest:
    network_id: str
    enable_snat: bool | None
    fixed_ips: list[ipam.IpRequest] | None


def parse_gateway(value: Any) -> GatewayRequest | None:
    """``external_gateway_info``: null or ``{}`` clears the gateway."""
    if value is None or value == {}:
        return None
    if not isinstance(value, dict) or set(value) - {
        "network_id",
        "enable_snat",
        "external_fixed_ips",
    }:
        raise bad_request(f"Invalid data format for external_gateway_info: '{value}'")
    if "network_id" not in value:
        raise bad_request("'network_id' is required in external_gateway_info")
    network_id = value["network_id"]
    if not isinstance(network_id, str):
        raise bad_request(f"'{network_id}' is not a valid UUID for network_id")
    snat = value.get("enable_snat")
    fixed = value.get("external_fixed_ips")
    return GatewayRequest(
        network_id=network_id,
        enable_snat=None if snat is None else to_bool(snat, "enable_snat"),
        fixed_ips=None if fixed is None else ipam.parse_fixed_ips(fixed),
    )


async def external_network(session: AsyncSession, network_id: str, kind: str) -> m.Network:
    """The external network a gateway or a floating IP is on (any caller may use one)."""
    found = await session.scalar(
        sa.select(m.Network).where(m.Network.id == network_id, m.Network.external)
    )
    if found is not None:
        return found
    if await session.get(m.Network, network_id) is None:
        raise not_found("network", network_id)
    if kind == "router":
        raise bad_router(f"Network {network_id} is not an external network")
    raise bad(
        "BadRequest", f"Bad {kind} request: Network {network_id} is not a valid external network."
    )


async def set_gateway(
    session: AsyncSession, cfg: NetworkSettings, router: m.Router, req: GatewayRequest | None
) -> None:
    """Point the router's gateway at ``req`` (None: remove it), keeping the port when the
    network stays the same."""
    if req is not None and req.network_id == router.gw_network_id and router.gw_port_id:
        if req.enable_snat is not None:
            router.enable_snat = req.enable_snat
        if req.fixed_ips is not None:
            port = await session.get(m.Port, router.gw_port_id)
            assert port is not None
            await ipam.check_subnets_exist(session, req.fixed_ips)
            await ipam.reallocate(session, port, req.fixed_ips)
        return
    if router.gw_port_id is not None:
        await remove_gateway(session, router)
    if req is None:
        router.enable_snat = True
        return
    net = await external_network(session, req.network_id, "router")
    if req.fixed_ips:
        await ipam.check_subnets_exist(session, req.fixed_ips)
    port = await new_port(
        session,
        cfg,
        network=net,
        owner=GATEWAY,
        device_id=router.id,
        project_id="",
        requests=req.fixed_ips,
    )
    if not await session.scalar(
        sa.select(m.IpAllocation.ip_address).where(m.IpAllocation.port_id == port.id)
    ):
        raise bad_router(f"No IPs available for external network {net.id}")
    router.gw_port_id, router.gw_network_id = port.id, net.id
    router.enable_snat = True if req.enable_snat is None else req.enable_snat
    await session.flush()


async def remove_gateway(session: AsyncSession, router: m.Router) -> None:
    in_use = await session.scalar(
        sa.select(m.FloatingIp.id).where(m.FloatingIp.router_id == router.id).limit(1)
    )
    if in_use is not None:
        raise conflict(
            "RouterExternalGatewayInUseByFloatingIp",
            f"Gateway cannot be updated for router {router.id}, since a gateway to external "
            f"network {router.gw_network_id} is required by one or more floating IPs.",
        )
    port_id = router.gw_port_id
    router.gw_port_id = router.gw_network_id = None
    await session.flush()
    if port_id is not None:
        await delete_port(session, port_id)


# ---- static routes (extraroute) --------------------------------------------------------


def parse_routes(value: Any, limit: int, router_id: str) -> list[dict[str, str]]:
    out: list[dict[str, str]] = []
    for item in to_list(value, "routes"):
        if not isinstance(item, dict) or set(item) != {"destination", "nexthop"}:
            raise bad_request(f"Invalid data format for hostroute: '{item}'")
        dest, hop = to_cidr(item["destination"], "destination"), to_ip(item["nexthop"], "nexthop")
        route = {"destination": str(dest), "nexthop": str(hop)}
        if route not in out:
            out.append(route)
    if len(out) > limit:
        raise bad(
            "RoutesExhausted",
            f"Unable to complete operation for {router_id}. The number of routes exceeds "
            f"the maximum {limit}.",
        )
    return out


async def check_routes(session: AsyncSession, router_id: str, routes: list[dict[str, str]]) -> None:
    """Each nexthop must be on a subnet the router is connected to, and not its own."""
    held = await attached(session, router_id, (GATEWAY, INTERFACE))
    for route in routes:
        hop = ipaddress.ip_address(route["nexthop"])
        reason = None
        if any(str(hop) == a.ip_address for a in held):
            reason = "the nexthop is used by router"
        elif not any(hop in a.cidr for a in held):
            reason = "the nexthop is not connected with router"
        if reason is not None:
            raise bad("InvalidRoutes", f"Invalid format for routes: {[route]}, {reason}")


async def routes_of(
    session: AsyncSession, router_ids: Sequence[str]
) -> dict[str, list[dict[str, str]]]:
    out: dict[str, list[dict[str, str]]] = {r: [] for r in router_ids}
    if router_ids:
        rows = await session.scalars(
            sa.select(m.RouterRoute)
            .where(m.RouterRoute.router_id.in_(router_ids))
            .order_by(m.RouterRoute.destination, m.RouterRoute.nexthop)
        )
        for r in rows:
            out[r.router_id].append({"destination": r.destination, "nexthop": r.nexthop})
    return out


async def replace_routes(
    session: AsyncSession, router_id: str, routes: list[dict[str, str]]
) -> None:
    await session.execute(sa.delete(m.RouterRoute).where(m.RouterRoute.router_id == router_id))
    for route in routes:
        session.add(m.RouterRoute(router_id=router_id, **route))
    await session.flush()


# ---- the router behind a floating IP ---------------------------------------------------


async def router_for(
    session: AsyncSession, external_id: str, subnet: m.Subnet, port_id: str
) -> str:
    """The router with a gateway on ``external_id`` and an interface on ``subnet``."""
    found = await session.scalar(
        sa.select(m.Router.id)
        .join(m.Port, m.Port.device_id == m.Router.id)
        .join(m.IpAllocation, m.IpAllocation.port_id == m.Port.id)
        .where(
            m.Router.gw_network_id == external_id,
            m.Port.device_owner == INTERFACE,
            m.IpAllocation.subnet_id == subnet.id,
        )
        .order_by(m.Router.created_at)
        .limit(1)
    )
    if found is None:
        raise not_found_gateway(external_id, subnet.id, port_id)
    return str(found)


def not_found_gateway(external_id: str, subnet_id: str, port_id: str) -> Exception:
    return missing(
        "ExternalGatewayForFloatingIPNotFound",
        f"External network {external_id} is not reachable from subnet {subnet_id}.  "
        f"Therefore, cannot associate Port {port_id} with a Floating IP.",
    )


async def fixed_address(
    session: AsyncSession, port: m.Port, given: str | None, kind: str
) -> tuple[str, m.Subnet]:
    """The port's IPv4 address a floating IP or port forwarding maps to."""
    rows = await session.execute(
        sa.select(m.IpAllocation.ip_address, m.Subnet)
        .join(m.Subnet, m.Subnet.id == m.IpAllocation.subnet_id)
        .where(m.IpAllocation.port_id == port.id, m.Subnet.ip_version == 4)
    )
    held = [(ip, subnet) for ip, subnet in rows]
    if given is not None:
        for ip, subnet in held:
            if ip == given:
                return ip, subnet
        raise bad(
            "BadRequest", f"Bad {kind} request: Port {port.id} does not have fixed ip {given}."
        )
    if not held:
        raise bad(
            "BadRequest",
            f"Bad {kind} request: Cannot add floating IP to port {port.id} that has no fixed "
            "IPv4 addresses.",
        )
    if len(held) > 1:
        raise bad(
            "BadRequest",
            f"Bad {kind} request: Port {port.id} has multiple fixed IPv4 addresses. Must "
            "provide a specific IPv4 address when assigning a floating IP.",
        )
    return held[0]


async def release_idle_floating_ips(session: AsyncSession) -> None:
    """Floating IPs neither mapped nor forwarding no longer need their router."""
    forwarding = sa.select(m.PortForwarding.floatingip_id)
    await session.execute(
        sa.update(m.FloatingIp)
        .where(
            m.FloatingIp.router_id.is_not(None),
            m.FloatingIp.fixed_port_id.is_(None),
            m.FloatingIp.id.not_in(forwarding),
        )
        .values(router_id=None)
    )
