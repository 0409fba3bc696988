"""``POST /v3/users/{id}/password`` costs one hash verification whether or not the user exists.

It needs no token, so if an unknown (or disabled) user were refused without hashing, the
response time alone would tell an anonymous caller which user ids exist.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any, cast

import pytest

from stratus.common.errors import Unauthenticated
from stratus.identity.api.users import _check_original
from stratus.identity.passwords import PasswordHasher
from stratus.identity.state import IdentityState


class CountingHasher(PasswordHasher):
    def __init__(self) -> None:
        super().__init__(memory_kib=64, iterations=1)
        self.hashed_verifications = 0

    async def verify(self, stored: str | None, secret: str) -> bool:
        if stored:
            self.hashed_verifications += 1
        return await super().verify(stored, secret)


class _Session:
    def __init__(self, row: Any) -> None:
        self.row = row

    async def get(self, model: Any, ident: str) -> Any:
        return self.row


class _Db:
    def __init__(self, row: Any) -> None:
        self.row = row

    @contextlib.asynccontextmanager
    async def session(self) -> AsyncIterator[_Session]:
        yield _Session(self.row)


class _User:
    def __init__(self, password_hash: str | None, enabled: bool) -> None:
        self.password_hash = password_hash
        self.enabled = enabled


def _state(row: Any, hasher: PasswordHasher) -> IdentityState:
    fake = type("FakeState", (), {"db": _Db(row), "passwords": hasher})()
    return cast(IdentityState, fake)


@pytest.mark.parametrize(
    "row",
    [None, "disabled", "no-password", "wrong"],
    ids=["unknown", "disabled", "no-password", "wrong-password"],
)
def test_every_refusal_costs_one_verification(row: str | None) -> None:
    hasher = CountingHasher()
    stored = hasher.hash_sync("right")
    user = {
        None: None,
        "disabled": _User(stored, enabled=False),
        "no-password": _User(None, enabled=True),
        "wrong": _User(stored, enabled=True),
    }[row]
    with pytest.raises(Unauthenticated):
        asyncio.run(_check_original(_state(user, hasher), "someone", "guess"))
    assert hasher.hashed_verifications == 1


def test_the_right_password_passes() -> None:
    hasher = CountingHasher()
    user = _User(hasher.hash_sync("right"), enabled=True)
    asyncio.run(_check_original(_state(user, hasher), "someone", "right"))
    assert hasher.hashed_verifications == 1


def test_the_stand_in_password_opens_nothing() -> None:
    hasher = CountingHasher()
    with pytest.raises(Unauthenticated):
        asyncio.run(_check_original(_state(None, hasher), "someone", "stratus-no-such-user"))
