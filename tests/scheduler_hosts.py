"""Helpers for scheduler tests: hosts in memory and a scheduler without a database."""

from __future__ import annotations

import random
import time

from stratus.scheduler.claims import ClaimOutcome
from stratus.scheduler.host_state import Amounts, Claim, HostState, HostStates, HostView
from stratus.scheduler.request import PlacementRequest
from stratus.scheduler.rpc import RequestSpec
from stratus.scheduler.selector import HostSelector
from stratus.scheduler.settings import SchedulerSettings

SETTINGS = SchedulerSettings()


def host(name: str, **fields: object) -> HostState:
    values: dict[str, object] = {
        "availability_zone": "nova",
        "hypervisor_type": "fake",
        "hypervisor_version": 1,
        "cpu_arch": "x86_64",
        "vcpus": 8,
        "memory_mb": 16384,
        "local_gb": 100,
        "vcpus_used": 0,
        "memory_mb_used": 0,
        "local_gb_used": 0,
        "alive_until": time.time() + 60,
    }
    values.update(fields)
    state = HostState(name=name, **values)  # type: ignore[arg-type]
    state.set_limits(SETTINGS)
    return state


def spec(**fields: object) -> RequestSpec:
    values: dict[str, object] = {
        "instance_ids": ["i-1"],
        "project_id": "p",
        "vcpus": 1,
        "memory_mb": 1024,
        "disk_gb": 10,
    }
    values.update(fields)
    return RequestSpec.model_validate(values)


def request(**fields: object) -> PlacementRequest:
    req = PlacementRequest.of(spec(**fields))
    req.count_members(None)
    return req


class MemoryClaims:
    """Claims kept only in the view: one process, nothing to race with."""

    def __init__(self) -> None:
        self.held: dict[tuple[str, str], Claim] = {}

    async def claim(self, claim: Claim) -> ClaimOutcome:
        if claim.key in self.held:
            return ClaimOutcome.ALREADY_HELD
        self.held[claim.key] = claim
        return ClaimOutcome.CLAIMED

    async def release(self, instance_id: str, host: str) -> Claim | None:
        return self.held.pop((instance_id, host), None)

    async def resize(self, claim: Claim) -> Claim | None:
        old = self.held.get(claim.key, Claim(claim.instance_id, claim.host, Amounts(0, 0, 0)))
        self.held[claim.key] = claim
        return old


class FixedHosts:
    """A host source that never changes: the view is the truth."""

    async def reload(self, view: HostView, *, unless_loaded_since: float | None = None) -> None:
        view.loaded_at = time.monotonic()

    async def reload_host(self, view: HostView, name: str) -> None:
        return None

    async def add_group_members(self, req: PlacementRequest) -> None:
        return None


def selector(
    hosts: list[HostState], settings: SchedulerSettings = SETTINGS, seed: int = 1
) -> HostSelector:
    view = HostView(HostStates.of(hosts))
    return HostSelector(view, MemoryClaims(), FixedHosts(), settings, random.Random(seed))
