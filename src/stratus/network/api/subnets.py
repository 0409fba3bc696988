"""``/v2.0/subnets``: IPv4 and IPv6 ranges of a network, with their pools, gateway, DNS
servers and host routes. Validation is Neutron's: a CIDR with host bits set, pools
outside the CIDR, and subnets overlapping another of the same network are 400s;
overlapping pools and a gateway inside a pool are 409s, as Neutron's exceptions are.
"""

from __future__ import annotations

import ipaddress
from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.responses import Response

from stratus.common.asgi.routing import ApiRequest, Routes, json_response
from stratus.network import access, listing, quotas, views
from stratus.network import models as m
from stratus.network.api.common import READ, STANDARD, V2, WRITE, list_response, load, show_response
from stratus.network.attributes import (
    IpNetwork,
    body_of,
    project_of,
    read_only,
    to_bool,
    to_cidr,
    to_int,
    to_ip,
    to_list,
    to_str,
    to_uuid,
)
from stratus.network.errors import bad_request, conflict
from stratus.network.pools import check_gateway, default_pools, loaded, parse_pools, stored
from stratus.network.pools import usable_range as usable
from stratus.network.retry import retrying
from stratus.network.rpc import DHCP_OWNER
from stratus.network.state import state_of

routes = Routes("network")
PATH = f"{V2}/subnets"
ITEM = PATH + "/{subnet_id}"
IPV6_MODES = ("slaac", "dhcpv6-stateful", "dhcpv6-stateless")
MAX_DNS = 5
MAX_ROUTES = 20
UPDATABLE = (
    "name",
    "description",
    "gateway_ip",
    "allocation_pools",
    "dns_nameservers",
    "host_routes",
    "enable_dhcp",
)
IMMUTABLE = ("network_id", "ip_version", "cidr", "ipv6_ra_mode", "ipv6_address_mode")
CREATE = (*UPDATABLE, *IMMUTABLE, "tenant_id", "project_id")
ATTRIBUTES = (
    *STANDARD,
    "name",
    "network_id",
    "ip_version",
    "cidr",
    "gateway_ip",
    "allocation_pools",
    "dns_nameservers",
    "host_routes",
    "enable_dhcp",
    "ipv6_ra_mode",
    "ipv6_address_mode",
)
SORTABLE = (
    "id",
    "name",
    "network_id",
    "ip_version",
    "cidr",
    "gateway_ip",
    "enable_dhcp",
    "created_at",
    "updated_at",
    "project_id",
    "tenant_id",
)
LISTED = listing.Listed("subnet", "subnets", ATTRIBUTES, SORTABLE)


def _ipv6_modes(body: dict[str, Any], version: int, net: IpNetwork) -> tuple[str | None, ...]:
    modes = tuple(body.get(k) for k in ("ipv6_ra_mode", "ipv6_address_mode"))
    for name, mode in zip(("ipv6_ra_mode", "ipv6_address_mode"), modes, strict=True):
        if mode is None:
            continue
        if version == 4:
            raise bad_request(f"{name} is not valid when ip_version is 4")
        if mode not in IPV6_MODES:
            raise bad_request(f"'{mode}' is not in {list(IPV6_MODES)} for {name}")
    ra, address = modes
    if ra is not None and address is not None and ra != address:
        raise bad_request(
            f"ipv6_ra_mode set to '{ra}' with ipv6_address_mode set to '{address}' is not "
            "valid. If both attributes are set, they must be the same value"
        )
    if address in ("slaac", "dhcpv6-stateless") and net.prefixlen != 64:
        raise bad_request(
            f"Invalid CIDR {net} for IPv6 address mode. OpenStack uses the EUI-64 address "
            "format, which requires the prefix to be /64"
        )
    return modes


def _dns(value: Any, version: int) -> list[str]:
    servers = [str(to_ip(v, "dns_nameservers")) for v in to_list(value, "dns_nameservers")]
    if len(servers) != len(set(servers)):
        raise bad_request("Duplicate nameserver in dns_nameservers")
    if len(servers) > MAX_DNS:
        raise bad_request(f"Number of DNS nameservers exceeds the limit {MAX_DNS}")
    return servers


