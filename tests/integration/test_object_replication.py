"""The object replicator against real object servers (``swiftcluster``: four nodes, one
device and one object server each, a 3-replica ring), writes going through the real proxy
or straight to one backend to build the disagreements replication must resolve."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from replicas import Replicas, flip_byte, replicas
from swiftclient import client as sc
from swiftcluster import HASHER, SwiftCluster, swift_cluster

from stratus.objectstore.daemons.object_handoffs import remove_reverted, snapshot
from stratus.objectstore.storage.config import DiskConfig, MetadataStore
from stratus.objectstore.storage.diskfile import DiskFileManager
from stratus.objectstore.storage.hashes import invalidate
from stratus.objectstore.storage.layout import ObjectAddress
from stratus.objectstore.storage.metadata import ObjectMetadata
from stratus.objectstore.storage.timestamp import Timestamp

TOKEN = "unused-with-noauth"
NAME = "/AUTH_test/c/o"


@pytest.fixture
def swift(tmp_path: Path) -> Iterator[SwiftCluster]:
    with swift_cluster(tmp_path / "cluster") as c:
        yield c


@pytest.fixture
def reps(swift: SwiftCluster) -> Iterator[Replicas]:
    with replicas(swift) as r:
        yield r


@pytest.fixture
def url(swift: SwiftCluster) -> str:
    sc.put_container(swift.storage_url(), TOKEN, "c")
    return swift.storage_url()


def primaries(swift: SwiftCluster, name: str = NAME) -> list[int]:
    return swift.primaries("object", *name[1:].split("/", 2))


def direct(
    swift: SwiftCluster, node: int, method: str, name: str = NAME, **kwargs: object
) -> httpx.Response:
    """A request straight to one node's object server, as the proxy would send it."""
    account, container, obj = name[1:].split("/", 2)
    part = swift.rings["object"].partition(account, container, obj)
    port = swift.servers["object"][node].port
    target = f"http://127.0.0.1:{port}/d{node}/{part}{name}"
    return httpx.request(method, target, timeout=30, **kwargs)  # type: ignore[arg-type]


def ts(seconds_ago: float = 0.0) -> str:
    return Timestamp.from_seconds(time.time() - seconds_ago).internal


def lose(reps: Replicas, node: int, name: str = NAME) -> None:
    """The object vanishes from one node, which notices (as after a quarantine)."""
    hash_dir = reps.hash_dir(node, name)
    shutil.rmtree(hash_dir)
    invalidate(hash_dir.parent.parent, hash_dir.parent.name)


def test_a_lost_replica_comes_back_with_every_fact(
    swift: SwiftCluster, reps: Replicas, url: str
) -> None:
    body = os.urandom(300_000)
    later = str(int(time.time()) + 3600)
    meta = {"X-Object-Meta-Color": "blue", "X-Delete-At": later}
    sc.put_object(url, TOKEN, "c", "o", body, content_type="text/x-one", headers=meta)
    sc.post_object(url, TOKEN, "c", "o", {"Content-Type": "text/x-two"})
    sc.post_object(url, TOKEN, "c", "o", {"X-Object-Meta-Shape": "round", "X-Delete-At": later})
    nodes = primaries(swift)
    want = reps.metadata(nodes[0], NAME)
    # the POST that set the type stays under the newer one, which replaced the rest
    assert [n[-5:] for n in want] == [".data", ".meta", ".meta"]
    shutil.rmtree(reps.hash_dir(nodes[1], NAME))  # noticed by the first (full) pass

    reps.settle()

    assert set(reps.all_copies(NAME)) == set(nodes)
    for node in nodes:
        assert reps.metadata(node, NAME) == want
    restored = direct(swift, nodes[1], "GET")
    assert restored.content == body
    assert restored.headers["content-type"] == "text/x-two"
    assert restored.headers["x-object-meta-shape"] == "round"
    assert restored.headers["x-delete-at"] == later


def test_newer_metadata_survives_older_data_arriving(swift: SwiftCluster, reps: Replicas) -> None:
    """Replicas that saw different writes converge on the newest data and the newest
    POST above it, whichever order the versions arrive in."""
    a, b, c = primaries(swift)
    t0, t1, t2 = ts(3), ts(2), ts(1)
    assert direct(swift, a, "PUT", content=b"old", headers={"X-Timestamp": t0}).status_code == 201
    posted = direct(swift, a, "POST", headers={"X-Timestamp": t2, "X-Object-Meta-K": "v"})
    assert posted.status_code == 202
    new = direct(swift, b, "PUT", content=b"new", headers={"X-Timestamp": t1})
    assert new.status_code == 201

    reps.settle()

    for node in (a, b, c):
        assert reps.files(node, NAME) == [f"{t1}.data", f"{t2}.meta"]
        got = direct(swift, node, "GET")
        assert (got.content, got.headers["x-object-meta-k"]) == (b"new", "v")


def test_a_delete_reaches_every_replica(swift: SwiftCluster, reps: Replicas, url: str) -> None:
    sc.put_object(url, TOKEN, "c", "o", b"doomed")
    a, b, c = primaries(swift)
    gone = ts()
    assert direct(swift, a, "DELETE", headers={"X-Timestamp": gone}).status_code == 204

    reps.settle()

    for node in (a, b, c):
        assert reps.files(node, NAME) == [f"{gone}.ts"]
    with pytest.raises(sc.ClientException) as info:
        sc.get_object(url, TOKEN, "c", "o")
    assert info.value.http_status == 404


