"""The ring builder: balance by weight, dispersion, minimal movement and the part lock."""

from __future__ import annotations

from array import array
from collections import Counter

import pytest

from stratus.common.errors import InvalidInput, NotFound
from stratus.objectstore.ring import RingBuilder
from stratus.objectstore.ring.devices import NO_DEVICE


class Clock:
    def __init__(self) -> None:
        self.now = 1_700_000_000.0

    def __call__(self) -> float:
        return self.now

    def hours(self, n: float) -> None:
        self.now += n * 3600


def make(
    part_power: int = 10, replicas: int = 3, min_part_hours: int = 1, clock: Clock | None = None
) -> RingBuilder:
    return RingBuilder(
        part_power, replicas, min_part_hours, hash_suffix="test", clock=clock or Clock()
    )


def add(b: RingBuilder, zone: int, weight: float = 100, region: int = 1, host: int = 0) -> int:
    n = len(b.devices) + len(b.pending_removal)
    ip = f"10.{region}.{zone}.{host or n + 1}"
    return b.add_device(
        region=region, zone=zone, ip=ip, port=6200, device=f"sd{n}", weight=weight
    ).id


def snapshot(b: RingBuilder) -> list[array[int]]:
    return [array("H", row) for row in b.table]


def changed_replicas(before: list[array[int]], b: RingBuilder) -> Counter[int]:
    """Partition -> how many of its replicas changed device."""
    moved: Counter[int] = Counter()
    for old, new in zip(before, b.table, strict=True):
        for part, (x, y) in enumerate(zip(old, new, strict=True)):
            if x != y:
                moved[part] += 1
    return moved


def assert_distinct_devices(b: RingBuilder) -> None:
    for devs in zip(*b.table, strict=True):
        assert NO_DEVICE not in devs
        assert len(set(devs)) == len(devs)


def test_balance_follows_weight() -> None:
    b = make(replicas=1)
    for weight in (100, 100, 200):
        add(b, zone=1, weight=weight)
    result = b.rebalance()
    counts = b.parts_per_device()
    assert [counts[i] for i in range(3)] == pytest.approx([256, 256, 512], abs=2)
    assert result.balance < 1.0


def test_balance_with_three_replicas_and_mixed_weights() -> None:
    b = make()
    for zone in (1, 2, 3):
        for weight in (100, 100, 200):
            add(b, zone=zone, weight=weight)
    assert b.rebalance().balance < 1.0
    counts = b.parts_per_device()
    assert counts[2] == pytest.approx(2 * counts[0], abs=2)
    assert_distinct_devices(b)


def test_replicas_in_distinct_zones_when_enough_zones() -> None:
    b = make()
    for zone in (1, 1, 1, 2, 2, 3, 4):  # unequal zones on purpose
        add(b, zone=zone)
    b.rebalance()
    zone_of = {d.id: d.zone for d in b.devices}
    for devs in zip(*b.table, strict=True):
        assert len({zone_of[i] for i in devs}) == 3
    assert b.dispersion() == 0.0


def test_dispersion_wins_over_weight() -> None:
    """A light zone still holds one replica of every partition."""
    b = make()
    add(b, zone=1, weight=1)
    add(b, zone=2, weight=100)
    add(b, zone=2, weight=100)
    add(b, zone=3, weight=100)
    b.rebalance()
    assert b.parts_per_device()[0] == b.parts
    assert b.balance() < 1.0  # balance is measured against what dispersion allows


def test_regions_spread_before_zones() -> None:
    b = make()
    for zone in (1, 2, 3):
        add(b, zone=zone, region=1)
    add(b, zone=1, region=2)
    b.rebalance()
    region_of = {d.id: d.region for d in b.devices}
    for devs in zip(*b.table, strict=True):
        assert {region_of[i] for i in devs} == {1, 2}


def test_too_few_devices() -> None:
    b = make()
    add(b, zone=1)
    add(b, zone=2)
    with pytest.raises(InvalidInput, match="at least 3 devices"):
        b.rebalance()


