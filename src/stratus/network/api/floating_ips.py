"""``/v2.0/floatingips``: public addresses of an external network, mapped 1:1 to a port's
fixed IPv4 address behind a router whose gateway is on that network.

The address is held by a port of the external network (``network:floatingip``). One fixed
address has at most one floating IP per external network (409, and a unique key for the
races); deleting the port behind one disassociates it.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.responses import Response

from stratus.common.asgi.policy import enforce
from stratus.common.asgi.routing import ApiRequest, Routes, json_response
from stratus.network import access, ipam, l3, l3_views, listing, quotas
from stratus.network import models as m
from stratus.network.api.common import READ, STANDARD, V2, WRITE, list_response, load, show_response
from stratus.network.attributes import body_of, project_of, to_ip, to_str, to_uuid
from stratus.network.errors import bad, conflict
from stratus.network.retry import retrying
from stratus.network.state import state_of

routes = Routes("network")
PATH = f"{V2}/floatingips"
ITEM = PATH + "/{floatingip_id}"
UPDATABLE = ("port_id", "fixed_ip_address", "description")
CREATE = (
    *UPDATABLE,
    "floating_network_id",
    "floating_ip_address",
    "subnet_id",
    "tenant_id",
    "project_id",
)
ATTRIBUTES = (
    *STANDARD,
    "floating_ip_address",
    "floating_network_id",
    "router_id",
    "port_id",
    "fixed_ip_address",
    "status",
    "port_details",
    "port_forwardings",
)
SORTABLE = (
    "id",
    "floating_ip_address",
    "floating_network_id",
    "router_id",
    "port_id",
    "fixed_ip_address",
    "status",
    "created_at",
    "updated_at",
    "project_id",
    "tenant_id",
)
LISTED = listing.Listed("floatingip", "floatingips", ATTRIBUTES, SORTABLE)


async def associate(
    req: ApiRequest, session: AsyncSession, fip: m.FloatingIp, port_id: Any, fixed: Any
) -> None:
    """Map ``fip`` to the port's address (``port_id`` None: unmap it)."""
    if port_id is None:
        fip.fixed_port_id = fip.fixed_ip_address = fip.router_id = None
        return
    port = await load(session, m.Port, to_uuid(port_id, "port_id"), access.ports(req.ctx), "port")
    if port.project_id != fip.project_id and not req.ctx.is_admin:
        raise bad(
            "BadRequest",
            f"Bad floatingip request: Cannot create floating IP and bind it to Port {port.id}, "
            "since that port is owned by a different tenant.",
        )
    if await session.scalar(
        sa.select(m.PortForwarding.id).where(m.PortForwarding.floatingip_id == fip.id).limit(1)
    ):
        raise conflict(
            "FipInUseByPortForwarding", f"Floating IP {fip.id} in use by Port Forwarding resources."
        )
    given = None if fixed is None else str(to_ip(fixed, "fixed_ip_address"))
    ip, subnet = await l3.fixed_address(session, port, given, "floatingip")
    router_id = await l3.router_for(session, fip.floating_network_id, subnet, port.id)
    taken = await session.scalar(
        sa.select(m.FloatingIp.id).where(
            m.FloatingIp.floating_network_id == fip.floating_network_id,
            m.FloatingIp.fixed_port_id == port.id,
            m.FloatingIp.fixed_ip_address == ip,
            m.FloatingIp.id != fip.id,
        )
    )
    if taken is not None:
        raise conflict(
            "FloatingIPPortAlreadyAssociated",
            f"Cannot associate floating IP {fip.floating_ip_address} ({fip.id}) with port "
            f"{port.id} using fixed IP {ip}, as that fixed IP already has a floating IP on "
            f"external network {fip.floating_network_id}.",
        )
    fip.fixed_port_id, fip.fixed_ip_address, fip.router_id = port.id, ip, router_id


def _address_request(req: ApiRequest, body: dict[str, Any]) -> list[ipam.IpRequest] | None:
    """The floating address asked for: a specific one is the admin's to choose."""
    if "floating_ip_address" in body:
        enforce(req.ctx.is_admin, "create_floatingip:floating_ip_address")
    subnet = to_uuid(body["subnet_id"], "subnet_id") if body.get("subnet_id") else None
    address = body.get("floating_ip_address")
    ip = to_ip(address, "floating_ip_address") if address is not None else None
    if subnet is None and ip is None:
        return None
    return [ipam.IpRequest(subnet, ip)]


