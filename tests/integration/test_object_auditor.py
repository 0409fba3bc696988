"""The object auditor on real nodes: damage a replica on disk the ways disks do, audit,
and let replication put a good copy back."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from replicas import Replicas, flip_byte, replicas
from swiftclient import client as sc
from swiftcluster import HASHER, SwiftCluster, swift_cluster

from stratus.objectstore.storage.metadata import XATTR_KEY

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
def body(swift: SwiftCluster) -> bytes:
    url = swift.storage_url()
    sc.put_container(url, TOKEN, "c")
    data = os.urandom(3 * (1 << 20) + 17)  # several read chunks
    sc.put_object(url, TOKEN, "c", "o", data)
    return data


def primaries(swift: SwiftCluster) -> list[int]:
    return swift.primaries("object", "AUTH_test", "c", "o")


def assert_restored(reps: Replicas, nodes: list[int], body: bytes) -> None:
    reps.settle()
    for node in nodes:
        assert reps.data_file(node, NAME).read_bytes() == body
    assert sum(s.quarantined for s in reps.audit()) == 0


def test_bit_rot_is_quarantined_and_repaired(
    swift: SwiftCluster, reps: Replicas, body: bytes
) -> None:
    nodes = primaries(swift)
    bad = nodes[1]
    flip_byte(reps.data_file(bad, NAME), len(body) - 5)

    stats = reps.audit()

    assert [s.quarantined for s in stats] == [int(i == bad) for i in range(len(stats))]
    assert sum(s.objects for s in stats) == 2
    assert reps.files(bad, NAME) == []
    quarantined = reps.quarantined(bad)
    assert [p.name for p in quarantined] == [HASHER.hash_name(NAME)]
    assert any(p.suffix == ".data" for p in quarantined[0].iterdir())  # kept to look at
    assert_restored(reps, nodes, body)


def test_unreadable_metadata_is_quarantined(
    swift: SwiftCluster, reps: Replicas, body: bytes
) -> None:
    nodes = primaries(swift)
    os.setxattr(reps.data_file(nodes[0], NAME), XATTR_KEY, b'{"format": 99}')

    assert [s.quarantined for s in reps.audit(nodes[0])] == [1]
    assert_restored(reps, nodes, body)


def test_a_truncated_file_is_quarantined(swift: SwiftCluster, reps: Replicas, body: bytes) -> None:
    nodes = primaries(swift)
    os.truncate(reps.data_file(nodes[2], NAME), 1000)

    assert [s.quarantined for s in reps.audit(nodes[2])] == [1]
    assert_restored(reps, nodes, body)


def test_healthy_objects_are_read_and_left_alone(
    swift: SwiftCluster, reps: Replicas, body: bytes
) -> None:
    url = swift.storage_url()
    for i in range(5):
        sc.put_object(url, TOKEN, "c", f"small-{i}", f"object {i}".encode())
    sc.delete_object(url, TOKEN, "c", "small-0")  # a tombstone has nothing to audit

    stats = reps.audit()

    assert sum(s.quarantined for s in stats) == 0
    assert sum(s.objects for s in stats) == 3 * 5
    small = sum(len(f"object {i}") for i in (1, 2, 3, 4))
    assert sum(s.bytes for s in stats) == 3 * (len(body) + small)
    assert hashlib.md5(reps.data_file(primaries(swift)[0], NAME).read_bytes()).hexdigest() == (
        hashlib.md5(body).hexdigest()
    )


def test_a_get_never_serves_a_corrupt_copy_it_can_check_first(
    swift: SwiftCluster, reps: Replicas
) -> None:
    """Objects that fit in one read are checked before the status goes out: the bad copy
    is quarantined and the proxy reads the next replica, as the auditor would have."""
    url = swift.storage_url()
    sc.put_container(url, TOKEN, "c")
    body = os.urandom(100_000)
    sc.put_object(url, TOKEN, "c", "o", body)
    first = primaries(swift)[0]
    flip_byte(reps.data_file(first, NAME), 99)

    assert sc.get_object(url, TOKEN, "c", "o")[1] == body

    assert [p.name for p in reps.quarantined(first)] == [HASHER.hash_name(NAME)]
    assert_restored(reps, primaries(swift), body)
