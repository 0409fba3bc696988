"""Metadata service benchmark: a guest's boot-time reads, as the metadata proxy sends them.

Starts ``stratus up`` (fake driver) in a temporary directory, boots ``--servers`` servers
with a key pair and user data, then for each server reads the paths a guest's init reads
at boot (OpenStack JSON, then the EC2 tree) with signed requests, ``--concurrency``
servers at once. It prints:

- requests/s over all the reads;
- latency p50/p99 of the first read of each server (a conductor call over the bus) and of
  the reads that follow (the record comes from the service's cache);
- the time to build one config drive (``xorriso``) for a record.

    .venv/bin/python bench/metadata.py [--servers 20] [--rounds 5] [--concurrency 8]
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import hashlib
import hmac
import statistics
import sys
import tempfile
import time
from pathlib import Path

import httpx

from compute import percentile, upload_image
from image import admin_token
from scheduler import machine
from stratus.compute.metadata.config_drive import build_config_drive
from stratus.compute.metadata.record import InstanceMetadata

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
from cloudproc import Cloud, free_port

BOOT_READS = [
    "/openstack/latest/meta_data.json", "/openstack/latest/network_data.json",
    "/openstack/latest/vendor_data2.json", "/openstack/latest/user_data",
    "/latest/meta-data/", "/latest/meta-data/instance-id", "/latest/meta-data/hostname",
    "/latest/meta-data/local-ipv4", "/latest/meta-data/placement/availability-zone",
    "/latest/user-data",
]  # fmt: skip
HEADERS = {"X-Auth-Token": "", "OpenStack-API-Version": "compute 2.79"}


async def boot(http: httpx.AsyncClient, cloud: Cloud, image: str, count: int) -> list[str]:
    user_data = base64.b64encode(b"#!/bin/sh\necho hi\n").decode()
    ids = []
    for n in range(count):
        body = {"name": f"md-{n}", "imageRef": image, "flavorRef": "1", "networks": "none",
                "user_data": user_data, "metadata": {"n": str(n)}}  # fmt: skip
        r = await http.post(f"{cloud.compute_url}/v2.1/servers", json={"server": body})
        r.raise_for_status()
        ids.append(str(r.json()["server"]["id"]))
    return ids


async def read_like_a_guest(
    md: httpx.AsyncClient, secret: str, server: str, project: str, rounds: int
) -> tuple[float, list[float]]:
    sig = hmac.new(secret.encode(), server.encode(), hashlib.sha256).hexdigest()
    headers = {"X-Instance-ID": server, "X-Tenant-ID": project,
               "X-Instance-ID-Signature": sig, "X-Forwarded-For": "10.0.0.2"}  # fmt: skip
    times = []
    for _ in range(rounds):
        for path in BOOT_READS:
            started = time.perf_counter()
            r = await md.get(path, headers=headers)
            times.append(time.perf_counter() - started)
            assert r.status_code == 200, (path, r.status_code, r.text)
    return times[0], times[1:]


async def measure(cloud: Cloud, args: argparse.Namespace) -> None:
    token = await asyncio.to_thread(admin_token, cloud)
    async with httpx.AsyncClient(headers=HEADERS | {"X-Auth-Token": token}, timeout=60) as http:
        image = await upload_image(http, cloud, token)
        servers = await boot(http, cloud, image, args.servers)
        shown = await http.get(f"{cloud.compute_url}/v2.1/servers/{servers[0]}")
        project = str(shown.json()["server"]["tenant_id"])
    secret = cloud.secrets()["metadata_shared_secret"]
    gate = asyncio.Semaphore(args.concurrency)
    firsts, rests = [], []
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{cloud.ports['metadata']}") as md:

        async def one(server: str) -> None:
            async with gate:
                first, rest = await read_like_a_guest(md, secret, server, project, args.rounds)
            firsts.append(first)
            rests.extend(rest)

        started = time.perf_counter()
        await asyncio.gather(*(one(s) for s in servers))
        took = time.perf_counter() - started
    total = len(firsts) + len(rests)
    print(f"machine: {machine()}")
    print(f"{total} reads of {len(servers)} servers in {took:.2f} s: {total / took:.0f} req/s")
    for label, values in (("first read (conductor call)", firsts), ("cached reads", rests)):
        p50, p99 = statistics.median(values) * 1e3, percentile(values, 99) * 1e3
        print(f"{label}: p50 {p50:.2f} ms, p99 {p99:.2f} ms")


async def drive_time(tmp: Path) -> float:
    record = InstanceMetadata(uuid="00000000-0000-0000-0000-000000000001", name="n",
                              hostname="n", project_id="p", public_key="ssh-ed25519 AAAA",
                              key_name="k", user_data=base64.b64encode(b"x").decode())  # fmt: skip
    started = time.perf_counter()
    await build_config_drive(record, tmp / "disk.config")
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--servers", type=int, default=20)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--concurrency", type=int, default=8)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-metadata-") as tmp:
        cloud = Cloud(state_dir=Path(tmp) / "state", identity_port=free_port())
        for quota in ("INSTANCES", "CORES", "RAM"):
            cloud.extra_env[f"STRATUS_COMPUTE__QUOTA_{quota}"] = "-1"  # unlimited
        cloud.start()
        try:
            asyncio.run(measure(cloud, args))
            print(f"config drive build: {asyncio.run(drive_time(Path(tmp))) * 1e3:.0f} ms")
        finally:
            cloud.stop()


if __name__ == "__main__":
    main()
