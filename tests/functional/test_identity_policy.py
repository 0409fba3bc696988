"""Who may do what in identity, and how bad input is refused, against ``stratus up``.

The CLI shows the refusals a user meets; raw HTTP checks the exact status and Keystone's
error body, and that no malformed request ever gets a 500.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import openstack
import pytest

from cloudproc import Cloud

pytestmark = pytest.mark.filterwarnings("ignore::PendingDeprecationWarning")


@dataclass
class Caller:
    """A token and who it belongs to, for raw requests."""

    url: str
    token: str
    user_id: str
    project_id: str

    def call(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        headers = {"X-Auth-Token": self.token, **kwargs.pop("headers", {})}
        return httpx.request(method, f"{self.url}{path}", headers=headers, timeout=30, **kwargs)


def caller(cloud: Cloud, conn: Any) -> Caller:
    return Caller(
        cloud.identity_url, conn.auth_token, conn.current_user_id, conn.current_project_id
    )


@pytest.fixture(scope="module")
def admin(cloud: Cloud) -> Caller:
    return caller(cloud, cloud.sdk("stratus-admin"))


@pytest.fixture(scope="module")
def demo(cloud: Cloud) -> Caller:
    return caller(cloud, cloud.sdk("stratus-demo"))


def assert_refused(resp: httpx.Response, status: int) -> dict[str, Any]:
    """A refusal in Keystone's format: ``{"error": {"code", "title", "message"}}``."""
    assert resp.status_code == status, resp.text
    error: dict[str, Any] = resp.json()["error"]
    assert error["code"] == status and error["title"] and error["message"]
    return error


def role_id(admin: Caller, name: str) -> str:
    roles = admin.call("GET", f"/roles?name={name}").json()["roles"]
    return str(roles[0]["id"])


@pytest.fixture
def temp_user(cloud: Cloud, admin: Caller) -> Iterator[tuple[dict[str, Any], str]]:
    password = uuid.uuid4().hex
    body = {"user": {"name": f"user-{uuid.uuid4().hex[:10]}", "password": password}}
    made = admin.call("POST", "/users", json=body).json()["user"]
    yield made, password
    admin.call("DELETE", f"/users/{made['id']}")


def connect_as(cloud: Cloud, user: dict[str, Any], password: str, project_id: str) -> Caller:
    conn = openstack.connect(
        auth_url=cloud.identity_url,
        username=user["name"],
        password=password,
        user_domain_id="default",
        project_id=project_id,
        project_domain_id="default",
        region_name="RegionOne",
    )
    return caller(cloud, conn)


def test_member_cannot_list_users_or_create_projects(cloud: Cloud, demo: Caller) -> None:
    listed = cloud.cli("user", "list", cloud="stratus-demo", check=False)
    assert listed.returncode != 0 and "403" in listed.stderr
    name = f"proj-{uuid.uuid4().hex[:10]}"
    created = cloud.cli("project", "create", name, cloud="stratus-demo", check=False)
    assert created.returncode != 0 and "403" in created.stderr
    error = assert_refused(demo.call("GET", "/users"), 403)
    assert error["message"] == (
        "You are not authorized to perform the requested action: identity:list_users."
    )
    assert_refused(demo.call("POST", "/projects", json={"project": {"name": name}}), 403)
    assert_refused(demo.call("POST", "/roles", json={"role": {"name": name}}), 403)
    assert_refused(demo.call("GET", "/endpoints"), 403)
    assert demo.call("GET", "/regions").status_code == 200


