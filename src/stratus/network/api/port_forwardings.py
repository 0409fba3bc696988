"""``/v2.0/floatingips/{id}/port_forwardings``: one TCP or UDP port of a floating IP sent
to a port and address behind the router (a floating IP is either mapped 1:1 to a port
or forwards ports, never both).

Both ends are unique: (floating IP, external port, protocol) and (internal port, address,
internal port, protocol); a second claim is Neutron's 400 ``BadRequest``.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.responses import Response

from stratus.common.asgi.routing import ApiRequest, Routes, json_response
from stratus.network import access, l3, l3_views, listing
from stratus.network import models as m
from stratus.network.api.common import READ, V2, WRITE, list_response, load, show_response
from stratus.network.attributes import body_of, is_uuid, to_int, to_ip, to_str, to_uuid
from stratus.network.errors import bad, bad_request, conflict, not_found
from stratus.network.retry import retrying
from stratus.network.state import state_of

routes = Routes("network")
PATH = V2 + "/floatingips/{floatingip_id}/port_forwardings"
ITEM = PATH + "/{pf_id}"
FIELDS = (
    "protocol",
    "external_port",
    "internal_port",
    "internal_port_id",
    "internal_ip_address",
    "description",
)
ATTRIBUTES = ("id", *FIELDS)
LISTED = listing.Listed(
    "port_forwarding", "port_forwardings", ATTRIBUTES, ("id", "external_port", "protocol")
)
PROTOCOLS = ("tcp", "udp")


async def _floatingip(req: ApiRequest, session: AsyncSession, write: bool) -> m.FloatingIp:
    fip = await load(
        session,
        m.FloatingIp,
        req.params["floatingip_id"],
        access.floating_ips(req.ctx),
        "floatingip",
    )
    if write:
        access.check_owner(req.ctx, fip.project_id, "create_floatingip_port_forwarding")
    return fip


async def _load(session: AsyncSession, fip: m.FloatingIp, pf_id: str) -> m.PortForwarding:
    found = None
    if is_uuid(pf_id):
        found = await session.scalar(
            sa.select(m.PortForwarding).where(
                m.PortForwarding.id == pf_id, m.PortForwarding.floatingip_id == fip.id
            )
        )
    if found is None:
        raise not_found("port_forwarding", pf_id)
    return found


def _apply(pf: m.PortForwarding, body: dict[str, Any]) -> None:
    if "protocol" in body:
        if body["protocol"] not in PROTOCOLS:
            raise bad_request(f"'{body['protocol']}' is not in {list(PROTOCOLS)} for protocol")
        pf.protocol = body["protocol"]
    for name in ("external_port", "internal_port"):
        if name in body:
            setattr(pf, name, to_int(body[name], name, 1, 65535))
    if "internal_port_id" in body:
        pf.internal_port_id = to_uuid(body["internal_port_id"], "internal_port_id")
    if "internal_ip_address" in body:
        pf.internal_ip_address = str(to_ip(body["internal_ip_address"], "internal_ip_address"))
    if "description" in body:
        pf.description = to_str(body["description"] or "", "description")


async def _check(
    req: ApiRequest, session: AsyncSession, fip: m.FloatingIp, pf: m.PortForwarding
) -> None:
    """The internal end exists, is reachable through a router, and nothing clashes."""
    if fip.fixed_port_id is not None:
        raise bad(
            "BadRequest",
            f"Bad port_forwarding request: Floating IP {fip.id} is already associated with "
            f"port {fip.fixed_port_id}.",
        )
    port = await load(session, m.Port, pf.internal_port_id, access.ports(req.ctx), "port")
    bound = await session.scalar(
        sa.select(m.FloatingIp.id).where(m.FloatingIp.fixed_port_id == port.id).limit(1)
    )
    if bound is not None:
        raise conflict(
            "PortHasBindingFloatingIP",
            f"Cannot create port forwarding to floating IP {fip.floating_ip_address} ({fip.id}) "
            f"with port {port.id} using fixed IP {pf.internal_ip_address}, as that port already "
            "has a binding floating IP.",
        )
    _, subnet = await l3.fixed_address(session, port, pf.internal_ip_address, "port_forwarding")
    fip.router_id = await l3.router_for(session, fip.floating_network_id, subnet, port.id)
    await _check_unique(session, pf)


async def _check_unique(session: AsyncSession, pf: m.PortForwarding) -> None:
    pfs = m.PortForwarding
    same = sa.and_(pfs.protocol == pf.protocol, pfs.id != pf.id)
    external = sa.and_(pfs.floatingip_id == pf.floatingip_id, pfs.external_port == pf.external_port)
    internal = sa.and_(
        pfs.internal_port_id == pf.internal_port_id,
        pfs.internal_ip_address == pf.internal_ip_address,
        pfs.internal_port == pf.internal_port,
    )
    for clash, values in (
        (external, {"floatingip_id": pf.floatingip_id, "external_port": pf.external_port}),
        (
            internal,
            {"internal_ip_address": pf.internal_ip_address, "internal_port": pf.internal_port},
        ),
    ):
        if await session.scalar(sa.select(pfs.id).where(same, clash)) is not None:
            raise bad(
                "BadRequest",
                "Bad port_forwarding request: A duplicate port forwarding entry with same "
                f"attributes already exists, conflicting values are {values}",
            )


@routes.route("POST", PATH, rule=WRITE)
async def create_port_forwarding(req: ApiRequest) -> Response:
    body = await body_of(req, "port_forwarding", FIELDS)
    for name in FIELDS[:-1]:
        if name not in body:
            raise bad(
                "HTTPBadRequest",
                f"Failed to parse request. Required attribute '{name}' not specified",
            )

    async def work(session: AsyncSession) -> Any:
        fip = await _floatingip(req, session, write=True)
        pf = m.PortForwarding(id=m.new_uuid(), floatingip_id=fip.id)
        _apply(pf, body)
        await _check(req, session, fip, pf)
        session.add(pf)
        fip.touch()
        await session.flush()
        return l3_views.port_forwarding(pf)

    view = await retrying(state_of(req).db, work)
    return json_response({"port_forwarding": view}, status=201)


@routes.route("GET", PATH, rule=READ)
async def list_port_forwardings(req: ApiRequest) -> Response:
    async def views_of(session: AsyncSession) -> list[Any]:
        fip = await _floatingip(req, session, write=False)
        rows = await session.scalars(
            sa.select(m.PortForwarding).where(m.PortForwarding.floatingip_id == fip.id)
        )
        return [l3_views.port_forwarding(pf) for pf in rows]

    return await list_response(req, LISTED, views_of)


@routes.route("GET", ITEM, rule=READ)
async def show_port_forwarding(req: ApiRequest) -> Response:
    async with state_of(req).db.session() as session:
        fip = await _floatingip(req, session, write=False)
        view = l3_views.port_forwarding(await _load(session, fip, req.params["pf_id"]))
    return show_response(req, "port_forwarding", view)


@routes.route("PUT", ITEM, rule=WRITE)
async def update_port_forwarding(req: ApiRequest) -> Response:
    body = await body_of(req, "port_forwarding", FIELDS)

    async def work(session: AsyncSession) -> Any:
        fip = await _floatingip(req, session, write=True)
        pf = await _load(session, fip, req.params["pf_id"])
        _apply(pf, body)
        await _check(req, session, fip, pf)
        fip.touch()
        await session.flush()
        return l3_views.port_forwarding(pf)

    view = await retrying(state_of(req).db, work)
    return json_response({"port_forwarding": view})


@routes.route("DELETE", ITEM, rule=WRITE)
async def delete_port_forwarding(req: ApiRequest) -> Response:
    async with state_of(req).db.session() as session:
        fip = await _floatingip(req, session, write=True)
        pf = await _load(session, fip, req.params["pf_id"])
        await session.delete(pf)
        await session.flush()
        await l3.release_idle_floating_ips(session)
        fip.touch()
    return Response(status_code=204)
