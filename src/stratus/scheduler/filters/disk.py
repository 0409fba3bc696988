"""Enough local disk left under ``disk_allocation_ratio``; volume-backed (0 GiB) passes."""

from __future__ import annotations

from typing import ClassVar

from stratus.scheduler.host_state import HostState
from stratus.scheduler.request import PlacementRequest


class DiskFilter:
    name: ClassVar[str] = "DiskFilter"

    def active(self, req: PlacementRequest) -> bool:
        return req.amounts.disk_gb > 0

    def keep(self, hosts: list[HostState], req: PlacementRequest) -> list[HostState]:
        need = req.amounts.disk_gb
        return [h for h in hosts if h.free_disk_gb >= need]
