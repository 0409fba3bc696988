"""The scheduler's in-memory view of every compute host, and the claims applied to it.

Filters and weighers read ``HostState`` objects only (no SQL in the hot path). The view
is loaded from compute's tables (``compute_nodes``, ``aggregates``, ``resource_claims``)
every ``refresh_interval`` seconds; between loads, this process's own claims are applied
at once, before any ``await``, so two concurrent requests in one scheduler never see the
same free room. The database stays the judge across schedulers (see ``claims.py``).

A reload must not forget a claim the snapshot missed: claims whose database write was
still running, or finished while the reload ran, are applied again on the fresh view.
Applying one the snapshot already held only makes the view cautious until the next
reload; it never lets a host look emptier than it is.
"""

from __future__ import annotations

import datetime as dt
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa

from stratus.common.db import Database
from stratus.compute.models import Aggregate, ComputeNode, ResourceClaim
from stratus.scheduler.settings import SchedulerSettings

NODES = ComputeNode.__table__  # rows, not ORM objects: 10,000 hosts load in a blink


@dataclass(frozen=True, slots=True)
class Amounts:
    """What one instance takes from a host."""

    vcpus: int
    memory_mb: int
    disk_gb: int


@dataclass(frozen=True, slots=True)
class Claim:
    instance_id: str
    host: str
    amounts: Amounts
    server_group_id: str | None = None

    @property
    def key(self) -> tuple[str, str]:
        return (self.instance_id, self.host)


@dataclass(slots=True)
class HostState:
    """One host; ``free_*`` are against the allocation ratios, kept current by claims."""

    name: str
    availability_zone: str
    hypervisor_type: str
    hypervisor_version: int
    cpu_arch: str
    vcpus: int
    memory_mb: int
    local_gb: int
    vcpus_used: int
    memory_mb_used: int
    local_gb_used: int
    free_vcpus: float = 0.0
    free_ram_mb: float = 0.0
    free_disk_gb: float = 0.0
    enabled: bool = True  # not disabled and not forced down
    alive_until: float = 0.0  # POSIX time after which the host counts as down
    aggregate_metadata: dict[str, frozenset[str]] = field(default_factory=dict)
    limits: tuple[float, float, float] = (0.0, 0.0, 0.0)  # vcpus, ram, disk with ratios

    def set_limits(self, s: SchedulerSettings) -> None:
        self.limits = (
            self.vcpus * s.cpu_allocation_ratio,
            self.memory_mb * s.ram_allocation_ratio,
            self.local_gb * s.disk_allocation_ratio,
        )
        self._update_free()

    def consume(self, amounts: Amounts, sign: int = 1) -> None:
        """Add (sign 1) or give back (sign -1) one instance's resources."""
        self.vcpus_used += sign * amounts.vcpus
        self.memory_mb_used += sign * amounts.memory_mb
        self.local_gb_used += sign * amounts.disk_gb
        self._update_free()

    def _update_free(self) -> None:
        cpu, ram, disk = self.limits
        self.free_vcpus = cpu - self.vcpus_used
        self.free_ram_mb = ram - self.memory_mb_used
        self.free_disk_gb = disk - self.local_gb_used


@dataclass
class HostStates:
    """Every host (in a stable order for the filters) and the hosts of each group's claims."""

    hosts: list[HostState] = field(default_factory=list)
    by_name: dict[str, HostState] = field(default_factory=dict)
    group_hosts: dict[str, Counter[str]] = field(default_factory=dict)

    @classmethod
    def of(cls, hosts: Iterable[HostState]) -> HostStates:
        listed = list(hosts)
        return cls(listed, {h.name: h for h in listed})

    def apply(self, claim: Claim, sign: int = 1) -> None:
        host = self.by_name.get(claim.host)
        if host is not None:
            host.consume(claim.amounts, sign)
        if claim.server_group_id is not None:
            members = self.group_hosts.setdefault(claim.server_group_id, Counter())
            members[claim.host] += sign
            if members[claim.host] <= 0:
                del members[claim.host]

    def replace(self, host: HostState) -> None:
        old = self.by_name.get(host.name)
        self.by_name[host.name] = host
        if old is None:
            self.hosts.append(host)
        else:
            self.hosts[self.hosts.index(old)] = host


