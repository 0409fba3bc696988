"""``/v3/auth/{catalog,projects,domains,system}``: what the caller's token may reach.

The lists say which scopes the caller may ask a token for; a system-scoped token reaches
the whole catalog, as a domain-scoped one does.
"""

from __future__ import annotations

import sqlalchemy as sa
from starlette.responses import Response

from stratus.common.asgi.policy import AUTHENTICATED
from stratus.common.asgi.routing import ApiRequest, Routes, json_response
from stratus.common.errors import Forbidden
from stratus.identity import effective_roles, views
from stratus.identity.models import Domain, Project
from stratus.identity.state import base_url, state_of

routes = Routes("identity")


@routes.route("GET", "/v3/auth/catalog", rule=AUTHENTICATED)
async def get_catalog(req: ApiRequest) -> Response:
    ctx = req.ctx
    if ctx.project_id is None and ctx.domain_id is None and ctx.system_scope is None:
        raise Forbidden(
            "identity.catalog.unscoped",
            "A project-scoped token is required to produce a service catalog.",
        )
    catalog = await state_of(req).validator.catalog.for_project(ctx.project_id)
    self_url = views.url(base_url(req), "auth", "catalog")
    return json_response(views.collection("catalog", catalog, self_url))


@routes.route("GET", "/v3/auth/projects", rule=AUTHENTICATED)
async def get_projects(req: ApiRequest) -> Response:
    assert req.ctx.user_id is not None
    base = base_url(req)
    async with state_of(req).db.session() as session:
        ids = await effective_roles.project_ids_of(session, req.ctx.user_id)
        rows = (
            await session.scalars(
                sa.select(Project)
                .join(Domain, Domain.id == Project.domain_id)
                .where(Project.id.in_(ids), Project.enabled.is_(True), Domain.enabled.is_(True))
                .order_by(Project.name)
            )
        ).all()
    items = [views.project(base, p) for p in rows]
    return json_response(views.collection("projects", items, views.url(base, "auth", "projects")))


@routes.route("GET", "/v3/auth/domains", rule=AUTHENTICATED)
async def get_domains(req: ApiRequest) -> Response:
    assert req.ctx.user_id is not None
    base = base_url(req)
    async with state_of(req).db.session() as session:
        ids = await effective_roles.domain_ids_of(session, req.ctx.user_id)
        rows = (
            await session.scalars(
                sa.select(Domain)
                .where(Domain.id.in_(ids), Domain.enabled.is_(True))
                .order_by(Domain.name)
            )
        ).all()
    items = [views.domain(base, d) for d in rows]
    return json_response(views.collection("domains", items, views.url(base, "auth", "domains")))


@routes.route("GET", "/v3/auth/system", rule=AUTHENTICATED)
async def get_system(req: ApiRequest) -> Response:
    """``[{"all": true}]`` when the caller holds a role on the system, else empty."""
    assert req.ctx.user_id is not None
    async with state_of(req).db.session() as session:
        roles = await effective_roles.roles_on_system(session, req.ctx.user_id)
    items = [{"all": True}] if roles else []
    self_url = views.url(base_url(req), "auth", "system")
    return json_response(views.collection("system", items, self_url))
