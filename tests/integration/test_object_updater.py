"""Probe test of the object updater: container servers down during object PUTs.

Two of a container's three replicas are stopped while objects are written through the
real proxy: every PUT still succeeds, the missed listing updates are queued as async
pending files, and the restarted replicas list nothing. One updater pass (run directly)
completes every replica's listing and removes the pending files.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from swiftcluster import SwiftCluster, swift_cluster

from stratus.objectstore.daemons.object_updater import PendingUpdates

ACCOUNT = "AUTH_test"


@pytest.fixture
def swift(tmp_path: Path) -> Iterator[SwiftCluster]:
    with swift_cluster(tmp_path / "cluster") as c:
        yield c


@pytest.fixture
def http(swift: SwiftCluster) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=swift.storage_url(ACCOUNT), timeout=60) as client:
        yield client


def replica_listing(
    swift: SwiftCluster, http: httpx.Client, node: int, container: str
) -> list[str]:
    part = swift.rings["container"].partition(ACCOUNT, container)
    port = swift.servers["container"][node].port
    reply = http.get(f"http://127.0.0.1:{port}/d{node}/{part}/{ACCOUNT}/{container}")
    assert reply.status_code == 200, reply.text
    return [e["name"] for e in json.loads(reply.content)]


def test_updater_completes_listings_missed_while_container_servers_were_down(
    swift: SwiftCluster, http: httpx.Client
) -> None:
    assert http.put("/box").status_code == 201
    primaries = swift.primaries("container", ACCOUNT, "box")
    down = primaries[:2]
    for node in down:
        swift.stop("container", node)
    names = [f"obj-{i}" for i in range(5)]
    try:
        for name in names:
            assert http.put(f"/box/{name}", content=name.encode()).status_code == 201
        # deleting one too: its tombstone row must reach the stopped replicas as well
        assert http.delete("/box/obj-0").status_code == 204
    finally:
        for node in down:
            swift.start("container", node)
    assert len(swift.pending_files()) == 6
    for node in down:
        assert replica_listing(swift, http, node, "box") == []

    updater = PendingUpdates(swift.root / "node0", swift.cluster)  # type: ignore[arg-type]
    stats = swift.run(updater.run_once())

    assert (stats.sent, stats.kept) == (6, 0)
    assert swift.pending_files() == []
    for node in primaries:
        assert replica_listing(swift, http, node, "box") == names[1:]
    for name in names[1:]:  # every acknowledged write is there
        assert http.get(f"/box/{name}").content == name.encode()


def test_updater_keeps_a_pending_until_every_replica_took_it(
    swift: SwiftCluster, http: httpx.Client
) -> None:
    assert http.put("/box").status_code == 201
    node = swift.primaries("container", ACCOUNT, "box")[0]
    swift.stop("container", node)
    try:
        assert http.put("/box/late", content=b"x").status_code == 201
        [pending] = swift.pending_files()
        updater = PendingUpdates(swift.root / "node0", swift.cluster)  # type: ignore[arg-type]
        stats = swift.run(updater.run_once())
        assert (stats.sent, stats.kept) == (0, 1)
        assert pending.exists()
    finally:
        swift.start("container", node)
    stats = swift.run(updater.run_once())
    assert (stats.sent, stats.kept) == (1, 0)
    assert swift.pending_files() == []
    assert replica_listing(swift, http, node, "box") == ["late"]
