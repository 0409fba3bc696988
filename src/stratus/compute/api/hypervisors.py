"""``/os-hypervisors`` (admin): the compute nodes as their agents report them.

``state`` (up/down) comes from the registry's heartbeats, ``status`` from the node's
disabled flag (os-services). Ids are UUIDs from 2.53, integers before.
"""

from __future__ import annotations

import re
from typing import Any

import sqlalchemy as sa
from starlette.responses import Response

from stratus.common.asgi.routing import ApiRequest, Routes, json_response
from stratus.compute.api.common import (
    ADMIN_ONLY,
    bad,
    marker_not_found,
    next_link,
    not_found,
    page_limit,
    query_bool,
)
from stratus.compute.api.microversion import since
from stratus.compute.api.registry_view import agents_up, hypervisor_uuid, legacy_id
from stratus.compute.api.state import state_of
from stratus.compute.models import ComputeNode, Instance
from stratus.compute.states import VmState

routes = Routes("os_compute_api")
_SUMMED = (
    "vcpus",
    "memory_mb",
    "local_gb",
    "vcpus_used",
    "memory_mb_used",
    "local_gb_used",
    "running_vms",
)


def _id(req: ApiRequest, node: ComputeNode) -> Any:
    return hypervisor_uuid(node.host) if since(req, 53) else legacy_id(node.host)


def _view(req: ApiRequest, n: ComputeNode, up: bool, *, detail: bool) -> dict[str, Any]:
    view: dict[str, Any] = {
        "id": _id(req, n),
        "hypervisor_hostname": n.hypervisor_hostname,
        "state": "up" if up and not n.forced_down else "down",
        "status": "disabled" if n.disabled else "enabled",
    }
    if not detail:
        return view
    cpu = {
        "arch": n.cpu_arch,
        "model": "",
        "vendor": "",
        "features": [],
        "topology": {"cores": n.vcpus, "threads": 1, "sockets": 1},
    }
    view |= {
        "hypervisor_type": n.hypervisor_type,
        "hypervisor_version": n.hypervisor_version,
        "host_ip": "127.0.0.1",
        "cpu_info": cpu if since(req, 28) else str(cpu),
        "free_ram_mb": n.memory_mb - n.memory_mb_used,
        "free_disk_gb": n.local_gb - n.local_gb_used,
        "current_workload": 0,
        "disk_available_least": n.local_gb - n.local_gb_used,
        "service": {"host": n.host, "id": _id(req, n), "disabled_reason": n.disabled_reason},
    }
    return view | {k: getattr(n, k) for k in _SUMMED}


async def _nodes(req: ApiRequest) -> tuple[list[ComputeNode], dict[str, bool]]:
    st = state_of(req)
    async with st.db.session() as s:
        nodes = list((await s.scalars(sa.select(ComputeNode).order_by(ComputeNode.host))).all())
    return nodes, await agents_up(st.bus)


async def _list(req: ApiRequest, *, detail: bool) -> Response:
    nodes, up = await _nodes(req)
    pattern = req.query.get("hypervisor_hostname_pattern")
    if pattern is not None:
        nodes = [n for n in nodes if re.search(re.escape(pattern), n.hypervisor_hostname)]
    more = False
    if since(req, 33):
        ids = [str(_id(req, n)) for n in nodes]
        marker = req.query.get("marker")
        if marker is not None:
            if marker not in ids:
                raise marker_not_found(marker)
            nodes = nodes[ids.index(marker) + 1 :]
        limit = page_limit(req, state_of(req).settings.max_list_limit)
        nodes, more = nodes[:limit], len(nodes) > limit
    views = [_view(req, n, up.get(n.host, False), detail=detail) for n in nodes]
    if since(req, 53) and query_bool(req, "with_servers"):
        await _add_servers(req, views, nodes)
    body: dict[str, Any] = {"hypervisors": views}
    if more:
        path = "os-hypervisors/detail" if detail else "os-hypervisors"
        body["hypervisors_links"] = [next_link(req, path, str(views[-1]["id"]))]
    return json_response(body)


async def _add_servers(
    req: ApiRequest, views: list[dict[str, Any]], nodes: list[ComputeNode]
) -> None:
    async with state_of(req).db.session() as s:
        rows = await s.execute(
            sa.select(Instance.host, Instance.id, Instance.name).where(
                Instance.host.in_([n.host for n in nodes]), Instance.vm_state != VmState.DELETED
            )
        )
        by_host: dict[str, list[dict[str, str]]] = {}
        for host, iid, name in rows:
            by_host.setdefault(str(host), []).append({"uuid": iid, "name": name})
    for view, node in zip(views, nodes, strict=True):
        view["servers"] = by_host.get(node.host, [])


@routes.route("GET", "/v2.1/os-hypervisors", rule=ADMIN_ONLY)
async def list_hypervisors(req: ApiRequest) -> Response:
    return await _list(req, detail=False)


@routes.route("GET", "/v2.1/os-hypervisors/detail", rule=ADMIN_ONLY)
async def list_hypervisors_detail(req: ApiRequest) -> Response:
    return await _list(req, detail=True)


@routes.route("GET", "/v2.1/os-hypervisors/statistics", rule=ADMIN_ONLY)
async def hypervisor_statistics(req: ApiRequest) -> Response:
    nodes, _up = await _nodes(req)
    stats: dict[str, int] = {k: sum(getattr(n, k) for n in nodes) for k in _SUMMED}
    stats |= {
        "count": len(nodes),
        "free_ram_mb": stats["memory_mb"] - stats["memory_mb_used"],
        "free_disk_gb": stats["local_gb"] - stats["local_gb_used"],
        "current_workload": 0,
        "disk_available_least": stats["local_gb"] - stats["local_gb_used"],
    }
    return json_response({"hypervisor_statistics": stats})


@routes.route("GET", "/v2.1/os-hypervisors/{hypervisor_id}", rule=ADMIN_ONLY)
async def show_hypervisor(req: ApiRequest) -> Response:
    wanted = req.params["hypervisor_id"]
    if since(req, 53) and not re.fullmatch(r"[0-9a-fA-F-]{36}", wanted):
        raise bad(f"Invalid uuid {wanted}")
    nodes, up = await _nodes(req)
    for node in nodes:
        if str(_id(req, node)) == wanted:
            view = _view(req, node, up.get(node.host, False), detail=True)
            if since(req, 53) and query_bool(req, "with_servers"):
                await _add_servers(req, [view], [node])
            return json_response({"hypervisor": view})
    raise not_found("Hypervisor", wanted)