def test_adding_a_device_moves_close_to_the_minimum() -> None:
    clock = Clock()
    b = make(part_power=12, clock=clock)
    for zone in (1, 2, 3, 4):
        for _ in range(3):
            add(b, zone=zone)
    b.rebalance()
    clock.hours(2)
    new = add(b, zone=2)
    ideal = b.targets()[new]
    before = snapshot(b)
    result = b.rebalance()
    assert 0.95 * ideal <= result.moved <= 1.1 * ideal
    assert result.balance < 2.0
    assert sum(changed_replicas(before, b).values()) == result.moved  # one replica each
    assert_distinct_devices(b)


def test_one_replica_per_partition_and_the_lock() -> None:
    clock = Clock()
    b = make(clock=clock)
    for zone in (1, 2, 3, 1, 2, 3):
        add(b, zone=zone)
    b.rebalance()
    clock.hours(2)
    add(b, zone=1, weight=200)  # half of zone 1's partitions move
    before = snapshot(b)
    b.rebalance()
    first = changed_replicas(before, b)
    assert len(first) >= b.parts // 3
    assert max(first.values()) == 1
    clock.hours(0.5)  # still inside min_part_hours
    for zone in (2, 3):
        add(b, zone=zone, weight=400)
    before = snapshot(b)
    b.rebalance()
    second = changed_replicas(before, b)
    assert second
    assert not set(second) & set(first)  # locked partitions stayed
    assert max(second.values()) == 1
    clock.hours(1)  # the lock has passed: the rest can move now
    assert b.rebalance().moved > 0
    assert b.balance() < 2.0


def test_no_move_without_change() -> None:
    clock = Clock()
    b = make(clock=clock)
    for zone in (1, 2, 3, 4):
        add(b, zone=zone, weight=100 * zone)
    b.rebalance()
    clock.hours(5)
    version = b.version
    assert b.rebalance().moved == 0
    assert b.version == version


def test_removing_a_device_reassigns_all_its_partitions() -> None:
    clock = Clock()
    b = make(clock=clock)
    ids = [add(b, zone=zone) for zone in (1, 2, 3, 1, 2, 3)]
    b.rebalance()
    held = b.parts_per_device()[ids[0]]
    clock.hours(0.1)  # the lock never keeps data on a removed device
    b.remove_device(ids[0])
    result = b.rebalance()
    assert result.moved == held
    assert ids[0] not in b.parts_per_device()
    assert all(ids[0] not in row for row in b.table)
    assert_distinct_devices(b)
    with pytest.raises(NotFound):
        b.device(ids[0])


def test_zero_weight_drains_after_the_lock() -> None:
    clock = Clock()
    b = make(clock=clock)
    ids = [add(b, zone=zone) for zone in (1, 2, 3, 1, 2, 3)]
    b.rebalance()
    clock.hours(2)
    b.set_weight(ids[1], 0)
    b.rebalance()
    assert b.parts_per_device()[ids[1]] == 0
    assert b.balance() < 1.0


def test_deterministic() -> None:
    def build() -> list[array[int]]:
        clock = Clock()
        b = make(clock=clock)
        for zone in (1, 2, 3, 1, 2, 3, 4):
            add(b, zone=zone, weight=50 * zone)
        b.rebalance()
        clock.hours(3)
        add(b, zone=4)
        b.rebalance()
        return b.table

    assert build() == build()


def test_validate_reports_problems() -> None:
    b = make()
    with pytest.raises(InvalidInput, match="never rebalanced"):
        b.validate()
    for zone in (1, 2, 3):
        add(b, zone=zone)
    b.rebalance()
    assert b.validate() == []
    b.table[1][5] = b.table[0][5]
    with pytest.raises(InvalidInput, match="two replicas"):
        b.validate()


def test_find_and_bad_devices() -> None:
    b = make()
    dev_id = add(b, zone=1)
    dev = b.device(dev_id)
    assert b.find(dev.address) == dev
    assert b.find(str(dev_id)) == dev
    with pytest.raises(NotFound):
        b.find("10.9.9.9:1/x")
    with pytest.raises(InvalidInput):
        b.add_device(region=1, zone=1, ip="10.0.0.1", port=0, device="x", weight=1)
    with pytest.raises(InvalidInput):
        b.add_device(region=1, zone=1, ip="10.0.0.1", port=1, device="a/b", weight=1)
    with pytest.raises(InvalidInput):
        b.set_weight(dev_id, -1)
    with pytest.raises(InvalidInput):
        RingBuilder(0, 3, 1)
