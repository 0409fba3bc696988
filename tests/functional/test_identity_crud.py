"""Identity CRUD through the real ``openstack`` CLI and openstacksdk against ``stratus up``.

Every test names what it creates with a fresh suffix and deletes it, so the tests share
one cloud without seeing each other.
"""

from __future__ import annotations

import base64
import hashlib
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import openstack
import pytest
from botocore.auth import S3SigV4Auth, SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from cloudproc import Cloud, free_port

# openstacksdk announces its own future removals (PendingDeprecationWarning) on connect.
pytestmark = pytest.mark.filterwarnings("ignore::PendingDeprecationWarning")


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def osc(cloud: Cloud, *args: str, as_: str = "stratus-admin") -> Any:
    return cloud.openstack(*args, cloud=as_)


@pytest.fixture
def project(cloud: Cloud) -> Iterator[dict[str, Any]]:
    made = osc(cloud, "project", "create", "--domain", "default", "-f", "json", unique("proj"))
    yield made
    cloud.openstack("project", "delete", made["id"], check=False)


@pytest.fixture
def user(cloud: Cloud) -> Iterator[dict[str, Any]]:
    password = uuid.uuid4().hex
    made = osc(
        cloud,
        "user",
        "create",
        "--domain",
        "default",
        "--password",
        password,
        "-f",
        "json",
        unique("user"),
    )
    made["password"] = password
    yield made
    cloud.openstack("user", "delete", made["id"], check=False)


def test_project_crud(cloud: Cloud) -> None:
    name = unique("proj")
    made = osc(cloud, "project", "create", "--description", "first", "-f", "json", name)
    assert made["name"] == name and made["domain_id"] == "default" and made["enabled"] is True
    try:
        osc(cloud, "project", "set", "--description", "second", "--disable", name)
        shown = osc(cloud, "project", "show", "-f", "json", made["id"])
        assert shown["description"] == "second" and shown["enabled"] is False
        names = [p["Name"] for p in osc(cloud, "project", "list", "-f", "json")]
        assert name in names and "admin" in names and "demo" in names
    finally:
        osc(cloud, "project", "delete", name)
    assert cloud.cli("project", "show", made["id"], check=False).returncode != 0


def test_project_hierarchy_and_tags(cloud: Cloud, project: dict[str, Any]) -> None:
    child = osc(
        cloud,
        "project",
        "create",
        "--parent",
        project["id"],
        "--tag",
        "blue",
        "--tag",
        "red",
        "-f",
        "json",
        unique("child"),
    )
    try:
        assert child["parent_id"] == project["id"]
        conn = cloud.sdk()
        below = [p.id for p in conn.identity.projects(parent_id=project["id"])]
        assert below == [child["id"]]
        tagged = [p.id for p in conn.identity.projects(tags="blue,red")]
        assert child["id"] in tagged
        # A parent with children cannot be deleted.
        assert cloud.cli("project", "delete", project["id"], check=False).returncode != 0
    finally:
        osc(cloud, "project", "delete", child["id"])


def test_user_crud(cloud: Cloud, user: dict[str, Any]) -> None:
    assert user["domain_id"] == "default" and user["enabled"] is True
    assert "password" not in osc(cloud, "user", "show", "-f", "json", user["id"])
    osc(cloud, "user", "set", "--email", "someone@example.org", "--disable", user["id"])
    shown = osc(cloud, "user", "show", "-f", "json", user["name"])
    assert shown["email"] == "someone@example.org" and shown["enabled"] is False
    listed = osc(cloud, "user", "list", "--domain", "default", "-f", "json")
    assert user["name"] in [u["Name"] for u in listed]


def test_group_membership(cloud: Cloud, user: dict[str, Any]) -> None:
    group = osc(cloud, "group", "create", "--domain", "default", "-f", "json", unique("group"))
    try:
        osc(cloud, "group", "add", "user", group["id"], user["id"])
        contains = cloud.cli("group", "contains", "user", group["id"], user["id"]).stdout
        assert "in group" in contains and "not in" not in contains
        members = osc(cloud, "user", "list", "--group", group["id"], "-f", "json")
        assert [u["ID"] for u in members] == [user["id"]]
        groups = cloud.sdk().identity.user_groups(user["id"])
        assert [g.id for g in groups] == [group["id"]]
        osc(cloud, "group", "remove", "user", group["id"], user["id"])
        assert osc(cloud, "user", "list", "--group", group["id"], "-f", "json") == []
    finally:
        osc(cloud, "group", "delete", group["id"])


