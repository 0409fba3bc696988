"""Soft server group policies: prefer (or avoid) hosts holding the group's members, but
place the instance anyway when that is impossible (the strict policies are filters)."""

from __future__ import annotations

from typing import ClassVar

from stratus.scheduler.host_state import HostState
from stratus.scheduler.request import SOFT_AFFINITY, SOFT_ANTI_AFFINITY, PlacementRequest
from stratus.scheduler.settings import SchedulerSettings


class SoftAffinityWeigher:
    name: ClassVar[str] = "ServerGroupSoftAffinityWeigher"

    def multiplier(self, settings: SchedulerSettings) -> float:
        return settings.soft_affinity_weight_multiplier

    def active(self, req: PlacementRequest) -> bool:
        return req.group_policy == SOFT_AFFINITY

    def raw(self, hosts: list[HostState], req: PlacementRequest) -> list[float]:
        members = req.group_hosts
        return [float(members[h.name]) for h in hosts]


class SoftAntiAffinityWeigher:
    name: ClassVar[str] = "ServerGroupSoftAntiAffinityWeigher"

    def multiplier(self, settings: SchedulerSettings) -> float:
        return settings.soft_anti_affinity_weight_multiplier

    def active(self, req: PlacementRequest) -> bool:
        return req.group_policy == SOFT_ANTI_AFFINITY

    def raw(self, hosts: list[HostState], req: PlacementRequest) -> list[float]:
        members = req.group_hosts
        return [-float(members[h.name]) for h in hosts]
