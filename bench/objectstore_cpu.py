"""CPU per small object operation in each ``stratus up`` process, by ``[objectstore] workers``.

Throughput on a machine other jobs share says little about the process model; CPU per
operation does not depend on the load. For each worker count this starts ``stratus up``
in a temporary directory, runs 4 KiB PUTs at concurrency 32 for ``--seconds``, then GETs
of them, and prints ops/s and the CPU milliseconds per operation of the main process and
of the storage worker processes (user + system, from /proc). With the work split, the
ceiling on an idle machine is the busiest process, not the sum.

``.venv/bin/python bench/objectstore_cpu.py [--workers 0,1,2] [--seconds 10]``
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import uvloop

sys.path.insert(0, str(Path(__file__).resolve().parent))
from objectstore import CONCURRENCY, SMALL, ensure_container, stratus_auth
from objectstore import System as Store
from rawhttp import Conn

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from cloudproc import Cloud, free_port

TICK = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> tuple[float, float]:
    """User and system CPU seconds of ``pid``."""
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return int(fields[11]) / TICK, int(fields[12]) / TICK


def workers_of(parent: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
                cmd = (entry / "cmdline").read_bytes()
            except OSError:
                continue
            if int(stat.rpartition(")")[2].split()[1]) == parent and b"storage_workers" in cmd:
                found.append(int(entry.name))
    return found


async def phase(
    store: Store, seconds: float, op: Callable[[Conn, int, int], Awaitable[None]]
) -> int:
    done = 0

    async def client(worker: int, deadline: float) -> None:
        nonlocal done
        conn = await Conn.open("127.0.0.1", store.port)
        try:
            i = 0
            while time.perf_counter() < deadline:
                await op(conn, worker, i)
                done += 1
                i += 1
        finally:
            conn.close()

    start = time.perf_counter()
    await asyncio.gather(*(client(w, start + seconds) for w in range(CONCURRENCY)))
    return done


async def run(store: Store, main_pid: int, seconds: float) -> None:
    await ensure_container(store, "cpu")
    body = os.urandom(SMALL)
    headers = {**store.auth(), "Content-Type": "application/octet-stream"}
    put_counts: dict[int, int] = {}

    async def put(conn: Conn, worker: int, i: int) -> None:
        resp = await conn.request("PUT", f"{store.base}/cpu/o-{worker}-{i}", headers, body)
        if resp.status != 201:
            raise RuntimeError(f"PUT {resp.status}")
        put_counts[worker] = i + 1

    async def get(conn: Conn, worker: int, i: int) -> None:
        name = f"{store.base}/cpu/o-{worker}-{i % put_counts[worker]}"
        resp = await conn.request("GET", name, store.auth())
        if resp.status != 200:
            raise RuntimeError(f"GET {resp.status}")

    workers = workers_of(main_pid)
    for label, op in (("PUT", put), ("GET", get)):
        before = [cpu_seconds(p) for p in (main_pid, *workers)]
        start = time.perf_counter()
        ops = await phase(store, seconds, op)
        wall = time.perf_counter() - start
        after = [cpu_seconds(p) for p in (main_pid, *workers)]
        user = [(a[0] - b[0]) * 1000 / ops for a, b in zip(after, before, strict=True)]
        system = [(a[1] - b[1]) * 1000 / ops for a, b in zip(after, before, strict=True)]
        each = " + ".join(f"{u:.2f}/{s:.2f}" for u, s in zip(user[1:], system[1:], strict=True))
        print(
            f"  {label}: {ops / wall:7.1f} ops/s; CPU ms/op (user/system) main "
            f"{user[0]:.2f}/{system[0]:.2f}, workers {each or '-'}, "
            f"total {sum(user) + sum(system):.2f}",
            flush=True,
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", default="0,1", help="worker counts to run, in order")
    parser.add_argument("--seconds", type=float, default=10.0)
    args = parser.parse_args()
    for count in args.workers.split(","):
        with tempfile.TemporaryDirectory(prefix="stratus-bench-cpu-") as tmp:
            cloud = Cloud(state_dir=Path(tmp) / "state", identity_port=free_port())
            cloud.extra_env["STRATUS_OBJECTSTORE__WORKERS"] = count
            cloud.start()
            try:
                url, token = stratus_auth(cloud)
                store = Store("stratus", url, token, Path(tmp), lambda a, c: [])
                assert cloud.proc is not None
                print(f"workers={count}", flush=True)
                uvloop.run(run(store, cloud.proc.pid, args.seconds))
            finally:
                cloud.stop()


if __name__ == "__main__":
    main()
