"""``/v3/groups``: CRUD and membership.

A group's role assignments reach every member, so membership changes and group deletion
clear the token validation cache (roles are recomputed when a token is next checked).
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from pydantic import BaseModel
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.responses import Response

from stratus.common.asgi.policy import ADMIN, ADMIN_OR_SYSTEM_READER
from stratus.common.asgi.routing import ApiRequest, Routes, json_response
from stratus.common.errors import InvalidInput, NotFound
from stratus.identity import cascade, lookup, views
from stratus.identity import fields as f
from stratus.identity import models as m
from stratus.identity.state import base_url, state_of

routes = Routes("identity")


class GroupCreate(BaseModel):
    model_config = f.EXTENSIBLE
    name: f.Name
    domain_id: f.Id | None = None
    description: f.Description | None = None


class GroupUpdate(BaseModel):
    model_config = f.EXTENSIBLE
    name: f.Name | None = None
    description: f.Description | None = None
    domain_id: Any = None  # accepted only when unchanged


class CreateBody(BaseModel):
    model_config = f.STRICT
    group: GroupCreate


class UpdateBody(BaseModel):
    model_config = f.STRICT
    group: GroupUpdate


@routes.route("GET", "/v3/groups", rule=ADMIN_OR_SYSTEM_READER)
async def list_groups(req: ApiRequest) -> Response:
    """List groups; filters ``name`` and ``domain_id``."""
    query = sa.select(m.Group).order_by(m.Group.name)
    query = lookup.where_equal(
        query, req.query, {"name": m.Group.name, "domain_id": m.Group.domain_id}
    )
    async with state_of(req).db.session() as s:
        rows = await lookup.all_of(s, query)
    base = base_url(req)
    return json_response(
        views.collection("groups", (views.group(base, g) for g in rows), str(req.raw.url))
    )


@routes.route("POST", "/v3/groups", rule=ADMIN)
async def create_group(req: ApiRequest) -> Response:
    body = (await req.model(CreateBody)).group
    domain_id = body.domain_id or req.ctx.project_domain_id or req.ctx.domain_id or "default"
    clash = lookup.duplicate_name("group", body.name, domain_id)
    async with state_of(req).db.session() as s:
        await lookup.get(s, m.Domain, domain_id, "domain")  # Keystone: 404
        same = sa.select(m.Group).where(m.Group.domain_id == domain_id, m.Group.name == body.name)
        if await lookup.first(s, same):
            raise clash
        row = m.Group(
            name=body.name,
            domain_id=domain_id,
            description=body.description or "",
            extra=f.extras(body.model_extra),
        )
        s.add(row)
        await lookup.flush(s, clash)
    return json_response({"group": views.group(base_url(req), row)}, status=201)


@routes.route("GET", "/v3/groups/{group_id}", rule=ADMIN_OR_SYSTEM_READER)
async def get_group(req: ApiRequest) -> Response:
    async with state_of(req).db.session() as s:
        row = await lookup.get(s, m.Group, req.params["group_id"], "group")
    return json_response({"group": views.group(base_url(req), row)})


@routes.route("PATCH", "/v3/groups/{group_id}", rule=ADMIN)
async def update_group(req: ApiRequest) -> Response:
    body = (await req.model(UpdateBody)).group
    f.check_update(body, req.params["group_id"])
    async with state_of(req).db.session() as s:
        row = await lookup.get(s, m.Group, req.params["group_id"], "group")
        if "domain_id" in body.model_fields_set and body.domain_id != row.domain_id:
            raise InvalidInput(
                "identity.group.domain_change", "Cannot update domain_id of a group."
            )
        if body.name is not None and body.name != row.name:
            same = sa.select(m.Group).where(
                m.Group.domain_id == row.domain_id, m.Group.name == body.name
            )
            if await lookup.first(s, same):
                raise lookup.duplicate_name("group", body.name, row.domain_id)
            row.name = body.name
        if "description" in body.model_fields_set:
            row.description = body.description or ""
        row.extra = {**row.extra, **f.extras(body.model_extra)}
        await lookup.flush(s, lookup.duplicate_name("group", row.name, row.domain_id))
    return json_response({"group": views.group(base_url(req), row)})


@routes.route("DELETE", "/v3/groups/{group_id}", rule=ADMIN)
async def delete_group(req: ApiRequest) -> Response:
    st = state_of(req)
    async with st.db.session() as s:
        row = await lookup.get(s, m.Group, req.params["group_id"], "group")
        await cascade.delete_groups(s, [row.id])
    st.changed()
    return Response(status_code=204)


@routes.route("GET", "/v3/groups/{group_id}/users", rule=ADMIN_OR_SYSTEM_READER)
async def list_members(req: ApiRequest) -> Response:
    """Members of a group; filters ``name``, ``domain_id``, ``enabled``."""
    query = (
        sa.select(m.User)
        .join(m.GroupMember, m.GroupMember.user_id == m.User.id)
        .where(m.GroupMember.group_id == req.params["group_id"])
        .order_by(m.User.name)
    )
    query = lookup.where_equal(
        query, req.query, {"name": m.User.name, "domain_id": m.User.domain_id}
    )
    if (enabled := f.bool_filter(req.query.get("enabled"))) is not None:
        query = query.where(m.User.enabled.is_(enabled))
    async with state_of(req).db.session() as s:
        await lookup.get(s, m.Group, req.params["group_id"], "group")
        rows = await lookup.all_of(s, query)
    base = base_url(req)
    return json_response(
        views.collection("users", (views.user(base, u) for u in rows), str(req.raw.url))
    )


MEMBER_PATH = "/v3/groups/{group_id}/users/{user_id}"


async def _member(req: ApiRequest, s: AsyncSession) -> m.GroupMember | None:
    group = await lookup.get(s, m.Group, req.params["group_id"], "group")
    user = await lookup.get(s, m.User, req.params["user_id"], "user")
    found: m.GroupMember | None = await s.get(m.GroupMember, (group.id, user.id))
    return found


@routes.route("PUT", MEMBER_PATH, rule=ADMIN)
async def add_member(req: ApiRequest) -> Response:
    st = state_of(req)
    async with st.db.session() as s:
        if await _member(req, s) is None:
            s.add(m.GroupMember(group_id=req.params["group_id"], user_id=req.params["user_id"]))
            await lookup.flush(s, lookup.conflict("group membership", "Duplicate entry"))
    st.changed()
    return Response(status_code=204)


def _not_member(req: ApiRequest) -> NotFound:
    return NotFound(
        "identity.group_member.not_found",
        f"User {req.params['user_id']} is not a member of group {req.params['group_id']}.",
    )


@routes.route("GET", MEMBER_PATH, rule=ADMIN_OR_SYSTEM_READER)
async def check_member(req: ApiRequest) -> Response:
    async with state_of(req).db.session() as s:
        if await _member(req, s) is None:
            raise _not_member(req)
    return Response(status_code=204)


@routes.route("DELETE", MEMBER_PATH, rule=ADMIN)
async def remove_member(req: ApiRequest) -> Response:
    st = state_of(req)
    async with st.db.session() as s:
        member = await _member(req, s)
        if member is None:
            raise _not_member(req)
        await s.delete(member)
    st.changed()
    return Response(status_code=204)