def test_role_crud_and_domain_role(cloud: Cloud) -> None:
    name = unique("role")
    role = osc(cloud, "role", "create", "-f", "json", name)
    domain_role = osc(cloud, "role", "create", "--domain", "default", "-f", "json", name)
    try:
        assert role["domain_id"] is None and domain_role["domain_id"] == "default"
        globals_ = [r["Name"] for r in osc(cloud, "role", "list", "-f", "json")]
        assert name in globals_ and "member" in globals_
        # The same name twice among the global roles is a conflict.
        assert cloud.cli("role", "create", name, check=False).returncode != 0
    finally:
        osc(cloud, "role", "delete", role["id"])
        osc(cloud, "role", "delete", domain_role["id"])


def test_role_add_and_assignment_list(
    cloud: Cloud, user: dict[str, Any], project: dict[str, Any]
) -> None:
    osc(cloud, "role", "add", "--project", project["name"], "--user", user["name"], "member")
    listed = osc(
        cloud, "role", "assignment", "list", "--names", "--project", project["id"], "-f", "json"
    )
    assert listed == [
        {
            "Role": "member",
            "User": f"{user['name']}@Default",
            "Group": "",
            "Project": f"{project['name']}@Default",
            "Domain": "",
            "System": "",
            "Inherited": False,
        }
    ]
    demo = osc(cloud, "role", "assignment", "list", "--names", "--project", "demo", "-f", "json")
    assert any(a["User"] == "demo@Default" and a["Role"] == "member" for a in demo)
    osc(cloud, "role", "remove", "--project", project["id"], "--user", user["id"], "member")
    assert osc(cloud, "role", "assignment", "list", "--project", project["id"], "-f", "json") == []


def test_group_role_is_effective_for_members(
    cloud: Cloud, user: dict[str, Any], project: dict[str, Any]
) -> None:
    group = osc(cloud, "group", "create", "-f", "json", unique("group"))
    try:
        osc(cloud, "group", "add", "user", group["id"], user["id"])
        osc(cloud, "role", "add", "--project", project["id"], "--group", group["id"], "reader")
        effective = osc(
            cloud, "role", "assignment", "list", "--effective", "--user", user["id"], "-f", "json"
        )
        assert [(a["Project"], a["Group"]) for a in effective] == [(project["id"], "")]
        conn = openstack.connect(
            auth_url=cloud.identity_url,
            username=user["name"],
            password=user["password"],
            user_domain_id="default",
            project_id=project["id"],
            project_domain_id="default",
            region_name="RegionOne",
        )
        assert conn.auth_token
        assert [p.id for p in conn.identity.user_projects(user["id"])] == [project["id"]]
    finally:
        osc(cloud, "group", "delete", group["id"])


def test_application_credential_authenticates(cloud: Cloud) -> None:
    name = unique("appcred")
    made = osc(cloud, "application", "credential", "create", "-f", "json", name, as_="stratus-demo")
    ident, secret = made["ID"], made["Secret"]
    try:
        assert secret and [r["name"] for r in made["Roles"]] == ["member"]
        conn = openstack.connect(
            auth_url=cloud.identity_url,
            auth_type="v3applicationcredential",
            application_credential_id=ident,
            application_credential_secret=secret,
            region_name="RegionOne",
        )
        demo = cloud.sdk("stratus-demo")
        assert conn.current_project_id == demo.current_project_id
        assert conn.identity.get_user(conn.current_user_id).name == "demo"
        listed = osc(cloud, "application", "credential", "list", "-f", "json", as_="stratus-demo")
        assert name in [a["Name"] for a in listed]
    finally:
        osc(cloud, "application", "credential", "delete", ident, as_="stratus-demo")
    with pytest.raises(openstack.exceptions.SDKException, match="401"):
        openstack.connect(
            auth_url=cloud.identity_url,
            auth_type="v3applicationcredential",
            application_credential_id=ident,
            application_credential_secret=secret,
            region_name="RegionOne",
        ).authorize()


def test_credentials_are_made_without_a_validation_cache(tmp_path: Path) -> None:
    """Managing credentials reads the caller's token inside a transaction. With no
    cache (or right after an identity write emptied it), a second validation there would
    wait for the database turn its own transaction holds, and answer 503 after 10 s."""
    uncached = Cloud(
        state_dir=tmp_path / "state",
        identity_port=free_port(),
        extra_env={"STRATUS_IDENTITY__VALIDATION_CACHE_TTL": "0"},
    )
    uncached.start()
    try:
        made = osc(uncached, "application", "credential", "create", "-f", "json", "nocache",
                   as_="stratus-demo")  # fmt: skip
        assert made["Secret"]
        ec2 = osc(uncached, "ec2", "credentials", "create", "-f", "json", as_="stratus-demo")
        assert ec2["access"]
    finally:
        uncached.stop()


