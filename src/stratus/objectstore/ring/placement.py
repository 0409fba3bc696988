"""One rebalance: gather the replicas that should move, then place each where it helps most.

Moving a replica costs a copy across the network, so a rebalance only gathers:

1. replicas with no device, or on a removed device (always: their data is gone);
2. replicas on a device of weight 0 (draining), unless the partition is locked;
3. one replica of each partition spread over fewer zones or regions than it could be;
4. one replica of a partition from each region, zone, server or device holding more
   than its target, until none is over ``ceil(target)``.

A partition is locked for ``min_part_hours`` after one of its replicas moved, so the
replicators can copy the data before another copy moves, and at most one replica of a
partition moves in a rebalance (besides replicas whose device is gone). Each gathered
replica then walks down the failure-domain tree choosing, at every level, the child
holding the fewest replicas of that partition, then the one furthest below its target
(``targets.py``). A replica that finds no better home lands back where it was and does not
count as moved; further passes then try other partitions, so rebalance converges in a
handful of passes and moves close to the minimum.
"""

from __future__ import annotations

import math
import random
from array import array
from collections import Counter
from collections.abc import Mapping

from stratus.common.errors import InvalidInput
from stratus.objectstore.ring.devices import NO_DEVICE, Device
from stratus.objectstore.ring.targets import (
    Tier,
    device_tier,
    replica_shares,
    tier_children,
    tier_sort_key,
)

_MAX_PASSES = 8


