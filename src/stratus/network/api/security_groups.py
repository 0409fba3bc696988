"""``/v2.0/security-groups``: named sets of rules ports refer to.

Every project has a ``default`` group, made on its first use (listing groups, creating a
network, port or group); it cannot be renamed, and only an admin may remove it. A
group that ports still use cannot be deleted (409 ``SecurityGroupInUse``).
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.responses import Response

from stratus.common.asgi.routing import ApiRequest, Routes, json_response
from stratus.network import access, default_group, listing, quotas, views
from stratus.network import models as m
from stratus.network.api.common import READ, STANDARD, V2, WRITE, list_response, load, show_response
from stratus.network.attributes import body_of, project_of, to_str
from stratus.network.errors import conflict
from stratus.network.retry import retrying
from stratus.network.state import state_of

routes = Routes("network")
PATH = f"{V2}/security-groups"
ITEM = PATH + "/{security_group_id}"
ATTRIBUTES = (*STANDARD, "name", "security_group_rules")
SORTABLE = ("id", "name", "created_at", "updated_at", "project_id", "tenant_id")
LISTED = listing.Listed("security_group", "security_groups", ATTRIBUTES, SORTABLE)


async def _view(session: AsyncSession, group: m.SecurityGroup) -> dict[str, Any]:
    return (await views.security_groups(session, [group]))[0]


@routes.route("POST", PATH, rule=WRITE)
async def create_security_group(req: ApiRequest) -> Response:
    st = state_of(req)
    body = await body_of(req, "security_group", ("name", "description", "tenant_id", "project_id"))
    project = project_of(req, body)
    name = to_str(body.get("name", ""), "name")
    description = to_str(body.get("description", ""), "description")
    if name == default_group.NAME:
        raise conflict(
            "SecurityGroupDefaultAlreadyExists", "Default security group already exists."
        )

    async def work(session: AsyncSession) -> Any:
        await default_group.ensure(session, project)
        await quotas.check(st.settings, session, "security_group", project)
        group = m.SecurityGroup(
            id=m.new_uuid(), project_id=project, name=name, description=description
        )
        session.add(group)
        await session.flush()
        session.add_all(default_group.egress_rules(group))
        await session.flush()
        return await _view(session, group)

    async with st.lock(project):
        view = await retrying(st.db, work)
    return json_response({"security_group": view}, status=201)


@routes.route("GET", PATH, rule=READ)
async def list_security_groups(req: ApiRequest) -> Response:
    st = state_of(req)
    project = req.ctx.project_id
    if project:

        async def ensure(session: AsyncSession) -> str:
            return await default_group.ensure(session, project)

        await retrying(st.db, ensure)

    async def views_of(session: AsyncSession) -> list[Any]:
        rows = await session.scalars(
            sa.select(m.SecurityGroup).where(access.security_groups(req.ctx))
        )
        return await views.security_groups(session, list(rows.all()))

    return await list_response(req, LISTED, views_of)


@routes.route("GET", ITEM, rule=READ)
async def show_security_group(req: ApiRequest) -> Response:
    async with state_of(req).db.session() as session:
        group = await load(
            session,
            m.SecurityGroup,
            req.params["security_group_id"],
            access.security_groups(req.ctx),
            "security_group",
        )
        view = await _view(session, group)
    return show_response(req, "security_group", view)


@routes.route("PUT", ITEM, rule=WRITE)
async def update_security_group(req: ApiRequest) -> Response:
    body = await body_of(req, "security_group", ("name", "description"))
    async with state_of(req).db.session() as session:
        group = await load(
            session,
            m.SecurityGroup,
            req.params["security_group_id"],
            access.security_groups(req.ctx),
            "security_group",
        )
        access.check_owner(req.ctx, group.project_id, "update_security_group")
        if "name" in body:
            name = to_str(body["name"], "name")
            is_default = await default_group.default_group_id(session, group.project_id)
            if name != group.name and (is_default == group.id or name == default_group.NAME):
                raise conflict(
                    "SecurityGroupCannotUpdateDefault",
                    "Updating default security group not allowed.",
                )
            group.name = name
        if "description" in body:
            group.description = to_str(body["description"], "description")
        group.touch()
        await session.flush()
        view = await _view(session, group)
    return json_response({"security_group": view})


@routes.route("DELETE", ITEM, rule=WRITE)
async def delete_security_group(req: ApiRequest) -> Response:
    try:
        await _delete(req)
    except IntegrityError:  # a port took the group while we checked
        raise _in_use(req.params["security_group_id"]) from None
    return Response(status_code=204)


def _in_use(group_id: str) -> Exception:
    return conflict("SecurityGroupInUse", f"Security Group {group_id} in use.")


async def _delete(req: ApiRequest) -> None:
    async with state_of(req).db.session() as session:
        group = await load(
            session,
            m.SecurityGroup,
            req.params["security_group_id"],
            access.security_groups(req.ctx),
            "security_group",
        )
        access.check_owner(req.ctx, group.project_id, "delete_security_group")
        if await default_group.default_group_id(session, group.project_id) == group.id and (
            not req.ctx.is_admin
        ):
            raise conflict(
                "SecurityGroupCannotRemoveDefault",
                "Insufficient rights for removing default security group.",
            )
        used = await session.scalar(
            sa.select(sa.func.count())
            .select_from(m.PortSecurityGroup)
            .where(m.PortSecurityGroup.security_group_id == group.id)
        )
        if used:
            raise _in_use(group.id)
        await session.execute(
            sa.delete(m.SecurityGroupRule).where(
                sa.or_(
                    m.SecurityGroupRule.security_group_id == group.id,
                    m.SecurityGroupRule.remote_group_id == group.id,
                )
            )
        )
        await session.execute(
            sa.delete(m.DefaultSecurityGroup).where(
                m.DefaultSecurityGroup.security_group_id == group.id
            )
        )
        await session.delete(group)
