"""Weighers (spread, pack, soft affinity), the random draw among the best, and whole
decisions on an in-memory view: claims, multi-instance requests, explanations."""

from __future__ import annotations

import random
from collections import Counter

from scheduler_hosts import SETTINGS, host, request, selector, spec
from stratus.scheduler.host_state import Amounts
from stratus.scheduler.settings import SchedulerSettings
from stratus.scheduler.weighers import choose, normalise, weigh


def test_normalise_scales_to_unit_range_and_equal_values_to_zero() -> None:
    assert normalise([10.0, 20.0, 15.0]) == [0.0, 1.0, 0.5]
    assert normalise([3.0, 3.0]) == [0.0, 0.0]


def test_spread_prefers_the_emptiest_host() -> None:
    hosts = [host("busy", memory_mb_used=8000, vcpus_used=4), host("idle")]
    weights = weigh(hosts, request(), SETTINGS)
    assert weights[1] > weights[0]
    assert choose(hosts, weights, 1, random.Random(0)).name == "idle"


def test_pack_with_negative_multipliers_prefers_the_fullest_host() -> None:
    packing = SchedulerSettings(
        ram_weight_multiplier=-1.0, cpu_weight_multiplier=-1.0, disk_weight_multiplier=-1.0
    )
    hosts = [host("busy", memory_mb_used=8000, vcpus_used=4), host("idle")]
    weights = weigh(hosts, request(), packing)
    assert choose(hosts, weights, 1, random.Random(0)).name == "busy"


def test_weights_sum_normalised_values_times_multipliers() -> None:
    cfg = SchedulerSettings(ram_weight_multiplier=2.0, disk_weight_multiplier=0.0)
    hosts = [host("a", memory_mb_used=1000), host("b", vcpus_used=8)]
    # ram: a lowest (0), b highest (1) * 2; cpu: a highest (1), b lowest (0)
    assert weigh(hosts, request(), cfg) == [1.0, 2.0]


def test_soft_affinity_and_soft_anti_affinity_weighers() -> None:
    hosts = [host("a"), host("b"), host("c")]
    only_group = SchedulerSettings(
        ram_weight_multiplier=0, cpu_weight_multiplier=0, disk_weight_multiplier=0
    )
    soft = request(server_group_policy="soft-affinity", server_group_hosts=["b", "b", "c"])
    assert weigh(hosts, soft, only_group) == [0.0, 1.0, 0.5]
    anti = request(server_group_policy="soft-anti-affinity", server_group_hosts=["a", "b"])
    assert weigh(hosts, anti, only_group) == [0.0, 0.0, 1.0]


def test_ties_at_the_top_are_drawn_at_random() -> None:
    hosts = [host(f"h{i}") for i in range(4)]
    rng = random.Random(7)
    chosen = Counter(choose(hosts, [1.0, 1.0, 1.0, 0.0], 1, rng).name for _ in range(300))
    assert set(chosen) == {"h0", "h1", "h2"}
    top2 = Counter(choose(hosts, [3.0, 2.0, 1.0, 0.0], 2, rng).name for _ in range(300))
    assert set(top2) == {"h0", "h1"}


async def test_claims_fill_hosts_without_overbooking() -> None:
    sel = selector([host("a", memory_mb=2048), host("b", memory_mb=2048)])
    # 2048 MiB * 1.5 = 3072 usable: three 1 GiB instances per host, six in all
    picks = [await sel.select(spec(instance_ids=[f"i-{n}"])) for n in range(7)]
    placed = Counter(p.hosts[f"i-{n}"] for n, p in enumerate(picks[:6]))
    assert placed == {"a": 3, "b": 3}
    assert picks[6].hosts == {}
    assert picks[6].reason == "No valid host: 2 hosts; RamFilter removed 2 (0 left)"
    assert await sel.release("i-0", picks[0].hosts["i-0"])
    assert not await sel.release("i-0", picks[0].hosts["i-0"])  # twice: nothing more
    again = await sel.select(spec(instance_ids=["i-7"]))
    assert again.hosts == {"i-7": picks[0].hosts["i-0"]}


async def test_a_multi_instance_request_respects_anti_affinity_among_its_own() -> None:
    sel = selector([host("a"), host("b"), host("c")])
    ids = ["i-1", "i-2", "i-3"]
    picked = await sel.select(spec(instance_ids=ids, server_group_policy="anti-affinity"))
    assert sorted(picked.hosts.values()) == ["a", "b", "c"]
    four = await sel.select(
        spec(
            instance_ids=["i-4"],
            server_group_policy="anti-affinity",
            server_group_hosts=["a", "b", "c"],
        )
    )
    assert four.reason is not None and "ServerGroupAntiAffinityFilter removed 3" in four.reason


async def test_min_count_not_met_releases_what_was_placed() -> None:
    sel = selector([host("a", memory_mb=2048)])
    ids = [f"i-{n}" for n in range(5)]
    answer = await sel.select(spec(instance_ids=ids, min_count=5))
    assert answer.hosts == {} and answer.reason is not None
    assert sel.view.states.by_name["a"].memory_mb_used == 0
    partial = await sel.select(spec(instance_ids=ids, min_count=2))
    assert len(partial.hosts) == 3 and partial.reason is not None


async def test_the_view_consumes_what_a_claim_takes() -> None:
    sel = selector([host("a")])
    await sel.select(spec(vcpus=2, memory_mb=512, disk_gb=5))
    a = sel.view.states.by_name["a"]
    assert (a.vcpus_used, a.memory_mb_used, a.local_gb_used) == (2, 512, 5)
    a.consume(Amounts(2, 512, 5), -1)
    assert a.free_ram_mb == 16384 * 1.5
