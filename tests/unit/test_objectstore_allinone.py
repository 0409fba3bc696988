"""The all-in-one rings of ``stratus up`` and the proxy's auth against identity."""

from __future__ import annotations

import asyncio
import datetime as dt
from pathlib import Path

import pytest

from stratus.common.errors import Unauthenticated, Unavailable
from stratus.identity.rpc import IssuedToken, TokenInfo
from stratus.objectstore.allinone import prepare
from stratus.objectstore.keystone_auth import KeystoneAuth
from stratus.objectstore.ring import load_ring
from stratus.settings import Settings

PORTS = {"object-server": 6200, "container-server": 6201, "account-server": 6202}


def test_rings_are_built_once_share_a_secret_and_follow_ports(tmp_path: Path) -> None:
    settings = Settings(state_dir=tmp_path)
    prepare(settings, PORTS)
    devices, rings = settings.objectstore_dirs()
    assert sorted(p.name for p in devices.iterdir()) == ["d0", "d1", "d2", "d3"]
    first = {k: load_ring(rings / f"{k}.ring") for k in ("account", "container", "object")}
    assert len({r.hash_suffix for r in first.values()}) == 1
    obj = first["object"]
    assert obj.replicas == 3 and obj.partition_count == 256
    assert {d.zone for d in obj.devices} == {0, 1, 2, 3}
    assert {d.port for d in obj.devices} == {6200}

    prepare(settings, PORTS)  # a restart changes nothing
    assert load_ring(rings / "object.ring").version == obj.version

    prepare(settings, PORTS | {"object-server": 7200})
    moved = load_ring(rings / "object.ring")
    assert {d.port for d in moved.devices} == {7200}
    assert moved.version > obj.version and moved.hash_suffix == obj.hash_suffix
    assert [moved.partition("a", "c", str(i)) for i in range(50)] == [
        obj.partition("a", "c", str(i)) for i in range(50)
    ]
    assert moved.table() == obj.table()


def info(project_id: str | None, roles: list[str]) -> TokenInfo:
    now = dt.datetime.now(dt.UTC)
    return TokenInfo(
        user_id="u",
        user_name="demo",
        user_domain_id="default",
        user_domain_name="Default",
        project_id=project_id,
        roles=roles,
        issued_at=now,
        expires_at=now + dt.timedelta(hours=1),
    )


class FakeIdentity:
    def __init__(self, error: Exception | None = None) -> None:
        self.error = error

    async def validate(self, token: str) -> TokenInfo:
        if self.error:
            raise self.error
        return info("p1", ["member"] if token == "member" else ["admin"])

    async def issue(self, user: str, password: str, *, project_name: str | None) -> IssuedToken:
        if self.error:
            raise self.error
        i = info("p1", ["member"])
        return IssuedToken(token="tok", expires_at=i.expires_at, info=i)


def auth(error: Exception | None = None) -> KeystoneAuth:
    return KeystoneAuth(FakeIdentity(error), "http://127.0.0.1:8080")  # type: ignore[arg-type]


def test_keystone_auth_callers_and_v1_grants() -> None:
    member = asyncio.run(auth().authenticate({"x-auth-token": "member"}))
    assert member is not None and member.project_id == "p1" and not member.is_admin
    admin = asyncio.run(auth().authenticate({"x-auth-token": "a"}))
    assert admin is not None and admin.is_admin
    assert asyncio.run(auth().authenticate({})) is None
    bad = Unauthenticated("identity.token.invalid", "no")
    assert asyncio.run(auth(bad).authenticate({"x-auth-token": "t"})) is None
    assert asyncio.run(auth(bad).issue("demo:demo", "x")) is None
    assert asyncio.run(auth().issue("no-project", "x")) is None
    grant = asyncio.run(auth().issue("demo:demo", "pw"))
    assert grant is not None
    assert grant.storage_url == "http://127.0.0.1:8080/v1/AUTH_p1" and grant.token == "tok"
    assert 3500 < grant.expires_in <= 3600


def test_identity_down_is_unavailable_not_a_pass() -> None:
    down = Unavailable("identity.unavailable", "down")
    with pytest.raises(Unavailable):
        asyncio.run(auth(down).authenticate({"x-auth-token": "t"}))
    with pytest.raises(Unavailable):
        asyncio.run(auth(down).issue("demo:demo", "pw"))
