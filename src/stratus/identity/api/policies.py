"""``/v3/policies``: policy blobs stored for other services.

Keystone keeps this API (deprecated, but still served) as an opaque store: a ``blob``
and its ``type`` (a media type such as ``application/json``), plus free attributes.
Stratus does not read the blobs; its own access rules are declared in code.
"""

from __future__ import annotations

import sqlalchemy as sa
from pydantic import BaseModel
from starlette.responses import Response

from stratus.common.asgi.policy import ADMIN, ADMIN_OR_SYSTEM_READER
from stratus.common.asgi.routing import ApiRequest, Routes, json_response
from stratus.identity import fields as f
from stratus.identity import lookup, views
from stratus.identity import models as m
from stratus.identity.state import base_url, state_of

routes = Routes("identity")
Type = f.Name


class PolicyCreate(BaseModel):
    model_config = f.EXTENSIBLE
    blob: f.Description
    type: Type


class PolicyUpdate(BaseModel):
    model_config = f.EXTENSIBLE
    blob: f.Description | None = None
    type: Type | None = None


class CreateBody(BaseModel):
    model_config = f.STRICT
    policy: PolicyCreate


class UpdateBody(BaseModel):
    model_config = f.STRICT
    policy: PolicyUpdate


def _view(base: str, p: m.Policy) -> views.Json:
    out = dict(p.extra)
    out.update(
        {
            "id": p.id,
            "type": p.type,
            "blob": p.blob,
            "links": {"self": views.url(base, "policies", p.id)},
        }
    )
    return out


@routes.route("GET", "/v3/policies", rule=ADMIN_OR_SYSTEM_READER)
async def list_policies(req: ApiRequest) -> Response:
    """List policies; filter ``type``."""
    query = sa.select(m.Policy).order_by(m.Policy.id)
    if (kind := req.query.get("type")) is not None:
        query = query.where(m.Policy.type == kind)
    async with state_of(req).db.session() as s:
        rows = await lookup.all_of(s, query)
    base = base_url(req)
    return json_response(
        views.collection("policies", (_view(base, p) for p in rows), str(req.raw.url))
    )


@routes.route("POST", "/v3/policies", rule=ADMIN)
async def create_policy(req: ApiRequest) -> Response:
    body = (await req.model(CreateBody)).policy
    async with state_of(req).db.session() as s:
        row = m.Policy(type=body.type, blob=body.blob, extra=f.extras(body.model_extra))
        s.add(row)
        await s.flush()
    return json_response({"policy": _view(base_url(req), row)}, status=201)


@routes.route("GET", "/v3/policies/{policy_id}", rule=ADMIN_OR_SYSTEM_READER)
async def get_policy(req: ApiRequest) -> Response:
    async with state_of(req).db.session() as s:
        row = await lookup.get(s, m.Policy, req.params["policy_id"], "policy")
    return json_response({"policy": _view(base_url(req), row)})


@routes.route("PATCH", "/v3/policies/{policy_id}", rule=ADMIN)
async def update_policy(req: ApiRequest) -> Response:
    body = (await req.model(UpdateBody)).policy
    f.check_update(body, req.params["policy_id"])
    async with state_of(req).db.session() as s:
        row = await lookup.get(s, m.Policy, req.params["policy_id"], "policy")
        if body.blob is not None:
            row.blob = body.blob
        if body.type is not None:
            row.type = body.type
        row.extra = {**row.extra, **f.extras(body.model_extra)}
    return json_response({"policy": _view(base_url(req), row)})


@routes.route("DELETE", "/v3/policies/{policy_id}", rule=ADMIN)
async def delete_policy(req: ApiRequest) -> Response:
    async with state_of(req).db.session() as s:
        await s.delete(await lookup.get(s, m.Policy, req.params["policy_id"], "policy"))
    return Response(status_code=204)
