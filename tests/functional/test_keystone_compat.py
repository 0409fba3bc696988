"""Answers that must match Keystone's exactly, found by running tempest's identity tests."""

from __future__ import annotations

import datetime as dt
import json
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from cloudproc import Cloud

pytestmark = pytest.mark.filterwarnings("ignore::PendingDeprecationWarning")


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


@pytest.fixture(scope="module")
def token(cloud: Cloud) -> str:
    return str(cloud.sdk("stratus-admin").auth_token)


def call(cloud: Cloud, token: str, method: str, path: str, **kwargs: Any) -> httpx.Response:
    headers = {"X-Auth-Token": token}
    return httpx.request(
        method, f"{cloud.identity_url}{path}", headers=headers, timeout=30, **kwargs
    )


@pytest.fixture
def project(cloud: Cloud) -> Iterator[dict[str, Any]]:
    made = cloud.openstack("project", "create", "-f", "json", unique("kc"))
    yield made
    cloud.openstack("project", "delete", made["id"], check=False)


def test_ec2_credential_blob_may_change_its_access_key(
    cloud: Cloud, token: str, project: dict[str, Any]
) -> None:
    admin = cloud.sdk("stratus-admin")
    old, new = uuid.uuid4().hex, uuid.uuid4().hex
    made = cloud.openstack(
        "credential", "create", "--type", "ec2", "--project", project["id"], "-f", "json",
        admin.current_user_id, json.dumps({"access": old, "secret": "s1"}),
    )  # fmt: skip
    try:
        cloud.openstack(
            "credential", "set", "--user", admin.current_user_id, "--type", "ec2",
            "--project", project["id"], "--data", json.dumps({"access": new, "secret": "s2"}),
            made["id"],
        )  # fmt: skip
        shown = cloud.openstack("credential", "show", "-f", "json", made["id"])
        assert shown["id"] == made["id"] and json.loads(shown["blob"])["access"] == new
        ec2 = f"/users/{admin.current_user_id}/credentials/OS-EC2"
        assert call(cloud, token, "GET", f"{ec2}/{new}").json()["credential"]["secret"] == "s2"
        assert call(cloud, token, "GET", f"{ec2}/{old}").status_code == 404
    finally:
        cloud.openstack("credential", "delete", made["id"], check=False)


def test_user_or_group_in_unknown_domain_is_404(cloud: Cloud, token: str) -> None:
    missing = uuid.uuid4().hex
    user = {"user": {"name": unique("u"), "domain_id": missing}}
    assert call(cloud, token, "POST", "/users", json=user).status_code == 404
    group = {"group": {"name": unique("g"), "domain_id": missing}}
    assert call(cloud, token, "POST", "/groups", json=group).status_code == 404


def test_app_cred_expiry_is_echoed_as_keystone_does(cloud: Cloud) -> None:
    conn = cloud.sdk("stratus-demo")
    expires = dt.datetime.now(dt.UTC).replace(tzinfo=None) + dt.timedelta(hours=1)
    made = conn.identity.create_application_credential(
        user=conn.current_user_id, name=unique("ac"), expires_at=expires.isoformat()
    )
    try:
        assert made.expires_at == expires.isoformat()
    finally:
        conn.identity.delete_application_credential(conn.current_user_id, made.id)


def test_policy_blobs_crud(cloud: Cloud, token: str, tmp_path: Path) -> None:
    rules = tmp_path / "policy.json"
    rules.write_text('{"compute:create": ""}')
    made = cloud.openstack(
        "policy", "create", "--type", "application/json", "-f", "json", str(rules)
    )
    try:
        assert made["type"] == "application/json"
        listed = cloud.openstack("policy", "list", "-f", "json")
        assert made["id"] in [p["ID"] for p in listed]
        cloud.openstack("policy", "set", "--type", "text/plain", made["id"])
        shown = call(cloud, token, "GET", f"/policies/{made['id']}").json()["policy"]
        assert shown["type"] == "text/plain" and json.loads(shown["blob"]) == {"compute:create": ""}
        assert call(cloud, token, "GET", "/policies?type=text/plain").json()["policies"]
    finally:
        cloud.openstack("policy", "delete", made["id"], check=False)
    assert call(cloud, token, "GET", f"/policies/{made['id']}").status_code == 404
