"""``/os-services`` (admin): compute's services from the registry; disable, enable and
force down (2.11) through it; delete.

A change goes to the registry (``SetServiceState``) and, for a compute host, to its
node row as well, since the scheduler reads both. From 2.53 services are named by UUID
(``PUT /os-services/{id}``); before, by host and binary (``PUT /os-services/disable``).

Deleting a compute service removes its node row and its aggregate memberships too, and
is refused (409) while servers live or move there, as Nova does. A service still
running registers again with its next heartbeat and report.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from starlette.responses import Response

from stratus.common.asgi.routing import ApiRequest, Routes, json_response
from stratus.common.errors import Conflict
from stratus.compute.api.aggregate_rules import AGGREGATE_CHANGES
from stratus.compute.api.common import ADMIN_ONLY, bad, check_unknown, is_uuid, not_found
from stratus.compute.api.host_changes import announce_host_change
from stratus.compute.api.host_zones import host_zones
from stratus.compute.api.microversion import since
from stratus.compute.api.registry_view import (
    AGENT_BINARY,
    NOVA_BINARIES,
    compute_services,
    legacy_id,
    service_uuid,
)
from stratus.compute.api.state import state_of
from stratus.compute.models import Aggregate, ComputeNode, Instance, ResourceClaim
from stratus.compute.states import VmState
from stratus.registry.rpc import TOPIC, DeleteService, ServiceInfo, SetServiceState

routes = Routes("os_compute_api")


async def _zones(req: ApiRequest) -> dict[str, str]:
    async with state_of(req).db.session() as s:
        return await host_zones(s)


def _view(req: ApiRequest, info: ServiceInfo, zones: dict[str, str]) -> dict[str, Any]:
    binary = NOVA_BINARIES[info.binary]
    zone = zones.get(info.host, "nova") if binary == "nova-compute" else "internal"
    view: dict[str, Any] = {
        "id": service_uuid(info) if since(req, 53) else legacy_id(info.id),
        "binary": binary,
        "host": info.host,
        "zone": zone,
        "status": "disabled" if info.disabled else "enabled",
        "state": "up" if info.up else "down",
        "updated_at": info.last_seen,
        "disabled_reason": info.disabled_reason,
    }
    if since(req, 11):
        view["forced_down"] = info.forced_down
    return view


@routes.route("GET", "/v2.1/os-services", rule=ADMIN_ONLY)
async def list_services(req: ApiRequest) -> Response:
    services = await compute_services(state_of(req).bus, req.query.get("binary"))
    host = req.query.get("host")
    zones = await _zones(req)
    views = [_view(req, s, zones) for s in services if host is None or s.host == host]
    return json_response({"services": views})


async def _apply(req: ApiRequest, info: ServiceInfo, change: dict[str, Any]) -> ServiceInfo:
    st = state_of(req)
    msg = SetServiceState(host=info.host, binary=info.binary, **change)
    updated = await st.bus.call(TOPIC, msg)
    if info.binary == AGENT_BINARY:
        async with st.db.session() as s:
            node = await s.get(ComputeNode, info.host)
            if node is not None:
                node.disabled, node.disabled_reason = updated.disabled, updated.disabled_reason
                node.forced_down = updated.forced_down
    return updated


def _change(body: dict[str, Any]) -> dict[str, Any]:
    check_unknown(body, {"status", "disabled_reason", "forced_down"}, "service")
    change: dict[str, Any] = {}
    status = body.get("status")
    if status is not None:
        if status not in ("enabled", "disabled"):
            raise bad(f"Invalid input for field/attribute status. Value: {status}.")
        change["disabled"] = status == "disabled"
    reason = body.get("disabled_reason")
    if reason is not None:
        if status != "disabled" or not isinstance(reason, str) or len(reason) > 255:
            raise bad("Specifying 'disabled_reason' with status 'enabled' is invalid.")
        change["disabled_reason"] = reason
    forced = body.get("forced_down")
    if forced is not None:
        if not isinstance(forced, bool):
            raise bad(f"Invalid input for field/attribute forced_down. Value: {forced}.")
        change["forced_down"] = forced
    if not change:
        raise bad("No updates were requested for the service.")
    return change


@routes.route("PUT", "/v2.1/os-services/{service_id}", rule=ADMIN_ONLY)
async def update_service(req: ApiRequest) -> Response:
    wanted = req.params["service_id"]
    if not since(req, 53):
        return await _legacy_update(req, wanted)
    body = await req.json()
    if not isinstance(body, dict):
        raise bad("The request body must be a JSON object.")
    change = _change(body)
    for info in await compute_services(state_of(req).bus):
        if service_uuid(info) == wanted:
            updated = await _apply(req, info, change)
            return json_response({"service": _view(req, updated, await _zones(req))})
    raise not_found("Service", wanted)


async def _legacy_update(req: ApiRequest, verb: str) -> Response:
    """2.1-2.52: ``PUT /os-services/{enable,disable,disable-log-reason,force-down}``."""
    data = await req.json()
    if not isinstance(data, dict) or "host" not in data or "binary" not in data:
        raise bad("'host' and 'binary' are required properties")
    changes: dict[str, dict[str, Any]] = {
        "enable": {"disabled": False},
        "disable": {"disabled": True},
        "disable-log-reason": {"disabled": True, "disabled_reason": data.get("disabled_reason")},
        "force-down": {"forced_down": data.get("forced_down")},
    }
    if verb not in changes or (verb == "force-down" and not since(req, 11)):
        raise not_found("Service", verb)
    change = {k: v for k, v in changes[verb].items() if v is not None}
    for info in await compute_services(state_of(req).bus, data["binary"]):
        if info.host == data["host"]:
            updated = await _apply(req, info, change)
            view = {
                "host": updated.host,
                "binary": data["binary"],
                "status": "disabled" if updated.disabled else "enabled",
            }
            if verb == "disable-log-reason":
                view["disabled_reason"] = updated.disabled_reason
            if verb == "force-down":
                view = {
                    "host": updated.host,
                    "binary": data["binary"],
                    "forced_down": updated.forced_down,
                }
            return json_response({"service": view})
    raise not_found("Service", f"{data['host']}/{data['binary']}")


@routes.route("DELETE", "/v2.1/os-services/{service_id}", rule=ADMIN_ONLY)
async def delete_service(req: ApiRequest) -> Response:
    wanted = req.params["service_id"]
    if since(req, 53) and not is_uuid(wanted):
        raise bad(f"Invalid uuid {wanted}")
    info = await _find(req, wanted)
    st = state_of(req)
    if info.binary == AGENT_BINARY:
        await _forget_host(req, info.host)
    await st.bus.call(TOPIC, DeleteService(host=info.host, binary=info.binary))
    if info.binary == AGENT_BINARY:
        await announce_host_change(st.bus)
    return Response(status_code=204)


async def _find(req: ApiRequest, wanted: str) -> ServiceInfo:
    """A service by its UUID (2.53) or, before, by its integer id."""
    for info in await compute_services(state_of(req).bus):
        ident = service_uuid(info) if since(req, 53) else str(legacy_id(info.id))
        if ident == wanted:
            return info
    raise not_found("Service", wanted)


async def _forget_host(req: ApiRequest, host: str) -> None:
    """Drop the host's node row and its aggregate memberships, unless servers live, are
    placed (a claim) or move there. The node row is locked first: a scheduler's claim
    on the host updates that row, so no server can be placed there meanwhile."""
    async with AGGREGATE_CHANGES, state_of(req).db.session() as s:
        node = await s.scalar(
            sa.select(ComputeNode).where(ComputeNode.host == host).with_for_update()
        )
        live = Instance.vm_state != VmState.DELETED
        hosting = sa.select(Instance.id).where(live, Instance.host == host).limit(1)
        claimed = sa.select(ResourceClaim.instance_id).where(ResourceClaim.host == host).limit(1)
        if await s.scalar(hosting) or await s.scalar(claimed):
            raise Conflict(
                "compute.service.has_instances",
                "Unable to delete compute service that is hosting instances. "
                "Migrate or delete the instances first.",
            )
        moving = sa.select(Instance.id).where(live, Instance.source_host == host).limit(1)
        if await s.scalar(moving):
            raise Conflict(
                "compute.service.has_migrations",
                "Unable to delete compute service that has in-progress migrations. "
                "Complete the migrations or delete the instances first.",
            )
        for agg in (await s.scalars(sa.select(Aggregate).with_for_update())).all():
            if host in agg.hosts:
                agg.hosts = [h for h in agg.hosts if h != host]
        if node is not None:
            await s.delete(node)
