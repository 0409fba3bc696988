"""``/servers``: list, detail, show, update (name, description) and delete.

Delete goes through the state machine like any action (``states.begin``), then casts
``conductor.delete_server``; the conductor marks the row deleted.
"""

from __future__ import annotations

from typing import Any

from starlette.responses import Response

from stratus.common.asgi.routing import ApiRequest, Routes, json_response
from stratus.compute.api import server_list
from stratus.compute.api.common import READ, WRITE, bad, body_of, check_unknown, next_link
from stratus.compute.api.host_zones import server_zones
from stratus.compute.api.microversion import since
from stratus.compute.api.server_actions import start_action
from stratus.compute.api.server_request import name_of
from stratus.compute.api.server_views import brief_view, load_server, server_view
from stratus.compute.api.state import state_of
from stratus.compute.states import Action

routes = Routes("os_compute_api")


async def _list(req: ApiRequest, *, detail: bool) -> Response:
    async with state_of(req).db.session() as s:
        page = await server_list.run(req, s)
        zones = await server_zones(s, page.instances) if detail else {}
    views = [server_view(req, i, zones) if detail else brief_view(req, i) for i in page.instances]
    body: dict[str, Any] = {"servers": views}
    if page.more and page.instances:
        path = "servers/detail" if detail else "servers"
        body["servers_links"] = [next_link(req, path, page.instances[-1].id)]
    return json_response(body)


@routes.route("GET", "/v2.1/servers", rule=READ)
async def list_servers(req: ApiRequest) -> Response:
    return await _list(req, detail=False)


@routes.route("GET", "/v2.1/servers/detail", rule=READ)
async def list_servers_detail(req: ApiRequest) -> Response:
    return await _list(req, detail=True)


@routes.route("GET", "/v2.1/servers/{server_id}", rule=READ)
async def show_server(req: ApiRequest) -> Response:
    async with state_of(req).db.session() as s:
        inst = await load_server(s, req.ctx, req.params["server_id"])
        zones = await server_zones(s, [inst])
    return json_response({"server": server_view(req, inst, zones, show=True)})


@routes.route("PUT", "/v2.1/servers/{server_id}", rule=WRITE)
async def update_server(req: ApiRequest) -> Response:
    body = await body_of(req, "server")
    allowed = {"name", "accessIPv4", "accessIPv6", "OS-DCF:diskConfig"}
    check_unknown(body, allowed | ({"description"} if since(req, 19) else set()), "server")
    description = body.get("description")
    if description is not None and (not isinstance(description, str) or len(description) > 255):
        raise bad(f"Invalid input for field/attribute description. Value: {description}.")
    async with state_of(req).db.session() as s:
        inst = await load_server(s, req.ctx, req.params["server_id"])
        if "name" in body:
            inst.name = name_of(body["name"])
        if "description" in body:
            inst.description = description
        await s.flush()
        await s.refresh(inst)
        zones = await server_zones(s, [inst])
    return json_response({"server": server_view(req, inst, zones, show=True)})


@routes.route("DELETE", "/v2.1/servers/{server_id}", rule=WRITE)
async def delete_server(req: ApiRequest) -> Response:
    await start_action(req, req.params["server_id"], Action.DELETE, "delete")
    return Response(status_code=204)
