"""``os-quota-sets`` (show, detail, defaults; update and revert for admins) and ``/limits``.

Only the quotas compute enforces are shown from 2.57 (Nova removed the network and
injected-file ones at 2.36 and 2.57); older microversions see those with Nova's
defaults, enforced by no one here, as Nova's own proxies ended up.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from starlette.responses import Response

from stratus.common.asgi.policy import enforce
from stratus.common.asgi.routing import ApiRequest, Routes, json_response
from stratus.compute.api import quotas
from stratus.compute.api.common import ADMIN_ONLY, READ, bad, body_of, check_unknown
from stratus.compute.api.microversion import since
from stratus.compute.api.state import state_of
from stratus.compute.models import QuotaLimit

routes = Routes("os_compute_api")
PATH = "/v2.1/os-quota-sets/{project_id}"
_PRE_2_57 = {
    "injected_files": 5,
    "injected_file_content_bytes": 10240,
    "injected_file_path_bytes": 255,
}
_PRE_2_36 = {
    "fixed_ips": -1,
    "floating_ips": 10,
    "security_groups": 10,
    "security_group_rules": 20,
    "networks": 3,
}


def _legacy(req: ApiRequest) -> dict[str, int]:
    out = {} if since(req, 57) else dict(_PRE_2_57)
    return out if since(req, 36) else out | _PRE_2_36


def _target(req: ApiRequest) -> str:
    project = req.params["project_id"]
    enforce(req.ctx.is_admin or project == req.ctx.project_id, "os_compute_api:os-quota-sets:show")
    return project


async def _limits(req: ApiRequest, project: str) -> dict[str, int]:
    st = state_of(req)
    async with st.db.session() as s:
        return await quotas.limits_of(st, s, project)


@routes.route("GET", PATH, rule=READ)
async def show_quota_set(req: ApiRequest) -> Response:
    project = _target(req)
    limits = await _limits(req, project)
    return json_response({"quota_set": {"id": project, **limits, **_legacy(req)}})


@routes.route("GET", PATH + "/defaults", rule=READ)
async def show_default_quota_set(req: ApiRequest) -> Response:
    project = req.params["project_id"]
    defaults = state_of(req).settings.default_quotas()
    return json_response({"quota_set": {"id": project, **defaults, **_legacy(req)}})


@routes.route("GET", PATH + "/detail", rule=READ)
async def show_quota_set_detail(req: ApiRequest) -> Response:
    project = _target(req)
    st = state_of(req)
    async with st.db.session() as s:
        limits = await quotas.limits_of(st, s, project)
        used = await quotas.usage_of(s, project, req.ctx.user_id)
    detail: dict[str, Any] = {
        name: {"limit": limit, "in_use": used.get(name, 0), "reserved": 0}
        for name, limit in {**limits, **_legacy(req)}.items()
    }
    return json_response({"quota_set": {"id": project, **detail}})


def _values(body: dict[str, Any], known: set[str]) -> dict[str, int]:
    check_unknown(body, known | {"force"}, "quota_set")
    out = {}
    for name, given in body.items():
        if name == "force":
            continue
        value = int(given) if isinstance(given, str) and given.lstrip("-").isdigit() else given
        if isinstance(value, bool) or not isinstance(value, int) or value < -1:
            raise bad(f"Invalid input for field/attribute {name}. Value: {value}.")
        out[name] = value
    return out


@routes.route("PUT", PATH, rule=ADMIN_ONLY)
async def update_quota_set(req: ApiRequest) -> Response:
    project = req.params["project_id"]
    st = state_of(req)
    legacy = _legacy(req)
    values = _values(
        await body_of(req, "quota_set"), set(st.settings.default_quotas()) | set(legacy)
    )
    async with st.db.session() as s:
        for name, limit in values.items():
            if name in legacy:
                continue  # accepted and ignored, as Nova does for its removed quotas
            row = await s.get(QuotaLimit, (project, name))
            if row is None:
                s.add(QuotaLimit(project_id=project, resource=name, hard_limit=limit))
            else:
                row.hard_limit = limit
        await s.flush()
        limits = await quotas.limits_of(st, s, project)
    return json_response({"quota_set": {**limits, **legacy}})


@routes.route("DELETE", PATH, rule=ADMIN_ONLY)
async def revert_quota_set(req: ApiRequest) -> Response:
    async with state_of(req).db.session() as s:
        await s.execute(
            sa.delete(QuotaLimit).where(QuotaLimit.project_id == req.params["project_id"])
        )
    return Response(status_code=202)


@routes.route("GET", "/v2.1/limits", rule=READ)
async def show_limits(req: ApiRequest) -> Response:
    project = req.query.get("tenant_id") or req.ctx.project_id or ""
    if project != req.ctx.project_id:
        enforce(req.ctx.is_admin, "os_compute_api:limits:other_project")
    st = state_of(req)
    async with st.db.session() as s:
        q = await quotas.limits_of(st, s, project)
        used = await quotas.usage_of(s, project, req.ctx.user_id)
    absolute: dict[str, int] = {
        "maxServerMeta": q["metadata_items"],
        "maxTotalKeypairs": q["key_pairs"],
        "maxTotalCores": q["cores"],
        "maxTotalInstances": q["instances"],
        "maxTotalRAMSize": q["ram"],
        "maxServerGroups": q["server_groups"],
        "maxServerGroupMembers": q["server_group_members"],
        "totalCoresUsed": used["cores"],
        "totalInstancesUsed": used["instances"],
        "totalRAMUsed": used["ram"],
        "totalServerGroupsUsed": used["server_groups"],
    }
    if not since(req, 57):
        absolute |= {"maxPersonality": 5, "maxPersonalitySize": 10240}
    if not since(req, 39):
        absolute["maxImageMeta"] = 128
    if not since(req, 36):
        absolute |= {
            "maxSecurityGroups": 10,
            "maxSecurityGroupRules": 20,
            "maxTotalFloatingIps": 10,
            "totalFloatingIpsUsed": 0,
            "totalSecurityGroupsUsed": 0,
        }
    return json_response({"limits": {"rate": [], "absolute": absolute}})
