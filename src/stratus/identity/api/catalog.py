"""The service catalog: ``/v3/regions``, ``/v3/services``, ``/v3/endpoints``.

Any authenticated user may read regions (clients pick a region by name); services and
endpoints are managed and listed by administrators (everyone else sees them in their
token's catalog). Every change clears the cached catalog so new tokens show it at once.
Endpoints accept the pre-3.2 ``region`` attribute and, as Keystone does for those old
clients, create the region it names if it does not exist.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

import sqlalchemy as sa
from pydantic import BaseModel, StrictBool, StringConstraints
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.responses import Response

from stratus.common.asgi.policy import ADMIN, ADMIN_OR_SYSTEM_READER, AUTHENTICATED
from stratus.common.asgi.routing import ApiRequest, Routes, json_response
from stratus.common.db.types import new_id
from stratus.common.errors import Forbidden, InvalidInput
from stratus.identity import fields as f
from stratus.identity import lookup, views
from stratus.identity import models as m
from stratus.identity.state import base_url, state_of

routes = Routes("identity")

Interface = Literal["public", "internal", "admin"]
Url = Annotated[str, StringConstraints(strict=True, max_length=225, pattern=r"^[a-zA-Z0-9+.-]+:.+")]
ServiceType = Annotated[str, StringConstraints(strict=True, min_length=1, max_length=255)]
ServiceName = Annotated[str, StringConstraints(strict=True, max_length=255)]


class RegionFields(BaseModel):
    model_config = f.EXTENSIBLE
    id: f.RegionId | None = None
    description: f.Description | None = None
    parent_region_id: f.RegionId | None = None


class RegionBody(BaseModel):
    model_config = f.STRICT
    region: RegionFields


class ServiceFields(BaseModel):
    model_config = f.EXTENSIBLE
    type: ServiceType | None = None
    name: ServiceName | None = None
    description: f.Description | None = None
    enabled: StrictBool | None = None


class ServiceBody(BaseModel):
    model_config = f.STRICT
    service: ServiceFields


class EndpointFields(BaseModel):
    model_config = f.EXTENSIBLE
    interface: Interface | None = None
    service_id: f.Id | None = None
    url: Url | None = None
    region_id: f.RegionId | None = None
    region: f.RegionId | None = None
    enabled: StrictBool | None = None


class EndpointBody(BaseModel):
    model_config = f.STRICT
    endpoint: EndpointFields


def _required(model: BaseModel, *names: str) -> None:
    missing = [n for n in names if getattr(model, n) is None]
    if missing:
        raise InvalidInput("request.invalid", f"'{missing[0]}' is a required property.")


# ---- regions -------------------------------------------------------------------------


async def _check_parent(s: AsyncSession, region_id: str, parent_id: str | None) -> None:
    """The parent must exist and must not be the region or one of its descendants."""
    seen: set[str] = set()
    current = parent_id
    while current is not None and current not in seen:
        if current == region_id:
            raise InvalidInput(
                "identity.region.cycle",
                f"Circular reference or a repeated entry found in region tree - {region_id}.",
            )
        seen.add(current)
        parent = await lookup.referenced(s, m.Region, current, "region")
        current = parent.parent_region_id


async def _create_region(req: ApiRequest, region_id: str | None) -> Response:
    body = (await req.model(RegionBody)).region
    if region_id is not None and body.id is not None and body.id != region_id:
        raise InvalidInput("identity.id_change", "The region id in the body must match the URL.")
    ident = region_id or body.id or new_id()
    clash = lookup.conflict("region", f"Duplicate ID, {ident}")
    st = state_of(req)
    async with st.db.session() as s:
        if await s.get(m.Region, ident) is not None:
            raise clash
        await _check_parent(s, ident, body.parent_region_id)
        row = m.Region(
            id=ident,
            description=body.description or "",
            parent_region_id=body.parent_region_id,
            extra=f.extras(body.model_extra),
        )
        s.add(row)
        await lookup.flush(s, clash)
    return json_response({"region": views.region(base_url(req), row)}, status=201)


@routes.route("GET", "/v3/regions", rule=AUTHENTICATED)
async def list_regions(req: ApiRequest) -> Response:
    """List regions; filter ``parent_region_id``."""
    query = sa.select(m.Region).order_by(m.Region.id)
    if (parent := req.query.get("parent_region_id")) is not None:
        query = query.where(m.Region.parent_region_id == parent)
    async with state_of(req).db.session() as s:
        rows = await lookup.all_of(s, query)
    base = base_url(req)
    return json_response(
        views.collection("regions", (views.region(base, r) for r in rows), str(req.raw.url))
    )


@routes.route("POST", "/v3/regions", rule=ADMIN)
async def create_region(req: ApiRequest) -> Response:
    return await _create_region(req, None)


@routes.route("PUT", "/v3/regions/{region_id}", rule=ADMIN)
async def create_region_with_id(req: ApiRequest) -> Response:
    return await _create_region(req, req.params["region_id"])


@routes.route("GET", "/v3/regions/{region_id}", rule=AUTHENTICATED)
async def get_region(req: ApiRequest) -> Response:
    async with state_of(req).db.session() as s:
        row = await lookup.get(s, m.Region, req.params["region_id"], "region")
    return json_response({"region": views.region(base_url(req), row)})


@routes.route("PATCH", "/v3/regions/{region_id}", rule=ADMIN)
async def update_region(req: ApiRequest) -> Response:
    body = (await req.model(RegionBody)).region
    f.check_update(body, req.params["region_id"])
    st = state_of(req)
    async with st.db.session() as s:
        row = await lookup.get(s, m.Region, req.params["region_id"], "region")
        if "parent_region_id" in body.model_fields_set:
            await _check_parent(s, row.id, body.parent_region_id)
            row.parent_region_id = body.parent_region_id
        if "description" in body.model_fields_set:
            row.description = body.description or ""
        row.extra = {**row.extra, **f.extras(body.model_extra)}
    st.changed()
    return json_response({"region": views.region(base_url(req), row)})


async def _region_tree(s: AsyncSession, region_id: str) -> list[str]:
    """The region and all its descendants, children after parents."""
    rows = (await s.execute(sa.select(m.Region.id, m.Region.parent_region_id))).all()
    order = [region_id]
    for current in order:
        order.extend(rid for rid, parent in rows if parent == current and rid not in order)
    return order


@routes.route("DELETE", "/v3/regions/{region_id}", rule=ADMIN)
async def delete_region(req: ApiRequest) -> Response:
    """Delete a region and its child regions, unless any of them still has endpoints."""
    st = state_of(req)
    async with st.db.session() as s:
        row = await lookup.get(s, m.Region, req.params["region_id"], "region")
        tree = await _region_tree(s, row.id)
        used = sa.select(m.Endpoint).where(m.Endpoint.region_id.in_(tree))
        if await lookup.first(s, used):
            raise Forbidden(
                "identity.region.in_use",
                f"Unable to delete region {row.id} because it or its child regions "
                "have associated endpoints.",
            )
        for rid in reversed(tree):
            await s.execute(sa.delete(m.Region).where(m.Region.id == rid))
    st.changed()
    return Response(status_code=204)


# ---- services ------------------------------------------------------------------------


@routes.route("GET", "/v3/services", rule=ADMIN_OR_SYSTEM_READER)
async def list_services(req: ApiRequest) -> Response:
    """List services; filters ``type`` and ``name``."""
    query = sa.select(m.CatalogService).order_by(m.CatalogService.type)
    if (kind := req.query.get("type")) is not None:
        query = query.where(m.CatalogService.type == kind)
    query = lookup.where_equal(query, req.query, {"name": m.CatalogService.name})
    async with state_of(req).db.session() as s:
        rows = await lookup.all_of(s, query)
    base = base_url(req)
    items = (views.service(base, x) for x in rows)
    return json_response(views.collection("services", items, str(req.raw.url)))


@routes.route("POST", "/v3/services", rule=ADMIN)
async def create_service(req: ApiRequest) -> Response:
    body = (await req.model(ServiceBody)).service
    _required(body, "type")
    st = state_of(req)
    async with st.db.session() as s:
        row = m.CatalogService(
            type=body.type,
            name=body.name or "",
            description=body.description or "",
            enabled=body.enabled is not False,
            extra=f.extras(body.model_extra),
        )
        s.add(row)
        await s.flush()
    st.changed()
    return json_response({"service": views.service(base_url(req), row)}, status=201)


@routes.route("GET", "/v3/services/{service_id}", rule=ADMIN_OR_SYSTEM_READER)
async def get_service(req: ApiRequest) -> Response:
    async with state_of(req).db.session() as s:
        row = await lookup.get(s, m.CatalogService, req.params["service_id"], "service")
    return json_response({"service": views.service(base_url(req), row)})


@routes.route("PATCH", "/v3/services/{service_id}", rule=ADMIN)
async def update_service(req: ApiRequest) -> Response:
    body = (await req.model(ServiceBody)).service
    f.check_update(body, req.params["service_id"])
    st = state_of(req)
    async with st.db.session() as s:
        row = await lookup.get(s, m.CatalogService, req.params["service_id"], "service")
        if body.type is not None:
            row.type = body.type
        if "name" in body.model_fields_set:
            row.name = body.name or ""
        if "description" in body.model_fields_set:
            row.description = body.description or ""
        if body.enabled is not None:
            row.enabled = body.enabled
        row.extra = {**row.extra, **f.extras(body.model_extra)}
    st.changed()
    return json_response({"service": views.service(base_url(req), row)})


@routes.route("DELETE", "/v3/services/{service_id}", rule=ADMIN)
async def delete_service(req: ApiRequest) -> Response:
    """Delete a service and its endpoints."""
    st = state_of(req)
    async with st.db.session() as s:
        row = await lookup.get(s, m.CatalogService, req.params["service_id"], "service")
        await s.execute(sa.delete(m.Endpoint).where(m.Endpoint.service_id == row.id))
        await s.delete(row)
    st.changed()
    return Response(status_code=204)


# ---- endpoints -----------------------------------------------------------------------


async def _endpoint_region(s: AsyncSession, body: EndpointFields) -> str | None:
    """``region_id`` must name a region; the legacy ``region`` creates it if need be."""
    if body.region_id is not None:
        await lookup.referenced(s, m.Region, body.region_id, "region")
        return body.region_id
    if body.region is not None:
        if await s.get(m.Region, body.region) is None:
            s.add(m.Region(id=body.region, description="", extra={}))
            await s.flush()
        return body.region
    return None


@routes.route("GET", "/v3/endpoints", rule=ADMIN_OR_SYSTEM_READER)
async def list_endpoints(req: ApiRequest) -> Response:
    """List endpoints; filters ``interface``, ``service_id``, ``region_id``."""
    query = sa.select(m.Endpoint).order_by(m.Endpoint.service_id, m.Endpoint.interface)
    for name, column in (
        ("interface", m.Endpoint.interface),
        ("service_id", m.Endpoint.service_id),
        ("region_id", m.Endpoint.region_id),
    ):
        if (value := req.query.get(name)) is not None:
            query = query.where(column == value)
    async with state_of(req).db.session() as s:
        rows = await lookup.all_of(s, query)
    base = base_url(req)
    items = (views.endpoint(base, e) for e in rows)
    return json_response(views.collection("endpoints", items, str(req.raw.url)))


@routes.route("POST", "/v3/endpoints", rule=ADMIN)
async def create_endpoint(req: ApiRequest) -> Response:
    body = (await req.model(EndpointBody)).endpoint
    _required(body, "interface", "service_id", "url")
    st = state_of(req)
    async with st.db.session() as s:
        await lookup.referenced(s, m.CatalogService, str(body.service_id), "service")
        row = m.Endpoint(
            service_id=body.service_id,
            interface=body.interface,
            url=body.url,
            region_id=await _endpoint_region(s, body),
            enabled=body.enabled is not False,
            extra=f.extras(body.model_extra),
        )
        s.add(row)
        await s.flush()
    st.changed()
    return json_response({"endpoint": views.endpoint(base_url(req), row)}, status=201)


@routes.route("GET", "/v3/endpoints/{endpoint_id}", rule=ADMIN_OR_SYSTEM_READER)
async def get_endpoint(req: ApiRequest) -> Response:
    async with state_of(req).db.session() as s:
        row = await lookup.get(s, m.Endpoint, req.params["endpoint_id"], "endpoint")
    return json_response({"endpoint": views.endpoint(base_url(req), row)})


def _apply_endpoint(row: m.Endpoint, body: EndpointFields, extra: dict[str, Any]) -> None:
    if body.interface is not None:
        row.interface = body.interface
    if body.url is not None:
        row.url = body.url
    if body.enabled is not None:
        row.enabled = body.enabled
    row.extra = {**row.extra, **extra}


@routes.route("PATCH", "/v3/endpoints/{endpoint_id}", rule=ADMIN)
async def update_endpoint(req: ApiRequest) -> Response:
    body = (await req.model(EndpointBody)).endpoint
    f.check_update(body, req.params["endpoint_id"])
    st = state_of(req)
    async with st.db.session() as s:
        row = await lookup.get(s, m.Endpoint, req.params["endpoint_id"], "endpoint")
        if body.service_id is not None:
            await lookup.referenced(s, m.CatalogService, body.service_id, "service")
            row.service_id = body.service_id
        if {"region_id", "region"} & body.model_fields_set:
            row.region_id = await _endpoint_region(s, body)
        _apply_endpoint(row, body, f.extras(body.model_extra))
    st.changed()
    return json_response({"endpoint": views.endpoint(base_url(req), row)})


@routes.route("DELETE", "/v3/endpoints/{endpoint_id}", rule=ADMIN)
async def delete_endpoint(req: ApiRequest) -> Response:
    st = state_of(req)
    async with st.db.session() as s:
        row = await lookup.get(s, m.Endpoint, req.params["endpoint_id"], "endpoint")
        await s.delete(row)
    st.changed()
    return Response(status_code=204)
