"""One placement decision's inputs, prepared once so each filter check is cheap."""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass, field

from stratus.scheduler.host_state import Amounts
from stratus.scheduler.rpc import RequestSpec

AFFINITY = "affinity"
ANTI_AFFINITY = "anti-affinity"
SOFT_AFFINITY = "soft-affinity"
SOFT_ANTI_AFFINITY = "soft-anti-affinity"


@dataclass(slots=True)
class PlacementRequest:
    """``group_hosts``: members of the request's server group per host, including the
    instances this request placed already and claims made by concurrent requests."""

    spec: RequestSpec
    amounts: Amounts
    ignore_hosts: frozenset[str]
    group_policy: str | None = None
    max_per_host: int = 1  # anti-affinity rule (microversion 2.64)
    group_hosts: Counter[str] = field(default_factory=Counter)
    known_members: Counter[str] = field(default_factory=Counter)  # spec + instance table
    placed: Counter[str] = field(default_factory=Counter)  # by this request so far
    now: float = field(default_factory=time.time)

    def count_members(self, claimed: Counter[str] | None) -> None:
        """Set ``group_hosts`` before placing the next instance.

        With a group id, the claims of the group (this request's and concurrent ones)
        and the known members describe the same instances: take the larger count.
        """
        if not self.group_policy:
            return
        if claimed is None:
            self.group_hosts = self.known_members + self.placed
        else:
            self.group_hosts = self.known_members | claimed

    @classmethod
    def of(cls, spec: RequestSpec) -> PlacementRequest:
        spec = split_forced_host(spec)
        return cls(
            spec=spec,
            amounts=Amounts(spec.vcpus, spec.memory_mb, spec.disk_gb),
            ignore_hosts=frozenset(spec.ignore_hosts),
            group_policy=spec.server_group_policy,
            known_members=Counter(spec.server_group_hosts),
        )


def split_forced_host(spec: RequestSpec) -> RequestSpec:
    """Nova's admin syntax ``zone:host`` (or ``:host``, any zone) in the zone field."""
    zone = spec.availability_zone
    if spec.force_host or not zone or ":" not in zone:
        return spec
    zone_part, _, host = zone.partition(":")
    host = host.partition(":")[0]  # "zone:host:node": one node per host here
    return spec.model_copy(
        update={"availability_zone": zone_part or None, "force_host": host or None}
    )
