"""A server's metadata (``/servers/{id}/metadata``) and tags (``/servers/{id}/tags``, 2.26).

Both are the owner's to change on a server that is not locked (Nova: 409 otherwise);
metadata items are bounded by the ``metadata_items`` quota (403).
"""

from __future__ import annotations

from typing import Any

from starlette.responses import Response

from stratus.common.asgi.routing import ApiRequest, Routes, json_response
from stratus.common.errors import NotFound, OverQuota
from stratus.compute.api import quotas
from stratus.compute.api.common import READ, WRITE, bad, body_of, not_found
from stratus.compute.api.microversion import since
from stratus.compute.api.server_actions import check_lock
from stratus.compute.api.server_request import MAX_TAGS, check_tag, metadata_of, tags_of
from stratus.compute.api.server_views import load_server
from stratus.compute.api.state import state_of
from stratus.compute.models import Instance

routes = Routes("os_compute_api")
META = "/v2.1/servers/{server_id}/metadata"
TAGS = "/v2.1/servers/{server_id}/tags"


async def _change_metadata(req: ApiRequest, new: dict[str, str], *, replace: bool) -> Instance:
    st = state_of(req)
    async with st.db.session() as s:
        inst = await load_server(s, req.ctx, req.params["server_id"])
        check_lock(req, inst)
        merged = new if replace else {**(inst.metadata_ or {}), **new}
        limit = (await quotas.limits_of(st, s, inst.project_id))["metadata_items"]
        if 0 <= limit < len(merged):
            raise OverQuota(
                "compute.quota.metadata_items",
                f"Quota exceeded for metadata_items: Requested {len(new)}, but "
                f"already used {len(merged) - len(new)} of {limit} "
                "metadata_items",
            )
        inst.metadata_ = merged
    return inst


@routes.route("GET", META, rule=READ)
async def list_metadata(req: ApiRequest) -> Response:
    async with state_of(req).db.session() as s:
        inst = await load_server(s, req.ctx, req.params["server_id"])
    return json_response({"metadata": dict(inst.metadata_ or {})})


@routes.route("POST", META, rule=WRITE)
async def update_metadata(req: ApiRequest) -> Response:
    inst = await _change_metadata(req, metadata_of(await body_of(req, "metadata")), replace=False)
    return json_response({"metadata": dict(inst.metadata_)})


@routes.route("PUT", META, rule=WRITE)
async def replace_metadata(req: ApiRequest) -> Response:
    inst = await _change_metadata(req, metadata_of(await body_of(req, "metadata")), replace=True)
    return json_response({"metadata": dict(inst.metadata_)})


@routes.route("GET", META + "/{key}", rule=READ)
async def show_metadata_item(req: ApiRequest) -> Response:
    key = req.params["key"]
    async with state_of(req).db.session() as s:
        inst = await load_server(s, req.ctx, req.params["server_id"])
    if key not in (inst.metadata_ or {}):
        raise NotFound("compute.metadata.not_found", "Metadata item was not found")
    return json_response({"meta": {key: inst.metadata_[key]}})


@routes.route("PUT", META + "/{key}", rule=WRITE)
async def set_metadata_item(req: ApiRequest) -> Response:
    item = metadata_of(await body_of(req, "meta"))
    if len(item) != 1:
        raise bad("Request body contains too many items")
    if req.params["key"] not in item:
        raise bad("Request body and URI mismatch")
    await _change_metadata(req, item, replace=False)
    return json_response({"meta": item})


@routes.route("DELETE", META + "/{key}", rule=WRITE)
async def delete_metadata_item(req: ApiRequest) -> Response:
    key = req.params["key"]
    async with state_of(req).db.session() as s:
        inst = await load_server(s, req.ctx, req.params["server_id"])
        check_lock(req, inst)
        if key not in (inst.metadata_ or {}):
            raise NotFound("compute.metadata.not_found", "Metadata item was not found")
        inst.metadata_ = {k: v for k, v in inst.metadata_.items() if k != key}
    return Response(status_code=204)


async def _tagged(req: ApiRequest, change: Any = None) -> list[str]:
    """The server's tags, after ``change(tags) -> tags`` if given (owner, unlocked)."""
    if not since(req, 26):
        raise not_found("Resource", "tags")
    async with state_of(req).db.session() as s:
        inst = await load_server(s, req.ctx, req.params["server_id"])
        if change is not None:
            check_lock(req, inst)
            inst.tags = change(list(inst.tags or []))
        return list(inst.tags or [])


@routes.route("GET", TAGS, rule=READ)
async def list_tags(req: ApiRequest) -> Response:
    return json_response({"tags": await _tagged(req)})


@routes.route("PUT", TAGS, rule=WRITE)
async def replace_tags(req: ApiRequest) -> Response:
    data = await req.json()
    new = tags_of(data.get("tags") if isinstance(data, dict) else None)
    return json_response({"tags": await _tagged(req, lambda _old: new)})


@routes.route("DELETE", TAGS, rule=WRITE)
async def delete_tags(req: ApiRequest) -> Response:
    await _tagged(req, lambda _old: [])
    return Response(status_code=204)


@routes.route("GET", TAGS + "/{tag}", rule=READ)
async def check_tag_exists(req: ApiRequest) -> Response:
    tag = req.params["tag"]
    if tag not in await _tagged(req):
        raise NotFound("compute.tag.not_found", f"Tag {tag} could not be found.")
    return Response(status_code=204)


@routes.route("PUT", TAGS + "/{tag}", rule=WRITE)
async def add_tag(req: ApiRequest) -> Response:
    tag = check_tag(req.params["tag"])
    existed = tag in await _tagged(req)

    def add(old: list[str]) -> list[str]:
        if tag not in old and len(old) >= MAX_TAGS:
            raise bad(f"The number of tags exceeded the per-server limit {MAX_TAGS}")
        return old if tag in old else [*old, tag]

    await _tagged(req, add)
    location = f"{str(req.raw.base_url).rstrip('/')}/v2.1/servers/{req.params['server_id']}"
    status = 204 if existed else 201
    return Response(status_code=status, headers={"Location": f"{location}/tags/{tag}"})


@routes.route("DELETE", TAGS + "/{tag}", rule=WRITE)
async def delete_tag(req: ApiRequest) -> Response:
    tag = req.params["tag"]
    if tag not in await _tagged(req):
        raise NotFound("compute.tag.not_found", f"Tag {tag} could not be found.")
    await _tagged(req, lambda old: [t for t in old if t != tag])
    return Response(status_code=204)
