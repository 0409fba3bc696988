"""Image quotas and the size limit, on a cloud of this module's own with small limits."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from cloudproc import Cloud, free_port

MiB = 1 << 20


@pytest.fixture(scope="module")
def small_cloud(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cloud]:
    limits = {
        "STRATUS_IMAGE__QUOTA_IMAGES": "3",
        "STRATUS_IMAGE__QUOTA_IMAGE_BYTES": str(3 * MiB),
        "STRATUS_IMAGE__MAX_IMAGE_SIZE": str(2 * MiB),
    }
    state_dir: Path = tmp_path_factory.mktemp("image-quota") / "state"
    cloud = Cloud(state_dir=state_dir, identity_port=free_port(), extra_env=limits)
    cloud.start()
    try:
        yield cloud
    finally:
        cloud.stop()


def client(cloud: Cloud) -> httpx.Client:
    issued: dict[str, Any] = cloud.openstack("token", "issue", "-f", "json", cloud="stratus-demo")
    headers = {"X-Auth-Token": issued["id"]}
    return httpx.Client(base_url=cloud.image_url, headers=headers, timeout=60)


def new_image(http: httpx.Client) -> httpx.Response:
    return http.post("/v2/images", json={"disk_format": "raw", "container_format": "bare"})


def test_size_limit_byte_quota_and_image_count(small_cloud: Cloud) -> None:
    with client(small_cloud) as http:
        first = new_image(http).json()["id"]
        # over the size limit, declared up front and streamed (chunked): 413, no data kept
        too_big = http.put(f"/v2/images/{first}/file", content=os.urandom(2 * MiB + 1))
        assert too_big.status_code == 413
        streamed = http.put(f"/v2/images/{first}/file", content=iter([os.urandom(MiB)] * 3))
        assert streamed.status_code == 413
        assert http.get(f"/v2/images/{first}").json()["status"] == "queued"
        assert not list((small_cloud.state_dir / "images").iterdir())
        assert http.put(f"/v2/images/{first}/file", content=os.urandom(2 * MiB)).status_code == 204

        second = new_image(http).json()["id"]  # 2 MiB used of 3: 1 MiB left
        over = http.put(f"/v2/images/{second}/file", content=os.urandom(MiB + 1))
        assert over.status_code == 413
        assert http.put(f"/v2/images/{second}/file", content=os.urandom(MiB)).status_code == 204

        third = new_image(http)
        assert third.status_code == 201
        refused = new_image(http)
        assert refused.status_code == 413
        assert "Maximum number of images" in refused.json()["message"]
        assert http.delete(f"/v2/images/{first}").status_code == 204
        assert new_image(http).status_code == 201
