"""A flavor's access list (private flavors) and extra specs.

Reading extra specs is open to whoever sees the flavor; changing them and the access
list is for admins. A public flavor has no access list (Nova answers 404).
"""

from __future__ import annotations

import re
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.responses import Response

from stratus.common.asgi.routing import ApiRequest, Routes, json_response
from stratus.common.errors import Conflict, NotFound
from stratus.compute.api.common import ADMIN_ONLY, READ, bad, body_of, check_unknown
from stratus.compute.api.flavors import load_flavor
from stratus.compute.api.state import state_of
from stratus.compute.models import Flavor, FlavorAccess

routes = Routes("os_compute_api")
_SPEC_KEY = re.compile(r"^[\w\-_:. ]{1,255}$")


async def _access_list(s: AsyncSession, flavor_id: str) -> dict[str, Any]:
    rows = await s.scalars(
        sa.select(FlavorAccess.project_id).where(FlavorAccess.flavor_id == flavor_id)
    )
    return {"flavor_access": [{"flavor_id": flavor_id, "tenant_id": p} for p in sorted(rows)]}


@routes.route("GET", "/v2.1/flavors/{flavor_id}/os-flavor-access", rule=ADMIN_ONLY)
async def list_flavor_access(req: ApiRequest) -> Response:
    async with state_of(req).db.session() as s:
        flavor = await load_flavor(s, req.ctx, req.params["flavor_id"])
        if flavor.is_public:
            raise NotFound("compute.flavor.public", "Access list not available for public flavors.")
        return json_response(await _access_list(s, flavor.id))


@routes.route("POST", "/v2.1/flavors/{flavor_id}/action", rule=ADMIN_ONLY)
async def flavor_action(req: ApiRequest) -> Response:
    data = await req.json()
    if not isinstance(data, dict) or len(data) != 1:
        raise bad("Expected one of addTenantAccess or removeTenantAccess")
    (name,) = data
    if name not in ("addTenantAccess", "removeTenantAccess"):
        raise bad(f"There is no such action: {name}")
    body = await body_of(req, name)
    check_unknown(body, {"tenant"}, name)
    tenant = body.get("tenant")
    if not isinstance(tenant, str) or not 1 <= len(tenant) <= 255:
        raise bad(f"Invalid input for field/attribute tenant. Value: {tenant}.")
    async with state_of(req).db.session() as s:
        flavor = await load_flavor(s, req.ctx, req.params["flavor_id"])
        if flavor.is_public:
            raise Conflict("compute.flavor.public", "Can not add access to a public flavor.")
        existing = await s.get(FlavorAccess, (flavor.id, tenant))
        if name == "addTenantAccess":
            if existing is not None:
                raise Conflict(
                    "compute.flavor.access_exists",
                    f"Flavor access already exists for flavor {flavor.id} and "
                    f"project {tenant} combination.",
                )
            s.add(FlavorAccess(flavor_id=flavor.id, project_id=tenant))
        else:
            if existing is None:
                raise NotFound(
                    "compute.flavor.access_not_found",
                    f"Flavor access not found for {flavor.id} / {tenant} combination.",
                )
            await s.delete(existing)
        await s.flush()
        return json_response(await _access_list(s, flavor.id))


def _check_specs(specs: Any) -> dict[str, str]:
    if not isinstance(specs, dict):
        raise bad("Invalid input for field/attribute extra_specs.")
    out = {}
    for key, value in specs.items():
        if not _SPEC_KEY.match(key):
            raise bad(f"Invalid input for field/attribute extra_specs. Key: {key}.")
        if isinstance(value, bool) or not isinstance(value, str | int | float):
            raise bad(f"Invalid input for field/attribute {key}. Value: {value}.")
        text = str(value)
        if len(text) > 255:
            raise bad(f"Invalid input for field/attribute {key}. Value too long.")
        out[key] = text
    return out


async def _specs_flavor(req: ApiRequest, s: AsyncSession) -> Flavor:
    return await load_flavor(s, req.ctx, req.params["flavor_id"])


@routes.route("GET", "/v2.1/flavors/{flavor_id}/os-extra_specs", rule=READ)
async def list_extra_specs(req: ApiRequest) -> Response:
    async with state_of(req).db.session() as s:
        flavor = await _specs_flavor(req, s)
    return json_response({"extra_specs": dict(flavor.extra_specs or {})})


@routes.route("POST", "/v2.1/flavors/{flavor_id}/os-extra_specs", rule=ADMIN_ONLY)
async def create_extra_specs(req: ApiRequest) -> Response:
    specs = _check_specs(await body_of(req, "extra_specs"))
    async with state_of(req).db.session() as s:
        flavor = await _specs_flavor(req, s)
        flavor.extra_specs = {**(flavor.extra_specs or {}), **specs}
    return json_response({"extra_specs": specs})


def _key_of(req: ApiRequest, flavor: Flavor) -> str:
    key = req.params["key"]
    if key not in (flavor.extra_specs or {}):
        raise NotFound(
            "compute.flavor.extra_spec.not_found",
            f"Flavor {flavor.id} has no extra specs with key {key}.",
        )
    return key


@routes.route("GET", "/v2.1/flavors/{flavor_id}/os-extra_specs/{key}", rule=READ)
async def show_extra_spec(req: ApiRequest) -> Response:
    async with state_of(req).db.session() as s:
        flavor = await _specs_flavor(req, s)
        key = _key_of(req, flavor)
    return json_response({key: flavor.extra_specs[key]})


@routes.route("PUT", "/v2.1/flavors/{flavor_id}/os-extra_specs/{key}", rule=ADMIN_ONLY)
async def update_extra_spec(req: ApiRequest) -> Response:
    data = await req.json()
    key = req.params["key"]
    if not isinstance(data, dict) or len(data) != 1:
        raise bad("Request body contains too many items")
    if key not in data:
        raise bad("Request body and URI mismatch")
    specs = _check_specs(data)
    async with state_of(req).db.session() as s:
        flavor = await _specs_flavor(req, s)
        flavor.extra_specs = {**(flavor.extra_specs or {}), **specs}
    return json_response(specs)


@routes.route("DELETE", "/v2.1/flavors/{flavor_id}/os-extra_specs/{key}", rule=ADMIN_ONLY)
async def delete_extra_spec(req: ApiRequest) -> Response:
    async with state_of(req).db.session() as s:
        flavor = await _specs_flavor(req, s)
        key = _key_of(req, flavor)
        flavor.extra_specs = {k: v for k, v in flavor.extra_specs.items() if k != key}
    return Response(status_code=200)
