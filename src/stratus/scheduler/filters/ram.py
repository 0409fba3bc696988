"""Enough memory left under ``ram_allocation_ratio`` (applied in ``HostState.free_ram_mb``)."""

from __future__ import annotations

from typing import ClassVar

from stratus.scheduler.host_state import HostState
from stratus.scheduler.request import PlacementRequest


class RamFilter:
    name: ClassVar[str] = "RamFilter"

    def active(self, req: PlacementRequest) -> bool:
        return req.amounts.memory_mb > 0

    def keep(self, hosts: list[HostState], req: PlacementRequest) -> list[HostState]:
        need = req.amounts.memory_mb
        return [h for h in hosts if h.free_ram_mb >= need]