def _signed_ec2_request(access: str, secret: str) -> dict[str, Any]:
    """What an EC2 front end forwards to /v3/ec2tokens for a botocore-signed request."""
    params = {"Action": "DescribeInstances", "Version": "2016-11-15"}
    request = AWSRequest(method="GET", url="http://127.0.0.1:8773/", params=params)
    SigV4Auth(Credentials(access, secret), "ec2", "RegionOne").add_auth(request)
    headers = dict(request.prepare().headers.items())
    headers["Host"] = "127.0.0.1:8773"
    return {
        "credentials": {
            "access": access,
            "signature": headers["Authorization"].rsplit("Signature=", 1)[1],
            "host": "127.0.0.1:8773",
            "verb": "GET",
            "path": "/",
            "params": params,
            "headers": headers,
            "body_hash": hashlib.sha256(b"").hexdigest(),
        }
    }


class _KeepStringToSign(S3SigV4Auth):
    """botocore's S3 signer, keeping the string to sign the s3_token middleware forwards."""

    signed = ""

    def string_to_sign(self, request: AWSRequest, canonical_request: str) -> str:
        self.signed = super().string_to_sign(request, canonical_request)
        return self.signed


def _signed_s3_request(access: str, secret: str) -> dict[str, Any]:
    request = AWSRequest(method="GET", url="http://127.0.0.1:8080/bucket/key")
    signer = _KeepStringToSign(Credentials(access, secret), "s3", "RegionOne")
    signer.add_auth(request)
    header = request.prepare().headers["Authorization"]
    return {
        "credentials": {
            "access": access,
            "signature": header.rsplit("Signature=", 1)[1],
            "token": base64.urlsafe_b64encode(signer.signed.encode()).decode(),
        }
    }


def test_ec2_credentials(cloud: Cloud) -> None:
    made = osc(cloud, "ec2", "credentials", "create", "-f", "json", as_="stratus-demo")
    access, secret = made["access"], made["secret"]
    try:
        listed = osc(cloud, "ec2", "credentials", "list", "-f", "json", as_="stratus-demo")
        assert access in [c["Access"] for c in listed]
        answer = httpx.post(
            f"{cloud.identity_url}/ec2tokens", json=_signed_ec2_request(access, secret)
        )
        assert answer.status_code == 200, answer.text
        token = answer.json()["token"]
        assert token["project"]["name"] == "demo" and token["user"]["name"] == "demo"
        assert answer.headers["X-Subject-Token"]
        wrong = _signed_ec2_request(access, secret + "x")
        assert httpx.post(f"{cloud.identity_url}/ec2tokens", json=wrong).status_code == 401
        s3 = httpx.post(f"{cloud.identity_url}/s3tokens", json=_signed_s3_request(access, secret))
        assert s3.status_code == 200 and s3.json()["token"]["project"]["name"] == "demo"
    finally:
        osc(cloud, "ec2", "credentials", "delete", access, as_="stratus-demo")
    gone = httpx.post(f"{cloud.identity_url}/ec2tokens", json=_signed_ec2_request(access, secret))
    assert gone.status_code == 401


def test_catalog_crud(cloud: Cloud) -> None:
    region = unique("Region")
    osc(cloud, "region", "create", region)
    service = osc(cloud, "service", "create", "--name", unique("svc"), "-f", "json", "test-type")
    try:
        endpoint = osc(
            cloud,
            "endpoint",
            "create",
            "--region",
            region,
            "-f",
            "json",
            service["id"],
            "public",
            "http://127.0.0.1:9/x",
        )
        assert endpoint["interface"] == "public" and endpoint["region"] == region
        listed = osc(cloud, "endpoint", "list", "--service", service["id"], "-f", "json")
        assert [e["ID"] for e in listed] == [endpoint["id"]]
        bad = cloud.cli("endpoint", "create", service["id"], "sideways", "http://x", check=False)
        assert bad.returncode != 0
    finally:
        osc(cloud, "service", "delete", service["id"])
        osc(cloud, "region", "delete", region)


def test_domain_lifecycle(cloud: Cloud) -> None:
    name = unique("dom")
    domain = osc(cloud, "domain", "create", "-f", "json", name)
    inner = osc(cloud, "project", "create", "--domain", name, "-f", "json", unique("proj"))
    # An enabled domain cannot be deleted.
    assert cloud.cli("domain", "delete", name, check=False).returncode != 0
    osc(cloud, "domain", "set", "--disable", name)
    osc(cloud, "domain", "delete", name)
    assert cloud.cli("project", "show", inner["id"], check=False).returncode != 0
    assert cloud.cli("domain", "show", domain["id"], check=False).returncode != 0
