"""``/v2.0/routers``: routers with an external gateway (SNAT on or off, admins choose)
and static routes (extraroute). Interfaces are in ``router_interfaces``.

A router with interfaces cannot be deleted (409 ``RouterInUse``); its gateway port goes
with it.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.responses import Response

from stratus.common.asgi.policy import enforce
from stratus.common.asgi.routing import ApiRequest, Routes, json_response
from stratus.network import access, l3, l3_views, listing, quotas
from stratus.network import models as m
from stratus.network.api.common import READ, STANDARD, V2, WRITE, list_response, load, show_response
from stratus.network.attributes import body_of, project_of, to_bool, to_str
from stratus.network.errors import bad, conflict
from stratus.network.retry import retrying
from stratus.network.state import state_of

routes = Routes("network")
PATH = f"{V2}/routers"
ITEM = PATH + "/{router_id}"
UPDATABLE = ("name", "description", "admin_state_up", "external_gateway_info", "routes")
CREATE = (
    "name",
    "description",
    "admin_state_up",
    "external_gateway_info",
    "tenant_id",
    "project_id",
)
ATTRIBUTES = (*STANDARD, "name", "admin_state_up", "status", "external_gateway_info", "routes")
SORTABLE = (
    "id",
    "name",
    "status",
    "admin_state_up",
    "created_at",
    "updated_at",
    "project_id",
    "tenant_id",
)
LISTED = listing.Listed("router", "routers", ATTRIBUTES, SORTABLE)


def _admin_gateway_attrs(req: ApiRequest, info: Any, action: str) -> None:
    """SNAT and the gateway's addresses are the admin's to choose (Neutron's policy)."""
    if isinstance(info, dict):
        for name in ("enable_snat", "external_fixed_ips"):
            if name in info:
                enforce(req.ctx.is_admin, f"{action}:external_gateway_info:{name}")


def _apply(router: m.Router, body: dict[str, Any]) -> None:
    for name in ("name", "description"):
        if name in body:
            setattr(router, name, to_str(body[name], name))
    if "admin_state_up" in body:
        router.admin_state_up = to_bool(body["admin_state_up"], "admin_state_up")


async def _view(session: AsyncSession, router: m.Router) -> dict[str, Any]:
    return (await l3_views.routers(session, [router]))[0]


@routes.route("POST", PATH, rule=WRITE)
async def create_router(req: ApiRequest) -> Response:
    st = state_of(req)
    body = await body_of(req, "router", (*CREATE, "routes"))
    if "routes" in body:
        raise bad("HTTPBadRequest", "Attribute 'routes' not allowed in POST")
    _admin_gateway_attrs(req, body.get("external_gateway_info"), "create_router")
    project = project_of(req, body)
    gateway = l3.parse_gateway(body.get("external_gateway_info"))

    async def work(session: AsyncSession) -> Any:
        await quotas.check(st.settings, session, "router", project)
        router = m.Router(id=m.new_uuid(), project_id=project)
        _apply(router, body)
        session.add(router)
        await session.flush()
        await l3.set_gateway(session, st.settings, router, gateway)
        return await _view(session, router)

    async with st.lock(project):
        view = await retrying(st.db, work)
    return json_response({"router": view}, status=201)


@routes.route("GET", PATH, rule=READ)
async def list_routers(req: ApiRequest) -> Response:
    async def views_of(session: AsyncSession) -> list[Any]:
        rows = await session.scalars(sa.select(m.Router).where(access.routers(req.ctx)))
        return await l3_views.routers(session, list(rows.all()))

    return await list_response(req, LISTED, views_of)


@routes.route("GET", ITEM, rule=READ)
async def show_router(req: ApiRequest) -> Response:
    async with state_of(req).db.session() as session:
        router = await load(
            session, m.Router, req.params["router_id"], access.routers(req.ctx), "router"
        )
        view = await _view(session, router)
    return show_response(req, "router", view)


@routes.route("PUT", ITEM, rule=WRITE)
async def update_router(req: ApiRequest) -> Response:
    st = state_of(req)
    body = await body_of(req, "router", UPDATABLE)
    _admin_gateway_attrs(req, body.get("external_gateway_info"), "update_router")
    gateway = l3.parse_gateway(body.get("external_gateway_info"))

    async def work(session: AsyncSession) -> Any:
        router = await load(
            session, m.Router, req.params["router_id"], access.routers(req.ctx), "router"
        )
        access.check_owner(req.ctx, router.project_id, "update_router")
        _apply(router, body)
        if "external_gateway_info" in body:
            await l3.set_gateway(session, st.settings, router, gateway)
        if "routes" in body:
            wanted = l3.parse_routes(body["routes"] or [], st.settings.max_routes, router.id)
            await l3.check_routes(session, router.id, wanted)
            await l3.replace_routes(session, router.id, wanted)
        elif "external_gateway_info" in body:
            await l3.check_routes(
                session, router.id, (await l3.routes_of(session, [router.id]))[router.id]
            )
        router.touch()
        await session.flush()
        return await _view(session, router)

    view = await retrying(st.db, work)
    return json_response({"router": view})


@routes.route("DELETE", ITEM, rule=WRITE)
async def delete_router(req: ApiRequest) -> Response:
    async with state_of(req).db.session() as session:
        router = await load(
            session, m.Router, req.params["router_id"], access.routers(req.ctx), "router"
        )
        access.check_owner(req.ctx, router.project_id, "delete_router")
        if await l3.interface_ports(session, router.id):
            raise conflict("RouterInUse", f"Router {router.id} still has ports")
        await l3.remove_gateway(session, router)
        await session.execute(sa.delete(m.RouterRoute).where(m.RouterRoute.router_id == router.id))
        await session.execute(
            sa.update(m.AutoAllocatedTopology)
            .where(m.AutoAllocatedTopology.router_id == router.id)
            .values(router_id=None)
        )
        await session.delete(router)
    return Response(status_code=204)
