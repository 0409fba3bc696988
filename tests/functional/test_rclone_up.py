"""rclone against the object store under ``stratus up``: a swift remote configured from
``swift.env`` (v1 auth) through rclone's environment variables, then ``copy``,
``sync`` (which deletes what the source lacks), ``check`` and a chunked upload."""

from __future__ import annotations

import os
import shutil
import subprocess
import uuid
from pathlib import Path

import pytest

from cloudproc import Cloud, clean_env

RCLONE = shutil.which("rclone")
pytestmark = pytest.mark.skipif(RCLONE is None, reason="rclone is not installed")
TREE = {
    "top.txt": b"top level\n",
    "docs/readme.md": b"# readme\n" * 50,
    "docs/deep/nested/leaf.bin": os.urandom(70_000),
    "docs/deep/empty.txt": b"",
    "média/ünïcode.txt": "ünïcode ✓\n".encode(),
}


def rclone(cloud: Cloud, tmp: Path, *args: str) -> str:
    env = cloud.swift_env()
    remote = {
        "RCLONE_CONFIG": str(tmp / "rclone.conf"),
        "RCLONE_CONFIG_STRATUS_TYPE": "swift",
        "RCLONE_CONFIG_STRATUS_AUTH": env["ST_AUTH"],
        "RCLONE_CONFIG_STRATUS_USER": env["ST_USER"],
        "RCLONE_CONFIG_STRATUS_KEY": env["ST_KEY"],
        "RCLONE_CONFIG_STRATUS_AUTH_VERSION": "1",
    }
    assert RCLONE is not None
    result = subprocess.run(
        [RCLONE, *args],
        env=clean_env() | remote,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, f"rclone {' '.join(args)}: {result.stderr}"
    return result.stdout


def write_tree(root: Path, files: dict[str, bytes]) -> None:
    for name, data in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_bytes(data)


def remote_names(cloud: Cloud, tmp: Path, container: str) -> set[str]:
    return set(
        rclone(cloud, tmp, "lsf", "-R", "--files-only", f"stratus:{container}").split("\n")
    ) - {""}


def test_rclone_copy_sync_and_check(cloud: Cloud, tmp_path: Path) -> None:
    source = tmp_path / "src"
    write_tree(source, TREE)
    container = f"rc-{uuid.uuid4().hex[:8]}"
    rclone(cloud, tmp_path, "mkdir", f"stratus:{container}")
    rclone(cloud, tmp_path, "copy", str(source), f"stratus:{container}")
    assert remote_names(cloud, tmp_path, container) == set(TREE)
    rclone(cloud, tmp_path, "check", str(source), f"stratus:{container}")

    # an extra object on the remote, a changed and a removed file locally
    extra = tmp_path / "extra"
    write_tree(extra, {"stray.txt": b"only remote\n"})
    rclone(cloud, tmp_path, "copy", str(extra), f"stratus:{container}")
    (source / "top.txt").write_bytes(b"changed\n")
    (source / "docs/readme.md").unlink()
    rclone(cloud, tmp_path, "sync", str(source), f"stratus:{container}")
    assert remote_names(cloud, tmp_path, container) == set(TREE) - {"docs/readme.md"}
    rclone(cloud, tmp_path, "check", str(source), f"stratus:{container}")
    assert rclone(cloud, tmp_path, "cat", f"stratus:{container}/top.txt") == "changed\n"

    back = tmp_path / "back"
    rclone(cloud, tmp_path, "copy", f"stratus:{container}", str(back))
    for name in set(TREE) - {"docs/readme.md"}:
        assert (back / name).read_bytes() == (source / name).read_bytes()
    rclone(cloud, tmp_path, "purge", f"stratus:{container}")


def test_rclone_chunked_upload(cloud: Cloud, tmp_path: Path) -> None:
    source = tmp_path / "src"
    data = os.urandom(5 * 1024 * 1024 + 123)
    write_tree(source, {"big.bin": data})
    container = f"rcbig-{uuid.uuid4().hex[:8]}"
    rclone(cloud, tmp_path, "copy", "--swift-chunk-size", "1M", str(source), f"stratus:{container}")
    listed = rclone(cloud, tmp_path, "lsl", f"stratus:{container}")
    assert str(len(data)) in listed
    segments = remote_names(cloud, tmp_path, f"{container}_segments")
    assert len(segments) == 6  # five of 1 MiB and the rest
    back = tmp_path / "back"
    rclone(cloud, tmp_path, "copy", f"stratus:{container}", str(back))
    assert (back / "big.bin").read_bytes() == data
    rclone(cloud, tmp_path, "check", str(source), f"stratus:{container}")
    rclone(cloud, tmp_path, "purge", f"stratus:{container}")
