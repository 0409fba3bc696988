"""Enough vCPUs left under ``cpu_allocation_ratio`` (applied in ``HostState.free_vcpus``)."""

from __future__ import annotations

from typing import ClassVar

from stratus.scheduler.host_state import HostState
from stratus.scheduler.request import PlacementRequest


class CoreFilter:
    name: ClassVar[str] = "CoreFilter"

    def active(self, req: PlacementRequest) -> bool:
        return req.amounts.vcpus > 0

    def keep(self, hosts: list[HostState], req: PlacementRequest) -> list[HostState]:
        need = req.amounts.vcpus
        return [h for h in hosts if h.free_vcpus >= need]
