"""A token described while an identity write lands is not cached with the stale answer.

``POST /v3/auth/tokens`` describes the new token (user, roles...) and then caches it. If
the user is disabled or loses a role while the description is being read, caching it
would let the token act on the old facts for the whole cache lifetime.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any, cast

import pytest
from cryptography.fernet import Fernet
from sqlalchemy.ext.asyncio import AsyncSession

from stratus.common.db import Database
from stratus.identity import validation
from stratus.identity.grants import Named, UserInfo, ValidatedToken
from stratus.identity.tokens import TokenPayload, TokenProvider
from stratus.identity.validation import TokenValidator


class _Db:
    @contextlib.asynccontextmanager
    async def session(self) -> AsyncIterator[Any]:
        yield object()


def _validator() -> tuple[TokenValidator, TokenProvider]:
    tokens = TokenProvider([Fernet.generate_key()], 3600)
    return TokenValidator(cast(Database, _Db()), tokens, cache_ttl=300), tokens


def _fake_describe(write_midway: TokenValidator | None) -> Any:
    async def describe(session: AsyncSession, payload: TokenPayload) -> ValidatedToken:
        user = UserInfo(payload.user_id, "u", Named("default", "Default"), None)
        if write_midway is not None:
            write_midway.invalidate()  # e.g. an admin disables the user right now
        await asyncio.sleep(0)
        return ValidatedToken(payload, user)

    return describe


@pytest.mark.parametrize("write", [False, True], ids=["quiet", "write-midway"])
def test_issued_token_is_cached_only_if_nothing_changed(
    monkeypatch: pytest.MonkeyPatch, write: bool
) -> None:
    validator, tokens = _validator()
    monkeypatch.setattr(validation, "describe", _fake_describe(validator if write else None))

    async def issue() -> str:
        payload = tokens.new_payload("a" * 32, ["password"])
        described = await validator.describe(payload)
        token = tokens.issue(payload)
        validator.remember(token, described)
        return token

    token = asyncio.run(issue())
    cached = validator._hit(token)
    assert (cached is None) is write
