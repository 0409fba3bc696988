"""Fernet-style tokens: round trip, compactness, and every way a token must be refused."""

from __future__ import annotations

import base64
import datetime as dt
import uuid

import pytest
from cryptography.fernet import Fernet

from stratus.common.errors import Unauthenticated
from stratus.identity.revocation import RevocationList, Rule
from stratus.identity.tokens import (
    TokenPayload,
    TokenProvider,
    new_audit_id,
    pack,
    unpack,
)


def hexid() -> str:
    return uuid.uuid4().hex


@pytest.fixture
def provider() -> TokenProvider:
    return TokenProvider([Fernet.generate_key(), Fernet.generate_key()], 3600)


def test_project_token_round_trips(provider: TokenProvider) -> None:
    user, project = hexid(), hexid()
    payload = provider.new_payload(user, ["password"], project_id=project)
    decoded = provider.decode(provider.issue(payload))
    assert decoded == payload
    assert decoded.project_id == project and decoded.domain_id is None
    assert decoded.expires_at.microsecond == 0
    assert (decoded.expires_at - decoded.issued_at) <= dt.timedelta(seconds=3600)


def test_non_hex_ids_round_trip(provider: TokenProvider) -> None:
    payload = provider.new_payload("admin-user", ["password", "token"], domain_id="default")
    decoded = provider.decode(provider.issue(payload))
    assert decoded.user_id == "admin-user"
    assert decoded.domain_id == "default"
    assert decoded.methods == ("password", "token")


def test_app_cred_token_round_trips(provider: TokenProvider) -> None:
    ac = hexid()
    payload = provider.new_payload(
        hexid(), ["application_credential"], project_id=hexid(), app_cred_id=ac
    )
    assert provider.decode(provider.issue(payload)).app_cred_id == ac


def test_tokens_are_short(provider: TokenProvider) -> None:
    payload = provider.new_payload(hexid(), ["password"], project_id=hexid(), app_cred_id=hexid())
    token = provider.issue(payload)
    assert len(token) <= 255
    assert "=" not in token


def test_uppercase_hex_id_is_kept_verbatim(provider: TokenProvider) -> None:
    upper = uuid.uuid4().hex.upper()
    payload = provider.new_payload(upper, ["password"])
    assert provider.decode(provider.issue(payload)).user_id == upper


def test_rescope_keeps_expiry_and_audit_chain(provider: TokenProvider) -> None:
    parent = provider.new_payload(hexid(), ["password"])
    child = provider.new_payload(
        parent.user_id, ["password", "token"], project_id=hexid(), parent=parent
    )
    assert child.expires_at == parent.expires_at
    assert child.audit_ids[1] == parent.audit_id
    grandchild = provider.new_payload(child.user_id, ["token"], parent=child)
    assert grandchild.audit_chain_id == parent.audit_id
    assert provider.decode(provider.issue(grandchild)).audit_ids == grandchild.audit_ids


def test_not_after_caps_expiry(provider: TokenProvider) -> None:
    limit = dt.datetime.now(dt.UTC) + dt.timedelta(minutes=5)
    payload = provider.new_payload(hexid(), ["application_credential"], not_after=limit)
    assert payload.expires_at == limit


def test_tampered_token_is_invalid(provider: TokenProvider) -> None:
    token = provider.issue(provider.new_payload(hexid(), ["password"]))
    flipped = token[:50] + ("A" if token[50] != "A" else "B") + token[51:]
    with pytest.raises(Unauthenticated) as err:
        provider.decode(flipped)
    assert err.value.code == "identity.token.invalid"


def test_token_from_other_keys_is_invalid(provider: TokenProvider) -> None:
    other = TokenProvider([Fernet.generate_key()], 3600)
    token = other.issue(other.new_payload(hexid(), ["password"]))
    with pytest.raises(Unauthenticated) as err:
        provider.decode(token)
    assert err.value.code == "identity.token.invalid"