def _routes(value: Any, version: int) -> list[dict[str, str]]:
    out = []
    for item in to_list(value, "host_routes"):
        if not isinstance(item, dict) or set(item) != {"destination", "nexthop"}:
            raise bad_request(f"Invalid data format for hostroute: '{item}'")
        dest, hop = to_cidr(item["destination"], "destination"), to_ip(item["nexthop"], "nexthop")
        if dest.version != version or hop.version != version:
            raise bad_request(f"Host route {item} does not match the subnet's IP version")
        out.append({"destination": str(dest), "nexthop": str(hop)})
    if len({(r["destination"], r["nexthop"]) for r in out}) != len(out):
        raise bad_request("Duplicate hostroute in host_routes")
    if len(out) > MAX_ROUTES:
        raise bad_request(f"Number of host routes exceeds the limit {MAX_ROUTES}")
    return out


def _gateway(body: dict[str, Any], net: IpNetwork) -> str | None:
    if "gateway_ip" not in body:
        span = usable(net)
        return None if span is None else str(span[0])
    if body["gateway_ip"] is None:
        return None
    return str(check_gateway(net, body["gateway_ip"]))


def _address(value: str | None) -> Any:
    return None if value is None else ipaddress.ip_address(value)


def _new_subnet(body: dict[str, Any], project: str) -> m.Subnet:
    for name in ("network_id", "ip_version", "cidr"):
        if name not in body:
            raise bad_request(f"'{name}' is a required attribute")
    version = to_int(body["ip_version"], "ip_version")
    if version not in (4, 6):
        raise bad_request(f"'{version}' is not in [4, 6] for ip_version")
    net = to_cidr(body["cidr"])
    if net.version != version:
        raise bad_request(f"Cidr {net} does not match ip_version {version}")
    if usable(net) is None:
        raise bad_request(f"Subnet {net} has no address for a host")
    ra, address = _ipv6_modes(body, version, net)
    gateway = _gateway(body, net)
    if "allocation_pools" in body and body["allocation_pools"] is not None:
        pools = parse_pools(net, body["allocation_pools"], _address(gateway))
    else:
        pools = default_pools(net, _address(gateway))
    sub = m.Subnet(
        id=m.new_uuid(),
        project_id=project,
        network_id=to_uuid(body["network_id"], "network_id"),
        ip_version=version,
        cidr=str(net),
        gateway_ip=gateway,
        ipv6_ra_mode=ra,
        ipv6_address_mode=address,
        allocation_pools=stored(pools),
        dns_nameservers=_dns(body.get("dns_nameservers") or [], version),
        host_routes=_routes(body.get("host_routes") or [], version),
        enable_dhcp=to_bool(body.get("enable_dhcp", True), "enable_dhcp"),
    )
    for name in ("name", "description"):
        if name in body:
            setattr(sub, name, to_str(body[name], name))
    return sub


async def _check_overlap(session: AsyncSession, sub: m.Subnet) -> None:
    net = ipaddress.ip_network(sub.cidr)
    others = await session.scalars(
        sa.select(m.Subnet.cidr).where(m.Subnet.network_id == sub.network_id)
    )
    for other in others:
        if net.overlaps(ipaddress.ip_network(other)):
            raise bad_request(
                f"Requested subnet with cidr: {sub.cidr} for network: {sub.network_id} "
                "overlaps with another subnet"
            )


@routes.route("POST", PATH, rule=WRITE)
async def create_subnet(req: ApiRequest) -> Response:
    st = state_of(req)
    body = await body_of(req, "subnet", CREATE)
    project = project_of(req, body)
    sub = _new_subnet(body, project)

    async def work(session: AsyncSession) -> Any:
        network = await load(
            session, m.Network, sub.network_id, access.networks(req.ctx), "network"
        )
        access.check_owner(req.ctx, network.project_id, "create_subnet")
        await quotas.check(st.settings, session, "subnet", project)
        await _check_overlap(session, sub)
        fresh = _new_subnet(body, project)  # a new row for each attempt
        session.add(fresh)
        await session.flush()
        return views.subnet(fresh)

    async with st.lock(project):
        view = await retrying(st.db, work)
    return json_response({"subnet": view}, status=201)


