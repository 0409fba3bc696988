"""Hosts a retry must avoid (the build failed there) and an admin's forced host."""

from __future__ import annotations

from typing import ClassVar

from stratus.scheduler.host_state import HostState
from stratus.scheduler.request import PlacementRequest


class IgnoreHostsFilter:
    name: ClassVar[str] = "IgnoreHostsFilter"

    def active(self, req: PlacementRequest) -> bool:
        return bool(req.ignore_hosts)

    def keep(self, hosts: list[HostState], req: PlacementRequest) -> list[HostState]:
        ignored = req.ignore_hosts
        return [h for h in hosts if h.name not in ignored]


class ForceHostFilter:
    """``availability_zone="zone:host"`` (admin): only that host, which must still have
    room and be up, unlike Nova, which skips every filter: a claim never overbooks."""

    name: ClassVar[str] = "ForceHostFilter"

    def active(self, req: PlacementRequest) -> bool:
        return req.spec.force_host is not None

    def keep(self, hosts: list[HostState], req: PlacementRequest) -> list[HostState]:
        forced = req.spec.force_host
        return [h for h in hosts if h.name == forced]
