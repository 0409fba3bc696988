"""Flavor extra specs scoped ``aggregate_instance_extra_specs:`` (or unscoped) must match
the metadata of one of the host's aggregates; other scopes (``hw:``, ...) are not ours."""

from __future__ import annotations

from typing import ClassVar

from stratus.scheduler.filters.extra_specs_ops import matches
from stratus.scheduler.host_state import HostState
from stratus.scheduler.request import PlacementRequest

SCOPE = "aggregate_instance_extra_specs"


def aggregate_requirements(extra_specs: dict[str, str]) -> dict[str, str]:
    wanted: dict[str, str] = {}
    for key, value in extra_specs.items():
        scope, sep, name = key.partition(":")
        if not sep:
            wanted[key] = value
        elif scope == SCOPE and name:
            wanted[name] = value
    return wanted


def host_passes(host: HostState, wanted: dict[str, str]) -> bool:
    for key, requirement in wanted.items():
        values = host.aggregate_metadata.get(key)
        if not values or not any(matches(v, requirement) for v in values):
            return False
    return True


class AggregateInstanceExtraSpecsFilter:
    name: ClassVar[str] = "AggregateInstanceExtraSpecsFilter"

    def active(self, req: PlacementRequest) -> bool:
        return bool(aggregate_requirements(req.spec.flavor_extra_specs))

    def keep(self, hosts: list[HostState], req: PlacementRequest) -> list[HostState]:
        wanted = aggregate_requirements(req.spec.flavor_extra_specs)
        return [h for h in hosts if host_passes(h, wanted)]
