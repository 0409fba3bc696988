"""Compute control plane benchmark: 1,000 boots through the Nova API on ``stratus up``.

Starts ``stratus up`` in a temporary directory with the ``fake`` driver on ``--hosts``
simulated hosts (spawns take no time: what is measured is the control plane), uploads a
small image, lifts admin's quotas, then creates ``--servers`` servers with
``POST /v2.1/servers`` from ``--concurrency`` clients at once and waits until all are
ACTIVE. It prints:

- servers/s reaching ACTIVE: servers over the time from the first create until no server
  is in BUILD any more (polled with ``GET /servers?status=BUILD&limit=1``), after which
  every server is checked to be ACTIVE;
- API create latency p50/p99 (until the 202 of ``POST /servers``): from one client
  (``--single`` more creates after the boots, with the 1,000 servers in place), and
  under the load of the ``--concurrency`` clients;
- ``GET /servers/detail`` of all servers (one page, limit 1000): median of ``--lists``;
- scheduler decision time at 10,000 simulated hosts (``bench/scheduler.py``'s in-memory
  decision, which is what one ``SelectHosts`` costs the scheduler);
- the CPU time of the ``stratus up`` process per boot (what bounds servers/s: every
  service runs on its one event loop);
- peak resident memory of the ``stratus up`` process (``VmHWM``).

    .venv/bin/python bench/compute.py [--servers 1000] [--hosts 100] [--concurrency 16]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

from image import admin_token
from scheduler import decision_ms, machine

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
from cloudproc import Cloud, free_port

MICROVERSION = "compute 2.79"
RAW_IMAGE = b"\0" * (1 << 20)


def percentile(values: list[float], pct: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(pct / 100 * (len(ordered) - 1)))]


def cpu_seconds(pid: int) -> float:
    """User plus system CPU time the process has used so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def peak_rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


async def upload_image(http: httpx.AsyncClient, cloud: Cloud, token: str) -> str:
    headers = {"X-Auth-Token": token}
    created = await http.post(
        f"{cloud.image_url}/v2/images",
        headers=headers,
        json={"name": "bench", "disk_format": "raw", "container_format": "bare"},
    )
    created.raise_for_status()
    image_id = str(created.json()["id"])
    put = await http.put(
        f"{cloud.image_url}/v2/images/{image_id}/file",
        headers=headers | {"Content-Type": "application/octet-stream"},
        content=RAW_IMAGE,
    )
    put.raise_for_status()
    return image_id


async def lift_quotas(http: httpx.AsyncClient, cloud: Cloud, token: str) -> None:
    projects = await http.get(
        f"{cloud.identity_url}/projects", params={"name": "admin"}, headers={"X-Auth-Token": token}
    )
    projects.raise_for_status()
    project = projects.json()["projects"][0]["id"]
    unlimited = {"instances": -1, "cores": -1, "ram": -1}
    r = await http.put(f"/os-quota-sets/{project}", json={"quota_set": unlimited})
    r.raise_for_status()


async def boot(
    http: httpx.AsyncClient, image: str, numbers: range, concurrency: int
) -> list[float]:
    """Create servers ``numbers`` from ``concurrency`` clients; the latency of each create."""
    latencies: list[float] = []
    numbers_left = iter(numbers)

    async def client() -> None:
        for n in numbers_left:
            body = {
                "name": f"bench-{n:05d}",
                "imageRef": image,
                "flavorRef": "1",
                "networks": "none",
            }
            start = time.perf_counter()
            r = await http.post("/servers", json={"server": body})
            latencies.append(time.perf_counter() - start)
            if r.status_code != 202:
                raise RuntimeError(f"create {n}: {r.status_code} {r.text[:300]}")

    await asyncio.gather(*(client() for _ in range(concurrency)))
    return latencies


async def count_by_status(http: httpx.AsyncClient) -> dict[str, int]:
    """Every server's status, paging through ``/servers/detail``."""
    counts: dict[str, int] = {}
    params: dict[str, Any] = {"limit": 1000}
    while True:
        r = await http.get("/servers/detail", params=params)
        r.raise_for_status()
        servers = r.json()["servers"]
        for s in servers:
            counts[s["status"]] = counts.get(s["status"], 0) + 1
        if len(servers) < params["limit"]:
            return counts
        params["marker"] = servers[-1]["id"]


async def wait_active(http: httpx.AsyncClient, count: int, patience: float) -> float:
    """Wait until no server is building any more (a cheap one-item query, polled often),
    then check that all ``count`` are ACTIVE; the time the last build was seen done."""
    deadline = time.monotonic() + patience
    while True:
        r = await http.get("/servers", params={"status": "BUILD", "limit": 1})
        r.raise_for_status()
        if not r.json()["servers"]:
            done = time.perf_counter()
            break
        if time.monotonic() > deadline:
            raise RuntimeError(f"servers still building after {patience}s")
        await asyncio.sleep(0.05)
    counts = await count_by_status(http)
    if counts.get("ACTIVE", 0) != count:
        r = await http.get("/servers/detail", params={"status": "ERROR", "limit": 1})
        errors = r.json()["servers"]
        fault = errors[0].get("fault") if errors else None
        raise RuntimeError(f"not all ACTIVE: {counts}; first fault: {fault}")
    return done


