"""Only hosts whose compute service is enabled, not forced down, and heard from lately."""

from __future__ import annotations

from typing import ClassVar

from stratus.scheduler.host_state import HostState
from stratus.scheduler.request import PlacementRequest


class ComputeFilter:
    name: ClassVar[str] = "ComputeFilter"

    def active(self, req: PlacementRequest) -> bool:
        return True

    def keep(self, hosts: list[HostState], req: PlacementRequest) -> list[HostState]:
        now = req.now
        return [h for h in hosts if h.enabled and h.alive_until >= now]