def test_tombstones_older_than_the_reclaim_age_are_forgotten(
    swift: SwiftCluster, reps: Replicas
) -> None:
    a = primaries(swift)[0]
    week_and_a_day = ts(8 * 24 * 3600)
    assert direct(swift, a, "DELETE", headers={"X-Timestamp": week_and_a_day}).status_code == 404
    assert reps.files(a, NAME) == [f"{week_and_a_day}.ts"]

    reps.settle()

    assert reps.all_copies(NAME) == {}


def test_a_corrupt_copy_is_quarantined_not_spread(
    swift: SwiftCluster, reps: Replicas, url: str
) -> None:
    body = os.urandom(50_000)
    sc.put_object(url, TOKEN, "c", "o", body)
    a, b, c = primaries(swift)
    flip_byte(reps.data_file(a, NAME), 1000)
    lose(reps, b)

    stats = reps.replicate(a)[0]

    assert stats.quarantined == 1
    assert [p.name for p in reps.quarantined(a)] == [HASHER.hash_name(NAME)]
    assert reps.files(a, NAME) == reps.files(b, NAME) == []
    reps.settle()
    for node in (a, b, c):
        assert hashlib.md5(reps.data_file(node, NAME).read_bytes()).digest() == (
            hashlib.md5(body).digest()
        )


def test_a_handoff_reverts_to_the_primary_and_empties(
    swift: SwiftCluster, reps: Replicas, url: str
) -> None:
    a, b, c = primaries(swift)
    swift.stop("object", c)
    try:
        sc.put_object(url, TOKEN, "c", "o", b"kept by a stand-in")
    finally:
        swift.start("object", c)
    handoff = swift.handoffs("object", "AUTH_test", "c", "o")[0]
    assert reps.files(handoff, NAME) and not reps.files(c, NAME)
    partition = reps.hash_dir(handoff, NAME).parent.parent

    reps.settle()

    assert set(reps.all_copies(NAME)) == {a, b, c}
    assert not partition.exists()
    assert sc.get_object(url, TOKEN, "c", "o")[1] == b"kept by a stand-in"


def test_sidecar_metadata_travels_like_xattrs(swift: SwiftCluster, reps: Replicas) -> None:
    """A node whose filesystem refused xattrs sends the same facts as any other."""
    a, b, c = primaries(swift)
    sidecars = DiskFileManager(
        swift.device(a).parent,
        hasher=HASHER,
        config=DiskConfig(fsync=False, metadata_store=MetadataStore.SIDECAR),
    )
    account, container, obj = NAME[1:].split("/", 2)
    part = swift.rings["object"].partition(account, container, obj)
    addr = ObjectAddress(f"d{a}", part, account, container, obj)
    meta = ObjectMetadata(NAME, Timestamp.now(), content_type="a/b", user_meta={"x": "y"})

    async def write() -> None:
        writer = await sidecars.create(addr, meta.timestamp)
        async with writer:
            await writer.write(b"sidecar body")
            await writer.commit(meta)

    swift.run(write())
    assert any(n.endswith(".json") for n in os.listdir(reps.hash_dir(a, NAME)))

    reps.settle()

    want = reps.metadata(a, NAME)
    for node in (b, c):
        assert reps.metadata(node, NAME) == want
        assert direct(swift, node, "GET").content == b"sidecar body"


def test_the_push_is_checked_like_any_write(swift: SwiftCluster, reps: Replicas) -> None:
    node = primaries(swift)[0]
    now = Timestamp.now()
    data = ObjectMetadata(NAME, now, content_length=4, etag=hashlib.md5(b"body").hexdigest())

    def push(meta: ObjectMetadata, ext: str, body: bytes = b"", name: str = NAME) -> int:
        headers = {
            "X-Backend-Replicated-Version": f"{meta.timestamp.internal}{ext}",
            "X-Backend-Replicated-Metadata": meta.to_bytes().decode(),
        }
        return direct(swift, node, "PUT", name, content=body, headers=headers).status_code

    assert push(data, ".data", b"bad!") == 422
    assert push(data, ".data", b"body", name="/AUTH_test/c/other") == 400
    assert push(data.updated(etag=None), ".data", b"body") == 400
    later = ObjectMetadata(NAME, Timestamp(now.ticks + 1), user_meta={"k": "v"})
    assert push(later, ".meta") == 201  # a .meta may arrive before its data
    assert push(data, ".data", b"body") == 201
    assert push(data, ".data", b"body") == 409
    assert direct(swift, node, "GET").headers["x-object-meta-k"] == "v"
    part = reps.hash_dir(node, NAME).parent.parent.name
    port = swift.servers["object"][node].port
    suffix = HASHER.hash_name(NAME)[-3:]
    listing = httpx.get(f"http://127.0.0.1:{port}/d{node}/{part}/{suffix}").json()
    assert json.dumps(listing) == json.dumps(
        {HASHER.hash_name(NAME): [f"{now.internal}.data", f"{later.timestamp.internal}.meta"]}
    )


async def test_reversion_keeps_a_write_that_landed_during_the_sync(tmp_path: Path) -> None:
    """Only the files listed before the sync go; the partition goes once it is empty."""
    (tmp_path / "d0").mkdir()
    disk = DiskFileManager(tmp_path, hasher=HASHER, config=DiskConfig(fsync=False))
    first = ObjectAddress("d0", 5, "AUTH_test", "c", "first")
    late = ObjectAddress("d0", 5, "AUTH_test", "c", "late")
    await disk.delete(first, Timestamp.now())
    partition_dir = disk.device("d0").partition(5)
    sent = snapshot(partition_dir)
    await disk.delete(late, Timestamp.now())  # arrives while the primaries are synced

    assert not remove_reverted(partition_dir, sent)

    assert not disk.locate(first).hash_dir.exists()
    assert os.listdir(disk.locate(late).hash_dir)
    assert remove_reverted(partition_dir, snapshot(partition_dir))
    assert not partition_dir.exists()
