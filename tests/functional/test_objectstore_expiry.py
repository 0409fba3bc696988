"""Object expiry under a real ``stratus up``, through the real ``swift`` CLI.

The cloud is this module's own, with the expirer and updater waking every second, so
the session's shared cloud keeps its defaults. Waits poll with a deadline.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from cloudproc import Cloud, free_port

DEADLINE = 60.0


@dataclass
class FastDaemonsCloud(Cloud):
    def env(self) -> dict[str, str]:
        env = super().env()
        env["STRATUS_OBJECTSTORE__EXPIRER_INTERVAL"] = "1"
        env["STRATUS_OBJECTSTORE__UPDATER_INTERVAL"] = "1"
        return env


@pytest.fixture(scope="module")
def fast_cloud(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cloud]:
    state_dir: Path = tmp_path_factory.mktemp("expiry") / "state"
    cloud = FastDaemonsCloud(state_dir=state_dir, identity_port=free_port())
    cloud.start()
    try:
        yield cloud
    finally:
        cloud.stop()


def test_object_with_delete_after_disappears_from_swift_list(
    fast_cloud: Cloud, tmp_path: Path
) -> None:
    container = f"exp-{uuid.uuid4().hex[:8]}"
    fast_cloud.swift("post", container)
    (tmp_path / "brief.txt").write_text("gone soon")
    (tmp_path / "stays.txt").write_text("here to stay")
    fast_cloud.swift(
        "upload", container, "brief.txt", "--header", "X-Delete-After: 2", cwd=tmp_path
    )
    fast_cloud.swift("upload", container, "stays.txt", cwd=tmp_path)
    assert "brief.txt" in fast_cloud.swift("list", container).stdout.split()

    deadline = time.monotonic() + DEADLINE
    while "brief.txt" in fast_cloud.swift("list", container).stdout.split():
        assert time.monotonic() < deadline, "the expirer did not remove brief.txt in time"
        time.sleep(0.5)

    assert fast_cloud.swift("list", container).stdout.split() == ["stays.txt"]
    gone = fast_cloud.swift("stat", container, "brief.txt", check=False)
    assert gone.returncode != 0
    assert "404" in gone.stderr or "Not Found" in gone.stderr
    # the queue is the cluster's own: no client reaches it
    denied = fast_cloud.swift(
        "list", "--os-storage-url", fast_cloud.object_url + "/v1/.expiring_objects", check=False
    )
    assert denied.returncode != 0
    assert "403" in denied.stderr, denied.stderr
