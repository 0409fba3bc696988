"""``GET /v2/images``: Glance's filters, sort keys and limit/marker paging.

Filters: ``name``, ``status``, ``visibility``, ``owner``, ``tag`` (repeatable, all must
match), ``disk_format``, ``container_format``, ``size_min``/``size_max``,
``member_status``, ``protected``, ``os_hidden`` and ``id=in:a,b``; any other key filters
on a free property of that name. Sorting takes ``sort=key:dir,...`` or repeated
``sort_key``/``sort_dir``; ``id`` always ends the order so pages are stable. A marker
that the caller cannot see is a 400, as in Glance.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.datastructures import QueryParams

from stratus.common.context import RequestContext
from stratus.image import access
from stratus.image import models as m
from stratus.image.attributes import invalid

DEFAULT_LIMIT = 25
MAX_LIMIT = 1000
SORT_KEYS = {
    "name": m.Image.name,
    "status": m.Image.status,
    "container_format": m.Image.container_format,
    "disk_format": m.Image.disk_format,
    "size": m.Image.size,
    "id": m.Image.id,
    "created_at": m.Image.created_at,
    "updated_at": m.Image.updated_at,
    "visibility": m.Image.visibility,
    "owner": m.Image.owner,
    "min_disk": m.Image.min_disk,
    "min_ram": m.Image.min_ram,
}
EQUAL = {
    "name": m.Image.name,
    "status": m.Image.status,
    "owner": m.Image.owner,
    "disk_format": m.Image.disk_format,
    "container_format": m.Image.container_format,
}
CONTROL = frozenset(
    {"limit", "marker", "sort", "sort_key", "sort_dir", "visibility", "tag", "size_min",
     "size_max", "member_status", "protected", "os_hidden", "id", "created_at",
     "updated_at", *EQUAL}
)  # fmt: skip


@dataclass
class ListQuery:
    limit: int = DEFAULT_LIMIT
    marker: str | None = None
    sort: list[tuple[str, str]] = field(default_factory=list)
    visibility: str | None = None
    tags: list[str] = field(default_factory=list)
    equal: dict[str, str] = field(default_factory=dict)
    properties: dict[str, str] = field(default_factory=dict)
    size_min: int | None = None
    size_max: int | None = None
    member_status: str = "accepted"
    flags: dict[str, bool] = field(default_factory=dict)
    ids: list[str] | None = None

    @classmethod
    def parse(cls, q: QueryParams) -> ListQuery:
        out = cls(limit=_int(q, "limit", DEFAULT_LIMIT), marker=q.get("marker"))
        out.limit = min(max(out.limit, 0), MAX_LIMIT)
        out.sort = _sort(q)
        out.visibility = q.get("visibility")
        if out.visibility not in (None, *access.VISIBILITIES, "all"):
            raise invalid(f"Invalid visibility value: {out.visibility}")
        out.tags = q.getlist("tag")
        out.equal = {k: q[k] for k in EQUAL if k in q}
        out.properties = {k: v for k, v in q.items() if k not in CONTROL}
        out.size_min = _int(q, "size_min", None)
        out.size_max = _int(q, "size_max", None)
        out.member_status = q.get("member_status", "accepted")
        if out.member_status not in ("accepted", "pending", "rejected", "all"):
            raise invalid(f"Invalid member_status value: {out.member_status}")
        out.flags = {k: _bool(q[k], k) for k in ("protected", "os_hidden") if k in q}
        if "id" in q:
            out.ids = q["id"].removeprefix("in:").split(",")
        return out


def _int(q: QueryParams, key: str, default: int | None) -> Any:
    value = q.get(key)
    if value is None:
        return default
    try:
        number = int(value)
    except ValueError:
        raise invalid(f"Invalid value for {key}: {value!r} is not an integer") from None
    if number < 0:
        raise invalid(f"Invalid value for {key}: must not be negative")
    return number


def _bool(value: str, key: str) -> bool:
    if value.lower() in ("true", "1", "yes"):
        return True
    if value.lower() in ("false", "0", "no"):
        return False
    raise invalid(f"Invalid value for {key}: {value!r} is not a boolean")


def _sort(q: QueryParams) -> list[tuple[str, str]]:
    pairs: list[tuple[str, str]] = []
    if "sort" in q:
        for item in q["sort"].split(","):
            key, _, direction = item.strip().partition(":")
            pairs.append((key, direction or "desc"))
    else:
        keys, dirs = q.getlist("sort_key"), q.getlist("sort_dir")
        for i, key in enumerate(keys or ["created_at"]):
            pairs.append((key, dirs[i] if i < len(dirs) else (dirs[0] if dirs else "desc")))
    for key, direction in pairs:
        if key not in SORT_KEYS:
            raise invalid(f"Invalid sort key: {key}")
        if direction not in ("asc", "desc"):
            raise invalid(f"Invalid sort direction: {direction}")
    if "id" not in (k for k, _ in pairs):
        pairs.append(("id", pairs[-1][1] if pairs else "desc"))
    return pairs


async def run(session: AsyncSession, ctx: RequestContext, q: ListQuery) -> Sequence[m.Image]:
    scope = q.visibility or ("all" if q.member_status != "accepted" else None)
    query = sa.select(m.Image).where(access.listing_filter(ctx, scope))
    query = _filtered(query, ctx, q)
    if q.marker is not None:
        marker = await session.get(m.Image, q.marker)
        if marker is None or not await access.visible(session, ctx, marker):
            raise invalid(f"Invalid marker: image {q.marker} could not be found.")
        query = query.where(_after(marker, q.sort))
    order = [SORT_KEYS[k].asc() if d == "asc" else SORT_KEYS[k].desc() for k, d in q.sort]
    rows = await session.execute(query.order_by(*order).limit(q.limit))
    return list(rows.scalars().all())


def _filtered(query: sa.Select[m.Image], ctx: RequestContext, q: ListQuery) -> sa.Select[m.Image]:
    if q.visibility in access.VISIBILITIES:
        query = query.where(m.Image.visibility == q.visibility)
    for key, value in q.equal.items():
        query = query.where(EQUAL[key] == value)
    for key, value in q.properties.items():
        query = query.where(m.Image.properties[key].as_string() == value)
    for tag in q.tags:
        query = query.where(
            m.Image.id.in_(sa.select(m.ImageTag.image_id).where(m.ImageTag.value == tag))
        )
    if q.size_min is not None:
        query = query.where(m.Image.size >= q.size_min)
    if q.size_max is not None:
        query = query.where(m.Image.size <= q.size_max)
    query = query.where(m.Image.os_hidden == q.flags.get("os_hidden", False))
    if "protected" in q.flags:
        query = query.where(m.Image.protected == q.flags["protected"])
    if q.ids is not None:
        query = query.where(m.Image.id.in_(q.ids))
    if q.member_status != "accepted" or q.visibility == "shared":
        members = sa.select(m.ImageMember.image_id).where(m.ImageMember.member == ctx.project_id)
        if q.member_status != "all":
            members = members.where(m.ImageMember.status == q.member_status)
        query = query.where(sa.or_(m.Image.owner == ctx.project_id, m.Image.id.in_(members)))
    return query


def _after(marker: m.Image, sort: list[tuple[str, str]]) -> sa.ColumnElement[bool]:
    """Rows strictly after ``marker`` in the sort order (keyset paging)."""
    clauses = []
    for i, (key, direction) in enumerate(sort):
        column, value = SORT_KEYS[key], getattr(marker, key)
        ties = [SORT_KEYS[k] == getattr(marker, k) for k, _ in sort[:i]]
        beyond = column > value if direction == "asc" else column < value
        if value is None:
            beyond = column.is_not(None) if direction == "asc" else sa.false()
        clauses.append(sa.and_(*ties, beyond))
    return sa.or_(*clauses)


def next_link(q: QueryParams, last_id: str) -> str:
    params = [(k, v) for k, v in q.multi_items() if k != "marker"]
    params.append(("marker", last_id))
    return f"/v2/images?{urlencode(params)}"
