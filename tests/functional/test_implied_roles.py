"""Implied roles through the ``openstack implied role`` commands, tokens and assignments."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import openstack
import pytest

from cloudproc import Cloud

pytestmark = pytest.mark.filterwarnings("ignore::PendingDeprecationWarning")


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


@pytest.fixture
def roles(cloud: Cloud) -> Iterator[list[dict[str, Any]]]:
    made = [cloud.openstack("role", "create", "-f", "json", unique("ir")) for _ in range(3)]
    yield made
    for role in made:
        cloud.openstack("role", "delete", role["id"], check=False)


@pytest.fixture
def member(cloud: Cloud) -> Iterator[tuple[dict[str, Any], str, dict[str, Any]]]:
    password = uuid.uuid4().hex
    project = cloud.openstack("project", "create", "-f", "json", unique("irp"))
    user = cloud.openstack("user", "create", "--password", password, "-f", "json", unique("iru"))
    yield user, password, project
    cloud.openstack("user", "delete", user["id"], check=False)
    cloud.openstack("project", "delete", project["id"], check=False)


def imply(cloud: Cloud, prior: dict[str, Any], implied: dict[str, Any]) -> Any:
    return cloud.openstack(
        "implied", "role", "create", prior["id"], "--implied-role", implied["id"], "-f", "json"
    )


def admin_call(cloud: Cloud, method: str, path: str) -> httpx.Response:
    token = cloud.sdk("stratus-admin").auth_token
    return httpx.request(
        method, f"{cloud.identity_url}{path}", headers={"X-Auth-Token": token}, timeout=30
    )


def test_rules_create_list_show_delete(cloud: Cloud, roles: list[dict[str, Any]]) -> None:
    a, b, c = roles
    made = imply(cloud, a, b)
    assert (made["prior_role"], made["implies"]) == (a["id"], b["id"])
    imply(cloud, a, c)
    imply(cloud, c, b)
    listed = cloud.openstack("implied", "role", "list", "-f", "json")
    pairs = {(r["Prior Role ID"], r["Implied Role ID"]) for r in listed}
    assert {(a["id"], b["id"]), (a["id"], c["id"]), (c["id"], b["id"])} <= pairs

    direct = admin_call(cloud, "GET", f"/roles/{a['id']}/implies").json()["role_inference"]
    assert sorted(r["id"] for r in direct["implies"]) == sorted([b["id"], c["id"]])
    rule = f"/roles/{a['id']}/implies/{b['id']}"
    assert admin_call(cloud, "HEAD", rule).status_code == 204
    shown = admin_call(cloud, "GET", rule).json()["role_inference"]
    assert shown["prior_role"]["name"] == a["name"] and shown["implies"]["id"] == b["id"]

    cloud.openstack("implied", "role", "delete", a["id"], "--implied-role", b["id"])
    assert admin_call(cloud, "GET", rule).status_code == 404
    cloud.openstack("role", "delete", c["id"])  # takes its rules with it
    listed = cloud.openstack("implied", "role", "list", "-f", "json")
    assert all(c["id"] not in (r["Prior Role ID"], r["Implied Role ID"]) for r in listed)


def test_token_and_effective_assignments_carry_implied_roles(
    cloud: Cloud,
    roles: list[dict[str, Any]],
    member: tuple[dict[str, Any], str, dict[str, Any]],
) -> None:
    a, b, c = roles
    user, password, project = member
    imply(cloud, a, b)
    imply(cloud, b, c)
    cloud.openstack("role", "add", "--user", user["id"], "--project", project["id"], a["id"])
    conn = openstack.connect(
        auth_url=cloud.identity_url,
        username=user["name"],
        password=password,
        user_domain_id="default",
        project_id=project["id"],
        region_name="RegionOne",
    )
    token = conn.auth_token
    body = httpx.get(
        f"{cloud.identity_url}/auth/tokens",
        headers={"X-Auth-Token": token, "X-Subject-Token": token},
        timeout=30,
    ).json()["token"]
    assert {r["id"] for r in body["roles"]} == {a["id"], b["id"], c["id"]}

    effective = cloud.openstack(
        "role", "assignment", "list", "--effective", "--user", user["id"], "-f", "json"
    )
    assert {e["Role"] for e in effective} == {a["id"], b["id"], c["id"]}


def test_domain_roles_only_imply(
    cloud: Cloud,
    roles: list[dict[str, Any]],
    member: tuple[dict[str, Any], str, dict[str, Any]],
) -> None:
    user, _, project = member
    domain_role = cloud.openstack(
        "role", "create", "--domain", "default", "-f", "json", unique("d")
    )
    try:
        # a global role may not imply a domain one, and nothing may imply admin
        assert (
            admin_call(
                cloud, "PUT", f"/roles/{roles[0]['id']}/implies/{domain_role['id']}"
            ).status_code
            == 403
        )
        admin_id = cloud.openstack("role", "show", "admin", "-f", "json")["id"]
        assert (
            admin_call(cloud, "PUT", f"/roles/{roles[0]['id']}/implies/{admin_id}").status_code
            == 403
        )

        # the CLI only finds global roles by name or id: the API takes any
        rule = f"/roles/{domain_role['id']}/implies/{roles[0]['id']}"
        assert admin_call(cloud, "PUT", rule).status_code == 201
        cloud.openstack(
            "role", "add", "--user", user["id"], "--project", project["id"], domain_role["id"]
        )
        effective = cloud.openstack(
            "role", "assignment", "list", "--effective", "--user", user["id"], "-f", "json"
        )
        assert [e["Role"] for e in effective] == [roles[0]["id"]]
    finally:
        cloud.openstack("role", "delete", domain_role["id"], check=False)
