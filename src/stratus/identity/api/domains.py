"""``/v3/domains``: create, list, show, update, delete.

A domain must be disabled before it can be deleted, and deleting it removes its projects,
users, groups and domain-specific roles, as Keystone does. The ``default`` domain holds
the bootstrap admin, so it can be neither disabled nor deleted.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from pydantic import BaseModel
from starlette.responses import Response

from stratus.common.asgi.policy import ADMIN, ADMIN_OR_SYSTEM_READER, SYSTEM_READER, Rule
from stratus.common.asgi.routing import ApiRequest, Routes, json_response
from stratus.common.db.types import new_id
from stratus.common.errors import Forbidden
from stratus.identity import cascade, lookup, revocation, views
from stratus.identity import fields as f
from stratus.identity import models as m
from stratus.identity.state import base_url, state_of

routes = Routes("identity")
DEFAULT_DOMAIN_ID = "default"

OWN_DOMAIN = Rule(
    "domain_id:%(domain_id)s",
    lambda c, p: (
        p.get("domain_id") is not None and p.get("domain_id") in (c.domain_id, c.project_domain_id)
    ),
)


class DomainCreate(BaseModel):
    model_config = f.EXTENSIBLE
    name: f.ShortName
    description: f.Description | None = None
    enabled: f.KsBool = True
    tags: f.Tags | None = None
    options: f.ResourceOptions | None = None
    explicit_domain_id: f.Id | None = None


class DomainUpdate(BaseModel):
    model_config = f.EXTENSIBLE
    name: f.ShortName | None = None
    description: f.Description | None = None
    enabled: f.KsBool | None = None
    tags: f.Tags | None = None
    options: f.ResourceOptions | None = None


class CreateBody(BaseModel):
    model_config = f.STRICT
    domain: DomainCreate


class UpdateBody(BaseModel):
    model_config = f.STRICT
    domain: DomainUpdate


def _extra(
    d: m.Domain, free: dict[str, Any], tags: list[str] | None, options: dict[str, Any]
) -> dict[str, Any]:
    """Free attributes, tags and options all live in ``extra`` (no columns of their own)."""
    out = {**(d.extra or {}), **free}
    if tags is not None:
        out["tags"] = tags
    out["options"] = options
    return out


@routes.route("GET", "/v3/domains", rule=ADMIN_OR_SYSTEM_READER)
async def list_domains(req: ApiRequest) -> Response:
    """List domains, filtered by ``name`` and ``enabled``."""
    query = sa.select(m.Domain).order_by(m.Domain.name)
    query = lookup.where_equal(query, req.query, {"name": m.Domain.name})
    if (enabled := f.bool_filter(req.query.get("enabled"))) is not None:
        query = query.where(m.Domain.enabled.is_(enabled))
    async with state_of(req).db.session() as s:
        rows = await lookup.all_of(s, query)
    base = base_url(req)
    return json_response(
        views.collection("domains", (views.domain(base, d) for d in rows), str(req.raw.url))
    )


@routes.route("POST", "/v3/domains", rule=ADMIN)
async def create_domain(req: ApiRequest) -> Response:
    body = (await req.model(CreateBody)).domain
    clash = lookup.duplicate_name("domain", body.name)
    async with state_of(req).db.session() as s:
        if await lookup.first(s, sa.select(m.Domain).where(m.Domain.name == body.name)):
            raise clash
        explicit = body.explicit_domain_id
        if explicit is not None and await s.get(m.Domain, explicit) is not None:
            raise lookup.conflict("domain", f"Duplicate ID, {explicit}")
        row = m.Domain(
            id=body.explicit_domain_id or new_id(),
            name=body.name,
            description=body.description or "",
            enabled=body.enabled,
            extra={},
        )
        row.extra = _extra(
            row, f.extras(body.model_extra), body.tags or [], f.merged_options({}, body.options)
        )
        s.add(row)
        await lookup.flush(s, clash)
    return json_response({"domain": views.domain(base_url(req), row)}, status=201)


@routes.route("GET", "/v3/domains/{domain_id}", rule=ADMIN | OWN_DOMAIN | SYSTEM_READER)
async def get_domain(req: ApiRequest) -> Response:
    async with state_of(req).db.session() as s:
        row = await lookup.get(s, m.Domain, req.params["domain_id"], "domain")
    return json_response({"domain": views.domain(base_url(req), row)})


@routes.route("PATCH", "/v3/domains/{domain_id}", rule=ADMIN)
async def update_domain(req: ApiRequest) -> Response:
    """Update a domain; disabling it ends its domain-scoped tokens."""
    body = (await req.model(UpdateBody)).domain
    free = f.extras(body.model_extra)
    f.check_update(body, req.params["domain_id"])
    st = state_of(req)
    async with st.db.session() as s:
        row = await lookup.get(s, m.Domain, req.params["domain_id"], "domain")
        options = dict(row.extra.get("options", {}))
        f.assert_mutable("domain", row.id, options, body.options)
        if body.name is not None and body.name != row.name:
            if await lookup.first(s, sa.select(m.Domain).where(m.Domain.name == body.name)):
                raise lookup.duplicate_name("domain", body.name)
            row.name = body.name
        if "description" in body.model_fields_set:
            row.description = body.description or ""
        disabling = body.enabled is False and row.enabled
        if disabling and row.id == DEFAULT_DOMAIN_ID:
            raise Forbidden("identity.domain.protected", "The default domain cannot be disabled.")
        if body.enabled is not None:
            row.enabled = body.enabled
        row.extra = _extra(row, free, body.tags, f.merged_options(options, body.options))
        if disabling:
            await revocation.revoke_domain(s, row.id)
        await lookup.flush(s, lookup.duplicate_name("domain", row.name))
    if disabling:
        st.changed()
    return json_response({"domain": views.domain(base_url(req), row)})


@routes.route("DELETE", "/v3/domains/{domain_id}", rule=ADMIN)
async def delete_domain(req: ApiRequest) -> Response:
    """Delete a disabled domain and everything in it."""
    st = state_of(req)
    async with st.db.session() as s:
        row = await lookup.get(s, m.Domain, req.params["domain_id"], "domain")
        if row.id == DEFAULT_DOMAIN_ID:
            raise Forbidden("identity.domain.protected", "The default domain cannot be deleted.")
        f.assert_mutable("domain", row.id, row.extra.get("options", {}))
        if row.enabled:
            raise Forbidden(
                "identity.domain.enabled",
                "Cannot delete a domain that is enabled, please disable it first.",
            )
        await cascade.delete_domain(s, row.id)
    st.changed()
    return Response(status_code=204)
