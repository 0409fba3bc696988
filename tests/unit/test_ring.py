"""The runtime ring: partition hashing, primaries and handoff order."""

from __future__ import annotations

from collections import Counter

import pytest

from stratus.common.errors import InvalidInput
from stratus.objectstore.ring import Ring, RingBuilder


def build(zones: tuple[int, ...] = (1, 1, 2, 2, 3, 3, 4), regions: int = 1) -> Ring:
    b = RingBuilder(8, 3, 1, hash_suffix="secret", clock=lambda: 1e9)
    for n, zone in enumerate(zones):
        b.add_device(
            region=1 + n % regions,
            zone=zone,
            ip=f"10.0.{zone}.{n}",
            port=6200,
            device=f"sd{n}",
            weight=100,
        )
    b.rebalance()
    return b.to_ring()


def test_partition_is_stable_and_in_range() -> None:
    ring = build()
    part = ring.partition("AUTH_a", "c", "o")
    assert part == ring.partition("AUTH_a", "c", "o")
    assert 0 <= part < ring.partition_count
    parts = Counter(ring.partition("AUTH_a", "c", f"o{i}") for i in range(20000))
    assert len(parts) == ring.partition_count  # names spread over every partition
    accounts = {ring.partition(f"AUTH_{i}") for i in range(100)}
    containers = {ring.partition("AUTH_a", f"c{i}") for i in range(100)}
    assert len(accounts) > 50 and len(containers) > 50


def test_partition_depends_on_the_secret() -> None:
    ring = build()
    other = Ring(
        ring.part_power,
        ring.table(),
        ring.devices,
        hash_prefix="",
        hash_suffix="other",
        version=ring.version,
    )
    names = [f"o{i}" for i in range(50)]
    assert [ring.partition("a", "c", n) for n in names] != [
        other.partition("a", "c", n) for n in names
    ]


def test_object_needs_a_container() -> None:
    with pytest.raises(InvalidInput):
        build().partition("a", None, "o")


def test_primaries_are_distinct_devices() -> None:
    ring = build()
    for part in range(ring.partition_count):
        devs = ring.primaries(part)
        assert len({d.id for d in devs}) == ring.replicas == 3


def test_handoffs_cover_the_rest_without_primaries() -> None:
    ring = build()
    for part in range(ring.partition_count):
        primary_ids = {d.id for d in ring.primaries(part)}
        handoff_ids = [d.id for d in ring.handoffs(part)]
        assert len(handoff_ids) == len(set(handoff_ids))
        assert not primary_ids & set(handoff_ids)
        assert primary_ids | set(handoff_ids) == {d.id for d in ring.devices}


def test_handoffs_prefer_other_zones_and_regions() -> None:
    ring = build(zones=(1, 1, 2, 2, 3, 3, 4, 4))
    for part in range(ring.partition_count):
        primary_zones = {d.zone for d in ring.primaries(part)}
        first = next(ring.handoffs(part))
        assert first.zone not in primary_zones  # the one zone without a replica

    ring = build(zones=(1, 2, 3, 4, 5, 6), regions=2)
    for part in range(ring.partition_count):
        handoffs = list(ring.handoffs(part))
        zones = [d.zone for d in handoffs]
        assert len(set(zones)) == len(zones)


def test_handoff_order_is_stable_and_spread() -> None:
    ring = build()
    again = build()
    firsts: Counter[int] = Counter()
    for part in range(ring.partition_count):
        order = [d.id for d in ring.handoffs(part)]
        assert order == [d.id for d in again.handoffs(part)]
        firsts[order[0]] += 1
    assert len(firsts) == len(ring.devices)  # every device takes some handoff load


def test_corrupt_table_is_refused() -> None:
    ring = build()
    with pytest.raises(InvalidInput, match="unknown device"):
        Ring(
            ring.part_power,
            ring.table(),
            ring.devices[1:],
            hash_prefix="",
            hash_suffix="x",
            version=1,
        )