@pytest.mark.parametrize(
    "garbage", ["", "x", "é" * 20, "gAAAAA" + "A" * 200, "not a token at all!", "A" * 5000]
)
def test_garbage_is_invalid(provider: TokenProvider, garbage: str) -> None:
    with pytest.raises(Unauthenticated) as err:
        provider.decode(garbage)
    assert err.value.code == "identity.token.invalid"


def test_valid_seal_with_malformed_payload_is_invalid() -> None:
    key = Fernet.generate_key()
    provider = TokenProvider([key], 3600)
    for junk in (b"", b"\x01", b"\x09\x01\x00\x00", b"\x01\x01\x07\x00" + b"\x00" * 40):
        token = Fernet(key).encrypt(junk).decode().rstrip("=")
        with pytest.raises(Unauthenticated) as err:
            provider.decode(token)
        assert err.value.code == "identity.token.invalid"


def test_expired_token(provider: TokenProvider) -> None:
    now = dt.datetime.now(dt.UTC)
    payload = TokenPayload(
        user_id=hexid(),
        methods=("password",),
        issued_at=now - dt.timedelta(hours=2),
        expires_at=now - dt.timedelta(seconds=1),
        audit_ids=(new_audit_id(),),
    )
    token = provider.issue(payload)
    with pytest.raises(Unauthenticated) as err:
        provider.decode(token)
    assert err.value.code == "identity.token.expired"
    assert provider.decode(token, allow_expired=True).user_id == payload.user_id


def test_rotated_keys_still_decode_old_tokens() -> None:
    old, new = Fernet.generate_key(), Fernet.generate_key()
    before = TokenProvider([old], 3600)
    token = before.issue(before.new_payload(hexid(), ["password"]))
    after = TokenProvider([new, old], 3600)
    assert after.decode(token).methods == ("password",)


def test_unknown_method_cannot_be_sealed(provider: TokenProvider) -> None:
    payload = provider.new_payload(hexid(), ["kerberos"])
    with pytest.raises(ValueError, match="unknown authentication method"):
        provider.issue(payload)


def test_pack_is_compact() -> None:
    payload = TokenProvider([Fernet.generate_key()], 60).new_payload(
        hexid(), ["password"], project_id=hexid()
    )
    packed = pack(payload)
    assert len(packed) < 100
    assert unpack(packed) == payload


def test_audit_ids_look_like_keystone_ones() -> None:
    audit = new_audit_id()
    assert len(audit) == 22
    assert len(base64.urlsafe_b64decode(audit + "==")) == 16


def test_revocation_list_matches_by_field_and_time(provider: TokenProvider) -> None:
    payload = provider.new_payload(hexid(), ["password"], project_id=hexid())
    child = provider.new_payload(payload.user_id, ["token"], parent=payload)
    events = RevocationList()
    assert not events.is_revoked(payload)
    before = payload.issued_at.timestamp() - 1
    events.add([Rule(1, (("user_id", payload.user_id),), before)])
    assert not events.is_revoked(payload)  # issued after the event
    events.add([Rule(2, (("audit_chain_id", payload.audit_id),), child.issued_at.timestamp())])
    assert events.is_revoked(payload) and events.is_revoked(child)
    other = RevocationList()
    other.add([Rule(3, (("user_id", payload.user_id), ("project_id", "x")), 2e9)])
    assert not other.is_revoked(payload)
    other.add(
        [Rule(4, (("user_id", payload.user_id), ("project_id", payload.project_id or "")), 2e9)]
    )
    assert other.is_revoked(payload)
    assert other.add([Rule(4, (), 0)]) == 0  # already seen


def test_system_token_round_trips_without_a_scope_id(provider: TokenProvider) -> None:
    payload = provider.new_payload(hexid(), ["password"], system=True)
    decoded = provider.decode(provider.issue(payload))
    assert decoded == payload
    assert decoded.system and decoded.project_id is None and decoded.domain_id is None
    assert len(pack(payload)) == len(pack(provider.new_payload(hexid(), ["password"])))


def test_system_flag_yields_to_a_project_or_domain_scope(provider: TokenProvider) -> None:
    assert not provider.new_payload(hexid(), ["password"], project_id=hexid(), system=True).system
    assert not provider.new_payload(hexid(), ["password"], domain_id="default", system=True).system