class Placer:
    """Mutates one builder's partition table (``table[replica][part] = device id``)."""

    def __init__(
        self,
        table: list[array[int]],
        last_moved: array[int],
        devices: Mapping[int, Device],
        *,
        now: int,
        lock_seconds: int,
        seed: int,
    ) -> None:
        self.table = table
        self.last_moved = last_moved
        self.parts = len(last_moved)
        self.now = now
        self.lock_seconds = lock_seconds
        self.known = set(devices)
        active = [d for d in devices.values() if d.weight > 0]
        if len(active) < len(table):
            raise InvalidInput(
                "ring.too_few_devices",
                f"{len(table)} replicas need at least {len(table)} devices of weight > 0, "
                f"found {len(active)}",
            )
        self.tier_of = {d.id: device_tier(d) for d in active}
        self.children = tier_children(active)
        self.target = {t: s * self.parts for t, s in replica_shares(active, len(table)).items()}
        self.ndev = Counter(t[:depth] for t in self.tier_of.values() for depth in range(5))
        self.limit = {t: math.ceil(n - 1e-9) for t, n in self.target.items()}
        self.count = self._count_tiers()
        # Strict greedy first placement deals zones and devices out in a fixed cycle, so
        # every partition on one device would share the same other zones and a new zone
        # could take nothing from that device; a small per-partition jitter (under 1% of
        # the tier's target) breaks the cycle.
        self.tier_no = {t: i for i, t in enumerate(sorted(self.target, key=tier_sort_key))}
        self.jitter = {t: min(4.0, n / 100) / 0xFFFFFFFF for t, n in self.target.items()}
        self.order = list(range(self.parts))
        random.Random(seed).shuffle(self.order)
        self.touched = bytearray(self.parts)  # moved this rebalance: locked until the next
        self.fresh = bytearray(self.parts)  # first placement: no data to copy, no lock
        self.moved: set[int] = set()

    def _count_tiers(self) -> dict[Tier, int]:
        per_device: Counter[int] = Counter()
        for row in self.table:
            per_device.update(row)
        count = dict.fromkeys(self.target, 0)
        for dev_id, n in per_device.items():
            leaf = self.tier_of.get(dev_id)
            for depth in range(5 if leaf else 0):
                count[leaf[:depth]] += n  # type: ignore[index]
        return count

    def run(self) -> set[int]:
        """Rebalance; return the partitions that had a replica moved."""
        self._move_lost()
        self._spread()
        # Full devices give first, so a zone over target sheds from its fullest devices
        # instead of from whichever comes first and then evening out inside the zone.
        for depths in ((4,), (1, 2, 3, 4)):
            for _ in range(_MAX_PASSES):
                before = len(self.moved)
                self._unload_overweight(depths)
                if len(self.moved) == before:
                    break
        return self.moved

    def _locked(self, part: int) -> bool:
        return bool(self.touched[part]) or self.now - self.last_moved[part] < self.lock_seconds

    def _move(self, part: int, replica: int) -> None:
        """Lift one replica off its device and place it where it helps most (maybe back)."""
        old = self.table[replica][part]
        home = self.tier_of.get(old)
        self._count(home, -1)
        self.table[replica][part] = NO_DEVICE
        new = self._choose(part, home)
        self.table[replica][part] = new
        self._count(self.tier_of[new], +1)
        if new != old:
            self.moved.add(part)
            if not self.fresh[part]:  # a partition with no data yet can move freely
                self.touched[part] = 1
                self.last_moved[part] = self.now

    def _count(self, leaf: Tier | None, delta: int) -> None:
        if leaf is not None:
            for depth in range(5):
                self.count[leaf[:depth]] += delta

    def _move_lost(self) -> None:
        """Replicas without a live device: unassigned, removed, or draining at weight 0."""
        present: set[int] = set()
        for row in self.table:
            present.update(row)
        if present <= self.tier_of.keys():
            return
        for part in self.order:
            for replica, row in enumerate(self.table):
                dev = row[part]
                if dev in self.tier_of:
                    continue
                if dev == NO_DEVICE:
                    self.fresh[part] = 1
                    self._move(part, replica)
                elif dev not in self.known or not self._locked(part):
                    self._move(part, replica)
                    self.touched[part] = 1  # its other replicas stay until the next time

    def _spread(self) -> None:
        """Move one replica of each partition that could span more zones or regions."""
        tiers = self.tier_of
        replicas = len(self.table)
        want_regions = min(replicas, len(self.children[()]))
        want_zones = min(replicas, sum(len(self.children[r]) for r in self.children[()]))
        for part in self.order:
            if self._locked(part) or any(row[part] not in tiers for row in self.table):
                continue  # a draining replica still locked: wait for it to leave first
            leaves = [tiers[row[part]] for row in self.table]
            zones = Counter(leaf[:2] for leaf in leaves)
            regions = Counter(leaf[:1] for leaf in leaves)
            if len(zones) >= want_zones and len(regions) >= want_regions:
                continue
            # the crowded replica on the fullest device goes
            crowded = max(
                range(replicas),
                key=lambda r: (
                    regions[leaves[r][:1]] if len(regions) < want_regions else 0,
                    zones[leaves[r][:2]],
                    self.count[leaves[r]] - self.target[leaves[r]],
                ),
            )
            self._move(part, crowded)

    def _unload_overweight(self, depths: tuple[int, ...]) -> None:
        """Move replicas out of tiers above ``ceil(target)``, one per partition.

        Looking at every tier, not only devices, matters in the end: a zone can be over while the
        replicas on its fullest device all belong to partitions that cannot leave it; a
        replica elsewhere in the zone leaves instead, and the device refills its neighbour.
        """
        count, limit = self.count, self.limit
        over = {t for t in limit if len(t) in depths and count[t] > limit[t]}
        for part in self.order:
            if not over:
                return
            if self._locked(part):
                continue
            for replica, row in enumerate(self.table):
                leaf = self.tier_of.get(row[part])
                if leaf is None or not any(leaf[:d] in over for d in depths):
                    continue
                self._move(part, replica)
                if self.touched[part]:
                    over = {t for t in over if count[t] > limit[t]}
                    break

    def _choose(self, part: int, home: Tier | None) -> int:
        """Walk down the tree: fewest replicas of this partition, then furthest below target.

        While the walk follows ``home`` (where the replica was), it leaves only for a branch
        that is clearly better: fewer replicas of the partition, or below its target and a
        whole replica further below it than home. A replica that cannot reach a branch in
        need therefore stays, rather than pushing a balanced branch over so that it gives
        a replica of its own away: that chain would move two replicas to do one's work.
        """
        used: Counter[Tier] = Counter()
        for row in self.table:
            leaf = self.tier_of.get(row[part])
            if leaf is not None:
                used.update((leaf[:1], leaf[:2], leaf[:3], leaf))
        node: Tier = ()
        for depth in range(1, 5):
            best: Tier | None = None
            best_key = (0, 0.0)
            for child in self.children[node]:
                n = used[child]
                if n >= self.ndev[child]:
                    continue  # every device below already holds this partition
                key = (n, self.count[child] - self.target[child])
                if home is None:  # spread first placements without a pattern (see above)
                    key = (n, key[1] + self.jitter[child] * _mix(part, self.tier_no[child]))
                if best is None or key < best_key:
                    best, best_key = child, key
            if best is None:  # unreachable while replicas <= devices; kept as a guard
                raise InvalidInput("ring.unplaceable", f"no device left for partition {part}")
            if home is not None and home[:depth] != best and home[: depth - 1] == node:
                stay = home[:depth]
                stay_key = (used[stay], self.count[stay] - self.target[stay])
                if best_key[0] == stay_key[0] and not -1e-9 > best_key[1] <= stay_key[1] - 1:
                    best = stay
            node = best
        dev_id = node[3]
        assert isinstance(dev_id, int)
        return dev_id


def _mix(part: int, salt: int) -> int:
    """A stable 32-bit hash of two integers: the same in every process and release."""
    x = (part * 0x9E3779B1 + salt * 0x85EBCA77 + 0x165667B1) & 0xFFFFFFFF
    x ^= x >> 15
    x = (x * 0x2C1B3C6D) & 0xFFFFFFFF
    x ^= x >> 12
    return x
