"""Weighing as Nova does it: each weigher's raw values are scaled to [0, 1] over the
candidate hosts (all equal: 0), multiplied by its setting, and summed; the host is drawn
at random among the ``host_subset_size`` best (ties at the top always share the draw)."""

from __future__ import annotations

import heapq
import random

from stratus.scheduler.host_state import HostState
from stratus.scheduler.request import PlacementRequest
from stratus.scheduler.settings import SchedulerSettings
from stratus.scheduler.weighers.affinity import SoftAffinityWeigher, SoftAntiAffinityWeigher
from stratus.scheduler.weighers.base import Weigher
from stratus.scheduler.weighers.resources import CpuWeigher, DiskWeigher, RamWeigher

WEIGHERS: tuple[Weigher, ...] = (
    RamWeigher(),
    CpuWeigher(),
    DiskWeigher(),
    SoftAffinityWeigher(),
    SoftAntiAffinityWeigher(),
)


def normalise(values: list[float]) -> list[float]:
    """Scale to [0, 1]: the smallest value becomes 0, the largest 1; all equal: all 0."""
    low, high = min(values), max(values)
    if high == low:
        return [0.0] * len(values)
    span = high - low
    return [(v - low) / span for v in values]


def weigh(
    hosts: list[HostState],
    req: PlacementRequest,
    settings: SchedulerSettings,
    weighers: tuple[Weigher, ...] = WEIGHERS,
) -> list[float]:
    """One total weight per host (same order): higher is better."""
    totals = [0.0] * len(hosts)
    for weigher in weighers:
        factor = weigher.multiplier(settings)
        if factor == 0 or not weigher.active(req):
            continue
        raw = weigher.raw(hosts, req)
        low, high = min(raw), max(raw)
        if high == low:
            continue
        scale = factor / (high - low)
        totals = [t + (v - low) * scale for t, v in zip(totals, raw, strict=True)]
    return totals


def choose(
    hosts: list[HostState], weights: list[float], subset_size: int, rng: random.Random
) -> HostState:
    """A random host among the ``subset_size`` heaviest, counting every host tied with
    the lightest of them (so equal hosts share the load instead of the first taking it)."""
    if subset_size == 1:
        cut = max(weights)
    else:
        cut = heapq.nlargest(min(subset_size, len(weights)), weights)[-1]
    pool = [i for i, w in enumerate(weights) if w >= cut]
    return hosts[pool[0] if len(pool) == 1 else rng.choice(pool)]


__all__ = ["WEIGHERS", "Weigher", "choose", "normalise", "weigh"]
