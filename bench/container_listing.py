"""Container server figures (docs/performance.md): listing a 100,000-object container
and the object-row PUT rate, over loopback HTTP against a uvicorn (httptools) server.

- fill: 100,000 rows merged straight into the database in batches of 1,000;
- GET ``?limit=10000`` (JSON), and a full walk of all pages via ``marker``;
- object-row PUTs (fsync on): one at a time on one connection, then 64 concurrent
  clients on one container (group commit merges those waiting into one transaction).

Usage: python bench/container_listing.py [DIR]   (DIR on the disk to measure)
"""

from __future__ import annotations

import asyncio
import os
import platform
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

from stratus.objectstore.dbs.dbfile import DbConfig, DbIdentity
from stratus.objectstore.dbs.registry import DbRegistry
from stratus.objectstore.dbs.rows import ObjectRow
from stratus.objectstore.storage.layout import PathHasher
from stratus.objectstore.storage.timestamp import Timestamp

OBJECTS = 100_000
C = "/sda/0/AUTH_bench/big"

# the server runs in its own process, so the client's work does not slow it down
SERVER = """
import sys, uvicorn
from pathlib import Path
from stratus.objectstore.dbs.container_server import create_container_server
from stratus.objectstore.dbs.dbfile import DbConfig
from stratus.objectstore.dbs.registry import DbRegistry
from stratus.objectstore.storage.layout import PathHasher
registry = DbRegistry(Path(sys.argv[1]), PathHasher(b"p", b"s"), DbConfig(fsync=True))
app = create_container_server(registry)
uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[2]), log_level="warning", http="httptools")
"""


def fill(registry: DbRegistry) -> float:
    db = registry.container("sda", 0, "AUTH_bench", "big")
    start = time.perf_counter()
    now = Timestamp.now()
    db.broker.create(DbIdentity("AUTH_bench", "big", now, now))
    for base in range(0, OBJECTS, 1000):
        rows = [
            ObjectRow(f"dir{i % 100:03d}/obj-{i:07d}", now, i % 4096, "text/plain", "d41d8cd9")
            for i in range(base, base + 1000)
        ]
        db.broker.merge_items(rows)
    return time.perf_counter() - start


async def listings(client: httpx.AsyncClient) -> tuple[float, float, int]:
    start = time.perf_counter()
    resp = await client.get(C, params={"limit": "10000"})
    first = time.perf_counter() - start
    assert resp.status_code == 200 and len(resp.json()) == 10_000
    start, marker, total = time.perf_counter(), "", 0
    while True:
        page = (await client.get(C, params={"limit": "10000", "marker": marker})).json()
        if not page:
            break
        total += len(page)
        marker = page[-1]["name"]
    return first, time.perf_counter() - start, total


async def put_rate(port: int, count: int, concurrency: int) -> float:
    """Object-row PUTs per second from ``concurrency`` keep-alive connections. A raw
    client: httpx itself tops out near 600 requests/s here, below the server."""
    names = iter(range(count))

    async def worker() -> None:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        for i in names:
            writer.write(
                f"PUT {C}/new-{concurrency}-{i} HTTP/1.1\r\nHost: bench\r\n"
                f"X-Timestamp: {time.time():.5f}\r\nX-Size: 1\r\nX-Content-Type: text/plain\r\n"
                "X-Etag: e\r\nContent-Length: 0\r\n\r\n".encode()
            )
            head = await reader.readuntil(b"\r\n\r\n")
            assert b" 201 " in head.split(b"\r\n", 1)[0], head
        writer.close()

    start = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return count / (time.perf_counter() - start)


async def wait_ready(client: httpx.AsyncClient) -> None:
    for _ in range(200):
        try:
            await client.head(C)
            return
        except httpx.TransportError:
            await asyncio.sleep(0.05)
    raise RuntimeError("server did not start")


async def measure(port: int) -> tuple[float, float, int, float, float]:
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=120) as client:
        await wait_ready(client)
        first, walk, total = await listings(client)
    return first, walk, total, await put_rate(port, 1000, 1), await put_rate(port, 5000, 64)


def main(root: Path) -> None:
    (root / "sda").mkdir(parents=True, exist_ok=True)
    registry = DbRegistry(root, PathHasher(b"p", b"s"), DbConfig(fsync=True))
    fill_s = fill(registry)
    asyncio.run(registry.close_all())
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    proc = subprocess.Popen([sys.executable, "-c", SERVER, str(root), str(port)])
    try:
        first, walk, total, serial, parallel = asyncio.run(measure(port))
    finally:
        proc.terminate()
        proc.wait(10)
    print(f"machine: {platform.machine()} {os.cpu_count()} cpus, {platform.platform()}")
    print(f"python {platform.python_version()}, sqlite {sqlite3.sqlite_version}")
    print(f"fill {OBJECTS} rows (batches of 1000): {fill_s:.2f} s")
    print(f"GET limit=10000 (JSON) of {OBJECTS}: {first * 1000:.0f} ms")
    print(f"full walk via marker ({total} rows, 10 pages): {walk:.2f} s")
    print(f"object-row PUT, 1 client: {serial:.0f}/s; 64 concurrent: {parallel:.0f}/s (fsync on)")


if __name__ == "__main__":
    if len(sys.argv) > 1:
        main(Path(sys.argv[1]))
    else:
        with tempfile.TemporaryDirectory() as tmp:
            main(Path(tmp))
