"""The object server over real HTTP: a uvicorn server on a free loopback port, driven by
httpx and by raw sockets (for what httpx will not send: disconnects, broken headers)."""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import socket
import time
import zlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
import uvicorn

from stratus.objectstore.storage.diskfile import DiskFileManager
from stratus.objectstore.storage.layout import PathHasher
from stratus.objectstore.storage.object_server import create_object_server

MiB = 1 << 20


@dataclass
class Server:
    url: str
    port: int
    root: Path

    def tmp_files(self) -> list[Path]:
        return list((self.root / "sda" / "tmp").glob("*"))

    def object_files(self) -> list[Path]:
        return [p for p in (self.root / "sda" / "objects").rglob("*.data")]


@pytest.fixture
async def server(tmp_path: Path) -> AsyncIterator[Server]:
    root = tmp_path / "devices"
    (root / "sda").mkdir(parents=True)
    disk = DiskFileManager(root, hasher=PathHasher(b"pre", b"suf"))
    app = create_object_server(disk, client_timeout=5.0)
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    config = uvicorn.Config(app, log_level="warning", lifespan="off", http="httptools")
    uv = uvicorn.Server(config)
    task = asyncio.create_task(uv.serve(sockets=[sock]))
    try:
        while not uv.started:
            assert not task.done(), "server failed to start"
            await asyncio.sleep(0.01)
        yield Server(f"http://127.0.0.1:{port}", port, root)
    finally:
        uv.should_exit = True
        await asyncio.wait_for(task, 10)
        sock.close()


@pytest.fixture
async def client(server: Server) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=server.url, timeout=30) as c:
        yield c


def now() -> str:
    return f"{time.time():.5f}"


def rss_kib() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise AssertionError("no VmRSS")


