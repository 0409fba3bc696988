"""The account server over real HTTP (uvicorn + httptools), driven by httpx."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from urllib.parse import quote

import httpx
import pytest
from dbservers import Servers, db_servers, now

A = "/sda/0/AUTH_acct"


@pytest.fixture
async def client(tmp_path: Path) -> AsyncIterator[httpx.AsyncClient]:
    servers: Servers
    async with (
        db_servers(tmp_path / "devices") as servers,
        httpx.AsyncClient(base_url=servers.account_url, timeout=30) as c,
    ):
        yield c


async def put_row(
    client: httpx.AsyncClient,
    name: str,
    *,
    count: int = 0,
    used: int = 0,
    delete: str = "0",
    put: str | None = None,
) -> httpx.Response:
    headers = {
        "X-Put-Timestamp": put or now(),
        "X-Delete-Timestamp": delete,
        "X-Object-Count": str(count),
        "X-Bytes-Used": str(used),
    }
    return await client.put(f"{A}/{quote(name)}", headers=headers)


async def names(client: httpx.AsyncClient, **params: str) -> list[str]:
    resp = await client.get(A, params=params)
    assert resp.status_code == 200, resp.text
    return [e.get("name", e.get("subdir")) for e in resp.json()]


async def test_account_lifecycle(client: httpx.AsyncClient) -> None:
    assert (await client.head(A)).status_code == 404
    assert (await put_row(client, "c")).status_code == 404  # no account yet
    meta = {"X-Timestamp": now(), "X-Account-Meta-Quota": "10"}
    assert (await client.put(A, headers=meta)).status_code == 201
    assert (await client.put(A, headers={"X-Timestamp": now()})).status_code == 202
    assert (await put_row(client, "c1", count=2, used=20)).status_code == 201
    assert (await put_row(client, "c2", count=1, used=5)).status_code == 201
    head = await client.head(A)
    assert head.status_code == 204
    assert head.headers["x-account-container-count"] == "2"
    assert head.headers["x-account-object-count"] == "3"
    assert head.headers["x-account-bytes-used"] == "25"
    assert head.headers["x-account-meta-quota"] == "10"
    listing = (await client.get(A)).json()
    assert listing[0] == {
        "name": "c1", "count": 2, "bytes": 20, "last_modified": listing[0]["last_modified"],
    }  # fmt: skip
    # a row whose delete is newer than its put: 204, and it leaves the listing
    assert (await put_row(client, "c2", put="1000.0", delete=now())).status_code == 204
    assert await names(client) == ["c1"]
    assert (await client.head(A)).headers["x-account-bytes-used"] == "20"
    resp = await client.post(A, headers={"X-Timestamp": now(), "X-Account-Meta-Quota": ""})
    assert resp.status_code == 204
    assert "x-account-meta-quota" not in (await client.head(A)).headers
    assert (await client.delete(A, headers={"X-Timestamp": now()})).status_code == 204
    gone = await client.head(A)
    assert gone.status_code == 404 and "x-backend-delete-timestamp" in gone.headers
    assert (await client.delete(A, headers={"X-Timestamp": now()})).status_code == 404
    assert (await put_row(client, "c3")).status_code == 404
    assert (await client.put(A, headers={"X-Timestamp": "1.0"})).status_code == 409
    assert (await client.put(A, headers={"X-Timestamp": now()})).status_code == 201


async def test_account_listing_filters(client: httpx.AsyncClient) -> None:
    await client.put(A, headers={"X-Timestamp": now()})
    all_names = ["a", "a-1", "a-2", "b", "z", "ñ-1", "ñ-2", "中"]
    for name in all_names:
        await put_row(client, name)
    assert await names(client) == all_names
    assert await names(client, limit="3", marker="a") == ["a-1", "a-2", "b"]
    assert await names(client, end_marker="b") == ["a", "a-1", "a-2"]
    assert await names(client, prefix="ñ") == ["ñ-1", "ñ-2"]
    assert await names(client, delimiter="-") == ["a", "a-", "b", "z", "ñ-", "中"]
    assert await names(client, reverse="yes", limit="2") == ["中", "ñ-2"]
    assert await names(client, reverse="true", delimiter="-", marker="z") == ["b", "a-", "a"]


async def test_account_bad_input(client: httpx.AsyncClient) -> None:
    await client.put(A, headers={"X-Timestamp": now()})
    cases: list[tuple[str, str, dict[str, str], int]] = [
        ("PUT", "/sda/0/" + "a" * 257, {"X-Timestamp": now()}, 400),
        ("PUT", f"{A}/c", {"X-Put-Timestamp": "x"}, 400),
        ("PUT", f"{A}/c", {}, 400),
        ("PUT", f"{A}/c", {"X-Put-Timestamp": now(), "X-Object-Count": "-3"}, 400),
        ("PUT", f"{A}/c/o", {"X-Timestamp": now()}, 400),
        ("GET", f"{A}/c", {}, 400),
        ("DELETE", f"{A}/c", {"X-Timestamp": now()}, 400),
        ("GET", f"{A}?limit=20000", {}, 412),
        ("GET", f"{A}?delimiter=" + "x" * 20, {}, 412),
        ("HEAD", "/sdq/0/AUTH_acct", {}, 507),
        ("POST", A, {"X-Timestamp": now(), "X-Account-Meta-" + "k" * 129: "v"}, 400),
        ("POST", "/sda/0/" + "f" * 32, {"X-Backend-Replicate": "true"}, 400),  # no body
        ("POST", "/sda/0/nothex", {"X-Backend-Replicate": "true"}, 400),
    ]
    for method, url, headers, status in cases:
        resp = await client.request(method, url, headers=headers)
        assert resp.status_code == status, (method, url, resp.status_code, resp.text)
