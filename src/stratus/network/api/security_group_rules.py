"""``/v2.0/security-group-rules``: create, list, show and delete (rules are immutable,
as in Neutron). A rule belongs to its group's project and counts against its quota."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.responses import Response

from stratus.common.asgi.routing import ApiRequest, Routes, json_response
from stratus.network import access, listing, quotas, rules, views
from stratus.network import models as m
from stratus.network.api.common import READ, STANDARD, V2, WRITE, list_response, load, show_response
from stratus.network.attributes import body_of, project_of, to_str, to_uuid
from stratus.network.errors import bad, conflict, not_found
from stratus.network.retry import retrying
from stratus.network.state import state_of

routes = Routes("network")
PATH = f"{V2}/security-group-rules"
ITEM = PATH + "/{rule_id}"
FIELDS = (
    "security_group_id",
    "direction",
    "ethertype",
    "protocol",
    "port_range_min",
    "port_range_max",
    "remote_ip_prefix",
    "remote_group_id",
)
ATTRIBUTES = (*STANDARD, *FIELDS)
SORTABLE = (
    "id",
    "direction",
    "ethertype",
    "protocol",
    "port_range_min",
    "port_range_max",
    "remote_ip_prefix",
    "remote_group_id",
    "security_group_id",
    "created_at",
    "project_id",
    "tenant_id",
)
LISTED = listing.Listed("security_group_rule", "security_group_rules", ATTRIBUTES, SORTABLE)


async def _existing(session: AsyncSession, group_id: str, spec: rules.RuleSpec) -> str | None:
    found = await session.scalars(
        sa.select(m.SecurityGroupRule).where(m.SecurityGroupRule.security_group_id == group_id)
    )
    return next((r.id for r in found if spec.same_as(r)), None)


@routes.route("POST", PATH, rule=WRITE)
async def create_security_group_rule(req: ApiRequest) -> Response:
    st = state_of(req)
    body = await body_of(
        req, "security_group_rule", (*FIELDS, "description", "tenant_id", "project_id")
    )
    if "security_group_id" not in body:
        raise bad(
            "HTTPBadRequest",
            "Failed to parse request. Required attribute 'security_group_id' not specified",
        )
    group_id = to_uuid(body["security_group_id"], "security_group_id")
    spec = rules.parse(body)
    description = to_str(body.get("description", ""), "description")
    project_of(req, body)

    async def work(session: AsyncSession) -> dict[str, Any]:
        group = await load(
            session, m.SecurityGroup, group_id, access.security_groups(req.ctx), "security_group"
        )
        access.check_owner(req.ctx, group.project_id, "create_security_group_rule")
        if spec.remote_group_id is not None:
            remote = await session.get(m.SecurityGroup, spec.remote_group_id)
            if remote is None or not access.owns(req.ctx, remote.project_id):
                raise not_found("security_group", spec.remote_group_id)
        duplicate = await _existing(session, group.id, spec)
        if duplicate is not None:
            raise conflict(
                "SecurityGroupRuleExists",
                f"Security group rule already exists. Rule id is {duplicate}.",
            )
        await quotas.check(st.settings, session, "security_group_rule", group.project_id)
        row = m.SecurityGroupRule(
            id=m.new_uuid(),
            project_id=group.project_id,
            security_group_id=group.id,
            description=description,
            **{f: getattr(spec, f) for f in FIELDS[1:]},
        )
        session.add(row)
        group.touch()
        await session.flush()
        return views.rule(row)

    # one rule change per group at a time in this process, so a duplicate is seen; a
    # group or remote group deleted meanwhile fails the insert, and the retry says 404
    async with st.lock(f"security-group:{group_id}"):
        view = await retrying(st.db, work)
    return json_response({"security_group_rule": view}, status=201)


@routes.route("GET", PATH, rule=READ)
async def list_security_group_rules(req: ApiRequest) -> Response:
    async def views_of(session: AsyncSession) -> list[Any]:
        rows = await session.scalars(sa.select(m.SecurityGroupRule).where(access.rules(req.ctx)))
        return [views.rule(r) for r in rows]

    return await list_response(req, LISTED, views_of)


@routes.route("GET", ITEM, rule=READ)
async def show_security_group_rule(req: ApiRequest) -> Response:
    async with state_of(req).db.session() as session:
        row = await load(
            session,
            m.SecurityGroupRule,
            req.params["rule_id"],
            access.rules(req.ctx),
            "security_group_rule",
        )
    return show_response(req, "security_group_rule", views.rule(row))


@routes.route("DELETE", ITEM, rule=WRITE)
async def delete_security_group_rule(req: ApiRequest) -> Response:
    async with state_of(req).db.session() as session:
        row = await load(
            session,
            m.SecurityGroupRule,
            req.params["rule_id"],
            access.rules(req.ctx),
            "security_group_rule",
        )
        access.check_owner(req.ctx, row.project_id, "delete_security_group_rule")
        group = await session.get(m.SecurityGroup, row.security_group_id)
        if group is not None:
            group.touch()
        await session.delete(row)
    return Response(status_code=204)
