"""Regressions found by the identity security review, against ``stratus up`` over raw HTTP."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import httpx
import pytest

from cloudproc import Cloud


@dataclass
class Caller:
    url: str
    token: str

    def call(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        headers = {"X-Auth-Token": self.token, **kwargs.pop("headers", {})}
        return httpx.request(method, f"{self.url}{path}", headers=headers, timeout=30, **kwargs)


def _issue(cloud: Cloud, identity: dict[str, Any], scope: Any = None) -> httpx.Response:
    auth: dict[str, Any] = {"identity": identity}
    if scope is not None:
        auth["scope"] = scope
    return httpx.post(f"{cloud.identity_url}/auth/tokens", json={"auth": auth}, timeout=30)


def password_token(cloud: Cloud, name: str, password: str, project_id: str) -> Caller:
    identity = {
        "methods": ["password"],
        "password": {"user": {"name": name, "domain": {"id": "default"}, "password": password}},
    }
    issued = _issue(cloud, identity, {"project": {"id": project_id}})
    assert issued.status_code == 201, issued.text
    return Caller(cloud.identity_url, issued.headers["X-Subject-Token"])


@pytest.fixture(scope="module")
def admin(cloud: Cloud) -> Caller:
    identity = {
        "methods": ["password"],
        "password": {
            "user": {
                "name": "admin",
                "domain": {"id": "default"},
                "password": cloud.password("admin"),
            }
        },
    }
    scope = {"project": {"name": "admin", "domain": {"id": "default"}}}
    issued = _issue(cloud, identity, scope)
    assert issued.status_code == 201, issued.text
    return Caller(cloud.identity_url, issued.headers["X-Subject-Token"])


@dataclass
class Tenant:
    """A fresh user holding ``member`` and one extra role on a fresh project."""

    user_id: str
    name: str
    password: str
    project_id: str
    extra_role: str


@pytest.fixture
def tenant(admin: Caller) -> Iterator[Tenant]:
    tag = uuid.uuid4().hex[:10]
    project = admin.call("POST", "/projects", json={"project": {"name": f"rp-{tag}"}})
    user = admin.call("POST", "/users", json={"user": {"name": f"ru-{tag}", "password": tag}})
    role = admin.call("POST", "/roles", json={"role": {"name": f"extra-{tag}"}})
    pid = project.json()["project"]["id"]
    uid = user.json()["user"]["id"]
    extra = role.json()["role"]["id"]
    member = admin.call("GET", "/roles?name=member").json()["roles"][0]["id"]
    for rid in (member, extra):
        assert admin.call("PUT", f"/projects/{pid}/users/{uid}/roles/{rid}").status_code == 204
    yield Tenant(uid, f"ru-{tag}", tag, pid, f"extra-{tag}")
    admin.call("DELETE", f"/users/{uid}")
    admin.call("DELETE", f"/projects/{pid}")
    admin.call("DELETE", f"/roles/{extra}")


def app_cred_token(cloud: Cloud, t: Tenant, roles: list[str]) -> Caller:
    """A token of a restricted application credential limited to ``roles``."""
    owner = password_token(cloud, t.name, t.password, t.project_id)
    body = {
        "application_credential": {
            "name": f"ac-{uuid.uuid4().hex[:8]}",
            "roles": [{"name": r} for r in roles],
        }
    }
    made = owner.call("POST", f"/users/{t.user_id}/application_credentials", json=body)
    assert made.status_code == 201, made.text
    ac = made.json()["application_credential"]
    identity = {
        "methods": ["application_credential"],
        "application_credential": {"id": ac["id"], "secret": ac["secret"]},
    }
    issued = _issue(cloud, identity)
    assert issued.status_code == 201, issued.text
    return Caller(cloud.identity_url, issued.headers["X-Subject-Token"])


def s3_token(cloud: Cloud, access: str, secret: str) -> httpx.Response:
    """What keystonemiddleware's s3_token forwards for a SigV2-signed S3 request."""
    to_sign = b"GET\n\n\nTue, 01 Jan 2030 00:00:00 GMT\n/bucket"
    signature = base64.b64encode(hmac.new(secret.encode(), to_sign, hashlib.sha1).digest())
    creds = {
        "access": access,
        "token": base64.urlsafe_b64encode(to_sign).decode(),
        "signature": signature.decode(),
    }
    return httpx.post(f"{cloud.identity_url}/s3tokens", json={"credentials": creds}, timeout=30)


def test_app_cred_token_cannot_unbind_its_ec2_credential(cloud: Cloud, tenant: Tenant) -> None:
    """An EC2 key made with a restricted application credential stays limited to its
    roles: the credential cannot be patched free of ``app_cred_id`` (Keystone refuses it),
    or it would mint tokens with every role of the user."""
    limited = app_cred_token(cloud, tenant, ["member"])
    made = limited.call(
        "POST",
        f"/users/{tenant.user_id}/credentials/OS-EC2",
        json={"tenant_id": tenant.project_id},
    )
    assert made.status_code == 201, made.text
    access, secret = made.json()["credential"]["access"], made.json()["credential"]["secret"]
    cred_id = hashlib.sha256(access.encode()).hexdigest()
    unbound = json.dumps({"access": access, "secret": secret})
    owner = password_token(cloud, tenant.name, tenant.password, tenant.project_id)
    for caller in (limited, owner):
        patched = caller.call(
            "PATCH", f"/credentials/{cred_id}", json={"credential": {"blob": unbound}}
        )
        assert patched.status_code == 400, patched.text
        assert "app_cred_id" in patched.json()["error"]["message"]
    # Nor by a detour through another type.
    detour = owner.call("PATCH", f"/credentials/{cred_id}", json={"credential": {"type": "x"}})
    assert detour.status_code == 200, detour.text
    patched = owner.call(
        "PATCH", f"/credentials/{cred_id}", json={"credential": {"blob": unbound, "type": "ec2"}}
    )
    assert patched.status_code == 400, patched.text
    back = owner.call("PATCH", f"/credentials/{cred_id}", json={"credential": {"type": "ec2"}})
    assert back.status_code == 200, back.text
    token = s3_token(cloud, access, secret)
    assert token.status_code == 200, token.text
    body = token.json()["token"]
    assert [r["name"] for r in body["roles"]] == ["member"]
    assert body["application_credential"]["restricted"] is True


