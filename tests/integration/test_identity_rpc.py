"""Identity over RPC: a real IdentityService (SQLite state dir) serving ``ValidateToken`` and
``IssueToken``, and the ``RemoteAuthenticator`` an API node uses, on both transports."""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from stratus.common.db import Database, upgrade
from stratus.common.errors import Kind, Unauthenticated, Unavailable
from stratus.common.rpc import Bus, connect
from stratus.common.service import Runtime
from stratus.identity.bootstrap import Secrets, bootstrap
from stratus.identity.client import RemoteAuthenticator
from stratus.identity.credential_crypto import CredentialCrypto
from stratus.identity.keys import KeyRepository
from stratus.identity.migrations import MIGRATIONS
from stratus.identity.passwords import PasswordHasher
from stratus.identity.rpc import IDENTITY_TOPIC, TokenInfo, ValidateToken
from stratus.identity.service import IdentityService
from stratus.settings import Settings

pytestmark = pytest.mark.integration

CALL_TIMEOUT = 1.5

BusFactory = Callable[[], Awaitable[Bus]]


@dataclass
class Cloud:
    service: IdentityService
    http: httpx.AsyncClient
    secrets: Secrets
    api_bus: Bus  # the bus of an API node: another process, sharing only the broker

    async def token(self, user: str = "demo", project: str | None = "demo") -> str:
        password = self.secrets.admin_password if user == "admin" else self.secrets.demo_password
        auth: dict[str, Any] = {
            "identity": {
                "methods": ["password"],
                "password": {
                    "user": {"name": user, "domain": {"id": "default"}, "password": password}
                },
            }
        }
        if project is not None:
            auth["scope"] = {"project": {"name": project, "domain": {"id": "default"}}}
        r = await self.http.post("/v3/auth/tokens", json={"auth": auth})
        assert r.status_code == 201, r.text
        return r.headers["x-subject-token"]

    async def revoke(self, token: str) -> None:
        headers = {"X-Auth-Token": await self.token("admin", "admin"), "X-Subject-Token": token}
        r = await self.http.delete("/v3/auth/tokens", headers=headers)
        assert r.status_code == 204, r.text

    def authenticator(self, **kw: Any) -> RemoteAuthenticator:
        return RemoteAuthenticator(self.api_bus, call_timeout=CALL_TIMEOUT, **kw)


@pytest.fixture(params=["memory", "amqp"])
async def new_bus(request: pytest.FixtureRequest) -> AsyncIterator[BusFactory]:
    """Buses to one broker, one per simulated process; closed after the test."""
    if request.param == "amqp":
        url = request.getfixturevalue("amqp_url")
        exchange = request.getfixturevalue("amqp_exchange")
    else:
        url, exchange = f"memory://{uuid.uuid4().hex}", "stratus"
    buses: list[Bus] = []

    async def make() -> Bus:
        bus = await connect(url, exchange=exchange, call_timeout=CALL_TIMEOUT)
        buses.append(bus)
        return bus

    yield make
    for bus in buses:
        await bus.close()


async def _prepare_state_dir(settings: Settings) -> Secrets:
    """What ``stratus up`` does before starting identity: migrate, bootstrap records."""
    cfg = settings.identity
    db = Database(settings.database_url("identity"))
    try:
        await upgrade(db, MIGRATIONS)
        sec = Secrets.load_or_create(settings.state_dir / "secrets.json")
        hasher = PasswordHasher(cfg.password_hash_memory_kib, cfg.password_hash_iterations)
        keys = KeyRepository(settings.state_dir / "keys" / "credential", cfg.max_active_keys)
        async with db.session() as session:
            await bootstrap(session, sec, hasher, CredentialCrypto(keys.load_or_create()), "R1")
    finally:
        await db.close()
    return sec


@pytest.fixture
async def cloud(new_bus: BusFactory, tmp_path: Path) -> AsyncIterator[Cloud]:
    settings = Settings(
        state_dir=tmp_path,
        host="idnode",
        identity={"password_hash_memory_kib": 8192, "password_hash_iterations": 1},
    )
    sec = await _prepare_state_dir(settings)
    service = IdentityService()
    api = await service.start(Runtime(settings=settings, bus=await new_bus(), host="idnode"))
    http = httpx.AsyncClient(transport=httpx.ASGITransport(app=api.app), base_url="http://id")
    try:
        yield Cloud(service, http, sec, await new_bus())
    finally:
        await http.aclose()
        await service.stop()


