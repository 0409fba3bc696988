"""Expiring objects end to end: the proxy queues them, reads stop at once, the expirer
deletes them (a tombstone on disk, gone from the listing), and a version written since
without that expiry survives. Expirer passes are run directly; waits poll a deadline.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
from swiftcluster import HASHER, NODES, SwiftCluster, swift_cluster

from stratus.objectstore.daemons.object_expirer import ExpiryQueue
from stratus.objectstore.expiring import QUEUE_ACCOUNT, queue_container

ACCOUNT = "AUTH_test"
DEADLINE = 30.0


@pytest.fixture
def swift(tmp_path: Path) -> Iterator[SwiftCluster]:
    with swift_cluster(tmp_path / "cluster") as c:
        yield c


@pytest.fixture
def http(swift: SwiftCluster) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=swift.storage_url(ACCOUNT), timeout=60) as client:
        assert client.put("/box").status_code == 201
        yield client


def wait_for(check: Callable[[], bool]) -> None:
    deadline = time.monotonic() + DEADLINE
    while not check():
        assert time.monotonic() < deadline, "condition not reached before the deadline"
        time.sleep(0.1)


def object_files(swift: SwiftCluster, name: str) -> list[str]:
    name_hash = HASHER.hash_name(f"/{ACCOUNT}/box/{name}")
    return sorted(
        p.suffix
        for i in range(NODES)
        for p in (swift.device(i) / "objects").rglob(f"{name_hash}/*")
        if p.is_file()
    )


def listed(http: httpx.Client) -> list[str]:
    reply = http.get("/box", params={"format": "json"})
    return [e["name"] for e in reply.json()] if reply.status_code == 200 else []


def queued(swift: SwiftCluster, http: httpx.Client, delete_at: int) -> list[str]:
    """The expiry queue as one container replica lists it."""
    day = queue_container(delete_at)
    node = swift.primaries("container", QUEUE_ACCOUNT, day)[0]
    part = swift.rings["container"].partition(QUEUE_ACCOUNT, day)
    port = swift.servers["container"][node].port
    reply = http.get(f"http://127.0.0.1:{port}/d{node}/{part}/{QUEUE_ACCOUNT}/{day}")
    return [e["name"] for e in json.loads(reply.content)] if reply.status_code == 200 else []


def test_expired_object_disappears_from_reads_then_disk_and_listing(
    swift: SwiftCluster, http: httpx.Client
) -> None:
    put = http.put("/box/brief", content=b"soon gone", headers={"X-Delete-After": "1"})
    assert put.status_code == 201
    assert listed(http) == ["brief"]
    wait_for(lambda: http.get("/box/brief").status_code == 404)
    assert http.head("/box/brief").status_code == 404
    delete_at = int(time.time())
    assert [n.split("-", 1)[1] for n in queued(swift, http, delete_at)] == [f"{ACCOUNT}/box/brief"]

    stats = swift.run(ExpiryQueue(swift.cluster).run_once())  # type: ignore[arg-type]

    assert stats.expired == 1
    assert object_files(swift, "brief") == [".ts", ".ts", ".ts"]
    assert listed(http) == []
    assert queued(swift, http, delete_at) == []
    # a second pass has nothing left to do
    assert swift.run(ExpiryQueue(swift.cluster).run_once()).expired == 0  # type: ignore[arg-type]


def test_object_rewritten_without_expiry_survives_the_expirer(
    swift: SwiftCluster, http: httpx.Client
) -> None:
    delete_at = int(time.time()) + 2
    headers = {"X-Delete-At": str(delete_at)}
    assert http.put("/box/kept", content=b"v1", headers=headers).status_code == 201
    assert http.put("/box/kept", content=b"v2").status_code == 201  # no expiry any more
    assert len(queued(swift, http, delete_at)) == 1  # the stale entry is still queued
    wait_for(lambda: time.time() > delete_at)

    stats = swift.run(ExpiryQueue(swift.cluster).run_once())  # type: ignore[arg-type]

    assert (stats.expired, stats.kept_alive) == (0, 1)
    assert http.get("/box/kept").content == b"v2"
    assert listed(http) == ["kept"]
    assert queued(swift, http, delete_at) == []


def test_expiry_moved_by_post_keeps_the_object_until_the_new_time(
    swift: SwiftCluster, http: httpx.Client
) -> None:
    first = int(time.time()) + 2
    later = first + 3600
    assert (
        http.put("/box/moved", content=b"x", headers={"X-Delete-At": str(first)}).status_code == 201
    )
    assert http.post("/box/moved", headers={"X-Delete-At": str(later)}).status_code == 202
    wait_for(lambda: time.time() > first)

    stats = swift.run(ExpiryQueue(swift.cluster).run_once())  # type: ignore[arg-type]

    assert stats.kept_alive == 1
    reply = http.get("/box/moved")
    assert reply.status_code == 200
    assert reply.headers["X-Delete-At"] == str(later)
    assert len(queued(swift, http, later)) == 1  # the new time's entry waits for its day


def test_reserved_accounts_are_not_reachable_through_the_proxy(
    swift: SwiftCluster, http: httpx.Client
) -> None:
    base = swift.url + "/v1/"
    assert http.get(base + QUEUE_ACCOUNT).status_code == 403
    assert http.put(base + QUEUE_ACCOUNT + "/1700000000").status_code == 403
    assert http.get(base + QUEUE_ACCOUNT + "/1700000000/x").status_code == 403
