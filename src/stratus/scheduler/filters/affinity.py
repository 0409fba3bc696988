"""Server group policy ``affinity``: once a member is placed, the others go to its host."""

from __future__ import annotations

from typing import ClassVar

from stratus.scheduler.host_state import HostState
from stratus.scheduler.request import AFFINITY, PlacementRequest


class ServerGroupAffinityFilter:
    name: ClassVar[str] = "ServerGroupAffinityFilter"

    def active(self, req: PlacementRequest) -> bool:
        return req.group_policy == AFFINITY and bool(+req.group_hosts)

    def keep(self, hosts: list[HostState], req: PlacementRequest) -> list[HostState]:
        members = req.group_hosts
        return [h for h in hosts if members[h.name] > 0]
