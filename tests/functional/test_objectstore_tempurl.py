"""TempURL under ``stratus up``: links made by the real ``swift tempurl``, used by curl
with no token; keys only their owner can read."""

from __future__ import annotations

import subprocess
import time
import uuid
from pathlib import Path

import httpx
import pytest

from cloudproc import Cloud


def curl(*args: str) -> tuple[int, str]:
    """``curl`` without credentials: (HTTP status, body)."""
    out = subprocess.run(
        ["curl", "-s", "-o", "-", "-w", "\n%{http_code}", *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    ).stdout
    body, _, status = out.rpartition("\n")
    return int(status), body


def storage_url(cloud: Cloud) -> str:
    env = cloud.swift_env()
    auth = httpx.get(
        env["ST_AUTH"], headers={"X-Auth-User": env["ST_USER"], "X-Auth-Key": env["ST_KEY"]}
    )
    return str(auth.headers["x-storage-url"])


def tempurl(cloud: Cloud, *args: str) -> str:
    """A link from ``swift tempurl`` (its path and query), made absolute."""
    link = cloud.swift("tempurl", *args).stdout.strip()
    return f"{cloud.object_url}{link}"


@pytest.fixture(scope="module")
def keyed(cloud: Cloud, tmp_path_factory: pytest.TempPathFactory) -> tuple[str, str, str]:
    """demo's account with a TempURL key and ``c/hello.txt``: (path of the object,
    path of another object, key)."""
    key = uuid.uuid4().hex
    cloud.swift("post", "-m", f"Temp-URL-Key:{key}")
    container = f"t-{uuid.uuid4().hex[:8]}"
    src = tmp_path_factory.mktemp("tempurl")
    (src / "hello.txt").write_text("hello")
    (src / "other.txt").write_text("other")
    cloud.swift("upload", container, "hello.txt", "other.txt", cwd=src)
    account = storage_url(cloud).partition("/v1/")[2]
    base = f"/v1/{account}/{container}"
    return f"{base}/hello.txt", f"{base}/other.txt", key


def test_swift_tempurl_get_with_curl_and_expiry(cloud: Cloud, keyed: tuple[str, str, str]) -> None:
    path, other, key = keyed
    assert curl(f"{cloud.object_url}{path}")[0] == 401
    link = tempurl(cloud, "GET", "3600", path, key)
    assert curl(link) == (200, "hello")
    assert curl("-I", link)[0] == 200
    # the signature is for that one object
    assert curl(link.replace(path, other))[0] == 401
    stale = tempurl(cloud, "--absolute", "GET", str(int(time.time()) - 1), path, key)
    assert curl(stale)[0] == 401
    short = tempurl(cloud, "GET", "2", path, key)
    deadline = time.monotonic() + 30
    while curl(short)[0] != 401:
        assert time.monotonic() < deadline, "the link never expired"
        time.sleep(0.5)
    iso = tempurl(cloud, "--iso8601", "--digest", "sha512", "GET", "1h", path, key)
    assert "temp_url_expires=20" in iso and "sha512:" in iso
    assert curl(iso) == (200, "hello")


def test_put_through_a_tempurl(cloud: Cloud, keyed: tuple[str, str, str], tmp_path: Path) -> None:
    path, _, key = keyed
    target = path.replace("hello.txt", "dropped.txt")
    link = tempurl(cloud, "PUT", "600", target, key)
    (tmp_path / "up.txt").write_text("uploaded by link")
    assert curl("-T", str(tmp_path / "up.txt"), link)[0] == 201
    container = target.split("/")[3]
    assert "dropped.txt" in cloud.swift("list", container).stdout.split()
    assert curl(tempurl(cloud, "GET", "600", target, key)) == (200, "uploaded by link")
    # a PUT link is not a GET link
    assert curl(link)[0] == 401


def test_keys_are_shown_to_the_owner_only(cloud: Cloud, keyed: tuple[str, str, str]) -> None:
    name, password = f"reader-{uuid.uuid4().hex[:6]}", uuid.uuid4().hex
    cloud.openstack("user", "create", "--password", password, "--project", "demo", name)
    cloud.openstack("role", "add", "--project", "demo", "--user", name, "reader")
    reader = cloud.swift_env() | {"ST_USER": f"demo:{name}", "ST_KEY": password}
    key = keyed[2]
    assert key in cloud.swift("stat").stdout
    shown = cloud.swift("stat", env=reader).stdout
    assert "Account:" in shown and key not in shown