async def stop_identity_rpc(cloud: Cloud) -> None:
    rpc = cloud.service._rpc
    assert rpc is not None
    await rpc.stop()


def count_calls(bus: Bus, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Record the wire name of every call the API node's bus makes."""
    seen: list[str] = []
    real = bus.call

    async def call(topic: str, msg: Any, **kw: Any) -> Any:
        seen.append(msg.wire_name)
        return await real(topic, msg, **kw)

    monkeypatch.setattr(bus, "call", call)
    return seen


# ---- ValidateToken ----------------------------------------------------------------------


async def test_validate_token_gives_user_project_and_roles(cloud: Cloud) -> None:
    token = await cloud.token("demo", "demo")
    info = await cloud.api_bus.call(IDENTITY_TOPIC, ValidateToken(token=token))
    assert isinstance(info, TokenInfo)
    assert (info.user_name, info.user_domain_id, info.user_domain_name) == (
        "demo",
        "default",
        "Default",
    )
    assert (info.project_name, info.project_domain_id) == ("demo", "default")
    assert "member" in info.roles and "admin" not in info.roles
    assert info.methods == ["password"]
    assert info.expires_at > dt.datetime.now(dt.UTC)
    assert info.domain_id is None and info.system_scope is None


async def test_remote_context_equals_identitys_own(cloud: Cloud) -> None:
    """An API node sees a caller exactly as identity's own routes do."""
    token = await cloud.token("admin", "admin")
    assert cloud.service.state is not None
    local = await cloud.service.state.validator.authenticate(token, "req-1")
    remote = await cloud.authenticator()(token, "req-1")
    assert remote == local
    assert remote.auth_token == token
    assert remote.is_admin


async def test_tampered_token_is_unauthenticated(cloud: Cloud) -> None:
    token = await cloud.token()
    tampered = token[:-4] + ("AAAA" if not token.endswith("AAAA") else "BBBB")
    for bad in (tampered, "", "x" * 5000):
        with pytest.raises(Unauthenticated) as caught:
            await cloud.api_bus.call(IDENTITY_TOPIC, ValidateToken(token=bad))
        assert caught.value.code == "identity.token.invalid"
        assert caught.value.kind is Kind.UNAUTHENTICATED


async def test_expired_token_is_unauthenticated(cloud: Cloud) -> None:
    st = cloud.service.state
    assert st is not None
    payload = st.tokens.decode(await cloud.token())
    past = dt.datetime.now(dt.UTC) - dt.timedelta(hours=1)
    old = dataclasses.replace(
        payload, issued_at=past - dt.timedelta(hours=1), expires_at=past.replace(microsecond=0)
    )
    with pytest.raises(Unauthenticated) as caught:
        await cloud.authenticator()(st.tokens.issue(old), "req-1")
    assert caught.value.code == "identity.token.expired"


# ---- RemoteAuthenticator ----------------------------------------------------------------


async def test_second_call_is_served_from_the_cache(
    cloud: Cloud, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls = count_calls(cloud.api_bus, monkeypatch)
    authn = cloud.authenticator()
    token = await cloud.token()
    first = await authn(token, "req-1")
    second = await authn(token, "req-2")
    assert calls == ["identity.validate_token"]
    assert (first.request_id, second.request_id) == ("req-1", "req-2")
    assert second.user_id == first.user_id and second.roles == first.roles
    await stop_identity_rpc(cloud)
    assert (await authn(token, "req-3")).user_id == first.user_id  # identity not needed


async def test_concurrent_misses_share_one_call(
    cloud: Cloud, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls = count_calls(cloud.api_bus, monkeypatch)
    authn = cloud.authenticator()
    token = await cloud.token()
    contexts = await asyncio.gather(*(authn(token, f"req-{i}") for i in range(20)))
    assert calls == ["identity.validate_token"]
    assert [c.request_id for c in contexts] == [f"req-{i}" for i in range(20)]


async def test_cache_is_bounded_and_expires(cloud: Cloud, monkeypatch: pytest.MonkeyPatch) -> None:
    calls = count_calls(cloud.api_bus, monkeypatch)
    authn = cloud.authenticator(cache_ttl=0.3, max_entries=1)
    a, b = await cloud.token("demo", "demo"), await cloud.token("admin", "admin")
    await authn(a, "r")
    await authn(b, "r")  # evicts a
    await authn(a, "r")
    assert len(calls) == 3
    await asyncio.sleep(0.4)
    await authn(a, "r")  # past the TTL
    assert len(calls) == 4


async def test_revocation_reaches_the_cache_at_once(cloud: Cloud) -> None:
    authn = cloud.authenticator(cache_ttl=300)
    await authn.start("apinode")
    try:
        token, other = await cloud.token(), await cloud.token("admin", "admin")
        await authn(token, "req-1")
        await authn(other, "req-1")
        started = time.monotonic()
        await cloud.revoke(token)
        async with asyncio.timeout(5):
            while True:
                try:
                    await authn(token, "req-2")
                except Unauthenticated:
                    break
                await asyncio.sleep(0.02)
        assert time.monotonic() - started < 5
        assert (await authn(other, "req-3")).is_admin  # only the revoked token is refused
    finally:
        await authn.stop()


async def test_identity_down_is_unavailable_within_the_timeout(cloud: Cloud) -> None:
    authn = cloud.authenticator()
    token = await cloud.token()
    await stop_identity_rpc(cloud)
    started = time.monotonic()
    with pytest.raises(Unavailable) as caught:
        await authn(token, "req-1")
    assert time.monotonic() - started < CALL_TIMEOUT + 1.0
    assert caught.value.code == "identity.unavailable"
    with pytest.raises(Unavailable):  # a failure is not cached as anything
        await authn(token, "req-2")


async def test_no_identity_ever_started_is_unavailable(new_bus: BusFactory) -> None:
    authn = RemoteAuthenticator(await new_bus(), call_timeout=CALL_TIMEOUT)
    with pytest.raises(Unavailable):
        await authn("some-token", "req-1")


# ---- IssueToken -------------------------------------------------------------------------


async def test_issue_token_with_the_right_password(cloud: Cloud) -> None:
    authn = cloud.authenticator()
    issued = await authn.issue(
        "demo", cloud.secrets.demo_password, user_domain="Default", project_name="demo"
    )
    assert issued.info.user_name == "demo" and issued.info.project_name == "demo"
    assert "member" in issued.info.roles
    assert issued.expires_at == issued.info.expires_at > dt.datetime.now(dt.UTC)
    fresh = cloud.authenticator()  # no cached answer: identity itself accepts the token
    ctx = await fresh(issued.token, "req-1")
    assert ctx.user_id == issued.info.user_id and ctx.project_id == issued.info.project_id
    r = await cloud.http.get(
        "/v3/auth/tokens",
        headers={"X-Auth-Token": issued.token, "X-Subject-Token": issued.token},
    )
    assert r.status_code == 200, r.text


async def test_issue_token_without_project_uses_the_default_project(cloud: Cloud) -> None:
    issued = await cloud.authenticator().issue("admin", cloud.secrets.admin_password)
    assert issued.info.project_name == "admin" and "admin" in issued.info.roles


async def test_wrong_password_and_unknown_user_are_the_same_error(cloud: Cloud) -> None:
    authn = cloud.authenticator()
    refusals = []
    for user, password, domain in (
        ("demo", "wrong", "default"),
        ("nobody", cloud.secrets.demo_password, "default"),
        ("demo", cloud.secrets.demo_password, "no-such-domain"),
    ):
        with pytest.raises(Unauthenticated) as caught:
            await authn.issue(user, password, user_domain=domain, project_name="demo")
        refusals.append((caught.value.code, caught.value.message))
    assert len(set(refusals)) == 1
    assert "demo" not in refusals[0][1] and "nobody" not in refusals[0][1]
