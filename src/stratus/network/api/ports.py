"""``/v2.0/ports``: a network's attachment points, each with its MAC, addresses (IPAM),
security groups and binding.

Creates and address changes run through ``retry.retrying``: a racer that took the same
address or MAC first makes the transaction run again, never a duplicate. Deleting a
port frees its addresses with it.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.responses import Response

from stratus.common.asgi.policy import enforce
from stratus.common.asgi.routing import ApiRequest, Routes, json_response
from stratus.network import access, ipam, l3, listing, port_attrs, port_factory, views
from stratus.network import models as m
from stratus.network.api.common import READ, STANDARD, V2, WRITE, list_response, load, show_response
from stratus.network.attributes import (
    body_of,
    project_of,
    read_only,
    to_bool,
    to_mac,
)
from stratus.network.errors import bad, conflict
from stratus.network.retry import retrying
from stratus.network.state import state_of

routes = Routes("network")
PATH = f"{V2}/ports"
ITEM = PATH + "/{port_id}"
BINDING = port_factory.BINDING
UPDATABLE = (
    "name",
    "description",
    "admin_state_up",
    "device_id",
    "device_owner",
    "fixed_ips",
    "security_groups",
    "port_security_enabled",
    "allowed_address_pairs",
    "mac_address",
    *BINDING,
)
CREATE = (*UPDATABLE, "network_id", "tenant_id", "project_id")
READ_ONLY = ("network_id", "binding:vif_type", "binding:vif_details", "status")
ATTRIBUTES = (
    *STANDARD,
    "name",
    "network_id",
    "mac_address",
    "admin_state_up",
    "status",
    "device_id",
    "device_owner",
    "fixed_ips",
    "allowed_address_pairs",
    "security_groups",
    "port_security_enabled",
    "binding:host_id",
    "binding:vif_type",
    "binding:vif_details",
    "binding:vnic_type",
    "binding:profile",
)
SORTABLE = (
    "id",
    "name",
    "network_id",
    "mac_address",
    "admin_state_up",
    "status",
    "device_id",
    "device_owner",
    "created_at",
    "updated_at",
    "project_id",
    "tenant_id",
    "binding:host_id",
)
LISTED = listing.Listed("port", "ports", ATTRIBUTES, SORTABLE)


async def _create(
    req: ApiRequest, session: AsyncSession, body: dict[str, Any], project: str
) -> dict[str, Any]:
    port = await port_factory.create(req.ctx, state_of(req).settings, session, body, project)
    return (await views.ports(session, req.ctx, [port]))[0]


@routes.route("POST", PATH, rule=WRITE)
async def create_port(req: ApiRequest) -> Response:
    st = state_of(req)
    body = await body_of(req, "port", (*CREATE, *READ_ONLY))
    for name in READ_ONLY[1:]:
        if name in body:
            raise bad("HTTPBadRequest", f"Attribute '{name}' not allowed in POST")
    if "network_id" not in body:
        raise bad(
            "HTTPBadRequest",
            "Failed to parse request. Required attribute 'network_id' not specified",
        )
    project = project_of(req, body)

    async def work(session: AsyncSession) -> dict[str, Any]:
        return await _create(req, session, body, project)

    async with st.lock(project):
        view = await retrying(st.db, work)
    return json_response({"port": view}, status=201)


@routes.route("GET", PATH, rule=READ)
async def list_ports(req: ApiRequest) -> Response:
    async def views_of(session: AsyncSession) -> list[Any]:
        query = sa.select(m.Port).where(access.ports(req.ctx))
        for key, column in (("network_id", m.Port.network_id), ("device_id", m.Port.device_id)):
            if len(req.query.getlist(key)) == 1:  # narrow the read; the filter still applies
                query = query.where(column == req.query[key])
        rows = await session.scalars(query)
        return await views.ports(session, req.ctx, list(rows.all()))

    return await list_response(req, LISTED, views_of)


@routes.route("GET", ITEM, rule=READ)
async def show_port(req: ApiRequest) -> Response:
    async with state_of(req).db.session() as session:
        port = await load(session, m.Port, req.params["port_id"], access.ports(req.ctx), "port")
        view = (await views.ports(session, req.ctx, [port]))[0]
    return show_response(req, "port", view)


async def _update(req: ApiRequest, session: AsyncSession, body: dict[str, Any]) -> Any:
    port = await load(session, m.Port, req.params["port_id"], access.ports(req.ctx), "port")
    access.check_owner(req.ctx, port.project_id, "update_port")
    net = await session.get(m.Network, port.network_id)
    assert net is not None
    port_factory.owner_only(req.ctx, net, body, "update_port")
    port_factory.set_strings(port, body)
    if "mac_address" in body:
        enforce(req.ctx.is_admin, "update_port:mac_address")
        mac = to_mac(body["mac_address"])
        if mac != port.mac_address:
            if port.binding_host_id:
                raise conflict(
                    "PortBound",
                    f"Unable to complete operation on port {port.id}, port is already bound.",
                )
            port.mac_address = await port_factory.mac_for(session, net.id, mac, "")
    if "port_security_enabled" in body:
        port.port_security_enabled = to_bool(body["port_security_enabled"], "port_security_enabled")
    await _update_security(req, session, port, body)
    if "fixed_ips" in body:
        requests = ipam.parse_fixed_ips(body["fixed_ips"] or [])
        await ipam.check_subnets_exist(session, requests)
        await ipam.reallocate(session, port, requests)
        await _unmap_lost_addresses(session, port.id)
    if any(name in body for name in BINDING):
        port_attrs.apply_binding(port, body)
    else:
        port_attrs.rebind(port)
    port.touch()
    await session.flush()
    return (await views.ports(session, req.ctx, [port]))[0]


async def _update_security(
    req: ApiRequest, session: AsyncSession, port: m.Port, body: dict[str, Any]
) -> None:
    if "allowed_address_pairs" in body:
        pairs = port_attrs.address_pairs(body["allowed_address_pairs"] or [])
        port.allowed_address_pairs = port_attrs.with_port_mac(pairs, port.mac_address)
    if "security_groups" in body:
        groups = port_attrs.group_ids(body["security_groups"] or [])
        await port_attrs.check_groups(session, groups, port.project_id, req.ctx.is_admin)
    else:
        groups = list(
            (
                await session.scalars(
                    sa.select(m.PortSecurityGroup.security_group_id).where(
                        m.PortSecurityGroup.port_id == port.id
                    )
                )
            ).all()
        )
    if not port.port_security_enabled and groups and "security_groups" not in body:
        raise conflict(
            "PortSecurityPortHasSecurityGroup",
            "Port has security group associated. Cannot disable port security or ip address "
            "until security group is removed",
        )
    port_attrs.check_security(port.port_security_enabled, groups, port.allowed_address_pairs)
    if "security_groups" in body:
        await port_attrs.set_groups(session, port.id, groups)


@routes.route("PUT", ITEM, rule=WRITE)
async def update_port(req: ApiRequest) -> Response:
    body = await body_of(req, "port", (*UPDATABLE, *READ_ONLY))
    read_only(body, READ_ONLY)

    async def work(session: AsyncSession) -> Any:
        return await _update(req, session, body)

    view = await retrying(state_of(req).db, work)
    return json_response({"port": view})


async def _unmap_lost_addresses(session: AsyncSession, port_id: str) -> None:
    """Floating IPs and forwardings of addresses the port no longer holds go with them."""
    held = sa.select(m.IpAllocation.ip_address).where(m.IpAllocation.port_id == port_id)
    await session.execute(
        sa.update(m.FloatingIp)
        .where(m.FloatingIp.fixed_port_id == port_id, m.FloatingIp.fixed_ip_address.not_in(held))
        .values(fixed_port_id=None, fixed_ip_address=None, router_id=None)
    )
    await session.execute(
        sa.delete(m.PortForwarding).where(
            m.PortForwarding.internal_port_id == port_id,
            m.PortForwarding.internal_ip_address.not_in(held),
        )
    )
    await l3.release_idle_floating_ips(session)


@routes.route("DELETE", ITEM, rule=WRITE)
async def delete_port(req: ApiRequest) -> Response:
    async with state_of(req).db.session() as session:
        port = await load(session, m.Port, req.params["port_id"], access.ports(req.ctx), "port")
        access.check_owner(req.ctx, port.project_id, "delete_port")
        if port.device_owner in l3.OWNED:
            raise conflict(
                "L3PortInUse",
                f"Port {port.id} has owner {port.device_owner} and therefore cannot be deleted "
                "directly via the port API.",
            )
        await port_factory.delete(session, port)
    return Response(status_code=204)