def test_demo_token_cannot_touch_project_admin(admin: Caller, demo: Caller) -> None:
    pid, uid = admin.project_id, admin.user_id
    admin_role = role_id(admin, "admin")
    for method, path, body in [
        ("GET", f"/projects/{pid}", None),
        ("PATCH", f"/projects/{pid}", {"project": {"description": "mine now"}}),
        ("DELETE", f"/projects/{pid}", None),
        ("GET", f"/projects/{pid}/tags", None),
        ("PUT", f"/projects/{pid}/tags/owned", None),
        ("GET", f"/users/{uid}", None),
        ("PATCH", f"/users/{uid}", {"user": {"enabled": False}}),
        ("GET", f"/users/{uid}/projects", None),
        ("GET", f"/users/{uid}/application_credentials", None),
        ("GET", f"/users/{uid}/credentials/OS-EC2", None),
        ("GET", f"/role_assignments?scope.project.id={pid}", None),
        ("PUT", f"/projects/{pid}/users/{demo.user_id}/roles/{admin_role}", None),
        ("POST", f"/users/{demo.user_id}/credentials/OS-EC2", {"tenant_id": pid}),
        ("POST", f"/users/{uid}/credentials/OS-EC2", {"tenant_id": pid}),
    ]:
        resp = demo.call(method, path, json=body) if body else demo.call(method, path)
        assert_refused(resp, 403)
    mine = demo.call("GET", "/credentials").json()["credentials"]
    assert all(c["user_id"] == demo.user_id for c in mine)
    assert admin.call("GET", f"/projects/{pid}").json()["project"]["description"] != "mine now"
    # What is the demo user's own stays readable.
    assert demo.call("GET", f"/projects/{demo.project_id}").status_code == 200
    assert demo.call("GET", f"/users/{demo.user_id}").status_code == 200
    projects = demo.call("GET", f"/users/{demo.user_id}/projects").json()["projects"]
    assert [p["id"] for p in projects] == [demo.project_id]


def test_reader_cannot_create_credentials(
    cloud: Cloud, admin: Caller, demo: Caller, temp_user: tuple[dict[str, Any], str]
) -> None:
    user, password = temp_user
    grant = f"/projects/{demo.project_id}/users/{user['id']}/roles/{role_id(admin, 'reader')}"
    assert admin.call("PUT", grant).status_code == 204
    reader = connect_as(cloud, user, password, demo.project_id)
    me = user["id"]
    app_cred = {"application_credential": {"name": "nope"}}
    assert_refused(reader.call("POST", f"/users/{me}/application_credentials", json=app_cred), 403)
    ec2 = {"tenant_id": demo.project_id}
    assert_refused(reader.call("POST", f"/users/{me}/credentials/OS-EC2", json=ec2), 403)
    blob = json.dumps({"access": f"a-{uuid.uuid4().hex}", "secret": "s"})
    cred = {
        "credential": {"user_id": me, "project_id": demo.project_id, "type": "ec2", "blob": blob}
    }
    assert_refused(reader.call("POST", "/credentials", json=cred), 403)
    # A reader still sees their own things.
    assert reader.call("GET", f"/users/{me}").status_code == 200
    assert reader.call("GET", f"/users/{me}/application_credentials").status_code == 200


def test_app_cred_token_cannot_manage_app_creds(cloud: Cloud, demo: Caller) -> None:
    body = {"application_credential": {"name": f"ac-{uuid.uuid4().hex[:10]}"}}
    made = demo.call("POST", f"/users/{demo.user_id}/application_credentials", json=body)
    assert made.status_code == 201, made.text
    ac = made.json()["application_credential"]
    try:
        auth = {
            "identity": {
                "methods": ["application_credential"],
                "application_credential": {"id": ac["id"], "secret": ac["secret"]},
            }
        }
        issued = httpx.post(f"{cloud.identity_url}/auth/tokens", json={"auth": auth})
        assert issued.status_code == 201, issued.text
        with_ac = Caller(
            cloud.identity_url, issued.headers["X-Subject-Token"], demo.user_id, demo.project_id
        )
        more = {"application_credential": {"name": "more"}}
        path = f"/users/{demo.user_id}/application_credentials"
        assert_refused(with_ac.call("POST", path, json=more), 403)
        assert_refused(with_ac.call("DELETE", f"{path}/{ac['id']}"), 403)
    finally:
        deleted = demo.call("DELETE", f"/users/{demo.user_id}/application_credentials/{ac['id']}")
        assert deleted.status_code == 204


