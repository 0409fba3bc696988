"""Server group policy ``anti-affinity``: at most ``max_server_per_host`` members per host
(1 unless the group's rules say otherwise)."""

from __future__ import annotations

from typing import ClassVar

from stratus.scheduler.host_state import HostState
from stratus.scheduler.request import ANTI_AFFINITY, PlacementRequest


class ServerGroupAntiAffinityFilter:
    name: ClassVar[str] = "ServerGroupAntiAffinityFilter"

    def active(self, req: PlacementRequest) -> bool:
        return req.group_policy == ANTI_AFFINITY

    def keep(self, hosts: list[HostState], req: PlacementRequest) -> list[HostState]:
        members, limit = req.group_hosts, req.max_per_host
        return [h for h in hosts if members[h.name] < limit]