class HostView:
    """The current ``HostStates`` plus the claims a reload must not lose."""

    def __init__(self, states: HostStates | None = None) -> None:
        self.states = states or HostStates()
        self._inflight: dict[tuple[str, str], Claim] = {}
        self._recorders: list[dict[tuple[str, str], Claim]] = []
        self.loaded_at = time.monotonic()

    def apply(self, claim: Claim) -> None:
        """Take the room at once; the database write follows."""
        self.states.apply(claim)
        self._inflight[claim.key] = claim

    def committed(self, claim: Claim) -> None:
        self._inflight.pop(claim.key, None)
        for recorder in self._recorders:
            recorder[claim.key] = claim

    def abandon(self, claim: Claim) -> None:
        """The database refused (or already held) the claim: give the room back."""
        self._inflight.pop(claim.key, None)
        for recorder in self._recorders:
            recorder.pop(claim.key, None)
        self.states.apply(claim, -1)

    def released(self, claim: Claim) -> None:
        self.states.apply(claim, -1)

    async def reload(self, load: Callable[[], Awaitable[HostStates]]) -> None:
        recorder = self._record()
        try:
            fresh = await load()
        finally:
            self._recorders.remove(recorder)
        for claim in {**recorder, **self._inflight}.values():
            fresh.apply(claim)
        self.states = fresh
        self.loaded_at = time.monotonic()

    async def reload_host(
        self, name: str, load: Callable[[HostState], Awaitable[HostState | None]]
    ) -> None:
        """Re-read one host (another scheduler claimed room on it); ``load`` gets the old
        state, for what the host's row does not hold (zone and aggregates)."""
        old = self.states.by_name.get(name)
        if old is None:
            return
        recorder = self._record()
        try:
            host = await load(old)
        finally:
            self._recorders.remove(recorder)
        if host is None:  # the row is gone: no new instances until the next reload drops it
            old.enabled = False
            return
        for claim in {**recorder, **self._inflight}.values():
            if claim.host == name:
                host.consume(claim.amounts)
        self.states.replace(host)

    def _record(self) -> dict[tuple[str, str], Claim]:
        """Start noting the claims committed from now on (see the module docstring)."""
        recorder: dict[tuple[str, str], Claim] = {}
        self._recorders.append(recorder)
        return recorder


def host_from_node(
    node: sa.Row[Any],
    settings: SchedulerSettings,
    zone: str | None = None,
    metadata: dict[str, frozenset[str]] | None = None,
) -> HostState:
    host = HostState(
        name=node.host,
        availability_zone=zone or node.availability_zone,
        hypervisor_type=node.hypervisor_type,
        hypervisor_version=node.hypervisor_version,
        cpu_arch=node.cpu_arch,
        vcpus=node.vcpus,
        memory_mb=node.memory_mb,
        local_gb=node.local_gb,
        vcpus_used=node.vcpus_used,
        memory_mb_used=node.memory_mb_used,
        local_gb_used=node.local_gb_used,
        enabled=not (node.disabled or node.forced_down),
        alive_until=_posix(node.last_seen) + settings.service_down_time,
        aggregate_metadata=metadata or {},
    )
    host.set_limits(settings)
    return host


def _posix(when: dt.datetime) -> float:
    return when.replace(tzinfo=when.tzinfo or dt.UTC).timestamp()


@dataclass
class _AggregateIndex:
    """Per host: the zone its aggregates give it and their merged metadata."""

    zones: dict[str, str] = field(default_factory=dict)
    metadata: dict[str, dict[str, set[str]]] = field(default_factory=dict)

    def add(self, aggregate: Aggregate) -> None:
        for host in aggregate.hosts:
            if aggregate.availability_zone:
                self.zones[host] = aggregate.availability_zone
            merged = self.metadata.setdefault(host, {})
            for key, value in aggregate.metadata_.items():
                merged.setdefault(key, set()).add(value)

    def frozen(self, host: str) -> dict[str, frozenset[str]]:
        return {k: frozenset(v) for k, v in self.metadata.get(host, {}).items()}


async def load_host_states(db: Database, settings: SchedulerSettings) -> HostStates:
    """One consistent-enough snapshot of compute's tables (see the module docstring)."""
    index = _AggregateIndex()
    async with db.session() as session:
        for aggregate in (await session.scalars(sa.select(Aggregate))).all():
            index.add(aggregate)
        nodes = (await session.execute(sa.select(NODES).order_by(NODES.c.host))).all()
        grouped = await session.execute(
            sa.select(ResourceClaim.server_group_id, ResourceClaim.host).where(
                ResourceClaim.server_group_id.is_not(None)
            )
        )
        states = HostStates.of(
            host_from_node(n, settings, index.zones.get(n.host), index.frozen(n.host))
            for n in nodes
        )
        for group_id, host in grouped.all():
            states.group_hosts.setdefault(str(group_id), Counter())[host] += 1
    return states
