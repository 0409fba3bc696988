"""The requested availability zone (a host's zone comes from its aggregates, else its row)."""

from __future__ import annotations

from typing import ClassVar

from stratus.scheduler.host_state import HostState
from stratus.scheduler.request import PlacementRequest


class AvailabilityZoneFilter:
    name: ClassVar[str] = "AvailabilityZoneFilter"

    def active(self, req: PlacementRequest) -> bool:
        return bool(req.spec.availability_zone)

    def keep(self, hosts: list[HostState], req: PlacementRequest) -> list[HostState]:
        zone = req.spec.availability_zone
        return [h for h in hosts if h.availability_zone == zone]
