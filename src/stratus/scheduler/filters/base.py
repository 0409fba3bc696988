"""What a filter is: a cheap test that keeps the hosts able to take the instance."""

from __future__ import annotations

from typing import ClassVar, Protocol

from stratus.scheduler.host_state import HostState
from stratus.scheduler.request import PlacementRequest


class HostFilter(Protocol):
    """``active`` says whether the request asks anything of this filter at all (an inactive
    filter costs nothing and is left out of the report); ``keep`` returns the hosts that
    pass, in their order."""

    name: ClassVar[str]

    def active(self, req: PlacementRequest) -> bool: ...

    def keep(self, hosts: list[HostState], req: PlacementRequest) -> list[HostState]: ...
