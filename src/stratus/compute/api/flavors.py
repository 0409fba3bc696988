"""``/flavors``: list, detail, show; create, describe (2.55) and delete (admin).

A private flavor (``os-flavor-access:is_public`` false) is visible to admins and to the
projects on its access list only; to everyone else it does not exist (404).
"""

from __future__ import annotations

import uuid
from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.responses import Response

from stratus.common.asgi.routing import ApiRequest, Routes, json_response
from stratus.common.context import RequestContext
from stratus.common.errors import Conflict
from stratus.compute.api.common import (
    ADMIN_ONLY,
    READ,
    bad,
    body_of,
    check_unknown,
    links,
    marker_not_found,
    next_link,
    not_found,
    page_limit,
    query_int,
)
from stratus.compute.api.flavor_fields import validate_create
from stratus.compute.api.microversion import since
from stratus.compute.api.state import state_of
from stratus.compute.models import Flavor, FlavorAccess

routes = Routes("os_compute_api")
SORT_KEYS = {
    "flavorid": Flavor.id,
    "name": Flavor.name,
    "memory_mb": Flavor.memory_mb,
    "vcpus": Flavor.vcpus,
    "root_gb": Flavor.root_gb,
    "id": Flavor.id,
    "ephemeral_gb": Flavor.ephemeral_gb,
    "swap": Flavor.swap_mb,
    "rxtx_factor": Flavor.rxtx_factor,
    "created_at": Flavor.created_at,
}


def flavor_view(req: ApiRequest, f: Flavor, *, detail: bool = True) -> dict[str, Any]:
    view: dict[str, Any] = {"id": f.id, "name": f.name, "links": links(req, "flavors", f.id)}
    if since(req, 55):
        view["description"] = f.description
    if not detail:
        return view
    view.update(
        {
            "ram": f.memory_mb,
            "disk": f.root_gb,
            "vcpus": f.vcpus,
            "swap": f.swap_mb if (f.swap_mb or since(req, 75)) else "",
            "OS-FLV-EXT-DATA:ephemeral": f.ephemeral_gb,
            "OS-FLV-DISABLED:disabled": f.disabled,
            "os-flavor-access:is_public": f.is_public,
            "rxtx_factor": f.rxtx_factor,
        }
    )
    if since(req, 61):
        view["extra_specs"] = dict(f.extra_specs or {})
    return view


def visible(ctx: RequestContext) -> sa.ColumnElement[bool]:
    """Flavors ``ctx`` may see: public ones and those shared with its project."""
    shared = sa.select(FlavorAccess.flavor_id).where(FlavorAccess.project_id == ctx.project_id)
    return sa.or_(Flavor.is_public.is_(True), Flavor.id.in_(shared))


async def load_flavor(s: AsyncSession, ctx: RequestContext, flavor_id: str) -> Flavor:
    query = sa.select(Flavor).where(Flavor.id == flavor_id)
    if not ctx.is_admin:
        query = query.where(visible(ctx))
    flavor = await s.scalar(query)
    if flavor is None:
        raise not_found("Flavor", flavor_id)
    return flavor


def _public_filter(req: ApiRequest) -> sa.ColumnElement[bool] | None:
    raw = (req.query.get("is_public") or "").strip().lower()
    if not req.ctx.is_admin:
        return visible(req.ctx)
    if raw in ("", "true", "t", "1", "yes", "y"):
        return Flavor.is_public.is_(True)
    if raw in ("false", "f", "0", "no", "n"):
        return Flavor.is_public.is_(False)
    if raw == "none":
        return None
    raise bad(f"Invalid is_public filter [{req.query.get('is_public')}]")


def _list_query(req: ApiRequest) -> sa.Select[Flavor]:
    query = sa.select(Flavor)
    public = _public_filter(req)
    if public is not None:
        query = query.where(public)
    min_ram, min_disk = query_int(req, "minRam"), query_int(req, "minDisk")
    if min_ram is not None:
        query = query.where(Flavor.memory_mb >= min_ram)
    if min_disk is not None:
        query = query.where(Flavor.root_gb >= min_disk)
    key = req.query.get("sort_key", "flavorid")
    direction = req.query.get("sort_dir", "asc")
    if key not in SORT_KEYS or direction not in ("asc", "desc"):
        raise bad(f"Invalid sort_key or sort_dir: {key} {direction}")
    column = SORT_KEYS[key]
    order = column.asc() if direction == "asc" else column.desc()
    return query.order_by(order, Flavor.id.asc())