async def raw_request(port: int, head: bytes, body: bytes = b"") -> int:
    """Send raw bytes; return the response status (0 if the server just closed)."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(head + body)
        await writer.drain()
        line = await asyncio.wait_for(reader.readline(), 10)
        return int(line.split()[1]) if line else 0
    finally:
        writer.close()


# ---- streaming ---------------------------------------------------------------------------


async def test_64_mib_streams_through_without_buffering(
    server: Server, client: httpx.AsyncClient
) -> None:
    block = bytes(range(256)) * 4096  # 1 MiB, reused so the client allocates nothing
    size = 64 * MiB
    md5 = hashlib.md5()
    for _ in range(64):
        md5.update(block)
    peak = baseline = rss_kib()
    done = False

    async def sample() -> None:
        nonlocal peak
        while not done:
            peak = max(peak, rss_kib())
            await asyncio.sleep(0.005)

    async def body() -> AsyncIterator[bytes]:
        for _ in range(64):
            yield block

    sampler = asyncio.create_task(sample())
    try:
        r = await client.put(
            "/sda/1/a/c/big",
            content=body(),
            headers={"X-Timestamp": now(), "Content-Length": str(size), "ETag": md5.hexdigest()},
        )
        assert r.status_code == 201, r.text
        got = hashlib.md5()
        async with client.stream("GET", "/sda/1/a/c/big") as resp:
            assert resp.headers["content-length"] == str(size)
            async for chunk in resp.aiter_raw():
                got.update(chunk)
    finally:
        done = True
        await sampler
    assert got.hexdigest() == md5.hexdigest()
    assert (peak - baseline) * 1024 < 24 * MiB, f"RSS grew by {(peak - baseline) // 1024} MiB"


async def test_disconnect_mid_upload_leaves_nothing(
    server: Server, client: httpx.AsyncClient
) -> None:
    head = (
        f"PUT /sda/1/a/c/cut HTTP/1.1\r\nHost: x\r\nX-Timestamp: {now()}\r\n"
        f"Content-Length: {10 * MiB}\r\n\r\n"
    ).encode()
    reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
    writer.write(head + b"z" * (3 * MiB))
    await writer.drain()
    await asyncio.sleep(0.2)
    assert server.tmp_files(), "the upload should be in progress in tmp/"
    writer.close()
    deadline = time.monotonic() + 5
    while server.tmp_files() and time.monotonic() < deadline:
        await asyncio.sleep(0.05)
    assert server.tmp_files() == []
    assert server.object_files() == []
    assert (await client.get("/sda/1/a/c/cut")).status_code == 404
    del reader


# ---- the status codes of the contract ----------------------------------------------------


async def test_object_lifecycle_statuses(client: httpx.AsyncClient) -> None:
    t1, path = now(), "/sda/1/AUTH_a/c/dir/obj"
    r = await client.put(
        path,
        content=b"0123456789",
        headers={"X-Timestamp": t1, "Content-Type": "text/plain", "X-Object-Meta-Color": "blue"},
    )
    assert r.status_code == 201
    assert r.headers["etag"] == f'"{hashlib.md5(b"0123456789").hexdigest()}"'
    r = await client.get(path)
    assert (r.status_code, r.content, r.headers["x-object-meta-color"]) == (
        200,
        b"0123456789",
        "blue",
    )
    assert r.headers["x-timestamp"] == t1 and r.headers["content-type"] == "text/plain"
    r = await client.head(path)
    assert (r.status_code, r.headers["content-length"], r.content) == (200, "10", b"")
    r = await client.get(path, headers={"Range": "bytes=2-4"})
    assert (r.status_code, r.content, r.headers["content-range"]) == (206, b"234", "bytes 2-4/10")
    r = await client.get(path, headers={"Range": "bytes=-3"})
    assert (r.status_code, r.content) == (206, b"789")
    r = await client.get(path, headers={"Range": "bytes=50-"})
    assert (r.status_code, r.headers["content-range"]) == (416, "bytes */10")
    r = await client.put(path, content=b"old", headers={"X-Timestamp": "1.0"})
    assert (r.status_code, r.headers["x-backend-timestamp"]) == (409, t1)
    t2 = now()
    r = await client.post(path, headers={"X-Timestamp": t2, "X-Object-Meta-Size": "xl"})
    assert r.status_code == 202
    r = await client.head(path)
    assert r.headers.get("x-object-meta-size") == "xl" and "x-object-meta-color" not in r.headers
    t3 = now()
    r = await client.delete(path, headers={"X-Timestamp": t3})
    assert r.status_code == 204
    r = await client.get(path)
    assert (r.status_code, r.headers["x-backend-timestamp"]) == (404, t3)
    r = await client.delete(path, headers={"X-Timestamp": now()})
    assert r.status_code == 404
    r = await client.post(path, headers={"X-Timestamp": now()})
    assert r.status_code == 404


async def test_etag_mismatch_is_422_and_leaves_nothing(
    server: Server, client: httpx.AsyncClient
) -> None:
    r = await client.put(
        "/sda/1/a/c/e", content=b"data", headers={"X-Timestamp": now(), "ETag": "0" * 32}
    )
    assert r.status_code == 422
    assert server.object_files() == [] and server.tmp_files() == []


FOOTER = {"X-Backend-Body-Footer": "md5-crc32"}


def footer(data: bytes, *, crc: int | None = None, md5: str | None = None) -> bytes:
    md5 = hashlib.md5(data).hexdigest() if md5 is None else md5
    return f"{md5}{zlib.crc32(data) if crc is None else crc:08x}".encode()


async def test_body_footer_gives_the_etag(server: Server, client: httpx.AsyncClient) -> None:
    """A body followed by the proxy's digests: the data alone is stored, under the MD5
    the footer carries, fixed-length and chunked alike."""
    data = os.urandom(3 * MiB + 7)  # several write buffers; the footer split across chunks
    r = await client.put(
        "/sda/1/a/c/f", content=data + footer(data), headers={"X-Timestamp": now(), **FOOTER}
    )
    assert r.status_code == 201, r.text
    assert r.headers["etag"] == f'"{hashlib.md5(data).hexdigest()}"'
    got = await client.get("/sda/1/a/c/f")
    assert got.content == data and got.headers["etag"] == r.headers["etag"]

    async def pieces() -> AsyncIterator[bytes]:
        whole = b"abc" + footer(b"abc")
        for i in range(0, len(whole), 5):
            yield whole[i : i + 5]

    r = await client.put("/sda/1/a/c/g", content=pieces(), headers={"X-Timestamp": now(), **FOOTER})
    assert r.status_code == 201 and (await client.get("/sda/1/a/c/g")).content == b"abc"


async def test_bad_body_footers_store_nothing(server: Server, client: httpx.AsyncClient) -> None:
    data = b"some data"
    cases = [
        (data + footer(data, crc=zlib.crc32(data) ^ 1), {}, 422),  # changed on the way
        (data + footer(data), {"ETag": "0" * 32}, 422),  # the client's ETag is not the MD5
        (data + footer(data)[:-1] + b"g", {}, 400),  # not hex
        (data[:5], {}, 400),  # shorter than a footer
        (data + footer(data), {"X-Backend-Body-Footer": "sha1"}, 400),
    ]
    for body, extra, status in cases:
        headers = {"X-Timestamp": now(), **FOOTER, **extra}
        r = await client.put("/sda/1/a/c/bad", content=body, headers=headers)
        assert r.status_code == status, (body, extra, r.text)
    assert server.object_files() == [] and server.tmp_files() == []


async def test_chunked_upload_and_delete_at(client: httpx.AsyncClient) -> None:
    async def body() -> AsyncIterator[bytes]:
        yield b"abc"
        yield b"def"

    later = str(int(time.time()) + 3600)
    r = await client.put(
        "/sda/2/a/c/chunked", content=body(), headers={"X-Timestamp": now(), "X-Delete-At": later}
    )
    assert r.status_code == 201
    r = await client.get("/sda/2/a/c/chunked")
    assert (r.content, r.headers["x-delete-at"]) == (b"abcdef", later)
    r = await client.put(
        "/sda/2/a/c/x", content=b"", headers={"X-Timestamp": now(), "X-Delete-At": "5"}
    )
    assert r.status_code == 400


async def test_unknown_device_is_507(client: httpx.AsyncClient) -> None:
    assert (await client.get("/sdz/1/a/c/o")).status_code == 507
    r = await client.put("/sdz/1/a/c/o", content=b"x", headers={"X-Timestamp": now()})
    assert r.status_code == 507
    assert (await client.post("/sdz/1", content=b"")).status_code == 507


async def test_replicate_returns_suffix_hashes(server: Server, client: httpx.AsyncClient) -> None:
    r = await client.put("/sda/9/a/c/o", content=b"x", headers={"X-Timestamp": now()})
    assert r.status_code == 201
    r = await client.post("/sda/9")  # the REPLICATE form httptools can parse
    hashes = json.loads(r.content)
    assert r.status_code == 200 and len(hashes) == 1
    suffix = next(iter(hashes))
    r = await client.post(f"/sda/9/{suffix}-abc")
    assert r.status_code == 200 and json.loads(r.content) == hashes
    app = create_object_server(DiskFileManager(server.root, hasher=PathHasher(b"pre", b"suf")))
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as asgi:
        r = await asgi.request("REPLICATE", "/sda/9")
        assert (r.status_code, json.loads(r.content)) == (200, hashes)
        assert (await asgi.request("REPLICATE", "/sda/9/zzz")).status_code == 400


# ---- malformed input is never a 500 -------------------------------------------------------


@pytest.mark.parametrize(
    ("request_head", "expected"),
    [
        (b"GET /sda/notanumber/a/c/o HTTP/1.1\r\nHost: x\r\n\r\n", 400),
        (b"GET /sda/-1/a/c/o HTTP/1.1\r\nHost: x\r\n\r\n", 400),
        (b"GET /sda/99999999999/a/c/o HTTP/1.1\r\nHost: x\r\n\r\n", 400),
        (b"GET /sda/1/a/c HTTP/1.1\r\nHost: x\r\n\r\n", 400),
        (b"GET /sda/1/a//o HTTP/1.1\r\nHost: x\r\n\r\n", 400),
        (b"GET / HTTP/1.1\r\nHost: x\r\n\r\n", 400),
        (b"GET /sda/1/a/c/%FF%FE HTTP/1.1\r\nHost: x\r\n\r\n", 400),
        (b"GET /sda/1/a/c/o%00 HTTP/1.1\r\nHost: x\r\n\r\n", 400),
        (b"PUT /sda/1/a/c/o HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\n\r\nx", 400),
        (
            b"PUT /sda/1/a/c/o HTTP/1.1\r\nHost: x\r\nX-Timestamp: yesterday\r\n"
            b"Content-Length: 1\r\n\r\nx",
            400,
        ),
        (b"DELETE /sda/1/a/c/o HTTP/1.1\r\nHost: x\r\n\r\n", 400),
        (b"POST /sda/1/a/c/o HTTP/1.1\r\nHost: x\r\nX-Timestamp: 1_zz\r\n\r\n", 400),
        (b"PUT /sda/1/a/c/o HTTP/1.1\r\nHost: x\r\nX-Timestamp: 1\r\n\r\n", 411),
        (
            b"PUT /sda/1/a/c/o HTTP/1.1\r\nHost: x\r\nX-Timestamp: 1\r\n"
            b"Content-Length: abc\r\n\r\n",
            400,
        ),
        (
            b"PUT /sda/1/a/c/o HTTP/1.1\r\nHost: x\r\nX-Timestamp: 1\r\nContent-Length: -5\r\n\r\n",
            400,
        ),
        (
            b"PUT /sda/1/a/c/o HTTP/1.1\r\nHost: x\r\nX-Timestamp: 1\r\n"
            b"X-Delete-At: soon\r\nContent-Length: 0\r\n\r\n",
            400,
        ),
        (b"GET /../../etc/1/a/c/o HTTP/1.1\r\nHost: x\r\n\r\n", 400),
        (b"GET /../1/a/c/o HTTP/1.1\r\nHost: x\r\n\r\n", 507),
        (b"PATCH /sda/1/a/c/o HTTP/1.1\r\nHost: x\r\n\r\n", 405),
        (b"POST /sda/x HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n", 400),
    ],
)
async def test_malformed_requests_are_client_errors(
    server: Server, request_head: bytes, expected: int
) -> None:
    status = await raw_request(server.port, request_head)
    assert status == expected, request_head
