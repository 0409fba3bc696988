"""List requests as Neutron answers them: filters on any attribute, ``fields``,
``sort_key``/``sort_dir``, ``limit``/``marker``/``page_reverse`` and the links.

They work on the views a caller may see (after scoping, so no filter reaches a hidden
row), which makes every attribute filterable in one way, including lists such as a
port's ``fixed_ips`` (``fixed_ips=ip_address=10.0.0.5``, ``subnet_id=``,
``ip_address_substr=``) or a network's ``subnets``. Paging is by keyset on the sort
keys plus ``id``, so a page never repeats or skips an item when others are added.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

from starlette.datastructures import QueryParams

from stratus.common.asgi.routing import ApiRequest
from stratus.network.attributes import to_bool, to_int
from stratus.network.errors import bad, not_found

CONTROL = frozenset({"fields", "sort_key", "sort_dir", "limit", "marker", "page_reverse"})
View = dict[str, Any]


@dataclass(frozen=True)
class Listed:
    """What a list of one resource needs to know: names, filterable and sortable keys."""

    resource: str  # "network"
    collection: str  # "networks"
    attributes: tuple[str, ...]
    sortable: tuple[str, ...]


@dataclass
class ListQuery:
    filters: dict[str, list[str]] = field(default_factory=dict)
    fields: list[str] = field(default_factory=list)
    sort: list[tuple[str, bool]] = field(default_factory=list)  # (key, ascending)
    limit: int | None = None
    marker: str | None = None
    page_reverse: bool = False


def parse(q: QueryParams, attributes: Collection[str], sortable: Collection[str]) -> ListQuery:
    out = ListQuery(fields=[f for v in q.getlist("fields") for f in v.split(",") if f])
    for key in q:
        if key in CONTROL:
            continue
        if key not in attributes:
            raise bad("HTTPBadRequest", f"[{key}] is invalid attribute for filtering")
        out.filters[key] = q.getlist(key)
    keys, dirs = q.getlist("sort_key"), q.getlist("sort_dir")
    if len(keys) != len(dirs) and dirs:
        raise bad("HTTPBadRequest", "The number of sort_keys and sort_dirs must be same")
    for i, key in enumerate(keys):
        if key not in sortable:
            raise bad("HTTPBadRequest", f"{key} is an invalid attribute for sort_keys")
        direction = dirs[i] if dirs else "asc"
        if direction not in ("asc", "desc"):
            raise bad("HTTPBadRequest", f"{direction} is an invalid value for sort_dirs")
        out.sort.append((key, direction == "asc"))
    if "id" not in keys:
        out.sort.append(("id", out.sort[-1][1] if out.sort else True))
    if "limit" in q:
        out.limit = to_int(q["limit"], "limit", 0) or None
    out.marker = q.get("marker")
    out.page_reverse = to_bool(q["page_reverse"], "page_reverse") if "page_reverse" in q else False
    return out


def matches(view: View, filters: dict[str, list[str]]) -> bool:
    return all(any(_match(view.get(k), v) for v in values) for k, values in filters.items())


def _match(value: Any, wanted: str) -> bool:
    if isinstance(value, bool):
        return wanted.lower() in (("true", "1") if value else ("false", "0"))
    if isinstance(value, int):
        return wanted == str(value)
    if value is None:
        return wanted in ("", "None")
    if isinstance(value, list):
        return any(_match_item(item, wanted) for item in value)
    return str(value) == wanted


def _match_item(item: Any, wanted: str) -> bool:
    if isinstance(item, dict):  # fixed_ips=ip_address=10.0.0.5, host_routes, pools
        key, sep, expected = wanted.partition("=")
        if not sep:
            return False
        if key.endswith("_substr"):
            return expected in str(item.get(key.removesuffix("_substr"), ""))
        return str(item.get(key)) == expected
    return str(item) == wanted


def _sort_key(view: View, sort: Sequence[tuple[str, bool]]) -> tuple[Any, ...]:
    parts: list[Any] = []
    for key, _ascending in sort:
        value = view.get(key)
        parts.append((value is None, "" if value is None else value))
    return tuple(parts)


def _after(view: View, marker: View, sort: Sequence[tuple[str, bool]]) -> bool:
    """Whether ``view`` comes strictly after ``marker`` in the order ``sort``."""
    a, b = _sort_key(view, sort), _sort_key(marker, sort)
    for (_key, ascending), x, y in zip(sort, a, b, strict=True):
        if x != y:
            return bool(x > y) if ascending else bool(x < y)
    return False


def _ordered(views: list[View], sort: Sequence[tuple[str, bool]]) -> list[View]:
    for key, ascending in reversed(sort):
        views.sort(
            key=lambda v, k=key: (v.get(k) is None, "" if v.get(k) is None else v.get(k)),  # type: ignore[misc]
            reverse=not ascending,
        )
    return views


def select(
    views: list[View], q: ListQuery, resource: str, max_limit: int
) -> tuple[list[View], bool, bool]:
    """The page: (views, whether more follow, whether the page had a marker)."""
    found = [v for v in views if matches(v, q.filters)]
    sort = [(k, asc != q.page_reverse) for k, asc in q.sort]
    found = _ordered(found, sort)
    if q.marker is not None:
        marker = next((v for v in views if v.get("id") == q.marker), None)
        if marker is None:
            raise not_found(resource, q.marker)
        found = [v for v in found if _after(v, marker, sort)]
    limit = min(q.limit, max_limit) if q.limit else None
    more = limit is not None and len(found) > limit
    page = found[:limit] if limit is not None else found
    if q.page_reverse:
        page.reverse()
    return page, more, q.marker is not None


def project(view: View, fields: Sequence[str]) -> View:
    return {k: view[k] for k in fields if k in view} if fields else view


def respond(
    req: ApiRequest, views: list[View], q: ListQuery, kind: Listed, max_limit: int
) -> dict[str, Any]:
    """The list body, with ``<collection>_links`` when the caller pages."""
    page, more, had_marker = select(views, q, kind.resource, max_limit)
    collection = kind.collection
    body: dict[str, Any] = {collection: [project(v, q.fields) for v in page]}
    if q.limit and page:
        links = []
        forward_more = more if not q.page_reverse else had_marker
        backward_more = had_marker if not q.page_reverse else more
        if forward_more:
            links.append({"rel": "next", "href": _link(req, page[-1]["id"], reverse=False)})
        if backward_more:
            links.append({"rel": "previous", "href": _link(req, page[0]["id"], reverse=True)})
        body[f"{collection}_links"] = links
    return body


def _link(req: ApiRequest, marker: str, *, reverse: bool) -> str:
    params = [(k, v) for k, v in req.query.multi_items() if k not in ("marker", "page_reverse")]
    params.append(("marker", marker))
    if reverse:
        params.append(("page_reverse", "True"))
    base = str(req.raw.url.replace(query="")).rstrip("/")
    return f"{base}?{urlencode(params)}"
