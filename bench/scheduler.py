"""Scheduler decision time: 10,000 simulated hosts, 1,000 decisions, p50/p99.

Two runs on the same hosts (varied sizes, three zones, an SSD aggregate on a tenth):
- ``memory``: the decision itself (filters, weighers, draw, the claim on the view), claims
  recorded in memory: what one SelectHosts costs the scheduler's event loop;
- ``sqlite``: the same through ``HostSelector`` with the real claim ledger on a SQLite
  file (compute's tables, migrated): the conditional UPDATE included.
Requests mix flavors, a zone on every fourth, an aggregate extra spec on every tenth and
an anti-affinity group of 5 on every twentieth; every claim is kept (1,000 instances).
``bench/compute.py`` imports ``decision_ms()`` for its "scheduling at 10,000 hosts" line.

    .venv/bin/python bench/scheduler.py [--hosts 10000] [--decisions 1000]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from scheduler_hosts import FixedHosts, MemoryClaims, host
from stratus.common.db import Database, upgrade
from stratus.common.db.types import utcnow
from stratus.compute.migrations import MIGRATIONS
from stratus.compute.models import Aggregate, ComputeNode
from stratus.scheduler.claims import ClaimLedger
from stratus.scheduler.host_state import HostState, HostStates, HostView
from stratus.scheduler.rpc import RequestSpec
from stratus.scheduler.selector import ClaimStore, HostSelector
from stratus.scheduler.settings import SchedulerSettings
from stratus.scheduler.sources import DatabaseHosts

FLAVORS = [(1, 512, 1), (1, 2048, 20), (2, 4096, 40), (4, 8192, 80), (8, 16384, 160)]
ZONES = ["nova", "east", "west"]


def make_hosts(count: int, rng: random.Random) -> list[HostState]:
    hosts = []
    for n in range(count):
        size = rng.choice([(16, 65536, 500), (32, 131072, 1000), (64, 262144, 2000)])
        metadata = {"ssd": frozenset({"true"})} if n % 10 == 0 else {}
        hosts.append(
            host(
                f"compute-{n:05d}",
                vcpus=size[0],
                memory_mb=size[1],
                local_gb=size[2],
                availability_zone=ZONES[n % 3],
                aggregate_metadata=metadata,
                alive_until=time.time() + 3600,
            )
        )
    return hosts


def make_spec(n: int, rng: random.Random) -> RequestSpec:
    vcpus, ram, disk = rng.choice(FLAVORS)
    return RequestSpec(
        instance_ids=[f"inst-{n}"],
        project_id="bench",
        vcpus=vcpus,
        memory_mb=ram,
        disk_gb=disk,
        availability_zone=ZONES[n % 3] if n % 4 == 0 else None,
        flavor_extra_specs={"aggregate_instance_extra_specs:ssd": "true"} if n % 10 == 0 else {},
        server_group_policy="anti-affinity" if n % 20 == 0 else None,
        server_group_id=f"group-{n // 100}" if n % 20 == 0 else None,
    )


async def timed(selector: HostSelector, decisions: int, rng: random.Random) -> list[float]:
    times = []
    for n in range(decisions):
        spec = make_spec(n, rng)
        start = time.perf_counter()
        answer = await selector.select(spec)
        times.append((time.perf_counter() - start) * 1000)
        if not answer.hosts:
            raise SystemExit(f"decision {n} found no host: {answer.reason}")
    return times


async def run_memory(count: int, decisions: int) -> list[float]:
    rng = random.Random(1)
    view = HostView(HostStates.of(make_hosts(count, rng)))
    settings = SchedulerSettings()
    selector = HostSelector(view, MemoryClaims(), FixedHosts(), settings, rng)
    return await timed(selector, decisions, rng)


async def run_sqlite(count: int, decisions: int, directory: Path) -> list[float]:
    rng = random.Random(1)
    db = Database(f"sqlite+aiosqlite:///{directory / 'compute.sqlite'}")
    settings = SchedulerSettings()
    try:
        await upgrade(db, MIGRATIONS)
        hosts = make_hosts(count, rng)
        async with db.session() as session:
            session.add_all(node_row(h) for h in hosts)
            ssd = [h.name for h in hosts if h.aggregate_metadata]
            session.add(Aggregate(name="ssd", hosts=ssd, metadata_={"ssd": "true"}))
        source, view = DatabaseHosts(db, settings), HostView()
        start = time.perf_counter()
        await source.reload(view)
        print(f"  loading {count} hosts from SQLite: {time.perf_counter() - start:.3f} s")
        store: ClaimStore = ClaimLedger(db, settings)
        selector = HostSelector(view, store, FixedHosts(), settings, rng)
        return await timed(selector, decisions, rng)
    finally:
        await db.close()


def node_row(h: HostState) -> ComputeNode:
    return ComputeNode(
        host=h.name,
        hypervisor_hostname=h.name,
        hypervisor_type=h.hypervisor_type,
        vcpus=h.vcpus,
        memory_mb=h.memory_mb,
        local_gb=h.local_gb,
        availability_zone=h.availability_zone,
        last_seen=utcnow(),
    )


def summary(times: list[float]) -> dict[str, float]:
    ordered = sorted(times)
    return {
        "p50": statistics.median(ordered),
        "p99": ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))],
        "max": ordered[-1],
        "mean": statistics.fmean(ordered),
    }


def decision_ms(hosts: int = 10_000, decisions: int = 1_000) -> dict[str, float]:
    """p50/p99/max/mean of in-memory decisions (what ``bench/compute.py`` reports)."""
    return summary(asyncio.run(run_memory(hosts, decisions)))


def report(name: str, times: list[float]) -> None:
    f = summary(times)
    print(
        f"  {name:7} p50 {f['p50']:6.2f} ms   p99 {f['p99']:6.2f} ms   "
        f"max {f['max']:6.2f} ms   mean {f['mean']:6.2f} ms"
    )


def machine() -> str:
    cpu = "unknown cpu"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{os.cpu_count()} cores, {cpu}, Python {platform.python_version()}"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hosts", type=int, default=10_000)
    parser.add_argument("--decisions", type=int, default=1_000)
    args = parser.parse_args(argv)
    print(f"scheduler: {args.hosts} hosts, {args.decisions} decisions; {machine()}")
    report("memory", asyncio.run(run_memory(args.hosts, args.decisions)))
    with tempfile.TemporaryDirectory() as tmp:
        report("sqlite", asyncio.run(run_sqlite(args.hosts, args.decisions, Path(tmp))))


if __name__ == "__main__":
    main()
