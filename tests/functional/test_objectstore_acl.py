"""Container ACLs under ``stratus up``: the admin and demo projects (and a reader) with
the real ``swift`` CLI, and anonymous access with raw HTTP."""

from __future__ import annotations

import subprocess
import uuid
from pathlib import Path

import httpx
import pytest

from cloudproc import Cloud


def project_id(cloud: Cloud, name: str) -> str:
    shown = cloud.openstack("project", "show", name, "-f", "json")
    return str(shown["id"])


def admin_env(cloud: Cloud) -> dict[str, str]:
    return cloud.swift_env() | {"ST_USER": "admin:admin", "ST_KEY": cloud.password("admin")}


def as_demo(
    cloud: Cloud, *args: str, account: str, check: bool = True
) -> subprocess.CompletedProcess[str]:
    """The swift CLI with demo's credentials, aimed at another project's account."""
    return cloud.swift("--os-storage-url", account, *args, check=check)


def refused(result: subprocess.CompletedProcess[str], status: int) -> bool:
    return result.returncode != 0 and str(status) in result.stderr


@pytest.fixture
def shared(cloud: Cloud, tmp_path: Path) -> tuple[str, str]:
    """A container of the admin account holding ``hello.txt``: (account URL, name)."""
    container = f"acl-{uuid.uuid4().hex[:8]}"
    (tmp_path / "hello.txt").write_text("hello")
    cloud.swift("upload", container, "hello.txt", env=admin_env(cloud), cwd=tmp_path)
    return f"{cloud.object_url}/v1/AUTH_{project_id(cloud, 'admin')}", container


def test_read_and_write_grants_across_projects(
    cloud: Cloud, shared: tuple[str, str], tmp_path: Path
) -> None:
    account, container = shared
    admin, demo = admin_env(cloud), project_id(cloud, "demo")
    assert refused(as_demo(cloud, "list", container, account=account, check=False), 403)

    cloud.swift("post", "-r", f"{demo}:*", container, env=admin)
    assert as_demo(cloud, "list", container, account=account).stdout.split() == ["hello.txt"]
    target = tmp_path / "got.txt"
    as_demo(cloud, "download", container, "hello.txt", "-o", str(target), account=account)
    assert target.read_text() == "hello"
    stat = as_demo(cloud, "stat", container, account=account).stdout
    assert demo not in stat  # the grants themselves are the owner's business
    (tmp_path / "up").mkdir()
    (tmp_path / "up" / "new.txt").write_text("new")
    upload = ("upload", container, "new.txt")
    assert refused(as_demo(cloud, *upload, account=account, check=False), 403)

    cloud.swift("post", "-w", f"{demo}:*", container, env=admin)
    cloud.swift("--os-storage-url", account, *upload, cwd=tmp_path / "up")
    listed = cloud.swift("list", container, env=admin).stdout.split()
    assert listed == ["hello.txt", "new.txt"]
    # a write grant is for objects: not for the container or its ACLs
    grab = as_demo(cloud, "post", "-r", "*:*", container, account=account, check=False)
    assert refused(grab, 403)
    demo_token = token_of(cloud, cloud.swift_env())
    gone = httpx.delete(f"{account}/{container}", headers={"X-Auth-Token": demo_token})
    assert gone.status_code == 403
    assert container in cloud.swift("list", env=admin).stdout.split()

    copied = httpx.put(
        f"{account}/{container}/copy.txt",
        headers={"X-Auth-Token": demo_token, "X-Copy-From": f"{container}/hello.txt"},
    )
    assert copied.status_code == 201  # read on the source, write on the target

    # a write grant alone does not open the objects: neither to read nor to copy
    cloud.swift("post", "-r", "", container, env=admin)
    sneaky = httpx.put(
        f"{account}/{container}/stolen.txt",
        headers={"X-Auth-Token": demo_token, "X-Copy-From": f"{container}/hello.txt"},
    )
    assert sneaky.status_code == 403
    grab_copy = httpx.request(
        "COPY",
        f"{account}/{container}/hello.txt",
        headers={"X-Auth-Token": demo_token, "Destination": f"{container}/stolen.txt"},
    )
    assert grab_copy.status_code == 403

    cloud.swift("post", "-r", "", "-w", "", container, env=admin)
    assert refused(as_demo(cloud, "list", container, account=account, check=False), 403)
    assert refused(as_demo(cloud, *upload, account=account, check=False), 403)


