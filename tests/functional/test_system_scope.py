"""Role grants on the system and system-scoped tokens, through the CLI and openstacksdk.

Tempest's dynamic credentials grant ``reader`` on the system and ask for a system-scoped
token before any identity admin test runs; a real cloud's admin tooling does the same.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import openstack
import pytest
from keystoneauth1.exceptions.http import Unauthorized

from cloudproc import Cloud

pytestmark = pytest.mark.filterwarnings("ignore::PendingDeprecationWarning")


@pytest.fixture
def person(cloud: Cloud) -> Iterator[tuple[dict[str, Any], str]]:
    password = uuid.uuid4().hex
    name = f"sys-{uuid.uuid4().hex[:10]}"
    made = cloud.openstack(
        "user", "create", "--domain", "default", "--password", password, "-f", "json", name
    )
    yield made, password
    cloud.openstack("user", "delete", made["id"], check=False)


def system_token(cloud: Cloud, user: dict[str, Any], password: str) -> str:
    conn = openstack.connect(
        auth_url=cloud.identity_url,
        username=user["name"],
        password=password,
        user_domain_id="default",
        system_scope="all",
        region_name="RegionOne",
    )
    return str(conn.auth_token)


def get(cloud: Cloud, token: str, path: str, **headers: str) -> httpx.Response:
    return httpx.get(
        f"{cloud.identity_url}{path}", headers={"X-Auth-Token": token, **headers}, timeout=30
    )


def system_assignments(cloud: Cloud, user_id: str) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = cloud.openstack(
        "role", "assignment", "list", "--system", "all", "--user", user_id, "--names", "-f", "json"
    )
    return found


def test_system_reader_grant_and_token(cloud: Cloud, person: tuple[dict[str, Any], str]) -> None:
    user, password = person
    cloud.openstack("role", "add", "--system", "all", "--user", user["id"], "reader")
    listed = system_assignments(cloud, user["id"])
    assert [(a["Role"], a["System"]) for a in listed] == [("reader", "all")]

    token = system_token(cloud, user, password)
    body = get(cloud, token, "/auth/tokens", **{"X-Subject-Token": token}).json()["token"]
    assert body["system"] == {"all": True}
    assert [r["name"] for r in body["roles"]] == ["reader"]
    assert "project" not in body and "catalog" in body
    assert get(cloud, token, "/auth/system").json()["system"] == [{"all": True}]
    # a system reader reads what administrators manage, and changes none of it
    assert get(cloud, token, "/users").status_code == 200
    assert get(cloud, token, "/projects").status_code == 200
    refused = httpx.post(
        f"{cloud.identity_url}/users",
        headers={"X-Auth-Token": token},
        json={"user": {"name": f"nope-{uuid.uuid4().hex[:8]}"}},
        timeout=30,
    )
    assert refused.status_code == 403
    assert refused.json()["error"]["message"].endswith("identity:create_user.")

    cloud.openstack("role", "remove", "--system", "all", "--user", user["id"], "reader")
    assert system_assignments(cloud, user["id"]) == []
    assert get(cloud, token, "/auth/tokens", **{"X-Subject-Token": token}).status_code == 401


def test_system_admin_administers(cloud: Cloud, person: tuple[dict[str, Any], str]) -> None:
    user, password = person
    cloud.openstack("role", "add", "--system", "all", "--user", user["id"], "admin")
    token = system_token(cloud, user, password)
    assert get(cloud, token, "/users").status_code == 200


def test_system_scope_needs_a_system_role(cloud: Cloud, person: tuple[dict[str, Any], str]) -> None:
    user, password = person
    with pytest.raises(Unauthorized):
        system_token(cloud, user, password)
    user_token = openstack.connect(
        auth_url=cloud.identity_url,
        username=user["name"],
        password=password,
        user_domain_id="default",
        region_name="RegionOne",
    ).auth_token
    assert get(cloud, user_token, "/auth/system").json()["system"] == []


def test_group_system_grant_reaches_members(
    cloud: Cloud, person: tuple[dict[str, Any], str]
) -> None:
    user, password = person
    group = cloud.openstack("group", "create", "-f", "json", f"sysg-{uuid.uuid4().hex[:10]}")
    try:
        cloud.openstack("group", "add", "user", group["id"], user["id"])
        cloud.openstack("role", "add", "--system", "all", "--group", group["id"], "reader")
        token = system_token(cloud, user, password)
        body = get(cloud, token, "/auth/tokens", **{"X-Subject-Token": token}).json()
        assert [r["name"] for r in body["token"]["roles"]] == ["reader"]
        effective = cloud.openstack(
            "role", "assignment", "list", "--effective", "--user", user["id"], "-f", "json"
        )
        assert [(a["Role"], a["System"]) for a in effective] == [
            (body["token"]["roles"][0]["id"], "all")
        ]
    finally:
        cloud.openstack("group", "delete", group["id"], check=False)


def test_deleting_a_user_drops_its_system_grants(
    cloud: Cloud, person: tuple[dict[str, Any], str]
) -> None:
    user, _ = person
    cloud.openstack("role", "add", "--system", "all", "--user", user["id"], "reader")
    cloud.openstack("user", "delete", user["id"])
    listed = cloud.openstack("role", "assignment", "list", "--system", "all", "-f", "json")
    assert all(a["User"] != user["id"] for a in listed)


def test_domain_specific_role_cannot_be_granted_on_the_system(
    cloud: Cloud, person: tuple[dict[str, Any], str]
) -> None:
    user, _ = person
    role = cloud.openstack(
        "role", "create", "--domain", "default", "-f", "json", f"dr-{uuid.uuid4().hex[:8]}"
    )
    try:
        token = cloud.sdk("stratus-admin").auth_token
        resp = httpx.put(
            f"{cloud.identity_url}/system/users/{user['id']}/roles/{role['id']}",
            headers={"X-Auth-Token": token},
            timeout=30,
        )
        assert resp.status_code == 400, resp.text
    finally:
        cloud.openstack("role", "delete", role["id"], check=False)
