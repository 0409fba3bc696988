"""What a weigher is: a raw preference per host, scaled to [0, 1] and multiplied."""

from __future__ import annotations

from typing import ClassVar, Protocol

from stratus.scheduler.host_state import HostState
from stratus.scheduler.request import PlacementRequest
from stratus.scheduler.settings import SchedulerSettings


class Weigher(Protocol):
    """``raw`` gives one number per host (higher: preferred before the multiplier)."""

    name: ClassVar[str]

    def multiplier(self, settings: SchedulerSettings) -> float: ...

    def active(self, req: PlacementRequest) -> bool: ...

    def raw(self, hosts: list[HostState], req: PlacementRequest) -> list[float]: ...
