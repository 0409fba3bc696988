"""``stratus up`` with the storage servers in worker processes (``[objectstore] workers``):
they serve the swift CLI, one that dies is replaced, and a stop leaves none behind."""

from __future__ import annotations

import os
import signal
import time
import uuid
from pathlib import Path

from cloudproc import Cloud, free_port

WORKER_MODULE = b"stratus.cli.storage_workers"


def storage_workers(parent: int) -> set[int]:
    """The pids of ``parent``'s children running the storage worker module."""
    found = set()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            cmdline = (entry / "cmdline").read_bytes()
        except OSError:
            continue
        ppid = int(stat.rpartition(")")[2].split()[1])
        if ppid == parent and WORKER_MODULE in cmdline:
            found.add(int(entry.name))
    return found


def alive(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rpartition(")")[2].split()[0] != "Z"


def round_trip(cloud: Cloud, tmp_path: Path) -> None:
    container = f"w-{uuid.uuid4().hex[:8]}"
    source = tmp_path / f"src-{container}" / "obj.bin"
    source.parent.mkdir()
    source.write_bytes(os.urandom(200_000))
    cloud.swift("upload", container, "obj.bin", cwd=source.parent)
    assert cloud.swift("list", container).stdout.split() == ["obj.bin"]
    target = tmp_path / f"down-{container}.bin"
    cloud.swift("download", container, "obj.bin", "-o", str(target))
    assert target.read_bytes() == source.read_bytes()


def test_storage_servers_in_worker_processes(tmp_path: Path) -> None:
    cloud = Cloud(state_dir=tmp_path / "state", identity_port=free_port())
    cloud.extra_env["STRATUS_OBJECTSTORE__WORKERS"] = "2"
    cloud.start()
    workers: set[int] = set()
    try:
        assert cloud.proc is not None
        workers = storage_workers(cloud.proc.pid)
        assert len(workers) == 2
        round_trip(cloud, tmp_path)

        # A worker that dies is replaced, and the store keeps serving.
        killed = min(workers)
        os.kill(killed, signal.SIGKILL)
        deadline = time.monotonic() + 30
        while True:
            now = storage_workers(cloud.proc.pid)
            if len(now) == 2 and killed not in now:
                break
            assert time.monotonic() < deadline, f"no replacement for worker {killed}: {now}"
            time.sleep(0.1)
        workers |= now
        round_trip(cloud, tmp_path)
    finally:
        code = cloud.stop()
    assert code == 0
    assert not [pid for pid in workers if alive(pid)]


def test_workers_exit_when_stratus_up_is_killed(tmp_path: Path) -> None:
    """SIGKILL gives ``stratus up`` no chance to stop its children: they see their stdin
    pipe close and stop by themselves, so no orphan keeps serving the ports."""
    cloud = Cloud(state_dir=tmp_path / "state", identity_port=free_port())
    cloud.extra_env["STRATUS_OBJECTSTORE__WORKERS"] = "2"
    cloud.start()
    workers: set[int] = set()
    try:
        assert cloud.proc is not None
        workers = storage_workers(cloud.proc.pid)
        assert len(workers) == 2
        cloud.proc.kill()
        cloud.proc.wait()
        deadline = time.monotonic() + 15
        while [pid for pid in workers if alive(pid)]:
            assert time.monotonic() < deadline, "storage workers outlived stratus up"
            time.sleep(0.1)
    finally:
        cloud.stop()
        for pid in workers:  # only if the assertion above failed: never leave them behind
            if alive(pid):
                os.kill(pid, signal.SIGKILL)
