"""``os-availability-zone``: the zones of the compute hosts (an aggregate's zone, else the
host's own, see ``host_zones.py``) and whether any host in each is enabled."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.responses import Response

from stratus.common.asgi.routing import ApiRequest, Routes, json_response
from stratus.compute.api.common import ADMIN_ONLY, READ
from stratus.compute.api.host_zones import host_zones
from stratus.compute.api.state import state_of
from stratus.compute.models import ComputeNode

if TYPE_CHECKING:
    from stratus.compute.api.state import ComputeApiState

routes = Routes("os_compute_api")


async def zone_hosts(st: ComputeApiState, s: AsyncSession) -> dict[str, list[ComputeNode]]:
    """zone -> its compute hosts. Zones exist through their hosts, as in Nova; a cloud
    whose agents have not reported yet has the default zone."""
    zones = await host_zones(s)
    grouped: dict[str, list[ComputeNode]] = {}
    for node in (await s.scalars(sa.select(ComputeNode).order_by(ComputeNode.host))).all():
        grouped.setdefault(zones.get(node.host, node.availability_zone), []).append(node)
    return grouped or {st.settings.default_availability_zone: []}


async def known_zones(st: ComputeApiState, s: AsyncSession) -> set[str]:
    """Zones a server may ask for."""
    return set(await zone_hosts(st, s))


async def _zone_hosts(req: ApiRequest) -> dict[str, list[ComputeNode]]:
    st = state_of(req)
    async with st.db.session() as s:
        return await zone_hosts(st, s)


def _available(hosts: list[ComputeNode]) -> bool:
    """Nova's ``zoneState``: some host of the zone takes new servers."""
    return not hosts or any(not (n.disabled or n.forced_down) for n in hosts)


@routes.route("GET", "/v2.1/os-availability-zone", rule=READ)
async def list_zones(req: ApiRequest) -> Response:
    grouped = await _zone_hosts(req)
    info = [
        {"zoneName": z, "zoneState": {"available": _available(grouped[z])}, "hosts": None}
        for z in sorted(grouped)
    ]
    return json_response({"availabilityZoneInfo": info})


@routes.route("GET", "/v2.1/os-availability-zone/detail", rule=ADMIN_ONLY)
async def list_zones_detail(req: ApiRequest) -> Response:
    grouped = await _zone_hosts(req)
    info: list[dict[str, Any]] = []
    for zone in sorted(grouped):
        hosts = {
            n.host: {
                "nova-compute": {
                    "available": not n.forced_down,
                    "active": not n.disabled,
                    "updated_at": n.last_seen,
                }
            }
            for n in grouped[zone]
        }
        state = {"available": _available(grouped[zone])}
        info.append({"zoneName": zone, "zoneState": state, "hosts": hosts or None})
    return json_response({"availabilityZoneInfo": info})
