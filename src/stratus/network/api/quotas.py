"""``/v2.0/quotas``: per-project limits. Anyone reads their own project's; admins read
any and change them. ``PUT`` sets overrides, ``DELETE`` returns to the defaults,
``/default`` shows the defaults and ``/details`` limit, use and reservations. A ``PUT``
with ``check_limit: true`` refuses limits below current use (quota-check-limit)."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.responses import Response

from stratus.common.asgi.policy import enforce
from stratus.common.asgi.routing import ApiRequest, Routes, json_response
from stratus.network import models as m
from stratus.network import quotas
from stratus.network.api.common import ADMIN_ONLY, READ, V2
from stratus.network.attributes import body_of, to_bool, to_int
from stratus.network.errors import bad
from stratus.network.retry import retrying
from stratus.network.state import state_of

routes = Routes("network")
PATH = f"{V2}/quotas"
ITEM = PATH + "/{project_id}"


def _target(req: ApiRequest) -> str:
    project = req.params["project_id"]
    enforce(req.ctx.is_admin or project == req.ctx.project_id, "get_quota")
    return project


@routes.route("GET", PATH, rule=ADMIN_ONLY)
async def list_quotas(req: ApiRequest) -> Response:
    """Projects with at least one override, as Neutron lists them."""
    st = state_of(req)
    async with st.db.session() as session:
        projects = (await session.scalars(sa.select(m.QuotaLimit.project_id).distinct())).all()
        out = []
        for project in sorted(projects):
            limits = await quotas.limits_of(st.settings, session, project)
            out.append({"project_id": project, "tenant_id": project, **limits})
    return json_response({"quotas": out})


@routes.route("GET", ITEM, rule=READ)
async def show_quota(req: ApiRequest) -> Response:
    project = _target(req)
    st = state_of(req)
    async with st.db.session() as session:
        limits = await quotas.limits_of(st.settings, session, project)
    return json_response({"quota": limits})


@routes.route("GET", ITEM + "/default", rule=READ)
async def show_default_quota(req: ApiRequest) -> Response:
    _target(req)
    return json_response({"quota": state_of(req).settings.default_quotas()})


@routes.route("GET", ITEM + "/details", rule=READ)
async def show_quota_details(req: ApiRequest) -> Response:
    project = _target(req)
    st = state_of(req)
    async with st.db.session() as session:
        limits = await quotas.limits_of(st.settings, session, project)
        used = await quotas.usage_of(session, project)
    detail: dict[str, Any] = {
        name: {"limit": limit, "used": used.get(name, 0), "reserved": 0}
        for name, limit in limits.items()
    }
    return json_response({"quota": detail})


@routes.route("PUT", ITEM, rule=ADMIN_ONLY)
async def update_quota(req: ApiRequest) -> Response:
    project = req.params["project_id"]
    st = state_of(req)
    known = st.settings.default_quotas()
    body = await body_of(req, "quota", (*known, "check_limit"))
    check_limit = to_bool(body.pop("check_limit", False), "check_limit")
    values = {name: to_int(value, name, -1) for name, value in body.items()}

    async def work(session: AsyncSession) -> dict[str, int]:
        if check_limit:
            await _check_limits(session, project, values)
        for name, value in values.items():
            row = await session.get(m.QuotaLimit, (project, name))
            if row is None:
                session.add(m.QuotaLimit(project_id=project, resource=name, hard_limit=value))
            else:
                row.hard_limit = value
        await session.flush()
        return await quotas.limits_of(st.settings, session, project)

    return json_response({"quota": await retrying(st.db, work)})


async def _check_limits(session: AsyncSession, project: str, values: dict[str, int]) -> None:
    """``check_limit``: a limit below what the project already uses is refused."""
    for name, value in values.items():
        used = await quotas.used(session, name, project)
        if 0 <= value < used:
            raise bad(
                "InvalidQuotaValue",
                f"Quota limit {value} for {name} must be greater than or equal to already "
                f"used and reserved {used}.",
            )


@routes.route("DELETE", ITEM, rule=ADMIN_ONLY)
async def delete_quota(req: ApiRequest) -> Response:
    async with state_of(req).db.session() as session:
        await session.execute(
            sa.delete(m.QuotaLimit).where(m.QuotaLimit.project_id == req.params["project_id"])
        )
    return Response(status_code=204)
