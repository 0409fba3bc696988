"""``/v2.0/networks``: tenant networks (a VXLAN segment each) and, for admins, shared,
external and provider networks.

A network with ports cannot be deleted (409 ``NetworkInUse``); its subnets go with it.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.responses import Response

from stratus.common.asgi.policy import enforce
from stratus.common.asgi.routing import ApiRequest, Routes, json_response
from stratus.network import (
    access,
    auto_allocate,
    default_group,
    l3,
    listing,
    quotas,
    segments,
    views,
)
from stratus.network import models as m
from stratus.network.api.common import READ, STANDARD, V2, WRITE, list_response, load, show_response
from stratus.network.attributes import body_of, project_of, read_only, to_bool, to_int, to_str
from stratus.network.errors import bad_request, conflict
from stratus.network.retry import retrying
from stratus.network.rpc import DHCP_OWNER
from stratus.network.settings import NetworkSettings
from stratus.network.state import state_of

routes = Routes("network")
PATH = f"{V2}/networks"
ITEM = PATH + "/{network_id}"
ADMIN_ATTRS = ("shared", "router:external", "is_default", *segments.PROVIDER_ATTRS)
UPDATABLE = (
    "name",
    "description",
    "admin_state_up",
    "mtu",
    "port_security_enabled",
    "shared",
    "router:external",
    "is_default",
)
CREATE = (*UPDATABLE, *segments.PROVIDER_ATTRS, "tenant_id", "project_id")
ATTRIBUTES = (
    *STANDARD,
    "name",
    "admin_state_up",
    "status",
    "subnets",
    "shared",
    "router:external",
    "mtu",
    "port_security_enabled",
    "is_default",
    *segments.PROVIDER_ATTRS,
)
SORTABLE = (
    "id",
    "name",
    "status",
    "admin_state_up",
    "shared",
    "router:external",
    "mtu",
    "created_at",
    "updated_at",
    "project_id",
    "tenant_id",
)
LISTED = listing.Listed("network", "networks", ATTRIBUTES, SORTABLE)
MIN_MTU = 68


def _admin_attrs(req: ApiRequest, body: dict[str, Any], action: str) -> None:
    for name in ADMIN_ATTRS:
        if name in body:
            enforce(req.ctx.is_admin, f"{action}:{name}")


def _mtu(cfg: NetworkSettings, value: Any, kind: str) -> int:
    mtu = to_int(value, "mtu", MIN_MTU)
    limit = segments.mtu_limit(cfg, kind)
    if mtu > limit:
        raise bad_request(f"Requested MTU is too big, maximum is {limit}")
    return mtu


def _apply(net: m.Network, cfg: NetworkSettings, body: dict[str, Any]) -> None:
    """The attributes a create or an update sets (already checked for admin rights)."""
    for name in ("name", "description"):
        if name in body:
            setattr(net, name, to_str(body[name], name))
    for name, column in (
        ("admin_state_up", "admin_state_up"),
        ("shared", "shared"),
        ("router:external", "external"),
        ("port_security_enabled", "port_security_enabled"),
    ):
        if name in body:
            setattr(net, column, to_bool(body[name], name))
    if "mtu" in body:
        net.mtu = _mtu(cfg, body["mtu"], net.network_type)


async def _views(req: ApiRequest, session: AsyncSession, nets: list[m.Network]) -> list[Any]:
    return await views.networks(session, req.ctx, nets)


@routes.route("POST", PATH, rule=WRITE)
async def create_network(req: ApiRequest) -> Response:
    st = state_of(req)
    cfg = st.settings
    body = await body_of(req, "network", CREATE)
    _admin_attrs(req, body, "create_network")
    project = project_of(req, body)
    segment = segments.parse(cfg, body)

    async def work(session: AsyncSession) -> Any:
        await quotas.check(cfg, session, "network", project)
        net = m.Network(id=m.new_uuid(), project_id=project, network_type=segment.network_type)
        net.mtu = segments.mtu_limit(cfg, segment.network_type)
        _apply(net, cfg, body)
        session.add(net)
        await session.flush()
        await segments.reserve(session, cfg, segment, net)
        if "is_default" in body:
            await auto_allocate.set_default(session, net, to_bool(body["is_default"], "is_default"))
        if project:
            await default_group.ensure(session, project)
        return (await _views(req, session, [net]))[0]

    async with st.lock(project):
        view = await retrying(st.db, work)
    return json_response({"network": view}, status=201)


@routes.route("GET", PATH, rule=READ)
async def list_networks(req: ApiRequest) -> Response:
    async def views_of(session: AsyncSession) -> list[Any]:
        rows = await session.scalars(sa.select(m.Network).where(access.networks(req.ctx)))
        return await _views(req, session, list(rows.all()))

    return await list_response(req, LISTED, views_of)


@routes.route("GET", ITEM, rule=READ)
async def show_network(req: ApiRequest) -> Response:
    async with state_of(req).db.session() as session:
        net = await load(
            session, m.Network, req.params["network_id"], access.networks(req.ctx), "network"
        )
        view = (await _views(req, session, [net]))[0]
    return show_response(req, "network", view)


@routes.route("PUT", ITEM, rule=WRITE)
async def update_network(req: ApiRequest) -> Response:
    st = state_of(req)
    body = await body_of(req, "network", (*UPDATABLE, *segments.PROVIDER_ATTRS))
    read_only(body, segments.PROVIDER_ATTRS)
    _admin_attrs(req, body, "update_network")
    async with st.db.session() as session:
        net = await load(
            session, m.Network, req.params["network_id"], access.networks(req.ctx), "network"
        )
        access.check_owner(req.ctx, net.project_id, "update_network")
        if net.shared and not to_bool(body.get("shared", True), "shared"):
            await _check_unshare(session, net)
        if net.external and not to_bool(body.get("router:external", True), "router:external"):
            await _check_unexternal(session, net)
        _apply(net, st.settings, body)
        if "is_default" in body:
            await auto_allocate.set_default(session, net, to_bool(body["is_default"], "is_default"))
        net.touch()
        await session.flush()
        view = (await _views(req, session, [net]))[0]
    return json_response({"network": view})


async def _check_unshare(session: AsyncSession, net: m.Network) -> None:
    others = await session.scalar(
        sa.select(sa.func.count())
        .select_from(m.Port)
        .where(m.Port.network_id == net.id, m.Port.project_id != net.project_id)
    )
    if others:
        raise conflict(
            "InvalidSharedSetting",
            f"Unable to reconfigure sharing settings for network {net.id}. "
            "Multiple tenants are using it.",
        )


async def _check_unexternal(session: AsyncSession, net: m.Network) -> None:
    """Gateways and floating IPs keep a network external (Neutron's 409)."""
    held = await session.scalar(
        sa.select(m.Port.id)
        .where(m.Port.network_id == net.id, m.Port.device_owner.in_((l3.GATEWAY, l3.FLOATING)))
        .limit(1)
    )
    if held is not None:
        raise conflict(
            "ExternalNetworkInUse",
            f"External network {net.id} cannot be updated to be made non-external, since it "
            "has existing gateway ports.",
        )
    await auto_allocate.set_default(session, net, False)


def _in_use(network_id: str) -> Exception:
    return conflict(
        "NetworkInUse",
        f"Unable to complete operation on network {network_id}. "
        "There are one or more ports still in use on the network.",
    )


async def _delete_dhcp_ports(session: AsyncSession, network_id: str) -> None:
    """The agents' DHCP ports go with their network, as in Neutron."""
    dhcp = sa.select(m.Port.id).where(
        m.Port.network_id == network_id, m.Port.device_owner == DHCP_OWNER
    )
    await session.execute(sa.delete(m.IpAllocation).where(m.IpAllocation.port_id.in_(dhcp)))
    await session.execute(sa.delete(m.Port).where(m.Port.id.in_(dhcp.scalar_subquery())))


@routes.route("DELETE", ITEM, rule=WRITE)
async def delete_network(req: ApiRequest) -> Response:
    network_id = req.params["network_id"]
    try:
        async with state_of(req).db.session() as session:
            net = await load(session, m.Network, network_id, access.networks(req.ctx), "network")
            access.check_owner(req.ctx, net.project_id, "delete_network")
            ports = await session.scalar(
                sa.select(sa.func.count())
                .select_from(m.Port)
                .where(m.Port.network_id == net.id, m.Port.device_owner != DHCP_OWNER)
            )
            if ports:
                raise _in_use(net.id)
            await _delete_dhcp_ports(session, net.id)
            await auto_allocate.forget_network(session, net.id)
            await session.execute(sa.delete(m.Subnet).where(m.Subnet.network_id == net.id))
            await session.execute(sa.delete(m.Segment).where(m.Segment.network_id == net.id))
            await session.delete(net)
    except IntegrityError:  # a port or subnet arrived while we checked
        raise _in_use(network_id) from None
    return Response(status_code=204)