async def list_times(http: httpx.AsyncClient, runs: int, expect: int) -> list[float]:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        r = await http.get("/servers/detail", params={"limit": 1000})
        times.append(time.perf_counter() - start)
        r.raise_for_status()
        got = len(r.json()["servers"])
        if got != min(expect, 1000):
            raise RuntimeError(f"detail listed {got} servers, expected {expect}")
    return times


async def measure(cloud: Cloud, args: argparse.Namespace) -> dict[str, float]:
    token = await asyncio.to_thread(admin_token, cloud)
    headers = {"X-Auth-Token": token, "OpenStack-API-Version": MICROVERSION}
    limits = httpx.Limits(max_connections=args.concurrency + 2)
    async with httpx.AsyncClient(
        base_url=f"{cloud.compute_url}/v2.1", headers=headers, timeout=120, limits=limits
    ) as http:
        image = await upload_image(http, cloud, token)
        await lift_quotas(http, cloud, token)
        assert cloud.proc is not None
        cpu_before = cpu_seconds(cloud.proc.pid)
        started = time.perf_counter()
        loaded = await boot(http, image, range(args.servers), args.concurrency)
        created = time.perf_counter()
        active = await wait_active(http, args.servers, patience=args.servers)
        cpu_used = cpu_seconds(cloud.proc.pid) - cpu_before
        lists = await list_times(http, args.lists, args.servers)
        total = args.servers + args.single
        alone = await boot(http, image, range(args.servers, total), 1)
        await wait_active(http, total, patience=args.servers)
    return {
        "cpu_ms_per_server": cpu_used / args.servers * 1000,
        "active_per_s": args.servers / (active - started),
        "create_per_s": args.servers / (created - started),
        "create_p50_ms": percentile(alone, 50) * 1000,
        "create_p99_ms": percentile(alone, 99) * 1000,
        "loaded_p50_ms": percentile(loaded, 50) * 1000,
        "loaded_p99_ms": percentile(loaded, 99) * 1000,
        "detail_ms": statistics.median(lists) * 1000,
        "peak_rss_mib": peak_rss_mib(cloud.proc.pid),
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--servers", type=int, default=1000)
    parser.add_argument("--hosts", type=int, default=100)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--lists", type=int, default=5)
    parser.add_argument("--single", type=int, default=100, help="creates from one client")
    parser.add_argument("--scheduler-hosts", type=int, default=10_000)
    args = parser.parse_args(argv)
    print(
        f"compute: {args.servers} servers on {args.hosts} fake hosts, "
        f"{args.concurrency} clients; {machine()}"
    )
    with tempfile.TemporaryDirectory(prefix="stratus-bench-compute-") as tmp:
        cloud = Cloud(
            state_dir=Path(tmp) / "state",
            identity_port=free_port(),
            extra_env={
                "STRATUS_COMPUTE__DRIVER": "fake",
                "STRATUS_COMPUTE__FAKE_HOSTS": str(args.hosts),
                "STRATUS_LOG_LEVEL": "WARNING",
            },
        )
        cloud.start(timeout=120)
        try:
            f = asyncio.run(measure(cloud, args))
        except BaseException:
            print(cloud.output()[-4000:], file=sys.stderr)
            raise
        finally:
            cloud.stop()
    sched = decision_ms(args.scheduler_hosts, 1000)
    print(f"  to ACTIVE        {f['active_per_s']:8.1f} servers/s   (target >= 50)")
    print(f"  creates accepted {f['create_per_s']:8.1f} servers/s")
    print(f"  CPU per boot     {f['cpu_ms_per_server']:8.1f} ms (stratus up, user + system)")
    print(
        f"  create latency   p50 {f['create_p50_ms']:6.1f} ms   p99 {f['create_p99_ms']:6.1f} ms"
        f"   one client, {args.single} creates   (target p50 < 20 ms)"
    )
    print(
        f"  create latency   p50 {f['loaded_p50_ms']:6.1f} ms   p99 {f['loaded_p99_ms']:6.1f} ms"
        f"   {args.concurrency} clients (the boots above)"
    )
    print(
        f"  detail list      {f['detail_ms']:8.1f} ms for {min(args.servers, 1000)} servers"
        "   (target < 250 ms)"
    )
    print(
        f"  scheduling       p50 {sched['p50']:6.2f} ms   p99 {sched['p99']:6.2f} ms at "
        f"{args.scheduler_hosts} hosts   (target < 10 ms)"
    )
    print(f"  peak memory      {f['peak_rss_mib']:8.1f} MiB (stratus up, VmHWM)")


if __name__ == "__main__":
    main()
