"""`stratus ring ...` as an operator runs it: real processes in a scratch directory."""

from __future__ import annotations

import subprocess
from pathlib import Path

from cloudproc import BIN, clean_env
from stratus.objectstore.ring import load_ring


def ring(directory: Path, *args: str) -> subprocess.CompletedProcess[str]:
    command, name, *rest = args
    return subprocess.run(
        [str(BIN / "stratus"), "ring", command, "--dir", str(directory), name, *rest],
        env=clean_env(),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def ok(directory: Path, *args: str) -> str:
    result = ring(directory, *args)
    assert result.returncode == 0, result.stderr
    return result.stdout


def one_line_error(result: subprocess.CompletedProcess[str], *words: str) -> None:
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("stratus: error:")
    for word in words:
        assert word in lines[0]


def add(directory: Path, zone: int, ip: str, weight: str = "100") -> str:
    return ok(
        directory, "add", "object", "--region", "1", "--zone", str(zone), "--ip", ip,
        "--port", "6200", "--device", "sdb", "--weight", weight,
    )  # fmt: skip


def test_build_a_ring(tmp_path: Path) -> None:
    out = ok(
        tmp_path, "create", "object", "--part-power", "8", "--replicas", "3",
        "--min-part-hours", "1",
    )  # fmt: skip
    assert "256 partitions" in out
    for zone in (1, 2, 3, 4):
        assert "added device" in add(tmp_path, zone, f"127.0.0.{zone}")
    out = ok(tmp_path, "rebalance", "object")
    assert "moved 256 partitions" in out and "balance 0.00%" in out
    ring = load_ring(tmp_path / "object.ring")
    assert (ring.version, ring.replicas, len(ring.devices)) == (1, 3, 4)
    assert "ok:" in ok(tmp_path, "validate", "object")

    out = ok(tmp_path, "show", "object")
    assert "127.0.0.1:6200/sdb" in out and "192" in out

    ok(tmp_path, "set-weight", "object", "127.0.0.4:6200/sdb", "200")
    ok(tmp_path, "remove", "object", "0")
    out = ok(tmp_path, "rebalance", "object")
    assert "moved 192 partitions" in out  # everything on the removed device, nothing more
    ring = load_ring(tmp_path / "object.ring")
    assert ring.version == 2
    assert {d.id for d in ring.devices} == {1, 2, 3}
    assert "ok:" in ok(tmp_path, "validate", "object")


def test_errors_are_one_line(tmp_path: Path) -> None:
    one_line_error(ring(tmp_path, "show", "object"), "object.builder", "no such file")
    ok(tmp_path, "create", "object", "--part-power", "4", "--replicas", "3")
    one_line_error(
        ring(tmp_path, "create", "object", "--part-power", "4", "--replicas", "3"),
        "already exists",
    )
    add(tmp_path, 1, "127.0.0.1")
    again = ("--zone", "1", "--ip", "127.0.0.1", "--port", "6200", "--device", "sdb")
    one_line_error(ring(tmp_path, "add", "object", *again, "--weight", "1"), "already device 0")
    one_line_error(ring(tmp_path, "rebalance", "object"), "at least 3 devices")
    one_line_error(ring(tmp_path, "remove", "object", "7"), "no device 7")
    one_line_error(ring(tmp_path, "validate", "object"), "never rebalanced")
    (tmp_path / "object.builder").write_bytes(b"STRG" + b"\0" * 40)
    one_line_error(ring(tmp_path, "show", "object"), "object.builder")


def test_stale_ring_file_fails_validation(tmp_path: Path) -> None:
    ok(tmp_path, "create", "object", "--part-power", "4", "--replicas", "1")
    add(tmp_path, 1, "127.0.0.1")
    ok(tmp_path, "rebalance", "object")
    ring_file = (tmp_path / "object.ring").read_bytes()
    add(tmp_path, 2, "127.0.0.2")
    ok(tmp_path, "rebalance", "object")
    (tmp_path / "object.ring").write_bytes(ring_file)
    one_line_error(ring(tmp_path, "validate", "object"), "does not match", "rebalance")
