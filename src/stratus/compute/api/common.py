"""Pieces every compute route uses: access rules, request bodies, paging, links."""

from __future__ import annotations

import uuid
from typing import Any
from urllib.parse import urlencode

from stratus.common.asgi.policy import ADMIN, MEMBER, READER
from stratus.common.asgi.routing import ApiRequest
from stratus.common.errors import InvalidInput, NotFound

# Nova's defaults: project readers read, members write, admins reach across projects.
READ = READER
WRITE = MEMBER
ADMIN_ONLY = ADMIN


def bad(message: str) -> InvalidInput:
    return InvalidInput("compute.invalid", message)


async def body_of(req: ApiRequest, key: str) -> dict[str, Any]:
    """The object under ``key`` of a JSON body (Nova's envelope), or a 400."""
    data = await req.json()
    if not isinstance(data, dict) or key not in data:
        raise bad(f"'{key}' is a required property")
    inner = data[key]
    if not isinstance(inner, dict):
        raise bad(
            f"Invalid input for field/attribute {key}. Value: {inner}. "
            f"{inner!r} is not of type 'object'"
        )
    return inner


def check_unknown(body: dict[str, Any], allowed: set[str], where: str) -> None:
    extra = sorted(set(body) - allowed)
    if extra:
        raise bad(
            f"Invalid input for field/attribute {where}. Additional properties are "
            f"not allowed ({', '.join(repr(e) for e in extra)} were unexpected)"
        )


def is_uuid(value: str) -> bool:
    try:
        uuid.UUID(value)
    except ValueError:
        return False
    return True


def query_int(req: ApiRequest, name: str, minimum: int = 0) -> int | None:
    raw = req.query.get(name)
    if raw is None:
        return None
    try:
        value = int(raw)
    except ValueError:
        raise bad(f"Invalid input for query parameters {name}. Value: {raw}.") from None
    if value < minimum:
        raise bad(f"Invalid input for query parameters {name}. Value: {raw}.")
    return value


def page_limit(req: ApiRequest, maximum: int) -> int:
    limit = query_int(req, "limit")
    return maximum if limit is None else min(limit, maximum)


def query_bool(req: ApiRequest, name: str) -> bool | None:
    raw = req.query.get(name)
    if raw is None:
        return None
    lowered = raw.strip().lower()
    if lowered in ("1", "true", "t", "yes", "y", "on"):
        return True
    if lowered in ("0", "false", "f", "no", "n", "off"):
        return False
    raise bad(f"Invalid input for query parameters {name}. Value: {raw}.")


def link_base(req: ApiRequest) -> str:
    return str(req.raw.base_url).rstrip("/")


def links(req: ApiRequest, collection: str, item_id: str) -> list[dict[str, str]]:
    base = link_base(req)
    return [
        {"rel": "self", "href": f"{base}/v2.1/{collection}/{item_id}"},
        {"rel": "bookmark", "href": f"{base}/{collection}/{item_id}"},
    ]


def next_link(req: ApiRequest, collection: str, marker: str) -> dict[str, str]:
    params = [(k, v) for k, v in req.query.multi_items() if k != "marker"]
    params.append(("marker", marker))
    query = urlencode(params)
    return {"rel": "next", "href": f"{link_base(req)}/v2.1/{collection}?{query}"}


def marker_not_found(marker: str) -> InvalidInput:
    return bad(f"marker [{marker}] not found")


def not_found(what: str, ident: str) -> NotFound:
    return NotFound(f"compute.{what.lower()}.not_found", f"{what} {ident} could not be found.")
