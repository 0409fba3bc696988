"""``/v3/auth`` and version discovery: through the real clients, and raw HTTP for refusals.

Two harnesses: ``identity`` is the identity app in this process (httpx over ASGI, a fresh
SQLite with the bootstrap records) for fast, precise negative cases; ``cloud`` is a real
``stratus up`` driven by the ``openstack`` CLI and openstacksdk.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa

from cloudproc import Cloud
from stratus.common.asgi.edge import EdgeMiddleware
from stratus.common.asgi.routing import build_router
from stratus.common.db import Database, sqlite_url, upgrade
from stratus.common.rpc import Bus, connect
from stratus.common.service import CatalogEntry
from stratus.identity import models as m
from stratus.identity import revocation
from stratus.identity.api import auth, auth_scopes, versions
from stratus.identity.bootstrap import Secrets, bootstrap, sync_catalog
from stratus.identity.credential_crypto import CredentialCrypto
from stratus.identity.faults import keystone_fault
from stratus.identity.keys import KeyRepository
from stratus.identity.migrations import MIGRATIONS
from stratus.identity.passwords import PasswordHasher
from stratus.identity.settings import IdentitySettings
from stratus.identity.state import IdentityState
from stratus.identity.tokens import TokenPayload, TokenProvider, new_audit_id
from stratus.identity.validation import TokenValidator

AUTH_MSG = "The request you have made requires authentication."


@dataclass
class Identity:
    http: httpx.AsyncClient
    state: IdentityState
    secrets: Secrets
    bus: Bus

    def password_body(self, user: str = "admin", project: str | None = "admin") -> dict[str, Any]:
        secret = self.secrets.admin_password if user == "admin" else self.secrets.demo_password
        auth: dict[str, Any] = {
            "identity": {
                "methods": ["password"],
                "password": {
                    "user": {"name": user, "domain": {"id": "default"}, "password": secret}
                },
            }
        }
        if project is not None:
            auth["scope"] = {"project": {"name": project, "domain": {"name": "Default"}}}
        return {"auth": auth}

    async def token(self, user: str = "admin", project: str | None = "admin") -> str:
        r = await self.http.post("/v3/auth/tokens", json=self.password_body(user, project))
        assert r.status_code == 201, r.text
        return r.headers["x-subject-token"]

    async def row(self, model: type[m.Base], **where: Any) -> Any:
        async with self.state.db.session() as s:
            return (await s.scalars(sa.select(model).filter_by(**where))).one()


async def build_identity(
    tmp: Path, bus: Bus, poll_interval: float = 0.2, url: str = "http://127.0.0.1:5000"
) -> Identity:
    """The identity app on the database and keys in ``tmp`` (created on first use)."""
    db = Database(sqlite_url(tmp / "identity.sqlite"))
    await upgrade(db, MIGRATIONS)
    hasher = PasswordHasher(memory_kib=8192, iterations=1)
    crypto = CredentialCrypto(KeyRepository(tmp / "credkeys", 3).load_or_create())
    sec = Secrets.load_or_create(tmp / "secrets.json")
    urls = {
        "identity": (CatalogEntry("identity", "keystone", "/v3"), url),
        "compute": (CatalogEntry("compute", "nova", "/v2.1/%(project_id)s"), "http://h:8774"),
    }
    async with db.session() as s:
        await bootstrap(s, sec, hasher, crypto, "RegionOne")
        await sync_catalog(s, urls, "RegionOne")
    tokens = TokenProvider(KeyRepository(tmp / "keys", 3).load_or_create(), 3600)
    validator = TokenValidator(db, tokens, cache_ttl=30, poll_interval=poll_interval)
    state = IdentityState(IdentitySettings(), db, hasher, tokens, validator, crypto, bus)
    await validator.start(bus, host=f"node-{uuid.uuid4().hex[:8]}")
    specs = [*versions.routes.specs, *auth.routes.specs, *auth_scopes.routes.specs]
    router = build_router(
        specs, authenticate=validator.authenticate, max_body=1 << 20, service=state
    )
    app = EdgeMiddleware(router, render=keystone_fault)
    http = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://id")
    return Identity(http, state, sec, bus)


async def close_identity(ident: Identity) -> None:
    await ident.http.aclose()
    await ident.state.validator.stop()
    await ident.state.db.close()


@pytest.fixture
async def identity(tmp_path: Path) -> AsyncIterator[Identity]:
    bus = await connect(f"memory://auth-{uuid.uuid4().hex}")
    ident = await build_identity(tmp_path, bus)
    try:
        yield ident
    finally:
        await close_identity(ident)
        await bus.close()


def headers(token: str, subject: str | None = None) -> dict[str, str]:
    out = {"X-Auth-Token": token}
    if subject is not None:
        out["X-Subject-Token"] = subject
    return out


def assert_401(r: httpx.Response) -> None:
    assert r.status_code == 401, r.text
    assert r.headers["www-authenticate"].startswith("Keystone uri=")
    assert r.json()["error"] == {"code": 401, "title": "Unauthorized", "message": AUTH_MSG}


# -- in-process: issuing -------------------------------------------------------------------


async def test_version_discovery(identity: Identity) -> None:
    r = await identity.http.get("/")
    assert r.status_code == 300
    values = r.json()["versions"]["values"]
    assert values[0]["id"] == "v3.14" and values[0]["status"] == "stable"
    assert values[0]["links"][0] == {"rel": "self", "href": "http://id/v3/"}
    r = await identity.http.get("/v3")
    version = r.json()["version"]
    assert version["media-types"][0]["type"] == "application/vnd.openstack.identity-v3+json"
    assert set(version) == {"id", "status", "updated", "links", "media-types"}


async def test_password_token_has_keystone_body(identity: Identity) -> None:
    r = await identity.http.post("/v3/auth/tokens", json=identity.password_body())
    assert r.status_code == 201
    token = r.json()["token"]
    assert len(r.headers["x-subject-token"]) < 256
    assert token["methods"] == ["password"]
    assert token["user"]["name"] == "admin"
    assert token["user"]["domain"] == {"id": "default", "name": "Default"}
    assert "password_expires_at" in token["user"]
    assert token["project"]["name"] == "admin"
    assert token["project"]["domain"] == {"id": "default", "name": "Default"}
    assert token["is_domain"] is False
    assert [role["name"] for role in token["roles"]] == ["admin"]
    assert token["expires_at"].endswith(".000000Z") and token["issued_at"].endswith("Z")
    assert len(token["audit_ids"]) == 1
    compute = next(s for s in token["catalog"] if s["type"] == "compute")
    project_id = token["project"]["id"]
    assert all(e["url"].endswith(project_id) for e in compute["endpoints"])
    assert {e["interface"] for e in compute["endpoints"]} == {"public", "internal", "admin"}


async def test_user_by_id_and_nocatalog(identity: Identity) -> None:
    user = await identity.row(m.User, name="demo")
    project = await identity.row(m.Project, name="demo")
    body = {
        "auth": {
            "identity": {
                "methods": ["password"],
                "password": {"user": {"id": user.id, "password": identity.secrets.demo_password}},
            },
            "scope": {"project": {"id": project.id}},
        }
    }
    r = await identity.http.post("/v3/auth/tokens?nocatalog", json=body)
    assert r.status_code == 201
    assert "catalog" not in r.json()["token"]
    assert [x["name"] for x in r.json()["token"]["roles"]] == ["member"]


async def test_no_scope_uses_default_project_and_unscoped_is_honoured(identity: Identity) -> None:
    r = await identity.http.post("/v3/auth/tokens", json=identity.password_body(project=None))
    assert r.json()["token"]["project"]["name"] == "admin"
    body = identity.password_body(project=None)
    body["auth"]["scope"] = "unscoped"
    r = await identity.http.post("/v3/auth/tokens", json=body)
    token = r.json()["token"]
    assert r.status_code == 201
    assert "project" not in token and "roles" not in token and "catalog" not in token


async def test_rescope_keeps_audit_chain_and_expiry(identity: Identity) -> None:
    body = identity.password_body(project=None)
    body["auth"]["scope"] = "unscoped"
    r = await identity.http.post("/v3/auth/tokens", json=body)
    unscoped, parent = r.headers["x-subject-token"], r.json()["token"]
    rescope = {
        "auth": {
            "identity": {"methods": ["token"], "token": {"id": unscoped}},
            "scope": {"project": {"name": "admin", "domain": {"id": "default"}}},
        }
    }
    r = await identity.http.post("/v3/auth/tokens", json=rescope)
    assert r.status_code == 201, r.text
    token = r.json()["token"]
    assert token["methods"] == ["password", "token"]
    assert token["audit_ids"][1] == parent["audit_ids"][0]
    assert token["expires_at"] == parent["expires_at"]
    # Revoking the rescoped token leaves its parent usable.
    child = r.headers["x-subject-token"]
    r = await identity.http.delete("/v3/auth/tokens", headers=headers(child, child))
    assert r.status_code == 204
    assert (
        await identity.http.get("/v3/auth/projects", headers=headers(unscoped))
    ).status_code == 200


async def test_domain_scope_needs_a_domain_role(identity: Identity) -> None:
    body = identity.password_body()
    body["auth"]["scope"] = {"domain": {"id": "default"}}
    assert_401(await identity.http.post("/v3/auth/tokens", json=body))
    admin_user = await identity.row(m.User, name="admin")
    admin_role = await identity.row(m.Role, name="admin")
    async with identity.state.db.session() as s:
        s.add(
            m.Assignment(
                type="UserDomain",
                actor_id=admin_user.id,
                target_id="default",
                role_id=admin_role.id,
                inherited=False,
            )
        )
    identity.state.changed()
    r = await identity.http.post("/v3/auth/tokens", json=body)
    assert r.status_code == 201, r.text
    token = r.json()["token"]
    assert token["domain"] == {"id": "default", "name": "Default"}
    compute = next(s for s in token["catalog"] if s["type"] == "compute")
    assert compute["endpoints"] == []  # project URLs cannot be filled for a domain token
    r = await identity.http.get("/v3/auth/domains", headers=headers(await identity.token()))
    assert [d["id"] for d in r.json()["domains"]] == ["default"]


async def test_group_and_inherited_roles_grant_scope(identity: Identity) -> None:
    demo = await identity.row(m.User, name="demo")
    admin_project = await identity.row(m.Project, name="admin")
    reader = await identity.row(m.Role, name="reader")
    assert_401(
        await identity.http.post("/v3/auth/tokens", json=identity.password_body("demo", "admin"))
    )
    async with identity.state.db.session() as s:
        group = m.Group(name="readers", domain_id="default")
        s.add(group)
        await s.flush()
        s.add(m.GroupMember(group_id=group.id, user_id=demo.id))
        s.add(
            m.Assignment(
                type="GroupDomain",
                actor_id=group.id,
                target_id="default",
                role_id=reader.id,
                inherited=True,
            )
        )
    identity.state.changed()
    r = await identity.http.post("/v3/auth/tokens", json=identity.password_body("demo", "admin"))
    assert r.status_code == 201, r.text
    assert r.json()["token"]["project"]["id"] == admin_project.id
    assert [x["name"] for x in r.json()["token"]["roles"]] == ["reader"]
    mine = await identity.http.get(
        "/v3/auth/projects", headers=headers(r.headers["x-subject-token"])
    )
    assert {p["name"] for p in mine.json()["projects"]} == {"admin", "demo", "service"}


async def test_application_credential_token(identity: Identity) -> None:
    demo = await identity.row(m.User, name="demo")
    project = await identity.row(m.Project, name="demo")
    member = await identity.row(m.Role, name="member")
    secret = "s3cret-app"
    async with identity.state.db.session() as s:
        cred = m.ApplicationCredential(
            name="ci",
            user_id=demo.id,
            project_id=project.id,
            role_ids=[member.id],
            secret_hash=await identity.state.passwords.hash(secret),
        )
        s.add(cred)
    by_name = {
        "auth": {
            "identity": {
                "methods": ["application_credential"],
                "application_credential": {
                    "name": "ci",
                    "secret": secret,
                    "user": {"name": "demo", "domain": {"name": "Default"}},
                },
            }
        }
    }
    r = await identity.http.post("/v3/auth/tokens", json=by_name)
    assert r.status_code == 201, r.text
    token = r.json()["token"]
    assert token["application_credential"] == {"id": cred.id, "name": "ci", "restricted": True}
    assert token["project"]["id"] == project.id
    issued = r.headers["x-subject-token"]
    ctx = await identity.state.validator.authenticate(issued, "req-1")
    assert ctx.app_cred_id == cred.id and ctx.roles == ["member"]
    wrong = json.loads(json.dumps(by_name))
    wrong["auth"]["identity"]["application_credential"]["secret"] = "nope"
    assert_401(await identity.http.post("/v3/auth/tokens", json=wrong))
    other_scope = json.loads(json.dumps(by_name))
    other_scope["auth"]["scope"] = {"project": {"name": "admin", "domain": {"id": "default"}}}
    assert_401(await identity.http.post("/v3/auth/tokens", json=other_scope))
    # Deleting the credential revokes its tokens at once.
    async with identity.state.db.session() as s:
        await s.delete(await s.get(m.ApplicationCredential, cred.id))
        await revocation.revoke_app_cred(s, cred.id)
    identity.state.changed()
    assert_401(await identity.http.get("/v3/auth/projects", headers=headers(issued)))


async def test_expired_application_credential(identity: Identity) -> None:
    demo = await identity.row(m.User, name="demo")
    project = await identity.row(m.Project, name="demo")
    member = await identity.row(m.Role, name="member")
    async with identity.state.db.session() as s:
        cred = m.ApplicationCredential(
            name="old",
            user_id=demo.id,
            project_id=project.id,
            role_ids=[member.id],
            secret_hash=await identity.state.passwords.hash("x"),
            expires_at=dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1),
        )
        s.add(cred)
    body = {
        "auth": {
            "identity": {
                "methods": ["application_credential"],
                "application_credential": {"id": cred.id, "secret": "x"},
            }
        }
    }
    assert_401(await identity.http.post("/v3/auth/tokens", json=body))


# -- in-process: refusals ------------------------------------------------------------------


@pytest.mark.parametrize(
    "change",
    [
        {"password": "wrong"},
        {"name": "nobody"},
        {"domain": {"name": "NoSuchDomain"}},
    ],
)
async def test_bad_credentials_are_one_401(identity: Identity, change: dict[str, Any]) -> None:
    body = identity.password_body()
    body["auth"]["identity"]["password"]["user"].update(change)
    assert_401(await identity.http.post("/v3/auth/tokens", json=body))


async def test_disabled_user_and_project_are_refused(identity: Identity) -> None:
    token = await identity.token("demo", "demo")
    async with identity.state.db.session() as s:
        project = (await s.scalars(sa.select(m.Project).filter_by(name="demo"))).one()
        project.enabled = False
        await revocation.revoke_project(s, project.id)
    identity.state.changed()
    assert_401(
        await identity.http.post("/v3/auth/tokens", json=identity.password_body("demo", "demo"))
    )
    assert_401(await identity.http.get("/v3/auth/catalog", headers=headers(token)))
    async with identity.state.db.session() as s:
        user = (await s.scalars(sa.select(m.User).filter_by(name="demo"))).one()
        user.enabled = False
    identity.state.changed()
    body = identity.password_body("demo", None)
    body["auth"]["scope"] = "unscoped"
    assert_401(await identity.http.post("/v3/auth/tokens", json=body))


async def test_demo_cannot_scope_to_admin_project(identity: Identity) -> None:
    demo = await identity.token("demo", "demo")
    body = {
        "auth": {
            "identity": {"methods": ["token"], "token": {"id": demo}},
            "scope": {"project": {"name": "admin", "domain": {"id": "default"}}},
        }
    }
    assert_401(await identity.http.post("/v3/auth/tokens", json=body))
    assert_401(
        await identity.http.post("/v3/auth/tokens", json=identity.password_body("demo", "admin"))
    )


async def test_tampered_and_foreign_tokens_are_401(identity: Identity) -> None:
    token = await identity.token()
    tampered = token[:40] + ("A" if token[40] != "A" else "B") + token[41:]
    for bad in (tampered, "garbage", "x" * 3000):
        assert_401(await identity.http.get("/v3/auth/catalog", headers=headers(bad)))
    assert_401(await identity.http.get("/v3/auth/catalog"))


async def test_expired_token_is_401(identity: Identity) -> None:
    admin = await identity.row(m.User, name="admin")
    now = dt.datetime.now(dt.UTC)
    payload = TokenPayload(
        admin.id,
        ("password",),
        now - dt.timedelta(hours=1),
        now - dt.timedelta(seconds=1),
        (new_audit_id(),),
    )
    expired = identity.state.tokens.issue(payload)
    assert_401(await identity.http.get("/v3/auth/projects", headers=headers(expired)))
    token = await identity.token()
    r = await identity.http.get("/v3/auth/tokens", headers=headers(token, expired))
    assert r.status_code == 404
    r = await identity.http.get("/v3/auth/tokens?allow_expired=1", headers=headers(token, expired))
    assert r.status_code == 200 and r.json()["token"]["user"]["id"] == admin.id


@pytest.mark.parametrize(
    ("body", "status"),
    [
        (b"{not json", 400),
        (b"", 400),
        (b"[]", 400),
        (b'{"auth": {}}', 400),
        (b'{"auth": {"identity": {"methods": []}}}', 400),
        (b'{"auth": {"identity": {"methods": ["password"]}}}', 400),
        (b'{"auth": {"identity": {"methods": ["password"], "password": {"user": 5}}}}', 400),
        (b'{"auth": {"identity": {"methods": ["password"], "password": {"user": {}}}}}', 400),
        (b'{"auth": {"identity": {"methods": ["totp"], "totp": {}}}}', 401),
        (
            b'{"auth": {"identity": {"methods": ["password"], "password": {"user": '
            b'{"name": "admin", "password": "x"}}}}}',
            400,
        ),
    ],
)
async def test_malformed_bodies(identity: Identity, body: bytes, status: int) -> None:
    r = await identity.http.post(
        "/v3/auth/tokens", content=body, headers={"Content-Type": "application/json"}
    )
    assert r.status_code == status, r.text
    assert r.json()["error"]["code"] == status


async def test_body_over_one_mib_is_413(identity: Identity) -> None:
    r = await identity.http.post("/v3/auth/tokens", content=b"{" + b" " * (1 << 20) + b"}")
    assert r.status_code == 413


# -- in-process: validation and revocation -------------------------------------------------


async def test_validate_own_and_others_tokens(identity: Identity) -> None:
    admin, demo = await identity.token(), await identity.token("demo", "demo")
    r = await identity.http.get("/v3/auth/tokens", headers=headers(demo, demo))
    assert r.status_code == 200 and r.headers["x-subject-token"] == demo
    assert r.json()["token"]["project"]["name"] == "demo"
    r = await identity.http.get("/v3/auth/tokens", headers=headers(admin, demo))
    assert r.status_code == 200
    assert (
        await identity.http.get("/v3/auth/tokens", headers=headers(demo, admin))
    ).status_code == 403
    r = await identity.http.head("/v3/auth/tokens", headers=headers(admin, demo))
    assert r.status_code == 200 and r.content == b""
    r = await identity.http.get("/v3/auth/tokens", headers=headers(admin))
    assert r.status_code == 400


async def test_revoked_token_is_refused_everywhere(identity: Identity, tmp_path: Path) -> None:
    # Same database, keys and bus; it never polls, so only the fan-out can tell it.
    other = await build_identity(tmp_path, identity.bus, poll_interval=3600)
    try:
        token = await identity.token("demo", "demo")
        await other.state.validator.authenticate(token, "req")  # cached on node 2
        r = await identity.http.delete("/v3/auth/tokens", headers=headers(token, token))
        assert r.status_code == 204
        assert_401(await identity.http.get("/v3/auth/projects", headers=headers(token)))
        for _ in range(50):
            try:
                await other.state.validator.authenticate(token, "req")
            except Exception as exc:
                assert getattr(exc, "code", "") == "identity.token.invalid"
                break
            await asyncio.sleep(0.01)
        else:
            pytest.fail("node 2 still accepts a revoked token")
    finally:
        await close_identity(other)


async def test_password_change_revokes_user_tokens(identity: Identity) -> None:
    token = await identity.token("demo", "demo")
    demo = await identity.row(m.User, name="demo")
    async with identity.state.db.session() as s:
        await revocation.revoke_user(s, demo.id)
    identity.state.changed()
    assert_401(await identity.http.get("/v3/auth/projects", headers=headers(token)))
    fresh = await identity.token("demo", "demo")
    assert (await identity.http.get("/v3/auth/projects", headers=headers(fresh))).status_code == 200


async def test_role_removal_applies_on_next_use(identity: Identity) -> None:
    token = await identity.token("demo", "demo")
    async with identity.state.db.session() as s:
        await s.execute(sa.delete(m.Assignment))
    identity.state.changed()
    assert_401(await identity.http.get("/v3/auth/catalog", headers=headers(token)))


async def test_catalog_endpoint(identity: Identity) -> None:
    token = await identity.token()
    r = await identity.http.get("/v3/auth/catalog", headers=headers(token))
    assert r.status_code == 200
    assert {s["type"] for s in r.json()["catalog"]} == {"identity", "compute"}
    assert r.json()["links"]["self"] == "http://id/v3/auth/catalog"


# -- the real cloud, through the real clients ----------------------------------------------


def test_cli_token_issue_and_revoke(cloud: Cloud) -> None:
    issued = cloud.openstack("token", "issue", "-f", "json", cloud="stratus-demo")
    assert issued["project_id"] and issued["user_id"] and issued["expires"]
    r = httpx.get(f"{cloud.identity_url}/auth/tokens", headers=headers(issued["id"], issued["id"]))
    assert r.status_code == 200 and r.json()["token"]["project"]["name"] == "demo"
    cloud.cli("token", "revoke", issued["id"], cloud="stratus-demo")
    assert_401(httpx.get(f"{cloud.identity_url}/auth/catalog", headers=headers(issued["id"])))


def test_cli_catalog_list(cloud: Cloud) -> None:
    catalog = cloud.openstack("catalog", "list", "-f", "json")
    types = {entry["Type"] for entry in catalog}
    assert "identity" in types
    identity = next(e for e in catalog if e["Type"] == "identity")
    assert "RegionOne" in json.dumps(identity["Endpoints"])


# openstacksdk warns about its own deprecated internals (InfluxDB, _compute_attributes).
@pytest.mark.filterwarnings("ignore::openstack.warnings._RemovedInSDKWarning")
def test_sdk_identity(cloud: Cloud) -> None:
    conn = cloud.sdk("stratus-admin")
    try:
        assert conn.identity.get_endpoint_data().url.rstrip("/").endswith("/v3")
        assert conn.current_project_id
        assert conn.session.get_token()
        assert conn.identity.get_project(conn.current_project_id).name == "admin"
    finally:
        conn.close()


def test_raw_refusals_on_the_real_server(cloud: Cloud) -> None:
    url = f"{cloud.identity_url}/auth/tokens"
    assert_401(httpx.get(url, headers=headers("not-a-token", "x")))
    r = httpx.post(url, content=b"{oops", headers={"Content-Type": "application/json"})
    assert r.status_code == 400
    r = httpx.post(
        url, content=b"{" + b" " * (1 << 20) + b"}", headers={"Content-Type": "application/json"}
    )
    assert r.status_code == 413
    demo_body = {
        "auth": {
            "identity": {
                "methods": ["password"],
                "password": {
                    "user": {
                        "name": "demo",
                        "domain": {"id": "default"},
                        "password": cloud.password("demo"),
                    }
                },
            },
            "scope": {"project": {"name": "admin", "domain": {"id": "default"}}},
        }
    }
    assert_401(httpx.post(url, json=demo_body))


async def test_without_a_bus_other_nodes_poll_for_revocations(tmp_path: Path) -> None:
    bus_a = await connect(f"memory://a-{uuid.uuid4().hex}")
    bus_b = await connect(f"memory://b-{uuid.uuid4().hex}")  # separate buses: no fan-out
    node_a = await build_identity(tmp_path, bus_a)
    node_b = await build_identity(tmp_path, bus_b, poll_interval=0.05)
    try:
        token = await node_a.token("demo", "demo")
        await node_b.state.validator.authenticate(token, "req")
        r = await node_a.http.delete("/v3/auth/tokens", headers=headers(token, token))
        assert r.status_code == 204
        await asyncio.sleep(0.3)
        with pytest.raises(Exception, match="requires authentication"):
            await node_b.state.validator.authenticate(token, "req")
    finally:
        for node in (node_a, node_b):
            await close_identity(node)
        await bus_a.close()
        await bus_b.close()