async def _create(
    req: ApiRequest, session: AsyncSession, body: dict[str, Any], project: str
) -> Any:
    st = state_of(req)
    net = await l3.external_network(
        session, to_uuid(body["floating_network_id"], "floating_network_id"), "floatingip"
    )
    await quotas.check(st.settings, session, "floatingip", project)
    fip = m.FloatingIp(id=m.new_uuid(), project_id=project, floating_network_id=net.id)
    requests = _address_request(req, body)
    if requests:
        await ipam.check_subnets_exist(session, requests)
    port = await l3.new_port(
        session,
        st.settings,
        network=net,
        owner=l3.FLOATING,
        device_id=fip.id,
        project_id="",
        requests=requests,
    )
    address = await session.scalar(
        sa.select(m.IpAllocation.ip_address)
        .join(m.Subnet, m.Subnet.id == m.IpAllocation.subnet_id)
        .where(m.IpAllocation.port_id == port.id, m.Subnet.ip_version == 4)
    )
    if address is None:
        raise bad(
            "BadRequest", f"Bad floatingip request: No IPv4 subnet on external network {net.id}."
        )
    fip.floating_ip_address, fip.floating_port_id = address, port.id
    if "description" in body:
        fip.description = to_str(body["description"], "description")
    await associate(req, session, fip, body.get("port_id"), body.get("fixed_ip_address"))
    session.add(fip)
    await session.flush()
    return (await l3_views.floating_ips(session, [fip]))[0]


@routes.route("POST", PATH, rule=WRITE)
async def create_floatingip(req: ApiRequest) -> Response:
    st = state_of(req)
    body = await body_of(req, "floatingip", CREATE)
    if "floating_network_id" not in body:
        raise bad(
            "HTTPBadRequest",
            "Failed to parse request. Required attribute 'floating_network_id' not specified",
        )
    project = project_of(req, body)

    async def work(session: AsyncSession) -> Any:
        return await _create(req, session, body, project)

    async with st.lock(project):
        view = await retrying(st.db, work)
    return json_response({"floatingip": view}, status=201)


@routes.route("GET", PATH, rule=READ)
async def list_floatingips(req: ApiRequest) -> Response:
    async def views_of(session: AsyncSession) -> list[Any]:
        rows = await session.scalars(sa.select(m.FloatingIp).where(access.floating_ips(req.ctx)))
        return await l3_views.floating_ips(session, list(rows.all()))

    return await list_response(req, LISTED, views_of)


@routes.route("GET", ITEM, rule=READ)
async def show_floatingip(req: ApiRequest) -> Response:
    async with state_of(req).db.session() as session:
        fip = await load(
            session,
            m.FloatingIp,
            req.params["floatingip_id"],
            access.floating_ips(req.ctx),
            "floatingip",
        )
        view = (await l3_views.floating_ips(session, [fip]))[0]
    return show_response(req, "floatingip", view)


@routes.route("PUT", ITEM, rule=WRITE)
async def update_floatingip(req: ApiRequest) -> Response:
    body = await body_of(req, "floatingip", UPDATABLE)

    async def work(session: AsyncSession) -> Any:
        fip = await load(
            session,
            m.FloatingIp,
            req.params["floatingip_id"],
            access.floating_ips(req.ctx),
            "floatingip",
        )
        access.check_owner(req.ctx, fip.project_id, "update_floatingip")
        if "description" in body:
            fip.description = to_str(body["description"] or "", "description")
        if "port_id" in body:
            await associate(req, session, fip, body["port_id"], body.get("fixed_ip_address"))
        fip.touch()
        await session.flush()
        return (await l3_views.floating_ips(session, [fip]))[0]

    view = await retrying(state_of(req).db, work)
    return json_response({"floatingip": view})


@routes.route("DELETE", ITEM, rule=WRITE)
async def delete_floatingip(req: ApiRequest) -> Response:
    async with state_of(req).db.session() as session:
        fip = await load(
            session,
            m.FloatingIp,
            req.params["floatingip_id"],
            access.floating_ips(req.ctx),
            "floatingip",
        )
        access.check_owner(req.ctx, fip.project_id, "delete_floatingip")
        await session.execute(
            sa.delete(m.PortForwarding).where(m.PortForwarding.floatingip_id == fip.id)
        )
        port_id = fip.floating_port_id
        await session.delete(fip)
        await session.flush()
        await l3.delete_port(session, port_id)
    return Response(status_code=204)
