"""The container server over real HTTP (uvicorn + httptools), driven by httpx."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from pathlib import Path
from urllib.parse import quote

import httpx
import pytest
from dbservers import HASHER, Servers, db_servers, now

from stratus.objectstore.dbs.db_request import MAX_OBJECT_NAME
from stratus.objectstore.dbs.dbfile import db_hash

C = "/sda/0/AUTH_a/cont"


@pytest.fixture
async def servers(tmp_path: Path) -> AsyncIterator[Servers]:
    async with db_servers(tmp_path / "devices") as s:
        yield s


@pytest.fixture
async def client(servers: Servers) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=servers.container_url, timeout=30) as c:
        yield c


def ts_headers(**extra: str) -> dict[str, str]:
    return {"X-Timestamp": now(), **extra}


async def put_object(
    client: httpx.AsyncClient, name: str, size: int = 1, path: str = C
) -> httpx.Response:
    headers = ts_headers(**{"X-Size": str(size), "X-Content-Type": "text/plain", "X-Etag": "abc"})
    return await client.put(f"{path}/{quote(name)}", headers=headers)


async def listing(client: httpx.AsyncClient, url: str = C, **params: str) -> list[str]:
    resp = await client.get(url, params=params)
    assert resp.status_code == 200, resp.text
    return [e.get("name", e.get("subdir")) for e in resp.json()]


async def test_container_lifecycle(client: httpx.AsyncClient) -> None:
    assert (await client.head(C)).status_code == 404
    meta = {"X-Timestamp": now().encode(), "X-Container-Meta-Color": "blü".encode()}
    resp = await client.put(C, headers=meta)
    assert resp.status_code == 201
    assert (await client.put(C, headers=ts_headers())).status_code == 202
    head = await client.head(C)
    assert head.status_code == 204
    assert head.headers["x-container-object-count"] == "0"
    assert (b"x-container-meta-color", "blü".encode()) in head.headers.raw
    assert (await put_object(client, "o1", 10)).status_code == 201
    assert (await put_object(client, "o2", 5)).status_code == 201
    head = await client.head(C)
    assert head.headers["x-container-object-count"] == "2"
    assert head.headers["x-container-bytes-used"] == "15"
    resp = await client.get(C)
    body = resp.json()
    assert resp.headers["content-type"].startswith("application/json")
    assert body[0]["name"] == "o1" and body[0]["bytes"] == 10 and body[0]["hash"] == "abc"
    assert body[0]["content_type"] == "text/plain" and "T" in body[0]["last_modified"]
    # not empty: 409; then empty it and delete
    assert (await client.delete(C, headers=ts_headers())).status_code == 409
    for name in ("o1", "o2"):
        assert (await client.delete(f"{C}/{name}", headers=ts_headers())).status_code == 204
    assert (await client.delete(C, headers=ts_headers())).status_code == 204
    gone = await client.head(C)
    assert gone.status_code == 404 and "x-backend-delete-timestamp" in gone.headers
    assert (await client.delete(C, headers=ts_headers())).status_code == 404
    # a PUT older than the delete is refused; a newer one re-creates
    assert (await client.put(C, headers={"X-Timestamp": "1.0"})).status_code == 409
    assert (await client.put(C, headers=ts_headers())).status_code == 201
    assert (await client.head(C)).headers.get("x-container-meta-color") is None


async def test_object_row_needs_container(client: httpx.AsyncClient) -> None:
    assert (await put_object(client, "o", path="/sda/0/AUTH_a/nope")).status_code == 404
    resp = await client.delete("/sda/0/AUTH_a/nope/o", headers=ts_headers())
    assert resp.status_code == 404


ROWS = {"X-Backend-Merge-Rows": "true"}


def row(op: str, name: str, size: int = 1, **extra: str) -> dict[str, object]:
    headers = {"X-Timestamp": now()}
    if op == "PUT":
        headers.update({"X-Size": str(size), "X-Content-Type": "text/plain", "X-Etag": "e"})
    return {"op": op, "name": name, "headers": {**headers, **extra}}


async def test_rows_merge_in_one_request(client: httpx.AsyncClient) -> None:
    """The proxy's batched listing updates: puts and deletes land as their own row
    requests would, counts included."""
    await client.put(C, headers=ts_headers())
    resp = await client.post(C, headers=ROWS, json=[row("PUT", f"o{i}", i) for i in range(5)])
    assert resp.status_code == 202, resp.text
    assert await listing(client) == ["o0", "o1", "o2", "o3", "o4"]
    batch = [row("DELETE", "o1"), row("PUT", "o2", 50), row("PUT", "日本/語", 7)]
    assert (await client.post(C, headers=ROWS, json=batch)).status_code == 202
    body = (await client.get(C)).json()
    assert [(e["name"], e["bytes"]) for e in body] == [
        ("o0", 0), ("o2", 50), ("o3", 3), ("o4", 4), ("日本/語", 7),
    ]  # fmt: skip
    head = await client.head(C)
    assert head.headers["x-container-object-count"] == "5"
    assert head.headers["x-container-bytes-used"] == "64"
    # an older row loses, as a single row request's would
    stale = row("PUT", "o0", 999, **{"X-Timestamp": "1.00000"})
    assert (await client.post(C, headers=ROWS, json=[stale, row("PUT", "o9")])).status_code == 202
    body = (await client.get(C)).json()
    assert body[0] == {**body[0], "name": "o0", "bytes": 0} and body[-2]["name"] == "o9"


async def test_bad_row_batches_are_refused_whole(client: httpx.AsyncClient) -> None:
    await client.put(C, headers=ts_headers())
    long_name = "o" * (MAX_OBJECT_NAME + 1)
    bad_batches: list[object] = [
        [],
        {"op": "PUT"},
        ["row"],
        [row("PUT", "ok"), row("PATCH", "x")],
        [row("PUT", "ok"), {"op": "PUT", "name": 3, "headers": {}}],
        [row("PUT", "ok"), {"op": "PUT", "name": "x", "headers": {"X-Size": 1}}],
        [row("PUT", "ok"), row("PUT", long_name)],
        [row("PUT", "ok"), row("PUT", "\ud800")],  # a lone surrogate: not UTF-8
        [row("PUT", "ok"), row("PUT", "x", **{"X-Content-Type": "\udcff"})],
        [row("PUT", "ok"), row("PUT", "x", **{"X-Size": "-1"})],
        [row("PUT", "ok"), row("DELETE", "x", **{"X-Timestamp": "yesterday"})],
        [row("PUT", f"o{i}") for i in range(1001)],
    ]
    for batch in bad_batches:
        resp = await client.post(C, headers=ROWS, content=json.dumps(batch).encode())
        assert resp.status_code == 400, (batch, resp.text)
        assert resp.headers["content-type"].startswith("text/plain")
    resp = await client.post(C, headers=ROWS, content=b"\xff not json")
    assert resp.status_code == 400
    assert await listing(client) == []  # nothing of any refused batch was merged
    assert (await client.post(f"{C}/o", headers=ROWS, json=[row("PUT", "o")])).status_code == 400
    missing = await client.post("/sda/0/AUTH_a/nope", headers=ROWS, json=[row("PUT", "o")])
    assert missing.status_code == 404


async def test_listing_filters_over_http(client: httpx.AsyncClient) -> None:
    await client.put(C, headers=ts_headers())
    names = ["a", "a/1", "a/2", "a/b/c", "b", "z", "é/x", "é/y", "日本/語"]  # code point order
    await asyncio.gather(*(put_object(client, n) for n in names))  # group-committed
    assert await listing(client) == names
    assert await listing(client, limit="2", marker="a/1") == ["a/2", "a/b/c"]
    assert await listing(client, end_marker="a/2") == ["a", "a/1"]
    assert await listing(client, prefix="é/") == ["é/x", "é/y"]
    assert await listing(client, delimiter="/") == ["a", "a/", "b", "z", "é/", "日本/"]
    assert await listing(client, delimiter="/", prefix="a/") == ["a/1", "a/2", "a/b/"]
    assert await listing(client, path="a") == ["a/1", "a/2"]
    assert await listing(client, reverse="true", limit="3") == ["日本/語", "é/y", "é/x"]
    assert await listing(client, reverse="on", delimiter="/") == [
        "日本/", "é/", "z", "b", "a/", "a",
    ]  # fmt: skip
    assert await listing(client, reverse="1", marker="é/y", end_marker="a/b/c") == ["é/x", "z", "b"]


async def test_bad_input_is_4xx(client: httpx.AsyncClient) -> None:
    await client.put(C, headers=ts_headers())
    long_obj = "o" * (MAX_OBJECT_NAME + 1)
    cases: list[tuple[str, str, dict[str, str], int]] = [
        ("PUT", "/sda/0/AUTH_a/" + "c" * 257, ts_headers(), 400),
        ("PUT", f"{C}/{long_obj}", ts_headers(**{"X-Size": "1"}), 400),
        ("PUT", C + "x", {}, 400),  # no timestamp
        ("PUT", C + "x", {"X-Timestamp": "yesterday"}, 400),
        ("PUT", f"{C}/o", ts_headers(**{"X-Size": "-1"}), 400),
        ("PUT", f"{C}/o", ts_headers(), 400),  # no size
        ("PUT", "/sda/x/AUTH_a/c", ts_headers(), 400),
        ("PUT", "/nodev/0/AUTH_a/c", ts_headers(), 507),
        ("PUT", "/../0/AUTH_a/c", ts_headers(), 400),
        ("GET", "/sda/0/AUTH_a", {}, 400),
        ("GET", f"{C}?limit=10001", {}, 412),
        ("GET", f"{C}?limit=x", {}, 412),
        ("GET", f"{C}?prefix=%FF", {}, 400),
        ("GET", "/sda/0/AUTH_a/%FF", {}, 400),
        ("POST", C, ts_headers(**{"X-Container-Meta-" + "k" * 129: "v"}), 400),
        ("POST", C, ts_headers(**{"X-Container-Meta-K": "v" * 257}), 400),
        ("POST", "/sda/0/AUTH_a/nope", ts_headers(), 404),
        ("POST", "/sda/0/abc", {"X-Backend-Replicate": "true"}, 400),
        ("DELETE", C, {}, 400),
    ]
    for method, url, headers, status in cases:
        resp = await client.request(method, url, headers=headers)
        assert resp.status_code == status, (method, url, resp.status_code, resp.text)
        assert resp.headers["content-type"].startswith("text/plain") or status < 400
    not_utf8 = {"X-Timestamp": now().encode(), "X-Container-Meta-A": b"\xff\xfe"}
    raw = await client.request("PUT", C, headers=not_utf8)
    assert raw.status_code == 400  # refused, not stored as replacement characters


async def test_metadata_totals_are_limited(client: httpx.AsyncClient) -> None:
    await client.put(C, headers=ts_headers())
    for i in range(90):
        resp = await client.post(C, headers=ts_headers(**{f"X-Container-Meta-K{i}": "v"}))
        assert resp.status_code == 204
    resp = await client.post(C, headers=ts_headers(**{"X-Container-Meta-One-Too-Many": "v"}))
    assert resp.status_code == 400 and "Too many" in resp.text
    resp = await client.post(C, headers=ts_headers(**{"X-Remove-Container-Meta-K0": "x"}))
    assert resp.status_code == 204
    resp = await client.post(C, headers=ts_headers(**{"X-Container-Meta-Now-Fits": "v"}))
    assert resp.status_code == 204
    big = {f"X-Container-Meta-B{i}": "v" * 250 for i in range(17)}  # 17 * 252 > 4096
    await client.put(C + "2", headers=ts_headers())
    resp = await client.post(C + "2", headers=ts_headers(**big))
    assert resp.status_code == 400 and "too large" in resp.text


async def test_counts_reach_the_account(client: httpx.AsyncClient, servers: Servers) -> None:
    async with httpx.AsyncClient(base_url=servers.account_url) as acct:
        assert (await acct.put("/sda/0/AUTH_a", headers=ts_headers())).status_code == 201
        account_headers = {
            "X-Account-Host": f"127.0.0.1:{servers.account_port}",
            "X-Account-Device": "sda",
            "X-Account-Partition": "0",
        }
        resp = await client.put(C, headers=ts_headers(**account_headers))
        assert resp.status_code == 201
        assert [c["name"] for c in (await acct.get("/sda/0/AUTH_a")).json()] == ["cont"]
        await put_object(client, "o", 42)
        for _ in range(100):
            head = await acct.head("/sda/0/AUTH_a")
            if head.headers["x-account-bytes-used"] == "42":
                break
            await asyncio.sleep(0.02)
        assert head.headers["x-account-object-count"] == "1"
        # a container PUT for an account that does not exist: 404
        other = {**account_headers, "X-Timestamp": now()}
        resp = await client.put("/sda/0/AUTH_none/c", headers=other)
        assert resp.status_code == 404


async def test_replicate_endpoint(client: httpx.AsyncClient) -> None:
    await client.put(C, headers=ts_headers())
    await put_object(client, "o")
    name_hash = db_hash(HASHER, "AUTH_a", "cont")
    resp = await client.post(
        f"/sda/0/{name_hash}", headers={"X-Backend-Replicate": "true"}, content=b'{"op": "info"}'
    )
    assert resp.status_code == 200
    info = resp.json()
    assert info["object_count"] == 1 and info["container"] == "cont"
    item = {
        "name": "from-peer", "created_at": now(), "size": 3,
        "content_type": "x", "etag": "e", "deleted": False,
    }  # fmt: skip
    body = {"op": "merge_items", "remote_id": "peer", "point": 9, "items": [item]}
    resp = await client.post(
        f"/sda/0/{name_hash}", headers={"X-Backend-Replicate": "true"}, content=json.dumps(body)
    )
    assert resp.status_code == 200 and resp.json()["changed"] == 1
    assert "from-peer" in await listing(client)
    bad = {"op": "merge_items", "remote_id": "peer", "point": 9, "items": [{"name": 1}]}
    resp = await client.post(
        f"/sda/0/{name_hash}", headers={"X-Backend-Replicate": "true"}, content=json.dumps(bad)
    )
    assert resp.status_code == 400
    missing = await client.post(
        f"/sda/0/{'0' * 32}", headers={"X-Backend-Replicate": "true"}, content=b'{"op":"info"}'
    )
    assert missing.status_code == 404
