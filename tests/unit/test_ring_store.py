"""Ring and builder files: round trips, corruption, versions and live reloads."""

from __future__ import annotations

import os
import struct
from collections.abc import Callable
from pathlib import Path

import pytest

from stratus.objectstore.ring import RingBuilder, RingFileError, RingLoader, load_ring, save_ring
from stratus.objectstore.ring.store import FORMAT_VERSION, load_builder, save_builder


def builder(clock: list[float]) -> RingBuilder:
    b = RingBuilder(6, 3, 1, hash_prefix="p", hash_suffix="s", clock=lambda: clock[0])
    for n in range(4):
        b.add_device(
            region=1, zone=n + 1, ip=f"10.0.0.{n}", port=6200, device="sdb", weight=100, meta="m"
        )
    b.rebalance()
    return b


def test_ring_round_trip(tmp_path: Path) -> None:
    b = builder([1e9])
    path = tmp_path / "object.ring"
    save_ring(b.to_ring(), path)
    ring = load_ring(path)
    assert ring.version == b.version == 1
    assert ring.devices == tuple(b.devices)
    assert list(ring.table()) == b.table
    assert ring.partition("a", "c", "o") == b.to_ring().partition("a", "c", "o")
    assert oct(path.stat().st_mode & 0o777) == "0o644"


def test_builder_round_trip_keeps_history(tmp_path: Path) -> None:
    clock = [1e9]
    b = builder(clock)
    b.remove_device(0)
    path = tmp_path / "object.builder"
    save_builder(b, path)
    again = load_builder(path, clock=lambda: clock[0])
    assert again.table == b.table
    assert again.last_moved == b.last_moved
    assert again.pending_removal == b.pending_removal
    assert (again.version, again.dirty, again.next_id) == (b.version, b.dirty, b.next_id)
    assert again.rebalance() == b.rebalance()  # same state, same decisions
    assert again.table == b.table


@pytest.mark.parametrize(
    ("damage", "message"),
    [
        (lambda raw: b"junk" + raw[4:], "not a Stratus ring file"),
        (lambda raw: raw[:-10], "truncated or damaged"),
        (lambda raw: raw[:-1] + bytes([raw[-1] ^ 1]), "truncated or damaged"),
        (lambda raw: b"", "not a Stratus ring file"),
        (
            lambda raw: raw[:5] + struct.pack(">H", FORMAT_VERSION + 1) + raw[7:],
            "format version 2",
        ),
    ],
)
def test_bad_files_are_one_clear_error(
    tmp_path: Path, damage: Callable[[bytes], bytes], message: str
) -> None:
    path = tmp_path / "object.ring"
    save_ring(builder([1e9]).to_ring(), path)
    path.write_bytes(damage(path.read_bytes()))
    with pytest.raises(RingFileError, match=message):
        load_ring(path)


def test_builder_file_is_not_a_ring(tmp_path: Path) -> None:
    path = tmp_path / "object.builder"
    save_builder(builder([1e9]), path)
    with pytest.raises(RingFileError, match="not a ring file"):
        load_ring(path)
    with pytest.raises(RingFileError, match="no such file"):
        load_ring(tmp_path / "missing.ring")


def test_loader_reloads_a_new_version(tmp_path: Path) -> None:
    clock = [1e9]
    b = builder(clock)
    path = tmp_path / "object.ring"
    save_ring(b.to_ring(), path)
    now = [0.0]
    loader = RingLoader(path, check_interval=10, clock=lambda: now[0])
    first = loader.ring
    assert first.version == 1

    clock[0] += 7200
    b.add_device(region=1, zone=5, ip="10.0.0.9", port=6200, device="sdb", weight=100)
    b.rebalance()
    save_ring(b.to_ring(), path)
    assert loader.ring is first  # not checked before check_interval
    now[0] = 11
    assert loader.ring.version == 2
    assert len(loader.ring.devices) == 5


def test_loader_skips_same_version_and_keeps_ring_on_bad_file(tmp_path: Path) -> None:
    path = tmp_path / "object.ring"
    save_ring(builder([1e9]).to_ring(), path)
    loader = RingLoader(path, check_interval=0)
    first = loader.ring
    save_ring(builder([1e9]).to_ring(), path)  # rewritten, same version
    assert loader.ring is first
    path.write_bytes(b"garbage")
    os.utime(path, ns=(1, 1))
    assert loader.ring is first  # a bad push never takes the running ring away
    assert not loader.reload()


def test_loader_fails_loudly_at_start(tmp_path: Path) -> None:
    with pytest.raises(RingFileError):
        RingLoader(tmp_path / "object.ring")