@routes.route("GET", PATH, rule=READ)
async def list_subnets(req: ApiRequest) -> Response:
    async def views_of(session: AsyncSession) -> list[Any]:
        rows = await session.scalars(sa.select(m.Subnet).where(access.subnets(req.ctx)))
        return [views.subnet(s) for s in rows]

    return await list_response(req, LISTED, views_of)


@routes.route("GET", ITEM, rule=READ)
async def show_subnet(req: ApiRequest) -> Response:
    async with state_of(req).db.session() as session:
        sub = await load(
            session, m.Subnet, req.params["subnet_id"], access.subnets(req.ctx), "subnet"
        )
    return show_response(req, "subnet", views.subnet(sub))


async def _update(session: AsyncSession, sub: m.Subnet, body: dict[str, Any]) -> None:
    net = ipaddress.ip_network(sub.cidr)
    gateway = _gateway(body, net) if "gateway_ip" in body else sub.gateway_ip
    if gateway != sub.gateway_ip and gateway is not None:
        holder = await session.scalar(
            sa.select(m.IpAllocation.port_id).where(
                m.IpAllocation.subnet_id == sub.id, m.IpAllocation.ip_address == gateway
            )
        )
        if holder is not None:
            raise conflict(
                "GatewayIpInUse", f"Gateway ip {gateway} already in use by port {holder}."
            )
    if "allocation_pools" in body:
        pools = parse_pools(net, body["allocation_pools"] or [], _address(gateway))
    else:
        pools = parse_pools(net, stored(loaded(sub.allocation_pools)), _address(gateway))
    sub.gateway_ip = gateway
    sub.allocation_pools = stored(pools)
    if "dns_nameservers" in body:
        sub.dns_nameservers = _dns(body["dns_nameservers"] or [], sub.ip_version)
    if "host_routes" in body:
        sub.host_routes = _routes(body["host_routes"] or [], sub.ip_version)
    if "enable_dhcp" in body:
        sub.enable_dhcp = to_bool(body["enable_dhcp"], "enable_dhcp")
    for name in ("name", "description"):
        if name in body:
            setattr(sub, name, to_str(body[name], name))
    sub.touch()


@routes.route("PUT", ITEM, rule=WRITE)
async def update_subnet(req: ApiRequest) -> Response:
    body = await body_of(req, "subnet", (*UPDATABLE, *IMMUTABLE))
    read_only(body, IMMUTABLE)
    async with state_of(req).db.session() as session:
        sub = await load(
            session, m.Subnet, req.params["subnet_id"], access.subnets(req.ctx), "subnet"
        )
        access.check_owner(req.ctx, sub.project_id, "update_subnet")
        await _update(session, sub, body)
        await session.flush()
        view = views.subnet(sub)
    return json_response({"subnet": view})


def _in_use(subnet_id: str) -> Exception:
    return conflict(
        "SubnetInUse",
        f"Unable to complete operation on subnet {subnet_id}: One or more ports have an IP "
        "allocation from this subnet.",
    )


@routes.route("DELETE", ITEM, rule=WRITE)
async def delete_subnet(req: ApiRequest) -> Response:
    subnet_id = req.params["subnet_id"]
    try:
        async with state_of(req).db.session() as session:
            sub = await load(session, m.Subnet, subnet_id, access.subnets(req.ctx), "subnet")
            access.check_owner(req.ctx, sub.project_id, "delete_subnet")
            dhcp = sa.select(m.Port.id).where(m.Port.device_owner == DHCP_OWNER)
            held = await session.scalar(
                sa.select(sa.func.count())
                .select_from(m.IpAllocation)
                .where(m.IpAllocation.subnet_id == sub.id, m.IpAllocation.port_id.not_in(dhcp))
            )
            if held:
                raise _in_use(sub.id)
            # the agents' DHCP ports give their address on it back, as in Neutron
            await session.execute(
                sa.delete(m.IpAllocation).where(m.IpAllocation.subnet_id == sub.id)
            )
            await session.delete(sub)
    except IntegrityError:  # a port took an address while we checked
        raise _in_use(subnet_id) from None
    return Response(status_code=204)
