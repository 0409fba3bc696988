"""Object versioning and quotas under ``stratus up``, through the real ``swift`` CLI,
python-swiftclient and Keystone tokens (demo is a member, admin an administrator)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from swiftclient import client as sc

from cloudproc import Cloud


def token(cloud: Cloud, name: str) -> dict[str, Any]:
    issued: dict[str, Any] = cloud.openstack("token", "issue", "-f", "json", cloud=name)
    return issued


def unique(kind: str) -> str:
    return f"{kind}-{uuid.uuid4().hex[:8]}"


@pytest.fixture
def demo(cloud: Cloud) -> tuple[str, str]:
    """The demo account's storage URL and a token for it (v1 auth, as swift.env does)."""
    env = cloud.swift_env()
    url, auth_token = sc.get_auth(env["ST_AUTH"], env["ST_USER"], env["ST_KEY"])
    return url, auth_token


def test_versions_location_with_the_swift_cli(cloud: Cloud, tmp_path: Path) -> None:
    container, versions = unique("docs"), unique("docs-v")
    cloud.swift("post", versions)
    cloud.swift("post", "-H", f"X-Versions-Location: {versions}", container)
    source = tmp_path / "report.txt"
    for text in ("first draft", "second draft"):
        source.write_text(text)
        cloud.swift("upload", container, source.name, cwd=tmp_path)
    archived = cloud.swift("list", versions).stdout.split()
    assert len(archived) == 1
    assert archived[0].startswith("00areport.txt/")
    target = tmp_path / "down.txt"
    cloud.swift("download", container, "report.txt", "-o", str(target))
    assert target.read_text() == "second draft"
    cloud.swift("delete", container, "report.txt")  # restores the first draft
    cloud.swift("download", container, "report.txt", "-o", str(target))
    assert target.read_text() == "first draft"
    assert cloud.swift("list", versions).stdout.split() == []
    cloud.swift("delete", container)
    cloud.swift("delete", versions)


def test_history_location_with_python_swiftclient(demo: tuple[str, str]) -> None:
    url, auth = demo
    container, history = unique("ledger"), unique("ledger-h")
    sc.put_container(url, auth, history)
    sc.put_container(url, auth, container, headers={"X-History-Location": history})
    assert sc.head_container(url, auth, container)["x-history-location"] == history
    sc.put_object(url, auth, container, "entry", b"one")
    sc.put_object(url, auth, container, "entry", b"two")
    sc.delete_object(url, auth, container, "entry")
    with pytest.raises(sc.ClientException) as info:
        sc.head_object(url, auth, container, "entry")
    assert info.value.http_status == 404
    listed = sc.get_container(url, auth, history)[1]
    assert [o["bytes"] for o in listed] == [3, 3, 0]
    assert listed[-1]["content_type"].startswith("application/x-deleted")
    for obj in listed:
        sc.delete_object(url, auth, history, obj["name"])
    sc.delete_container(url, auth, history)
    sc.delete_container(url, auth, container)


@pytest.fixture
def demo_quota_cleared(cloud: Cloud) -> Iterator[str]:
    """The demo account's URL; any account quota set on it is removed afterwards."""
    admin = token(cloud, "stratus-admin")
    account = f"{cloud.object_url}/v1/AUTH_{token(cloud, 'stratus-demo')['project_id']}"
    yield account
    remove = {"X-Auth-Token": admin["id"], "X-Remove-Account-Meta-Quota-Bytes": "x"}
    assert httpx.post(account, headers=remove).status_code == 204


def test_account_quota_is_the_admins(cloud: Cloud, tmp_path: Path, demo_quota_cleared: str) -> None:
    account = demo_quota_cleared
    refused = cloud.swift("post", "-m", "quota-bytes:0", check=False)
    assert refused.returncode != 0
    assert "403" in refused.stderr
    admin = token(cloud, "stratus-admin")
    set_quota = {"X-Auth-Token": admin["id"], "X-Account-Meta-Quota-Bytes": "0"}
    assert httpx.post(account, headers=set_quota).status_code == 204
    container = unique("full")
    cloud.swift("post", container)
    (tmp_path / "data.bin").write_bytes(b"x" * 100)
    upload = cloud.swift("upload", container, "data.bin", cwd=tmp_path, check=False)
    assert upload.returncode != 0
    assert "413" in upload.stderr
    assert cloud.swift("list", container).stdout.split() == []
    cloud.swift("delete", container)


def test_container_quota_with_the_swift_cli(cloud: Cloud, tmp_path: Path) -> None:
    container = unique("small")
    cloud.swift("post", "-m", "quota-bytes:10", container)
    (tmp_path / "ok.bin").write_bytes(b"x" * 10)
    (tmp_path / "big.bin").write_bytes(b"x" * 11)
    cloud.swift("upload", container, "ok.bin", cwd=tmp_path)
    upload = cloud.swift("upload", container, "big.bin", cwd=tmp_path, check=False)
    assert upload.returncode != 0
    assert "413" in upload.stderr
    assert cloud.swift("list", container).stdout.split() == ["ok.bin"]
    cloud.swift("delete", container)
