"""Container and account replication between real servers, one pass at a time.

Replicas are made to diverge by writing to each container or account server directly
(as a proxy would when a replica missed some updates); one replicator pass on every node
must leave every replica with the same rows, deletes, metadata and counts. Passes are
run directly (``DbReplication.run_once``), never waited for.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from swiftcluster import HASHER, NODES, SwiftCluster, swift_cluster

from stratus.objectstore.daemons.db_replication import DbReplication, ReplicationStats
from stratus.objectstore.dbs.dbfile import DbConfig, DbKind, db_hash, locate

ACCOUNT = "AUTH_test"


@pytest.fixture
def swift(tmp_path: Path) -> Iterator[SwiftCluster]:
    with swift_cluster(tmp_path / "cluster") as c:
        yield c


@pytest.fixture
def http() -> Iterator[httpx.Client]:
    with httpx.Client(timeout=30) as client:
        yield client


def now() -> str:
    return f"{time.time():.5f}"


def replicate(c: SwiftCluster, kind: DbKind, **config: float) -> list[ReplicationStats]:
    """One pass on every node, in node order; the stats of each."""
    ring = "container" if kind is DbKind.CONTAINER else "account"
    stats: list[ReplicationStats] = []
    for i in range(NODES):
        engine = DbReplication(
            kind, c.root / f"node{i}", lambda: c.rings[ring], DbConfig(fsync=False, **config)
        )
        try:
            stats.append(c.run(engine.run_once()))
        finally:
            c.run(engine.close())
    return stats


class Db:
    """Direct HTTP to one node's container or account server for one name."""

    def __init__(
        self, client: httpx.Client, c: SwiftCluster, kind: str, node: int, *names: str
    ) -> None:
        part = c.rings[kind].partition(*names)
        port = c.servers[kind][node].port
        self.base = f"http://127.0.0.1:{port}/d{node}/{part}/" + "/".join(names)
        self.client = client

    def send(self, method: str, sub: str = "", **headers: str) -> httpx.Response:
        url = self.base + (f"/{sub}" if sub else "")
        response = self.client.request(method, url, headers={"X-Timestamp": now(), **headers})
        assert response.status_code < 300, (method, url, response.status_code, response.text)
        return response

    def listing(self) -> list[dict[str, object]]:
        entries: list[dict[str, object]] = json.loads(self.send("GET").content)
        return entries

    def head(self) -> httpx.Headers:
        return self.send("HEAD").headers


def test_diverged_container_replicas_converge(swift: SwiftCluster, http: httpx.Client) -> None:
    names = (ACCOUNT, "cont")
    a, b, c = (
        Db(http, swift, "container", n, *names) for n in swift.primaries("container", *names)
    )
    for db in (a, b, c):
        db.send("PUT")
    row = {"X-Content-Type": "text/plain", "X-Etag": "e"}
    a.send("PUT", "o1", **row, **{"X-Size": "10"})
    a.send("PUT", "o2", **row, **{"X-Size": "20"})
    a.send("POST", **{"X-Container-Meta-Color": "red"})
    b.send("PUT", "o3", **row, **{"X-Size": "30"})
    b.send("DELETE", "o1")  # newer than a's PUT of o1: o1 is gone everywhere
    b.send("POST", **{"X-Container-Meta-Shape": "round"})
    assert [e["name"] for e in c.listing()] == []

    stats = replicate(swift, DbKind.CONTAINER)

    assert sum(s.rows_pushed for s in stats) > 0
    for db in (a, b, c):
        assert [(e["name"], e["bytes"]) for e in db.listing()] == [("o2", 20), ("o3", 30)]
        head = db.head()
        assert head["X-Container-Object-Count"] == "2"
        assert head["X-Container-Bytes-Used"] == "50"
        assert head["X-Container-Meta-Color"] == "red"
        assert head["X-Container-Meta-Shape"] == "round"
    # a second pass finds nothing to send
    assert sum(s.rows_pushed for s in replicate(swift, DbKind.CONTAINER)) == 0


