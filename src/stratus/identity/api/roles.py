"""``/v3/roles``: global roles and domain-specific roles.

Role names are unique among the global roles and within each domain; a global listing
shows only global roles unless ``domain_id`` is given, as in Keystone. Deleting a role
removes its assignments and implied-role rules and takes it out of application credentials.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from pydantic import BaseModel
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.responses import Response

from stratus.common.asgi.policy import ADMIN, ADMIN_OR_SYSTEM_READER
from stratus.common.asgi.routing import ApiRequest, Routes, json_response
from stratus.common.errors import InvalidInput
from stratus.identity import cascade, lookup, views
from stratus.identity import fields as f
from stratus.identity import models as m
from stratus.identity.state import base_url, state_of

routes = Routes("identity")


class RoleCreate(BaseModel):
    model_config = f.EXTENSIBLE
    name: f.Name
    domain_id: f.Id | None = None
    description: f.Description | None = None
    options: f.ResourceOptions | None = None


class RoleUpdate(BaseModel):
    model_config = f.EXTENSIBLE
    name: f.Name | None = None
    description: f.Description | None = None
    options: f.ResourceOptions | None = None
    domain_id: Any = None  # accepted only when unchanged


class CreateBody(BaseModel):
    model_config = f.STRICT
    role: RoleCreate


class UpdateBody(BaseModel):
    model_config = f.STRICT
    role: RoleUpdate


def _key(domain_id: str | None) -> str:
    return domain_id or m.GLOBAL_DOMAIN_KEY


async def _name_taken(s: AsyncSession, name: str, domain_id: str | None) -> bool:
    same = sa.select(m.Role).where(m.Role.domain_key == _key(domain_id), m.Role.name == name)
    return await lookup.first(s, same) is not None


@routes.route("GET", "/v3/roles", rule=ADMIN_OR_SYSTEM_READER)
async def list_roles(req: ApiRequest) -> Response:
    """List global roles, or a domain's roles with ``?domain_id=``; filter ``name``."""
    query = sa.select(m.Role).where(m.Role.domain_key == _key(req.query.get("domain_id") or None))
    query = lookup.where_equal(query, req.query, {"name": m.Role.name})
    async with state_of(req).db.session() as s:
        rows = await lookup.all_of(s, query.order_by(m.Role.name))
    base = base_url(req)
    return json_response(
        views.collection("roles", (views.role(base, r) for r in rows), str(req.raw.url))
    )


@routes.route("POST", "/v3/roles", rule=ADMIN)
async def create_role(req: ApiRequest) -> Response:
    body = (await req.model(CreateBody)).role
    clash = lookup.duplicate_name("role", body.name, body.domain_id)
    async with state_of(req).db.session() as s:
        if body.domain_id is not None:
            await lookup.referenced(s, m.Domain, body.domain_id, "domain")
        if await _name_taken(s, body.name, body.domain_id):
            raise clash
        extra = f.extras(body.model_extra)
        extra["options"] = f.merged_options({}, body.options)
        row = m.Role(
            name=body.name,
            domain_id=body.domain_id,
            domain_key=_key(body.domain_id),
            description=body.description or "",
            extra=extra,
        )
        s.add(row)
        await lookup.flush(s, clash)
    return json_response({"role": views.role(base_url(req), row)}, status=201)


@routes.route("GET", "/v3/roles/{role_id}", rule=ADMIN_OR_SYSTEM_READER)
async def get_role(req: ApiRequest) -> Response:
    async with state_of(req).db.session() as s:
        row = await lookup.get(s, m.Role, req.params["role_id"], "role")
    return json_response({"role": views.role(base_url(req), row)})


@routes.route("PATCH", "/v3/roles/{role_id}", rule=ADMIN)
async def update_role(req: ApiRequest) -> Response:
    body = (await req.model(UpdateBody)).role
    f.check_update(body, req.params["role_id"])
    st = state_of(req)
    async with st.db.session() as s:
        row = await lookup.get(s, m.Role, req.params["role_id"], "role")
        options = dict(row.extra.get("options", {}))
        f.assert_mutable("role", row.id, options, body.options)
        if "domain_id" in body.model_fields_set and body.domain_id != row.domain_id:
            raise InvalidInput("identity.role.domain_change", "Update of domain_id is not allowed.")
        if body.name is not None and body.name != row.name:
            if await _name_taken(s, body.name, row.domain_id):
                raise lookup.duplicate_name("role", body.name, row.domain_id)
            row.name = body.name
        if "description" in body.model_fields_set:
            row.description = body.description or ""
        row.extra = {
            **row.extra,
            **f.extras(body.model_extra),
            "options": f.merged_options(options, body.options),
        }
        await lookup.flush(s, lookup.duplicate_name("role", row.name, row.domain_id))
    st.changed()  # tokens show role names
    return json_response({"role": views.role(base_url(req), row)})


@routes.route("DELETE", "/v3/roles/{role_id}", rule=ADMIN)
async def delete_role(req: ApiRequest) -> Response:
    """Delete a role, its assignments, and its place in application credentials."""
    st = state_of(req)
    async with st.db.session() as s:
        row = await lookup.get(s, m.Role, req.params["role_id"], "role")
        f.assert_mutable("role", row.id, row.extra.get("options", {}))
        await s.execute(sa.delete(m.Assignment).where(m.Assignment.role_id == row.id))
        await cascade.delete_role_rules(s, [row.id])
        holders = await lookup.all_of(s, sa.select(m.ApplicationCredential))
        for ac in holders:
            if row.id in ac.role_ids:
                ac.role_ids = [r for r in ac.role_ids if r != row.id]
        await s.delete(row)
    st.changed()
    return Response(status_code=204)
