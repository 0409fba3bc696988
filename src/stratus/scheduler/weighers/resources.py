"""Free RAM, vCPUs and disk (under the allocation ratios): a positive multiplier spreads
instances over the emptiest hosts, a negative one packs them onto the fullest."""

from __future__ import annotations

from typing import ClassVar

from stratus.scheduler.host_state import HostState
from stratus.scheduler.request import PlacementRequest
from stratus.scheduler.settings import SchedulerSettings


class RamWeigher:
    name: ClassVar[str] = "RamWeigher"

    def multiplier(self, settings: SchedulerSettings) -> float:
        return settings.ram_weight_multiplier

    def active(self, req: PlacementRequest) -> bool:
        return True

    def raw(self, hosts: list[HostState], req: PlacementRequest) -> list[float]:
        return [h.free_ram_mb for h in hosts]


class CpuWeigher:
    name: ClassVar[str] = "CpuWeigher"

    def multiplier(self, settings: SchedulerSettings) -> float:
        return settings.cpu_weight_multiplier

    def active(self, req: PlacementRequest) -> bool:
        return True

    def raw(self, hosts: list[HostState], req: PlacementRequest) -> list[float]:
        return [h.free_vcpus for h in hosts]


class DiskWeigher:
    name: ClassVar[str] = "DiskWeigher"

    def multiplier(self, settings: SchedulerSettings) -> float:
        return settings.disk_weight_multiplier

    def active(self, req: PlacementRequest) -> bool:
        return True

    def raw(self, hosts: list[HostState], req: PlacementRequest) -> list[float]:
        return [h.free_disk_gb for h in hosts]
