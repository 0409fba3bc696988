"""Password and secret hashing with Argon2id (memory-hard), off the event loop."""

from __future__ import annotations

import asyncio

from argon2 import PasswordHasher as _Argon2
from argon2.exceptions import InvalidHashError, VerificationError


class PasswordHasher:
    def __init__(self, memory_kib: int = 19456, iterations: int = 2) -> None:
        self._argon = _Argon2(time_cost=iterations, memory_cost=memory_kib, parallelism=1)

    def hash_sync(self, secret: str) -> str:
        return self._argon.hash(secret)

    async def hash(self, secret: str) -> str:
        return await asyncio.to_thread(self._argon.hash, secret)

    async def verify(self, stored: str | None, secret: str) -> bool:
        if not stored:
            return False
        return await asyncio.to_thread(self._verify_sync, stored, secret)

    def _verify_sync(self, stored: str, secret: str) -> bool:
        try:
            return self._argon.verify(stored, secret)
        except (VerificationError, InvalidHashError):
            return False
