"""The object daemons' pure decisions: which devices are local, what a peer lacks, and
that both daemons are services ``stratus up`` and ``stratus serve`` can run."""

from __future__ import annotations

from pathlib import Path

from stratus import services
from stratus.objectstore.daemons.local_devices import LocalNode, local_devices, partitions
from stratus.objectstore.daemons.object_sync import missing_on_peer, object_path
from stratus.objectstore.daemons.periodic import PeriodicDaemon
from stratus.objectstore.ring import RingBuilder
from stratus.objectstore.storage.layout import FileName
from stratus.objectstore.storage.timestamp import Timestamp


def test_both_daemons_run_all_in_one_and_alone() -> None:
    for name in ("object-replicator", "object-auditor"):
        assert name in services.ALL_IN_ONE
        daemon = services.create(name)
        assert isinstance(daemon, PeriodicDaemon)
        assert daemon.name == name


def test_local_devices_are_this_nodes_address_port_and_present(tmp_path: Path) -> None:
    builder = RingBuilder(4, 2, 0)
    for i, (ip, port) in enumerate(
        [("10.0.0.1", 6200), ("10.0.0.1", 6200), ("10.0.0.1", 7200), ("10.0.0.2", 6200)]
    ):
        builder.add_device(region=1, zone=i, ip=ip, port=port, device=f"d{i}", weight=1)
    builder.rebalance()
    ring = builder.to_ring()
    for i in (0, 2, 3):  # d1 is absent: its disk is not there
        (tmp_path / f"d{i}").mkdir()

    node = LocalNode(tmp_path, frozenset({"10.0.0.1"}), 6200)
    assert [d.device for d in local_devices(ring, node)] == ["d0"]
    any_port = LocalNode(tmp_path, frozenset({"10.0.0.1"}), None)
    assert [d.device for d in local_devices(ring, any_port)] == ["d0", "d2"]


def test_partitions_are_numbered_directories(tmp_path: Path) -> None:
    for name in ("7", "12", "junk", "3"):
        (tmp_path / name).mkdir()
    (tmp_path / "5").write_text("not a dir")
    assert partitions(tmp_path) == [3, 7, 12]
    assert partitions(tmp_path / "missing") == []


def v(seconds: int, ext: str) -> FileName:
    return FileName.of(Timestamp.from_seconds(seconds), ext)


def test_a_peer_is_sent_only_what_it_lacks_and_would_keep() -> None:
    long_ago = Timestamp.from_seconds(50)
    mine = [v(100, ".data"), v(300, ".meta")]
    assert missing_on_peer(mine, [], long_ago) == mine
    assert missing_on_peer(mine, [v(100, ".data").name], long_ago) == [v(300, ".meta")]
    # newer data there: our data and our older POST are both old news
    assert missing_on_peer(mine, [v(400, ".data").name], long_ago) == []
    # a peer with newer data but older than our POST still takes the POST
    assert missing_on_peer(mine, [v(200, ".data").name], long_ago) == [v(300, ".meta")]
    # tombstones past the reclaim age are not brought back to a peer that forgot them
    assert missing_on_peer([v(10, ".ts")], [], long_ago) == []


def test_object_paths_are_quoted_whole() -> None:
    assert object_path("d1", 7, "/AUTH_a/c c/x/../y") == "/d1/7/AUTH_a/c%20c/x/%2E%2E/y"
