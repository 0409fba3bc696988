"""How many replicas of each partition every failure domain should hold.

The failure domains form a tree: region → zone → server (ip) → device. Going down the tree,
a node's share (replicas per partition, a float) is split among its children by weight,
with two bounds that keep the shares compatible with the widest spread of replicas:

- a child never wants more than ``ceil(share / children)`` replicas of any partition (nor
  more than it has devices), so a heavy zone cannot pull two replicas of a partition
  while another zone holds none;
- a child wants at least ``floor(floor(share) / children)`` replicas, so a light zone still
  gets its replica when there are more replicas than zones.

Dispersion therefore wins over weight where the two disagree (three zones of weights
1/1/100 with three replicas hold one replica each), which is the promise operators rely
on: losing one zone never loses two copies. Placement then follows these targets, so the
builder never fights itself over a partition.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence

from stratus.objectstore.ring.devices import Device

# A node of the failure-domain tree: (), (region,), (region, zone), (region, zone, ip),
# (region, zone, ip, device id).
Tier = tuple[int | str, ...]
_EPS = 1e-9


def device_tier(dev: Device) -> Tier:
    return (dev.region, dev.zone, dev.ip, dev.id)


def tier_children(devices: Iterable[Device]) -> dict[Tier, list[Tier]]:
    """The tree of failure domains, children sorted so every walk is deterministic."""
    children: dict[Tier, set[Tier]] = {}
    for dev in devices:
        leaf = device_tier(dev)
        for depth in range(len(leaf)):
            children.setdefault(leaf[:depth], set()).add(leaf[: depth + 1])
    return {node: sorted(kids, key=tier_sort_key) for node, kids in children.items()}


def tier_sort_key(tier: Tier) -> tuple[str, ...]:
    return tuple(f"{part:>12}" if isinstance(part, int) else part for part in tier)


def replica_shares(devices: Sequence[Device], replicas: int) -> dict[Tier, float]:
    """Replicas per partition wanted by every node of the tree, for devices of weight > 0."""
    weight: dict[Tier, float] = {}
    count: dict[Tier, int] = {}
    for dev in devices:
        leaf = device_tier(dev)
        for depth in range(len(leaf) + 1):
            weight[leaf[:depth]] = weight.get(leaf[:depth], 0.0) + dev.weight
            count[leaf[:depth]] = count.get(leaf[:depth], 0) + 1
    children = tier_children(devices)
    shares: dict[Tier, float] = {(): float(replicas)}
    pending: list[Tier] = [()]
    while pending:
        node = pending.pop()
        kids = children.get(node)
        if not kids:
            continue
        split = _split(shares[node], [weight[k] for k in kids], [count[k] for k in kids])
        shares.update(zip(kids, split, strict=True))
        pending.extend(kids)
    return shares


def _split(share: float, weights: list[float], devices: list[int]) -> list[float]:
    """Split ``share`` by weight within the dispersion bounds described above."""
    n = len(weights)
    hi = [float(min(math.ceil(share / n - _EPS), d)) for d in devices]
    if sum(hi) < share - _EPS:  # too few devices to spread evenly: fill what exists
        hi = [float(d) for d in devices]
    floor = math.floor(math.floor(share + _EPS) / n)
    lo = [min(float(floor), h) for h in hi]
    return water_fill(share, weights, lo, hi)


def water_fill(total: float, weights: list[float], lo: list[float], hi: list[float]) -> list[float]:
    """Shares proportional to weight, clamped to [lo, hi], summing to ``total``.

    The clamped sum grows monotonically with the proportionality factor, so bisection
    finds it exactly enough (1e-12 relative) in a fixed number of steps.
    """

    def fill(scale: float) -> list[float]:
        return [min(h, max(lo_, scale * w)) for w, lo_, h in zip(weights, lo, hi, strict=True)]

    low, high = 0.0, max(h / w for w, h in zip(weights, hi, strict=True) if w > 0)
    for _ in range(100):
        mid = (low + high) / 2
        if sum(fill(mid)) < total:
            low = mid
        else:
            high = mid
    return fill(high)
