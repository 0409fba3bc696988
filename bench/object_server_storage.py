"""Object server throughput over loopback vs the raw disk (docs/performance.md).

Runs the object server under uvicorn (httptools) in a subprocess, then measures with httpx:
4 KiB PUT+GET pairs per second (one connection) and 1 GiB single-stream PUT and GET MB/s;
and a dd-style baseline: write 1 GiB in 1 MiB blocks + fsync, then read it back.
Usage: python bench/object_server_storage.py [DIR]   (DIR on the disk to measure)
"""

from __future__ import annotations

import asyncio
import os
import platform
import socket
import sys
import tempfile
import time
from pathlib import Path

import httpx

GIB = 1 << 30
BLOCK = os.urandom(1 << 20)

SERVER = """
import sys, uvicorn
from pathlib import Path
from stratus.objectstore.storage.diskfile import DiskFileManager
from stratus.objectstore.storage.layout import PathHasher
from stratus.objectstore.storage.object_server import create_object_server
app = create_object_server(DiskFileManager(Path(sys.argv[1]), hasher=PathHasher(b"p", b"s")))
uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[2]), log_level="warning", http="httptools")
"""


def drop_caches_hint() -> str:
    return "page cache not dropped (needs root): reads may come from memory"


def raw_disk(root: Path) -> tuple[float, float]:
    path = root / "dd.bin"
    start = time.perf_counter()
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    for _ in range(GIB // len(BLOCK)):
        os.write(fd, BLOCK)
    os.fsync(fd)
    os.close(fd)
    write = GIB / (time.perf_counter() - start) / 1e6
    start = time.perf_counter()
    fd = os.open(path, os.O_RDONLY)
    while os.read(fd, 1 << 20):
        pass
    os.close(fd)
    read = GIB / (time.perf_counter() - start) / 1e6
    path.unlink()
    return write, read


async def small_ops(client: httpx.AsyncClient, seconds: float = 10.0) -> float:
    body, n, start = os.urandom(4096), 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        path = f"/sda/{n % 64}/a/c/small{n}"
        r = await client.put(path, content=body, headers={"X-Timestamp": f"{time.time():.5f}"})
        assert r.status_code == 201, r.text
        r = await client.get(path)
        assert r.status_code == 200 and len(r.content) == 4096
        n += 1
    return n / (time.perf_counter() - start)


async def big_stream(client: httpx.AsyncClient) -> tuple[float, float]:
    async def body():  # type: ignore[no-untyped-def]
        for _ in range(GIB // len(BLOCK)):
            yield BLOCK

    headers = {"X-Timestamp": f"{time.time():.5f}", "Content-Length": str(GIB)}
    start = time.perf_counter()
    r = await client.put("/sda/1/a/c/big", content=body(), headers=headers)
    assert r.status_code == 201, r.text
    put = GIB / (time.perf_counter() - start) / 1e6
    start, got = time.perf_counter(), 0
    async with client.stream("GET", "/sda/1/a/c/big") as resp:
        async for chunk in resp.aiter_raw(1 << 20):
            got += len(chunk)
    assert got == GIB
    return put, GIB / (time.perf_counter() - start) / 1e6


async def main(root: Path) -> None:
    (root / "sda").mkdir(parents=True, exist_ok=True)
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()
    proc = await asyncio.create_subprocess_exec(sys.executable, "-c", SERVER, str(root), str(port))
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=120) as client:
            for _ in range(100):
                try:
                    await client.get("/sda/0/a/c/none")
                    break
                except httpx.TransportError:
                    await asyncio.sleep(0.1)
            ops = await small_ops(client)
            put, get = await big_stream(client)
    finally:
        proc.terminate()
        await proc.wait()
    dd_write, dd_read = raw_disk(root)
    print(f"machine: {platform.node()} {platform.machine()} {os.cpu_count()} CPUs, {root}")
    print(f"4 KiB PUT+GET pairs/s (1 connection): {ops:.0f}")
    print(f"1 GiB PUT {put:.0f} MB/s, GET {get:.0f} MB/s (object server, loopback)")
    print(
        f"raw disk: write+fsync {dd_write:.0f} MB/s, read {dd_read:.0f} MB/s ({drop_caches_hint()})"
    )


if __name__ == "__main__":
    with tempfile.TemporaryDirectory(dir=sys.argv[1] if len(sys.argv) > 1 else None) as tmp:
        asyncio.run(main(Path(tmp)))