@pytest.mark.parametrize(
    "path",
    [
        "/projects/no-such-project",
        "/users/" + "x" * 300,
        "/groups/%20",
        "/roles/nope",
        "/domains/nope",
        "/regions/nope",
        "/services/nope",
        "/endpoints/nope",
        "/credentials/nope",
        "/users/nope/groups",
        "/projects/nope/tags",
    ],
)
def test_unknown_ids_are_404(admin: Caller, path: str) -> None:
    assert_refused(admin.call("GET", path), 404)


def test_grant_with_unknown_role_is_404(admin: Caller, demo: Caller) -> None:
    path = f"/projects/{demo.project_id}/users/{demo.user_id}/roles/nope"
    assert_refused(admin.call("PUT", path), 404)
    assert admin.call("HEAD", path).status_code == 404
    assert_refused(admin.call("GET", path), 404)


@pytest.mark.parametrize(
    "content",
    [b'{"project": ', b"not json", b"\xff\xfe", b"", b"[]", b'"project"', b'{"project": "x"}'],
)
def test_malformed_bodies_are_400(admin: Caller, content: bytes) -> None:
    headers = {"Content-Type": "application/json"}
    assert_refused(admin.call("POST", "/projects", content=content, headers=headers), 400)


@pytest.mark.parametrize(
    "body",
    [
        {"project": {"name": 42}},
        {"project": {"name": "ok", "enabled": "yes"}},
        {"project": {"name": "ok", "domain_id": ["default"]}},
        {"project": {"name": "x" * 256}},
        {"project": {"name": "   "}},
        {"project": {"name": "ok", "tags": ["a/b"]}},
        {"project": {"name": "ok", "is_domain": True}},
        {"project": {"name": "ok"}, "surprise": 1},
        {"project": {"name": "ok", "parent_id": "no-such-parent"}},
    ],
)
def test_bad_project_input_is_400(admin: Caller, body: dict[str, Any]) -> None:
    assert_refused(admin.call("POST", "/projects", json=body), 400)


def test_unknown_fields_are_refused_where_keystone_forbids(
    admin: Caller, demo: Caller, temp_user: tuple[dict[str, Any], str]
) -> None:
    user, password = temp_user
    change = {"user": {"original_password": password, "password": "new", "also": 1}}
    assert_refused(admin.call("POST", f"/users/{user['id']}/password", json=change), 400)
    ac = {"application_credential": {"name": "x", "roles": [{"name": "member", "extra": 1}]}}
    path = f"/users/{demo.user_id}/application_credentials"
    assert_refused(demo.call("POST", path, json=ac), 400)
    assert_refused(admin.call("POST", "/users", json={"user": {"name": "u"}, "x": 1}), 400)
    assert_refused(admin.call("PUT", "/projects/x/tags", json={"tags": [], "x": 1}), 400)


def test_duplicate_names_conflict(admin: Caller, temp_user: tuple[dict[str, Any], str]) -> None:
    user, _ = temp_user
    error = assert_refused(admin.call("POST", "/users", json={"user": {"name": user["name"]}}), 409)
    assert error["message"].startswith("Conflict occurred attempting to store user")
    name = f"proj-{uuid.uuid4().hex[:10]}"
    made = admin.call("POST", "/projects", json={"project": {"name": name}})
    assert made.status_code == 201
    try:
        again = admin.call("POST", "/projects", json={"project": {"name": name}})
        assert "Duplicate entry" in assert_refused(again, 409)["message"]
    finally:
        admin.call("DELETE", f"/projects/{made.json()['project']['id']}")


def test_wrong_password_change_is_401(temp_user: tuple[dict[str, Any], str], admin: Caller) -> None:
    user, password = temp_user
    body = {"user": {"original_password": password + "x", "password": "new"}}
    assert_refused(admin.call("POST", f"/users/{user['id']}/password", json=body), 401)
    body = {"user": {"original_password": password, "password": "new-" + password}}
    assert admin.call("POST", f"/users/{user['id']}/password", json=body).status_code == 204
