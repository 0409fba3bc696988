"""``/servers/{id}/os-instance-actions``: what was asked of a server and each step taken.

The API writes an action per request; the conductor adds the events. A deleted server's
actions stay readable (Nova 2.21). Event tracebacks are for admins; the host (2.62) too.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.responses import Response

from stratus.common.asgi.routing import ApiRequest, Routes, json_response
from stratus.common.errors import NotFound
from stratus.compute.api.common import (
    READ,
    is_uuid,
    marker_not_found,
    next_link,
    not_found,
    page_limit,
)
from stratus.compute.api.microversion import since
from stratus.compute.api.server_list import timestamp
from stratus.compute.api.server_views import host_id, iso
from stratus.compute.api.state import state_of
from stratus.compute.models import Instance, InstanceAction, InstanceActionEvent

routes = Routes("os_compute_api")
PATH = "/v2.1/servers/{server_id}/os-instance-actions"


async def _server(req: ApiRequest, s: AsyncSession) -> Instance:
    server_id = req.params["server_id"]
    inst = await s.get(Instance, server_id) if is_uuid(server_id) else None
    if inst is None or (inst.project_id != req.ctx.project_id and not req.ctx.is_admin):
        raise not_found("Instance", server_id)
    return inst


def _action_view(req: ApiRequest, a: InstanceAction) -> dict[str, Any]:
    view = {
        "action": a.action,
        "instance_uuid": a.instance_id,
        "message": a.message,
        "project_id": a.project_id,
        "request_id": a.request_id,
        "start_time": iso(a.start_time),
        "user_id": a.user_id,
    }
    if since(req, 58):
        view["updated_at"] = iso(a.updated_at)
    return view


def _event_view(req: ApiRequest, inst: Instance, e: InstanceActionEvent) -> dict[str, Any]:
    view: dict[str, Any] = {
        "event": e.event,
        "start_time": iso(e.start_time),
        "finish_time": iso(e.finish_time),
        "result": e.result,
    }
    if req.ctx.is_admin:
        view["traceback"] = e.traceback
    if since(req, 62):
        view["hostId"] = host_id(inst.project_id, e.host)
        if req.ctx.is_admin:
            view["host"] = e.host
    return view


@routes.route("GET", PATH, rule=READ)
async def list_instance_actions(req: ApiRequest) -> Response:
    query = sa.select(InstanceAction)
    since_ts = timestamp(req, "changes-since") if since(req, 58) else None
    before_ts = timestamp(req, "changes-before") if since(req, 66) else None
    async with state_of(req).db.session() as s:
        inst = await _server(req, s)
        query = query.where(InstanceAction.instance_id == inst.id)
        if since_ts is not None:
            query = query.where(InstanceAction.updated_at >= since_ts)
        if before_ts is not None:
            query = query.where(InstanceAction.updated_at <= before_ts)
        order = (InstanceAction.start_time.desc(), InstanceAction.id.desc())
        actions = list((await s.scalars(query.order_by(*order))).all())
    if since(req, 58):
        actions, more = _page(req, actions)
    else:
        more = False
    body: dict[str, Any] = {"instanceActions": [_action_view(req, a) for a in actions]}
    if more:
        path = f"servers/{req.params['server_id']}/os-instance-actions"
        body["links"] = [next_link(req, path, actions[-1].request_id)]
    return json_response(body)


def _page(req: ApiRequest, actions: list[InstanceAction]) -> tuple[list[InstanceAction], bool]:
    limit = page_limit(req, state_of(req).settings.max_list_limit)
    marker = req.query.get("marker")
    if marker is not None:
        ids = [a.request_id for a in actions]
        if marker not in ids:
            raise marker_not_found(marker)
        actions = actions[ids.index(marker) + 1 :]
    return actions[:limit], len(actions) > limit


@routes.route("GET", PATH + "/{request_id}", rule=READ)
async def show_instance_action(req: ApiRequest) -> Response:
    request_id = req.params["request_id"]
    async with state_of(req).db.session() as s:
        inst = await _server(req, s)
        action = await s.scalar(
            sa.select(InstanceAction)
            .where(InstanceAction.instance_id == inst.id, InstanceAction.request_id == request_id)
            .order_by(InstanceAction.id.desc())
            .limit(1)
        )
        if action is None:
            raise NotFound(
                "compute.instance_action.not_found",
                f"Action {request_id} on instance {inst.id} could not be found.",
            )
        events = await s.scalars(
            sa.select(InstanceActionEvent)
            .where(InstanceActionEvent.action_id == action.id)
            .order_by(InstanceActionEvent.start_time, InstanceActionEvent.id)
        )
        view = _action_view(req, action)
        view["events"] = [_event_view(req, inst, e) for e in events]
    return json_response({"instanceAction": view})
