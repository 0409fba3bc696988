"""Object store benchmark: Stratus against OpenStack Swift on the same machine, same run.

Both systems run on loopback with 4 device directories on the same disk, 3 replicas and
rings of part power 8: Stratus as ``stratus up`` (its main process and storage workers),
Swift from PyPI as an all-in-one (``swift_allinone.py``) with 1 worker per server and then
with its default of one per core. Each runs its consistency daemons (replicators, auditor,
updaters, expirer) beside its servers, as a real cluster does. One client (``rawhttp.py``,
uvloop) drives both identically:

- 4 KiB PUTs, then GETs of what was put, from 32 keep-alive connections for ``--seconds``
  each: ops/s, p50 and p99 latency;
- a single-stream 1 GiB PUT (sent from a 1 MiB buffer, never held whole) and GET (after
  the replicas' files are dropped from the page cache with posix_fadvise), MB/s, over a
  blocking socket (``rawhttp.StreamConn``: the asyncio client's copies cost up to 1.9 s
  of CPU per GiB, taken from the servers on a small machine);
- a 100,000-object container: rows go straight to every container replica through the
  container server's object-row PUT (as the proxy's container updates do), then the
  walk of all pages with ``limit=10000`` through the proxy is timed.

Beside them it measures what the machine allows: 1 GiB written with fsync to the same
filesystem and read back cold, and 1 GiB over one loopback TCP connection. A PUT writes
every byte once per replica to that one disk, so its limit is min(disk write / replicas,
loopback); a GET's is min(cold disk read, loopback). On a small machine the CPU binds
before either, so it also times the least work a replicated PUT and a GET must do, in
threads at C speed (``copy_floor.py``), and prints Stratus' share of that too. Each
figure is the median of ``--runs`` runs.

    .venv/bin/python bench/objectstore.py [--seconds 10] [--runs 3] [--objects 100000]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import uvloop

from copy_floor import get_floor, put_floor
from rawhttp import Conn, StreamConn
from swift_allinone import SwiftAllInOne, Target, ensure_venv, version

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
from cloudproc import Cloud, free_port
from stratus.objectstore.ring import load_ring

MIB = 1 << 20
GIB = 1 << 30
SMALL = 4096
CONCURRENCY = 32
PAGE = 10_000
REPLICAS = 3
BLOCK = os.urandom(MIB)
LOG_TAIL = 60  # lines of each log printed when a Stratus run fails


@dataclass
class System:
    """One object store as the client sees it."""

    name: str
    storage_url: str  # http://127.0.0.1:port/v1/AUTH_x
    token: str
    devices_root: Path
    targets: Callable[[str, str], list[Target]]  # container replicas by (account, container)

    @property
    def port(self) -> int:
        return urlsplit(self.storage_url).port or 80

    @property
    def base(self) -> str:
        return urlsplit(self.storage_url).path

    @property
    def account(self) -> str:
        return self.base.rsplit("/", 1)[-1]

    def auth(self) -> dict[str, str]:
        return {"X-Auth-Token": self.token}


@dataclass
class Figures:
    runs: dict[str, list[float]] = field(default_factory=dict)

    def add(self, values: dict[str, float]) -> None:
        for key, value in values.items():
            self.runs.setdefault(key, []).append(value)

    def median(self, key: str) -> float:
        return statistics.median(self.runs[key])


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def ensure_container(system: System, name: str) -> None:
    conn = await Conn.open("127.0.0.1", system.port)
    try:
        resp = await conn.request("PUT", f"{system.base}/{name}", system.auth())
        if resp.status not in (201, 202):
            raise RuntimeError(f"{system.name}: container PUT {resp.status} {resp.body[:200]!r}")
    finally:
        conn.close()


async def small_ops(system: System, seconds: float, tag: str) -> dict[str, float]:
    """4 KiB PUTs for ``seconds``, then GETs of the objects put, at concurrency 32."""
    body = os.urandom(SMALL)
    put_lat: list[float] = []
    get_lat: list[float] = []
    names: list[str] = []
    headers = {**system.auth(), "Content-Type": "application/octet-stream"}

    async def putter(worker: int, deadline: float) -> None:
        conn = await Conn.open("127.0.0.1", system.port)
        try:
            i = 0
            while time.perf_counter() < deadline:
                name = f"{system.base}/bench/small-{tag}-{worker}-{i}"
                start = time.perf_counter()
                resp = await conn.request("PUT", name, headers, body)
                put_lat.append(time.perf_counter() - start)
                if resp.status != 201:
                    raise RuntimeError(f"{system.name}: PUT {resp.status} {resp.body[:200]!r}")
                names.append(name)
                i += 1
        finally:
            conn.close()

    async def getter(worker: int, deadline: float) -> None:
        conn = await Conn.open("127.0.0.1", system.port)
        try:
            i = worker
            while time.perf_counter() < deadline:
                start = time.perf_counter()
                resp = await conn.request("GET", names[i % len(names)], system.auth())
                get_lat.append(time.perf_counter() - start)
                if resp.status != 200 or resp.length != SMALL:
                    raise RuntimeError(f"{system.name}: GET {resp.status} {resp.body[:200]!r}")
                i += CONCURRENCY
        finally:
            conn.close()

    start = time.perf_counter()
    await asyncio.gather(*(putter(w, start + seconds) for w in range(CONCURRENCY)))
    put_s = time.perf_counter() - start
    start = time.perf_counter()
    await asyncio.gather(*(getter(w, start + seconds) for w in range(CONCURRENCY)))
    get_s = time.perf_counter() - start
    return {
        "put_ops": len(put_lat) / put_s,
        "put_p50": percentile(put_lat, 0.5) * 1000,
        "put_p99": percentile(put_lat, 0.99) * 1000,
        "get_ops": len(get_lat) / get_s,
        "get_p50": percentile(get_lat, 0.5) * 1000,
        "get_p99": percentile(get_lat, 0.99) * 1000,
    }


def blocks(total: int) -> Iterator[bytes]:
    for _ in range(total // MIB):
        yield BLOCK


def evict(root: Path, min_size: int = 64 * MIB) -> int:
    """Drop large files under ``root`` from the page cache (they are fsynced, so clean)."""
    dropped = 0
    for dirpath, _, files in os.walk(root):
        for name in files:
            path = os.path.join(dirpath, name)
            if os.path.getsize(path) >= min_size:
                fd = os.open(path, os.O_RDONLY)
                try:
                    os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
                finally:
                    os.close(fd)
                dropped += 1
    return dropped


def large_object(system: System, size: int) -> dict[str, float]:
    """One ``size`` PUT then a cold GET over one blocking connection; MB/s each."""
    conn = StreamConn("127.0.0.1", system.port)
    path = f"{system.base}/bench/large"
    headers = {**system.auth(), "Content-Type": "application/octet-stream"}
    try:
        start = time.perf_counter()
        resp = conn.request("PUT", path, headers, blocks(size), length=size, discard=False)
        put_s = time.perf_counter() - start
        if resp.status != 201:
            raise RuntimeError(f"{system.name}: large PUT {resp.status} {resp.body[:200]!r}")
        if evict(system.devices_root) < REPLICAS:
            raise RuntimeError(f"{system.name}: replicas of the large object not found")
        start = time.perf_counter()
        resp = conn.request("GET", path, system.auth())
        get_s = time.perf_counter() - start
        if resp.status != 200 or resp.length != size:
            raise RuntimeError(f"{system.name}: large GET {resp.status}, {resp.length} bytes")
    finally:
        conn.close()
    return {"large_put": size / put_s / 1e6, "large_get": size / get_s / 1e6}


async def fill_listing(system: System, container: str, objects: int) -> float:
    """``objects`` rows into every replica of ``container`` via the container servers'
    object-row PUT; returns rows per second (all replicas counted once)."""
    await ensure_container(system, container)
    targets = system.targets(system.account, container)
    start = time.perf_counter()

    async def feed(target: Target, names: Iterator[int]) -> None:
        conn = await Conn.open(target.host, target.port)
        try:
            for i in names:
                path = f"/{target.device}/{target.partition}/{system.account}/{container}/"
                headers = {
                    "X-Timestamp": f"{time.time():.5f}",
                    "X-Size": str(i % 4096),
                    "X-Etag": "d41d8cd98f00b204e9800998ecf8427e",
                    "X-Content-Type": "application/octet-stream",
                }
                resp = await conn.request("PUT", f"{path}obj-{i:07d}", headers)
                if resp.status not in (201, 202):
                    raise RuntimeError(f"{system.name}: row PUT {resp.status}")
        finally:
            conn.close()

    feeders = []
    for target in targets:
        names = iter(range(objects))
        feeders += [feed(target, names) for _ in range(CONCURRENCY)]
    await asyncio.gather(*feeders)
    return objects / (time.perf_counter() - start)


async def walk_listing(system: System, container: str, objects: int) -> float:
    """Seconds to list every object through the proxy, ``limit=10000`` per page."""
    conn = await Conn.open("127.0.0.1", system.port)
    try:
        start, marker, total = time.perf_counter(), "", 0
        while True:
            query = f"?format=json&limit={PAGE}&marker={marker}"
            resp = await conn.request("GET", f"{system.base}/{container}{query}", system.auth())
            if resp.status not in (200, 204):
                raise RuntimeError(f"{system.name}: listing {resp.status}")
            page = json.loads(resp.body) if resp.body else []
            if not page:
                break
            total += len(page)
            marker = page[-1]["name"]
        elapsed = time.perf_counter() - start
    finally:
        conn.close()
    if total != objects:
        raise RuntimeError(f"{system.name}: listed {total} of {objects}")
    return elapsed


async def measure(system: System, args: argparse.Namespace, fill: bool) -> Figures:
    figures = Figures()
    await ensure_container(system, "bench")
    await small_ops(system, min(2.0, args.seconds), "warm")
    if fill:
        figures.add({"fill_rows": await fill_listing(system, "listing", args.objects)})
    for run in range(args.runs):
        figures.add(await small_ops(system, args.seconds, f"r{run}"))
        figures.add(await asyncio.to_thread(large_object, system, args.size_mib * MIB))
        figures.add({"walk": await walk_listing(system, "listing", args.objects)})
        print(f"  {system.name} run {run + 1}: {_brief(figures)}", flush=True)
    return figures


def _brief(figures: Figures) -> str:
    return ", ".join(f"{k} {v[-1]:.1f}" for k, v in figures.runs.items())


def stratus_auth(cloud: Cloud) -> tuple[str, str]:
    env = cloud.swift_env()
    resp = httpx.get(
        env["ST_AUTH"], headers={"X-Auth-User": env["ST_USER"], "X-Auth-Key": env["ST_KEY"]}
    )
    resp.raise_for_status()
    return resp.headers["x-storage-url"], resp.headers["x-auth-token"]


def run_stratus(root: Path, args: argparse.Namespace) -> Figures:
    cloud = Cloud(state_dir=root / "stratus", identity_port=free_port())
    if args.workers is not None:
        cloud.extra_env["STRATUS_OBJECTSTORE__WORKERS"] = str(args.workers)
    cloud.start()
    try:
        url, token = stratus_auth(cloud)
        rings = cloud.state_dir / "objectstore" / "rings"

        def targets(account: str, container: str) -> list[Target]:
            ring = load_ring(rings / "container.ring")
            part = ring.partition(account, container)
            return [Target(d.ip, d.port, d.device, part) for d in ring.primaries(part)]

        devices = cloud.state_dir / "objectstore" / "devices"
        return uvloop.run(measure(System("stratus", url, token, devices, targets), args, True))
    except BaseException:
        cloud.stop()
        keep_logs(cloud, [cloud.state_dir / "stratus.log", cloud.log_path])
        raise
    finally:
        cloud.stop()


def keep_logs(cloud: Cloud, logs: list[Path]) -> None:
    """On a failure, copy the cloud's logs out of the temporary directory (which is about
    to be removed) and print their tails, so the cause can be found afterwards."""
    kept = Path(tempfile.mkdtemp(prefix="stratus-bench-failed-"))
    for log in logs:
        if not log.exists():
            continue
        shutil.copy2(log, kept / log.name)
        lines = log.read_text(errors="replace").splitlines()[-LOG_TAIL:]
        print(f"---- last {len(lines)} lines of {log.name} ----", file=sys.stderr)
        print("\n".join(lines), file=sys.stderr)
    print(f"---- logs of the failed Stratus run kept in {kept} ----", file=sys.stderr, flush=True)


def run_swift(root: Path, args: argparse.Namespace) -> dict[str, Figures]:
    out = {}
    with SwiftAllInOne(root / "swift", venv=ensure_venv()) as swift:
        for i, workers in enumerate(w for w in args.swift_workers.split(",") if w):
            swift.start(workers)
            try:
                url, token = swift.auth()
                system = System(
                    f"swift w={workers}", url, token, swift.devices_root, swift.container_targets
                )
                out[workers] = uvloop.run(measure(system, args, i == 0))
            finally:
                swift.stop()
    return out


@dataclass
class Limits:
    disk_write: float
    disk_read: float
    loopback: float
    put_floor: float  # copy_floor.py: the least work of a replicated PUT, at C speed
    get_floor: float

    @property
    def put(self) -> float:
        return min(self.disk_write / REPLICAS, self.loopback)

    @property
    def get(self) -> float:
        return min(self.disk_read, self.loopback)


def disk_rates(root: Path, size: int) -> tuple[float, float]:
    """1 MiB writes then fsync; then a read of the same file after dropping it from the
    page cache. MB/s each."""
    path = root / "disk-probe"
    start = time.perf_counter()
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        for chunk in blocks(size):
            os.write(fd, chunk)
        os.fsync(fd)
    finally:
        os.close(fd)
    write = size / (time.perf_counter() - start) / 1e6
    evict(root, min_size=size)
    start = time.perf_counter()
    fd = os.open(path, os.O_RDONLY)
    try:
        while os.read(fd, MIB):
            pass
    finally:
        os.close(fd)
    read = size / (time.perf_counter() - start) / 1e6
    path.unlink()
    return write, read


def loopback_rate(size: int) -> float:
    """One TCP connection on 127.0.0.1 moving ``size`` bytes, 1 MiB sends; MB/s."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(1)
        received = [0]

        def sink() -> None:
            conn, _ = listener.accept()
            buf = bytearray(MIB)
            with conn:
                while n := conn.recv_into(buf):
                    received[0] += n

        thread = threading.Thread(target=sink)
        thread.start()
        view = memoryview(BLOCK)
        with socket.create_connection(listener.getsockname()) as out:
            start = time.perf_counter()
            for _ in range(size // MIB):
                out.sendall(view)
        thread.join()
        elapsed = time.perf_counter() - start
    assert received[0] == size
    return size / elapsed / 1e6


def measure_limits(root: Path, size: int, runs: int) -> Limits:
    disk = [disk_rates(root, size) for _ in range(runs)]
    loop = [loopback_rate(size) for _ in range(runs)]
    puts = [put_floor(root, size, REPLICAS) for _ in range(runs)]
    gets = [get_floor(root, size) for _ in range(runs)]
    return Limits(
        statistics.median(w for w, _ in disk),
        statistics.median(r for _, r in disk),
        statistics.median(loop),
        statistics.median(puts),
        statistics.median(gets),
    )


def machine(root: Path) -> str:
    cpu = "unknown cpu"
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            cpu = line.split(":", 1)[1].strip()
            break
    fs = subprocess.run(
        ["findmnt", "-n", "-o", "FSTYPE,SOURCE", "-T", str(root)],
        capture_output=True,
        text=True,
        check=False,
    ).stdout.strip()
    return (
        f"{os.cpu_count()} cores, {cpu}, Python {platform.python_version()}, "
        f"disk {fs or '?'}, Swift {version()}"
    )


ROWS = [  # key, label, unit, higher is better
    ("put_ops", "4 KiB PUT ops/s (c=32)", "", True),
    ("put_p50", "  PUT p50", "ms", False),
    ("put_p99", "  PUT p99", "ms", False),
    ("get_ops", "4 KiB GET ops/s (c=32)", "", True),
    ("get_p50", "  GET p50", "ms", False),
    ("get_p99", "  GET p99", "ms", False),
    ("large_put", "1 GiB PUT MB/s", "", True),
    ("large_get", "1 GiB GET MB/s (cold)", "", True),
    ("walk", "list 100,000 objects (s)", "", False),
    ("fill_rows", "  fill: rows/s per replica", "", True),
]


def report(stratus: Figures, swift: dict[str, Figures], limits: Limits, args: object) -> None:
    head = f"{'figure':30}{'Stratus':>10}"
    for workers in swift:
        head += f"{'Swift w=' + workers:>14}{'ratio':>7}"
    print(head)
    for key, label, unit, higher in ROWS:
        ours = stratus.median(key)
        line = f"{label:30}{ours:>10.1f}"
        for figures in swift.values():
            if key not in figures.runs:  # the listing is filled once, by the first Swift run
                line += f"{'-':>14}{'':>7}"
                continue
            theirs = figures.median(key)
            ratio = ours / theirs if higher else theirs / ours
            line += f"{theirs:>14.1f}{ratio:>6.2f}x"
        print(line + (f" {unit}" if unit else ""))
    print("(ratio: how many times better Stratus is; > 1 means Stratus wins)")
    print(
        f"limits: disk write {limits.disk_write:.0f} MB/s (fsync), disk read "
        f"{limits.disk_read:.0f} MB/s (cold), loopback {limits.loopback:.0f} MB/s"
    )
    print(
        f"1 GiB PUT limit min(disk write / {REPLICAS}, loopback) = {limits.put:.0f} MB/s: "
        f"Stratus {stratus.median('large_put') / limits.put:.0%} (target >= 80%)"
    )
    print(
        f"1 GiB GET limit min(disk read, loopback) = {limits.get:.0f} MB/s: "
        f"Stratus {stratus.median('large_get') / limits.get:.0%} (target >= 80%)"
    )
    print(
        f"what this CPU allows (copy_floor.py): PUT {limits.put_floor:.0f} MB/s "
        f"({limits.put_floor / limits.put:.0%} of its limit), Stratus "
        f"{stratus.median('large_put') / limits.put_floor:.0%} of it; GET "
        f"{limits.get_floor:.0f} MB/s ({limits.get_floor / limits.get:.0%} of its limit), "
        f"Stratus {stratus.median('large_get') / limits.get_floor:.0%} of it"
    )
    for workers, figures in swift.items():
        ratio = stratus.median("put_ops") / figures.median("put_ops")
        gets = stratus.median("get_ops") / figures.median("get_ops")
        print(f"small-object ops vs Swift w={workers}: PUT {ratio:.2f}x, GET {gets:.2f}x (>= 2x)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=10.0, help="per small-object phase")
    parser.add_argument("--runs", type=int, default=3, help="runs per figure (median)")
    parser.add_argument("--objects", type=int, default=100_000, help="listing size")
    parser.add_argument("--size-mib", type=int, default=1024, help="large object size")
    parser.add_argument(
        "--swift-workers", default="1,auto", help="Swift worker counts to run ('': none)"
    )
    parser.add_argument(
        "--workers", type=int, default=None, help="[objectstore] workers (default: Stratus')"
    )
    parser.add_argument("--dir", default=None, help="where the devices go (default: a temp dir)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="stratus-bench-os-", dir=args.dir) as tmp:
        root = Path(tmp)
        print(f"machine: {machine(root)}", flush=True)
        limits = measure_limits(root, args.size_mib * MIB, args.runs)
        print(f"limits: {limits}", flush=True)
        stratus = run_stratus(root, args)
        swift = run_swift(root, args)
        report(stratus, swift, limits, args)


if __name__ == "__main__":
    main()
