"""Probe tests: real storage-node processes killed, corrupted, wiped and rebalanced under a
real proxy, then repaired by real replication and audit passes (``storagenodes.py``).

Every test ends by reading back every object it was told was stored: an acknowledged
write is never lost, and every one ends up on exactly its ring's primaries.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import threading
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from storagenodes import NODES, StorageNodes, storage_nodes
from swiftclient import client as sc

TOKEN = "unused-with-noauth"


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[StorageNodes]:
    with storage_nodes(tmp_path / "probe") as c:
        try:
            yield c
        except BaseException:
            print(c.logs())
            raise


@pytest.fixture
def url(cluster: StorageNodes) -> str:
    sc.put_container(cluster.url, TOKEN, "c")
    return cluster.url


def put_many(url: str, count: int, size: int = 2000) -> dict[str, bytes]:
    stored = {}
    for i in range(count):
        body = os.urandom(size + i)
        sc.put_object(url, TOKEN, "c", f"o{i}", body)
        stored[f"o{i}"] = body  # acknowledged: must never be lost
    return stored


def assert_all_there(cluster: StorageNodes, url: str, stored: dict[str, bytes]) -> None:
    for name, body in stored.items():
        assert sc.get_object(url, TOKEN, "c", name)[1] == body, name
        assert cluster.holders(name) == set(cluster.primaries(name)), name
        for node in cluster.primaries(name):
            (path,) = cluster.data_files(node, name)
            assert hashlib.md5(path.read_bytes()).digest() == hashlib.md5(body).digest()


def test_a_node_killed_during_a_put_gets_its_copy_back(cluster: StorageNodes, url: str) -> None:
    victim = cluster.primaries("big")[2]
    chunk = os.urandom(1 << 20)
    sent_half = threading.Event()

    def body() -> Iterator[bytes]:
        for i in range(8):
            if i == 4:
                sent_half.set()
                cluster.kill(victim)  # mid-body: its replica never completes
            yield chunk

    response = httpx.put(
        f"{url}/c/big",
        content=body(),
        headers={"Content-Length": str(8 << 20), "X-Auth-Token": TOKEN},
        timeout=60,
    )
    assert sent_half.is_set()
    assert response.status_code == 201  # two of three: a quorum
    assert victim not in cluster.holders("big")

    cluster.start(victim)
    cluster.settle()

    assert_all_there(cluster, url, {"big": chunk * 8})


def flip_byte(path: Path, offset: int) -> None:
    with open(path, "r+b") as handle:
        handle.seek(offset)
        byte = handle.read(1)
        handle.seek(offset)
        handle.write(bytes([byte[0] ^ 0x01]))


def test_bit_rot_is_found_and_repaired(cluster: StorageNodes, url: str) -> None:
    stored = put_many(url, 3, size=200_000)
    read_first = cluster.primaries("o1")[0]  # the copy a GET of o1 reads
    read_never = cluster.primaries("o2")[2]  # a copy GETs of o2 do not read
    flip_byte(cluster.data_files(read_first, "o1")[0], 12345)
    flip_byte(cluster.data_files(read_never, "o2")[0], 54321)

    # the GET checks before it answers: the bad copy is quarantined, another one served
    assert sc.get_object(url, TOKEN, "c", "o1")[1] == stored["o1"]
    assert not cluster.data_files(read_first, "o1")
    assert sc.get_object(url, TOKEN, "c", "o2")[1] == stored["o2"]
    audits = cluster.passes("audit")
    assert [a["quarantined"] for a in audits] == [int(i == read_never) for i in range(NODES)]
    assert not cluster.data_files(read_never, "o2")

    cluster.settle()

    assert_all_there(cluster, url, stored)
    assert sum(a["quarantined"] for a in cluster.passes("audit")) == 0


def test_a_wiped_device_is_refilled(cluster: StorageNodes, url: str) -> None:
    stored = put_many(url, 30)
    wiped = 1
    device = cluster.nodes[wiped].device
    for entry in device.iterdir():
        shutil.rmtree(entry) if entry.is_dir() else entry.unlink()
    assert not any(wiped in cluster.holders(name) for name in stored)

    cluster.settle()

    assert_all_there(cluster, url, stored)
    assert sum(wiped in cluster.primaries(name) for name in stored) > 0


def test_a_rebalance_moves_data_to_the_new_primaries(cluster: StorageNodes, url: str) -> None:
    stored = put_many(url, 30)
    drained = NODES - 1
    before = {name: cluster.primaries(name) for name in stored}
    builder = cluster.builders["object"]
    builder.set_weight(drained, 0)
    builder.rebalance()
    cluster.write_ring("object")
    cluster.wait_for_ring(builder.version)
    moved = [name for name in stored if cluster.primaries(name) != before[name]]
    assert moved, "the rebalance moved nothing"
    assert all(drained not in cluster.primaries(name) for name in stored)
    more = {f"after-{i}": os.urandom(500) for i in range(5)}
    for name, body in more.items():  # writes keep landing during the move
        sc.put_object(url, TOKEN, "c", name, body)

    cluster.settle()

    assert_all_there(cluster, url, {**stored, **more})
    left = list((cluster.nodes[drained].device / "objects").rglob("*.data"))
    assert left == []