async def _list(req: ApiRequest, *, detail: bool) -> Response:
    st = state_of(req)
    limit = page_limit(req, st.settings.max_list_limit)
    marker = req.query.get("marker")
    async with st.db.session() as s:
        flavors = list((await s.scalars(_list_query(req))).all())
    if marker is not None:
        ids = [f.id for f in flavors]
        if marker not in ids:
            raise marker_not_found(marker)
        flavors = flavors[ids.index(marker) + 1 :]
    page = flavors[:limit]
    body: dict[str, Any] = {"flavors": [flavor_view(req, f, detail=detail) for f in page]}
    if len(flavors) > limit and page:
        path = "flavors/detail" if detail else "flavors"
        body["flavors_links"] = [next_link(req, path, page[-1].id)]
    return json_response(body)


@routes.route("GET", "/v2.1/flavors", rule=READ)
async def list_flavors(req: ApiRequest) -> Response:
    return await _list(req, detail=False)


@routes.route("GET", "/v2.1/flavors/detail", rule=READ)
async def list_flavors_detail(req: ApiRequest) -> Response:
    return await _list(req, detail=True)


@routes.route("GET", "/v2.1/flavors/{flavor_id}", rule=READ)
async def show_flavor(req: ApiRequest) -> Response:
    async with state_of(req).db.session() as s:
        flavor = await load_flavor(s, req.ctx, req.params["flavor_id"])
    return json_response({"flavor": flavor_view(req, flavor)})


@routes.route("POST", "/v2.1/flavors", rule=ADMIN_ONLY)
async def create_flavor(req: ApiRequest) -> Response:
    fields = validate_create(await body_of(req, "flavor"), with_description=since(req, 55))
    fid = fields.pop("id", None) or str(uuid.uuid4())
    flavor = Flavor(id=fid, extra_specs={}, disabled=False, **fields)
    try:
        async with state_of(req).db.session() as s:
            for column, value, what in ((Flavor.id, fid, "ID"), (Flavor.name, flavor.name, "name")):
                if await s.scalar(sa.select(Flavor.id).where(column == value)) is not None:
                    raise Conflict(
                        "compute.flavor.exists", f"Flavor with {what} {value} already exists."
                    )
            s.add(flavor)
            if not flavor.is_public and req.ctx.project_id:
                s.add(FlavorAccess(flavor_id=fid, project_id=req.ctx.project_id))
    except IntegrityError:
        raise Conflict("compute.flavor.exists", f"Flavor with ID {fid} already exists.") from None
    return json_response({"flavor": flavor_view(req, flavor)})


@routes.route("PUT", "/v2.1/flavors/{flavor_id}", rule=ADMIN_ONLY)
async def update_flavor(req: ApiRequest) -> Response:
    if not since(req, 55):
        raise not_found("Resource", req.params["flavor_id"])
    body = await body_of(req, "flavor")
    check_unknown(body, {"description"}, "flavor")
    description = body.get("description")
    if "description" not in body or not (description is None or isinstance(description, str)):
        raise bad("Invalid input for field/attribute description.")
    async with state_of(req).db.session() as s:
        flavor = await load_flavor(s, req.ctx, req.params["flavor_id"])
        flavor.description = description
    return json_response({"flavor": flavor_view(req, flavor)})


@routes.route("DELETE", "/v2.1/flavors/{flavor_id}", rule=ADMIN_ONLY)
async def delete_flavor(req: ApiRequest) -> Response:
    async with state_of(req).db.session() as s:
        flavor = await load_flavor(s, req.ctx, req.params["flavor_id"])
        await s.execute(sa.delete(FlavorAccess).where(FlavorAccess.flavor_id == flavor.id))
        await s.delete(flavor)
    return Response(status_code=202)