def test_ec2_token_cannot_change_or_delete_credentials(
    cloud: Cloud, admin: Caller, tenant: Tenant
) -> None:
    """A token minted from an EC2 key manages no credential: not create (as before), and
    not update or delete either, or a leaked key could re-point or destroy the others."""
    owner = password_token(cloud, tenant.name, tenant.password, tenant.project_id)
    made = owner.call(
        "POST",
        f"/users/{tenant.user_id}/credentials/OS-EC2",
        json={"tenant_id": tenant.project_id},
    )
    assert made.status_code == 201, made.text
    access, secret = made.json()["credential"]["access"], made.json()["credential"]["secret"]
    cred_id = hashlib.sha256(access.encode()).hexdigest()
    issued = s3_token(cloud, access, secret)
    assert issued.status_code == 200, issued.text
    via_ec2 = Caller(cloud.identity_url, issued.headers["X-Subject-Token"])
    described = {"credential": {"description": "mine"}}
    for resp in (
        via_ec2.call("PATCH", f"/credentials/{cred_id}", json=described),
        via_ec2.call("DELETE", f"/credentials/{cred_id}"),
        via_ec2.call("DELETE", f"/users/{tenant.user_id}/credentials/OS-EC2/{access}"),
    ):
        assert resp.status_code == 403, resp.text
    assert owner.call("GET", f"/credentials/{cred_id}").status_code == 200
    assert s3_token(cloud, access, secret).status_code == 200


@pytest.mark.parametrize("tag", ["caf\u00e9", "\u2603", "tab\tcontrol", "a b?c#"])
def test_project_tag_of_any_character_is_not_a_500(admin: Caller, tenant: Tenant, tag: str) -> None:
    """``PUT /v3/projects/{id}/tags/{tag}`` answers 201 with a quoted Location."""
    path = f"/projects/{tenant.project_id}/tags/{quote(tag, safe='')}"
    added = admin.call("PUT", path)
    assert added.status_code == 201, added.text
    assert added.headers["location"].endswith("/tags/" + quote(tag, safe=""))
    tags = admin.call("GET", f"/projects/{tenant.project_id}/tags").json()["tags"]
    assert tags == [tag]
    assert admin.call("GET", path).status_code == 204


def test_nul_characters_are_refused_everywhere(cloud: Cloud) -> None:
    """PostgreSQL cannot store NUL in text; every API refuses it as bad input, never a 500."""
    token = cloud.openstack("token", "issue", "-f", "json")["id"]
    headers = {"X-Auth-Token": token}
    body = '{"project": {"name": "nul\\u0000name"}}'
    made = httpx.post(
        f"{cloud.identity_url}/projects",
        headers=headers | {"Content-Type": "application/json"},
        content=body,
        timeout=30,
    )
    assert made.status_code == 400
    assert "NUL" in made.json()["error"]["message"]
    assert httpx.get(f"{cloud.identity_url}/users/a%00b", headers=headers).status_code == 400
    assert httpx.get(f"{cloud.identity_url}/users?name=a%00b", headers=headers).status_code == 400
    project = cloud.openstack("project", "show", "demo", "-f", "json")["id"]
    tag = httpx.put(f"{cloud.identity_url}/projects/{project}/tags/nul%00", headers=headers)
    assert tag.status_code == 400
    assert (
        "nul\x00"
        not in httpx.get(f"{cloud.identity_url}/projects/{project}/tags", headers=headers).json()[
            "tags"
        ]
    )


def test_system_token_cannot_be_rescoped_to_a_project(cloud: Cloud) -> None:
    """Keystone refuses to turn a system-scoped token into a project-scoped one."""
    password = uuid.uuid4().hex
    name = f"sysrescope-{uuid.uuid4().hex[:8]}"
    user = cloud.openstack(
        "user", "create", "--domain", "default", "--password", password, "-f", "json", name
    )
    try:
        cloud.openstack("role", "add", "--system", "all", "--user", user["id"], "admin")
        cloud.openstack("role", "add", "--project", "demo", "--user", user["id"], "member")
        auth = {
            "methods": ["password"],
            "password": {"user": {"id": user["id"], "password": password}},
        }
        system = httpx.post(
            f"{cloud.identity_url}/auth/tokens",
            json={"auth": {"identity": auth, "scope": {"system": {"all": True}}}},
            timeout=30,
        )
        assert system.status_code == 201
        rescope = httpx.post(
            f"{cloud.identity_url}/auth/tokens",
            json={
                "auth": {
                    "identity": {
                        "methods": ["token"],
                        "token": {"id": system.headers["X-Subject-Token"]},
                    },
                    "scope": {"project": {"name": "demo", "domain": {"id": "default"}}},
                }
            },
            timeout=30,
        )
        assert rescope.status_code == 403
        assert "system-scoped" in rescope.json()["error"]["message"]
    finally:
        cloud.openstack("user", "delete", user["id"], check=False)
