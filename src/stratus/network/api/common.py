"""Pieces every network route uses: rules, loading what the caller may see, lists."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import Any, TypeVar

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.responses import Response

from stratus.common.asgi.policy import ADMIN, MEMBER, READER
from stratus.common.asgi.routing import ApiRequest, json_response
from stratus.network import listing
from stratus.network import models as m
from stratus.network.attributes import is_uuid
from stratus.network.errors import not_found
from stratus.network.state import state_of

# Neutron's defaults: readers of a project read, members write, admins do anything.
READ = READER
WRITE = MEMBER
ADMIN_ONLY = ADMIN
V2 = "/v2.0"

R = TypeVar(
    "R", m.Network, m.Subnet, m.Port, m.SecurityGroup, m.SecurityGroupRule, m.Router, m.FloatingIp
)


async def load(
    session: AsyncSession,
    model: type[R],
    ident: str,
    visible: sa.ColumnElement[bool],
    resource: str,
) -> R:
    """The row the caller may see, or the resource's 404 (a malformed id is a 404 too:
    clients look names up by asking for them as ids first)."""
    if not is_uuid(ident):
        raise not_found(resource, ident)
    found: R | None = await session.scalar(sa.select(model).where(model.id == ident, visible))
    if found is None:
        raise not_found(resource, ident)
    return found


async def list_response(
    req: ApiRequest,
    kind: listing.Listed,
    views_of: Callable[[AsyncSession], Awaitable[list[dict[str, Any]]]],
) -> Response:
    q = listing.parse(req.query, kind.attributes, kind.sortable)
    st = state_of(req)
    async with st.db.session() as session:
        views = await views_of(session)
    return json_response(listing.respond(req, views, q, kind, st.settings.max_list_limit))


def show_response(req: ApiRequest, resource: str, view: dict[str, Any]) -> Response:
    fields: Sequence[str] = [f for v in req.query.getlist("fields") for f in v.split(",") if f]
    return json_response({resource: listing.project(view, fields)})


STANDARD = (
    "id",
    "tenant_id",
    "project_id",
    "description",
    "created_at",
    "updated_at",
    "revision_number",
)