def test_diverged_account_replicas_converge(swift: SwiftCluster, http: httpx.Client) -> None:
    a, b, c = (Db(http, swift, "account", n, ACCOUNT) for n in swift.primaries("account", ACCOUNT))
    for db in (a, b, c):
        db.send("PUT")

    def report(db: Db, name: str, count: int, used: int, put: str = "", delete: str = "") -> str:
        ts = now()
        headers = {
            "X-Put-Timestamp": put or ts,
            "X-Object-Count": str(count),
            "X-Bytes-Used": str(used),
            "X-Backend-Stats-Timestamp": ts,
        }
        if delete:
            headers["X-Delete-Timestamp"] = delete
        db.send("PUT", name, **headers)
        return ts

    report(a, "c1", 1, 100)
    report(a, "c2", 2, 200)
    report(b, "c2", 5, 500)  # measured later: the counts that win
    c3_put = report(b, "c3", 0, 0)
    report(b, "c3", 0, 0, put=c3_put, delete=now())  # c3 deleted after its put
    a.send("POST", **{"X-Account-Meta-Owner": "ops"})

    replicate(swift, DbKind.ACCOUNT)

    for db in (a, b, c):
        assert [(e["name"], e["count"]) for e in db.listing()] == [("c1", 1), ("c2", 5)]
        head = db.head()
        assert head["X-Account-Container-Count"] == "2"
        assert head["X-Account-Object-Count"] == "6"
        assert head["X-Account-Bytes-Used"] == "600"
        assert head["X-Account-Meta-Owner"] == "ops"


def db_file(c: SwiftCluster, node: int, *names: str) -> Path:
    part = c.rings["container"].partition(*names)
    name_hash = db_hash(HASHER, *names)
    loc = locate(c.root / f"node{node}", DbKind.CONTAINER, f"d{node}", part, name_hash)
    return loc.path


def test_handoff_db_reverts_to_primaries_and_is_removed(
    swift: SwiftCluster, http: httpx.Client
) -> None:
    names = (ACCOUNT, "moved")
    primaries = [
        Db(http, swift, "container", n, *names) for n in swift.primaries("container", *names)
    ]
    [handoff_node] = swift.handoffs("container", *names)[:1]
    handoff = Db(http, swift, "container", handoff_node, *names)
    handoff.send("PUT")  # e.g. written while the primaries were down
    handoff.send("PUT", "only-on-handoff", **{"X-Size": "7", "X-Content-Type": "t", "X-Etag": "e"})
    assert db_file(swift, handoff_node, *names).is_file()

    stats = replicate(swift, DbKind.CONTAINER)

    assert sum(s.handoffs_removed for s in stats) == 1
    assert not db_file(swift, handoff_node, *names).exists()
    for db in primaries:
        assert [e["name"] for e in db.listing()] == ["only-on-handoff"]
        assert db.head()["X-Container-Object-Count"] == "1"
    # the handoff's server still answers (404, no stale open file)
    gone = http.get(handoff.base)
    assert gone.status_code == 404


def test_long_deleted_db_is_reclaimed(swift: SwiftCluster, http: httpx.Client) -> None:
    names = (ACCOUNT, "old")
    node = swift.primaries("container", *names)[0]
    db = Db(http, swift, "container", node, *names)
    db.send("PUT")
    db.send("PUT", "o", **{"X-Size": "1", "X-Content-Type": "t", "X-Etag": "e"})
    db.send("DELETE", "o")
    db.send("DELETE")
    assert db_file(swift, node, *names).is_file()

    kept = replicate(swift, DbKind.CONTAINER)  # default reclaim age: a week
    assert sum(s.reclaimed for s in kept) == 0
    assert db_file(swift, node, *names).is_file()

    stats = replicate(swift, DbKind.CONTAINER, reclaim_age=0.0)
    assert sum(s.reclaimed for s in stats) >= 1
    for n in swift.primaries("container", *names):
        assert not db_file(swift, n, *names).exists()
