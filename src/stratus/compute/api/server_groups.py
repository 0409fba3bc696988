"""``/os-server-groups``: affinity groups a server joins at create (hint ``group``).

Before 2.64 a group has a ``policies`` list (one policy); from 2.64 ``policy`` and
``rules`` (``max_server_per_host``, anti-affinity only). Members are the live servers
whose ``server_group_id`` names the group.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.responses import Response

from stratus.common.asgi.routing import ApiRequest, Routes, json_response
from stratus.common.errors import OverQuota
from stratus.compute.api import quotas
from stratus.compute.api.common import (
    READ,
    WRITE,
    bad,
    body_of,
    check_unknown,
    is_uuid,
    not_found,
    page_limit,
    query_int,
)
from stratus.compute.api.microversion import since
from stratus.compute.api.server_request import name_of
from stratus.compute.api.state import state_of
from stratus.compute.models import Instance, ServerGroup
from stratus.compute.states import VmState

routes = Routes("os_compute_api")
POLICIES = ("affinity", "anti-affinity", "soft-affinity", "soft-anti-affinity")


async def _members(s: AsyncSession, group_ids: list[str]) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {g: [] for g in group_ids}
    rows = await s.execute(
        sa.select(Instance.server_group_id, Instance.id).where(
            Instance.server_group_id.in_(group_ids), Instance.vm_state != VmState.DELETED
        )
    )
    for group_id, instance_id in rows:
        out[str(group_id)].append(instance_id)
    return out


def _view(req: ApiRequest, g: ServerGroup, members: list[str]) -> dict[str, Any]:
    view: dict[str, Any] = {"id": g.id, "name": g.name, "members": members}
    if since(req, 64):
        view |= {"policy": g.policy, "rules": dict(g.rules or {})}
    else:
        view |= {"policies": [g.policy], "metadata": {}}
    if since(req, 13):
        view |= {"project_id": g.project_id, "user_id": g.user_id}
    return view


def _policy(req: ApiRequest, body: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    allowed = POLICIES if since(req, 15) else POLICIES[:2]
    if since(req, 64):
        check_unknown(body, {"name", "policy", "rules"}, "server_group")
        policy, rules = body.get("policy"), body.get("rules", {})
    else:
        check_unknown(body, {"name", "policies"}, "server_group")
        policies = body.get("policies")
        if not isinstance(policies, list) or len(policies) != 1:
            raise bad("Invalid input for field/attribute policies.")
        policy, rules = policies[0], {}
    if policy not in allowed:
        raise bad(f"Invalid input for field/attribute policy. Value: {policy}.")
    if not isinstance(rules, dict) or set(rules) - {"max_server_per_host"}:
        raise bad("Invalid input for field/attribute rules.")
    if rules and policy != "anti-affinity":
        raise bad("Only anti-affinity policy supports rules.")
    most = rules.get("max_server_per_host")
    if most is not None and (isinstance(most, bool) or not isinstance(most, int) or most < 1):
        raise bad(f"Invalid input for field/attribute max_server_per_host. Value: {most}.")
    return str(policy), rules


@routes.route("POST", "/v2.1/os-server-groups", rule=WRITE)
async def create_server_group(req: ApiRequest) -> Response:
    body = await body_of(req, "server_group")
    name = name_of(body.get("name"))
    policy, rules = _policy(req, body)
    st = state_of(req)
    project = req.ctx.project_id or ""
    async with quotas.project_lock(project), st.db.session() as s:
        limit = (await quotas.limits_of(st, s, project))["server_groups"]
        used = await s.scalar(sa.select(sa.func.count()).where(ServerGroup.project_id == project))
        if 0 <= limit <= (used or 0):
            raise OverQuota(
                "compute.quota.server_groups", "Quota exceeded, too many server groups."
            )
        group = ServerGroup(
            project_id=project, user_id=req.ctx.user_id or "", name=name, policy=policy, rules=rules
        )
        s.add(group)
    return json_response({"server_group": _view(req, group, [])})


@routes.route("GET", "/v2.1/os-server-groups", rule=READ)
async def list_server_groups(req: ApiRequest) -> Response:
    query = sa.select(ServerGroup).order_by(ServerGroup.created_at, ServerGroup.id)
    every = req.ctx.is_admin and req.query.get("all_projects", "").lower() in ("1", "true")
    if not every:
        query = query.where(ServerGroup.project_id == req.ctx.project_id)
    offset = query_int(req, "offset") or 0
    limit = page_limit(req, state_of(req).settings.max_list_limit)
    async with state_of(req).db.session() as s:
        groups = list((await s.scalars(query.offset(offset).limit(limit))).all())
        members = await _members(s, [g.id for g in groups])
    return json_response({"server_groups": [_view(req, g, members[g.id]) for g in groups]})


async def _load(req: ApiRequest, s: AsyncSession) -> ServerGroup:
    group_id = req.params["group_id"]
    group = await s.get(ServerGroup, group_id) if is_uuid(group_id) else None
    if group is None or (group.project_id != req.ctx.project_id and not req.ctx.is_admin):
        raise not_found("Server group", group_id)
    return group


@routes.route("GET", "/v2.1/os-server-groups/{group_id}", rule=READ)
async def show_server_group(req: ApiRequest) -> Response:
    async with state_of(req).db.session() as s:
        group = await _load(req, s)
        members = await _members(s, [group.id])
    return json_response({"server_group": _view(req, group, members[group.id])})


@routes.route("DELETE", "/v2.1/os-server-groups/{group_id}", rule=WRITE)
async def delete_server_group(req: ApiRequest) -> Response:
    async with state_of(req).db.session() as s:
        await s.delete(await _load(req, s))
    return Response(status_code=204)
