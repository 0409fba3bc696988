"""Image service benchmark: 1 GiB upload and download on each store, beside the disk.

Starts ``stratus up`` in a temporary directory, then for each store (``file``, and
``object``: the Stratus object store, 3 replicas on the same disk) uploads a 1 GiB raw
image with ``PUT /v2/images/{id}/file`` (``X-Image-Meta-Store``), drops the stored files
from the page cache, and downloads it. In the same run it measures the disk: 1 GiB
written with fsync and read back cold on the same filesystem. The file store writes each
byte once, so its upload is compared with the disk write rate; the object store writes
it once per replica, so its fair limit is a third of that. Each figure is the median of
``--runs`` runs; the client is ``rawhttp.Conn`` (one connection, 1 MiB writes).

    .venv/bin/python bench/image.py [--runs 3] [--size-mib 1024]
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import os
import platform
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx

from objectstore import disk_rates, evict
from rawhttp import Conn

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
from cloudproc import Cloud, free_port

MIB = 1 << 20
BLOCK = os.urandom(MIB)
REPLICAS = 3


def blocks(total: int) -> Iterator[bytes]:
    for _ in range(total // MIB):
        yield BLOCK


def hash_rate(size: int) -> float:
    """MD5 and SHA-512 of ``size`` bytes in two threads, as every upload must compute
    them (Glance's ``checksum`` and ``os_hash_value``); MB/s."""
    md5, sha = hashlib.md5(usedforsecurity=False), hashlib.sha512()

    def feed(digest: Any) -> None:
        for block in blocks(size):
            digest.update(block)

    start = time.perf_counter()
    threads = [threading.Thread(target=feed, args=(d,)) for d in (md5, sha)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return size / (time.perf_counter() - start) / 1e6


def admin_token(cloud: Cloud) -> str:
    body = {
        "auth": {
            "identity": {
                "methods": ["password"],
                "password": {
                    "user": {
                        "name": "admin",
                        "domain": {"id": "default"},
                        "password": cloud.password("admin"),
                    }
                },
            },
            "scope": {"project": {"name": "admin", "domain": {"id": "default"}}},
        }
    }
    resp = httpx.post(f"{cloud.identity_url}/auth/tokens", json=body, timeout=60)
    resp.raise_for_status()
    return resp.headers["x-subject-token"]


async def one_store(cloud: Cloud, token: str, store: str, size: int) -> tuple[float, float]:
    """Upload then cold download of ``size`` bytes through ``store``; MB/s each."""
    port = cloud.ports["image"]
    headers = {"X-Auth-Token": token, "Content-Type": "application/json"}
    async with httpx.AsyncClient() as client:
        created = await client.post(
            f"{cloud.image_url}/v2/images",
            headers=headers,
            json={"name": f"bench-{store}", "disk_format": "raw", "container_format": "bare"},
        )
    created.raise_for_status()
    path = f"/v2/images/{created.json()['id']}"
    conn = await Conn.open("127.0.0.1", port)
    try:
        up_headers = {
            "X-Auth-Token": token,
            "Content-Type": "application/octet-stream",
            "X-Image-Meta-Store": store,
        }
        start = time.perf_counter()
        resp = await conn.request("PUT", f"{path}/file", up_headers, blocks(size), length=size)
        upload = size / (time.perf_counter() - start) / 1e6
        if resp.status != 204:
            raise RuntimeError(f"{store}: upload {resp.status} {resp.body[:300]!r}")
        evict(cloud.state_dir)
        start = time.perf_counter()
        resp = await conn.request("GET", f"{path}/file", {"X-Auth-Token": token}, discard=True)
        download = size / (time.perf_counter() - start) / 1e6
        if resp.status != 200 or resp.length != size:
            raise RuntimeError(f"{store}: download {resp.status}, {resp.length} bytes")
        await conn.request("DELETE", path, {"X-Auth-Token": token})
    finally:
        conn.close()
    return upload, download


def run(root: Path, args: argparse.Namespace) -> dict[str, object]:
    size = args.size_mib * MIB
    cloud = Cloud(state_dir=root / "state", identity_port=free_port())
    cloud.start()
    try:
        token = admin_token(cloud)
        figures: dict[str, list[tuple[float, float]]] = {"file": [], "object": []}
        disk: list[tuple[float, float]] = []
        hashing: list[float] = []
        for _ in range(args.runs):
            disk.append(disk_rates(root, size))
            hashing.append(hash_rate(size))
            for store, runs in figures.items():
                runs.append(asyncio.run(one_store(cloud, token, store, size)))
    except BaseException:
        print(cloud.output()[-4000:], file=sys.stderr)
        raise
    finally:
        cloud.stop()
    med = statistics.median
    out: dict[str, object] = {
        "disk_write": med(w for w, _ in disk),
        "disk_read": med(r for _, r in disk),
        "hashing": med(hashing),
    }
    for store, runs in figures.items():
        out[f"{store}_upload"] = med(u for u, _ in runs)
        out[f"{store}_download"] = med(d for _, d in runs)
    return out


def report(fig: dict[str, float], root: Path, args: argparse.Namespace) -> None:
    print(f"machine: {machine()}")
    print(f"image size {args.size_mib} MiB, median of {args.runs} runs\n")
    print(f"disk write (fsync) {fig['disk_write']:8.0f} MB/s")
    print(f"disk read (cold)   {fig['disk_read']:8.0f} MB/s")
    print(f"md5 + sha512       {fig['hashing']:8.0f} MB/s (two threads, no I/O)\n")
    print(
        f"{'store':<8}{'upload MB/s':>12}{'% of limit':>12}{'download MB/s':>15}{'% of read':>11}"
    )
    for store, copies in (("file", 1), ("object", REPLICAS)):
        limit = fig["disk_write"] / copies
        up, down = fig[f"{store}_upload"], fig[f"{store}_download"]
        print(
            f"{store:<8}{up:>12.0f}{100 * up / limit:>11.0f}%"
            f"{down:>15.0f}{100 * down / fig['disk_read']:>10.0f}%"
        )
    print("\n(the object store's upload limit is disk write / 3: it writes 3 replicas)")
    print(json.dumps(fig))


def machine() -> str:
    cpu = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        "unknown cpu",
    )
    return f"{os.cpu_count()} cores, {cpu}, Python {platform.python_version()}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--size-mib", type=int, default=1024)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="stratus-image-bench-", dir=Path.cwd()) as tmp:
        root = Path(tmp)
        figures = run(root, args)
        report({k: float(v) for k, v in figures.items()}, root, args)  # type: ignore[arg-type]


if __name__ == "__main__":
    main()
