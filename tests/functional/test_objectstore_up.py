"""The object store under ``stratus up``: the real ``swift`` CLI with ``swift.env``, the
``openstack`` CLI and openstacksdk with Keystone tokens, and who may reach which account."""

from __future__ import annotations

import hashlib
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest

from cloudproc import Cloud


def md5_of(path: Path) -> str:
    return hashlib.md5(path.read_bytes()).hexdigest()


def token(cloud: Cloud, name: str) -> dict[str, Any]:
    issued: dict[str, Any] = cloud.openstack("token", "issue", "-f", "json", cloud=name)
    return issued


# openstacksdk warns about its own deprecated internals (InfluxDB, _compute_attributes).
@pytest.mark.filterwarnings("ignore::openstack.warnings._RemovedInSDKWarning")
@pytest.mark.filterwarnings("ignore::PendingDeprecationWarning")
def test_swift_cli_round_trip_with_swift_env(cloud: Cloud, tmp_path: Path) -> None:
    env = cloud.swift_env()
    assert env["ST_AUTH"] == f"{cloud.object_url}/auth/v1.0"
    assert env["ST_USER"] == "demo:demo"
    demo_project = token(cloud, "stratus-demo")["project_id"]
    assert f"AUTH_{demo_project}" in cloud.swift("stat").stdout

    container = f"c-{uuid.uuid4().hex[:8]}"
    cloud.swift("post", container)
    source = tmp_path / "up" / "hello.bin"
    source.parent.mkdir()
    source.write_bytes(uuid.uuid4().bytes * 10_000)
    cloud.swift("upload", container, "hello.bin", cwd=source.parent)
    assert container in cloud.swift("list").stdout.split()
    assert cloud.swift("list", container).stdout.split() == ["hello.bin"]
    target = tmp_path / "down.bin"
    cloud.swift("download", container, "hello.bin", "-o", str(target))
    assert md5_of(target) == md5_of(source)

    # The same account through the catalog, with Keystone tokens.
    listed = cloud.openstack("object", "list", container, "-f", "json", cloud="stratus-demo")
    assert [o["Name"] for o in listed] == ["hello.bin"]
    conn = cloud.sdk("stratus-demo")
    try:
        assert container in [c.name for c in conn.object_store.containers()]
        assert conn.object_store.download_object("hello.bin", container=container) == (
            source.read_bytes()
        )
    finally:
        conn.close()

    cloud.swift("delete", container)
    assert container not in cloud.swift("list").stdout.split()


def test_demo_cannot_reach_the_admin_account_but_admin_can(cloud: Cloud) -> None:
    admin, demo = token(cloud, "stratus-admin"), token(cloud, "stratus-demo")
    admin_account = f"{cloud.object_url}/v1/AUTH_{admin['project_id']}"
    demo_account = f"{cloud.object_url}/v1/AUTH_{demo['project_id']}"
    refused = httpx.get(admin_account, headers={"X-Auth-Token": demo["id"]})
    assert refused.status_code == 403
    assert httpx.get(admin_account, headers={"X-Auth-Token": admin["id"]}).status_code in (200, 204)
    assert httpx.get(demo_account, headers={"X-Auth-Token": admin["id"]}).status_code in (200, 204)
    assert httpx.get(demo_account, headers={"X-Auth-Token": "not-a-token"}).status_code == 401
    assert httpx.get(demo_account).status_code == 401


def test_wrong_credentials_are_refused(cloud: Cloud) -> None:
    env = cloud.swift_env()
    result = cloud.swift("stat", env=env | {"ST_KEY": "wrong"}, check=False)
    assert result.returncode != 0
    assert "401" in result.stderr
    auth = f"{cloud.object_url}/auth/v1.0"
    assert httpx.get(auth, headers={"X-Auth-User": "demo", "X-Auth-Key": "x"}).status_code == 401
    assert httpx.get(auth).status_code == 401
    good = httpx.get(auth, headers={"X-Auth-User": env["ST_USER"], "X-Auth-Key": env["ST_KEY"]})
    assert good.status_code == 200
    assert good.headers["x-storage-url"].startswith(f"{cloud.object_url}/v1/AUTH_")
    assert good.headers["x-auth-token"] == good.headers["x-storage-token"]


def test_catalog_lists_the_object_store(cloud: Cloud) -> None:
    catalog = cloud.openstack("catalog", "list", "-f", "json", cloud="stratus-demo")
    swift = [c for c in catalog if c["Type"] == "object-store"]
    assert swift and swift[0]["Name"] == "swift", catalog
    assert f"{cloud.object_url}/v1/AUTH_" in str(swift[0]["Endpoints"])