def token_of(cloud: Cloud, env: dict[str, str]) -> str:
    auth = httpx.get(
        env["ST_AUTH"], headers={"X-Auth-User": env["ST_USER"], "X-Auth-Key": env["ST_KEY"]}
    )
    assert auth.status_code == 200
    return auth.headers["x-auth-token"]


def test_public_read_with_and_without_listings(cloud: Cloud, shared: tuple[str, str]) -> None:
    account, container = shared
    admin = admin_env(cloud)
    assert httpx.get(f"{account}/{container}/hello.txt").status_code == 401
    cloud.swift("post", "-r", ".r:*", container, env=admin)
    got = httpx.get(f"{account}/{container}/hello.txt")
    assert got.status_code == 200 and got.text == "hello"
    assert httpx.get(f"{account}/{container}").status_code == 401
    assert httpx.put(f"{account}/{container}/x", content=b"x").status_code == 401
    assert httpx.get(account).status_code == 401

    cloud.swift("post", "-r", ".r:*,.rlistings", container, env=admin)
    listed = httpx.get(f"{account}/{container}")
    assert listed.status_code == 200 and listed.text.split() == ["hello.txt"]

    cloud.swift("post", "-r", ".r:*,.r:-evil.example,.rlistings", container, env=admin)
    blocked = httpx.get(
        f"{account}/{container}/hello.txt", headers={"Referer": "http://evil.example/"}
    )
    assert blocked.status_code == 401
    assert httpx.get(f"{account}/{container}/hello.txt").status_code == 200


def test_invalid_acls_are_refused(cloud: Cloud, shared: tuple[str, str]) -> None:
    account, container = shared
    token = token_of(cloud, admin_env(cloud))
    for header, value in (("X-Container-Write", ".r:*"), ("X-Container-Read", ".r:")):
        answer = httpx.post(
            f"{account}/{container}", headers={"X-Auth-Token": token, header: value}
        )
        assert answer.status_code == 400, (header, value)


def test_a_reader_of_the_project_may_only_read(cloud: Cloud, tmp_path: Path) -> None:
    name, password = f"reader-{uuid.uuid4().hex[:6]}", uuid.uuid4().hex
    cloud.openstack("user", "create", "--password", password, "--project", "demo", name)
    cloud.openstack("role", "add", "--project", "demo", "--user", name, "reader")
    reader = cloud.swift_env() | {"ST_USER": f"demo:{name}", "ST_KEY": password}
    container = f"r-{uuid.uuid4().hex[:8]}"
    (tmp_path / "a.txt").write_text("a")
    cloud.swift("upload", container, "a.txt", cwd=tmp_path)  # as demo, a member
    assert cloud.swift("list", container, env=reader).stdout.split() == ["a.txt"]
    denied = cloud.swift("upload", container, "a.txt", env=reader, cwd=tmp_path, check=False)
    assert refused(denied, 403)
    assert refused(cloud.swift("post", "-r", "*:*", container, env=reader, check=False), 403)


def test_cors_preflight_needs_no_token(cloud: Cloud, shared: tuple[str, str]) -> None:
    account, container = shared
    admin, origin = admin_env(cloud), "https://app.example"
    cloud.swift(
        "post", "-r", ".r:*", "-m", f"Access-Control-Allow-Origin:{origin}", container, env=admin
    )
    asked = {"Origin": origin, "Access-Control-Request-Method": "GET"}
    answer = httpx.options(f"{account}/{container}/hello.txt", headers=asked)
    assert answer.status_code == 200
    assert answer.headers["access-control-allow-origin"] == origin
    got = httpx.get(f"{account}/{container}/hello.txt", headers={"Origin": origin})
    assert got.status_code == 200 and got.headers["access-control-allow-origin"] == origin
    other = {**asked, "Origin": "https://elsewhere.example"}
    assert httpx.options(f"{account}/{container}/hello.txt", headers=other).status_code == 401
