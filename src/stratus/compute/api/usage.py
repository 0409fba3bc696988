"""``/os-simple-tenant-usage``: hours of vCPU, RAM and disk per project over a period.

A server counts from its launch (or creation, if it never launched) until it was
terminated or deleted, clipped to [start, end]. Without ``start``/``end`` the period is
the last 24 hours (the CLI always sends both).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import sqlalchemy as sa
from starlette.responses import Response

from stratus.common.asgi.policy import enforce
from stratus.common.asgi.routing import ApiRequest, Routes, json_response
from stratus.common.db.types import utcnow
from stratus.compute.api.common import ADMIN_ONLY, READ, bad, query_bool
from stratus.compute.api.server_views import iso, status_of
from stratus.compute.api.state import state_of
from stratus.compute.models import Instance

routes = Routes("os_compute_api")


def _when(req: ApiRequest, name: str, default: dt.datetime) -> dt.datetime:
    raw = req.query.get(name)
    if raw is None:
        return default
    try:
        value = dt.datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError:
        raise bad(f"Invalid {name} time. The time should be in ISO 8601 format.") from None
    return value if value.tzinfo else value.replace(tzinfo=dt.UTC)


def _period(req: ApiRequest) -> tuple[dt.datetime, dt.datetime]:
    now = utcnow()
    start = _when(req, "start", now - dt.timedelta(days=1))
    end = min(_when(req, "end", now), now)
    if start > end:
        raise bad("Invalid start time. The start time cannot occur after the end time.")
    return start, end


def _server_usage(inst: Instance, start: dt.datetime, end: dt.datetime) -> dict[str, Any] | None:
    began = inst.launched_at or inst.created_at
    ended = inst.terminated_at or inst.deleted_at
    lo, hi = max(began, start), min(ended or end, end)
    if hi <= lo:
        return None
    f = inst.flavor or {}
    hours = (hi - lo).total_seconds() / 3600
    uptime = int(((ended or utcnow()) - began).total_seconds())
    return {
        "instance_id": inst.id,
        "name": inst.name,
        "hours": hours,
        "memory_mb": f.get("memory_mb", 0),
        "local_gb": f.get("root_gb", 0),
        "vcpus": f.get("vcpus", 0),
        "tenant_id": inst.project_id,
        "flavor": f.get("name", ""),
        "started_at": iso(began),
        "ended_at": iso(ended),
        "state": "terminated" if ended else status_of(inst).lower(),
        "uptime": uptime,
    }


def _tenant_usage(
    project: str,
    servers: list[dict[str, Any]],
    start: dt.datetime,
    end: dt.datetime,
    *,
    detailed: bool,
) -> dict[str, Any]:
    usage: dict[str, Any] = {
        "tenant_id": project,
        "start": iso(start),
        "stop": iso(end),
        "total_hours": sum(s["hours"] for s in servers),
        "total_vcpus_usage": sum(s["hours"] * s["vcpus"] for s in servers),
        "total_memory_mb_usage": sum(s["hours"] * s["memory_mb"] for s in servers),
        "total_local_gb_usage": sum(s["hours"] * s["local_gb"] for s in servers),
    }
    if detailed:
        usage["server_usages"] = servers
    return usage


async def _usages(req: ApiRequest, project: str | None) -> dict[str, list[dict[str, Any]]]:
    start, end = _period(req)
    query = sa.select(Instance).where(
        Instance.created_at <= end,
        sa.or_(Instance.deleted_at.is_(None), Instance.deleted_at >= start),
    )
    if project is not None:
        query = query.where(Instance.project_id == project)
    by_project: dict[str, list[dict[str, Any]]] = {}
    async with state_of(req).db.session() as s:
        for inst in await s.scalars(query.order_by(Instance.created_at)):
            used = _server_usage(inst, start, end)
            if used is not None:
                by_project.setdefault(inst.project_id, []).append(used)
    return by_project


@routes.route("GET", "/v2.1/os-simple-tenant-usage", rule=ADMIN_ONLY)
async def list_usage(req: ApiRequest) -> Response:
    start, end = _period(req)
    detailed = bool(query_bool(req, "detailed"))
    usages = [
        _tenant_usage(p, servers, start, end, detailed=detailed)
        for p, servers in sorted((await _usages(req, None)).items())
    ]
    return json_response({"tenant_usages": usages})


@routes.route("GET", "/v2.1/os-simple-tenant-usage/{project_id}", rule=READ)
async def show_usage(req: ApiRequest) -> Response:
    project = req.params["project_id"]
    enforce(
        req.ctx.is_admin or project == req.ctx.project_id,
        "os_compute_api:os-simple-tenant-usage:show",
    )
    start, end = _period(req)
    servers = (await _usages(req, project)).get(project, [])
    usage = _tenant_usage(project, servers, start, end, detailed=True) if servers else {}
    return json_response({"tenant_usage": usage})
