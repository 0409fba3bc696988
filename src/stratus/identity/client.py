"""How every other API service authenticates its callers: identity over the bus.

An API node (object proxy, compute, image, network, volume, EC2/S3) may have no
credentials for identity's database, so it asks identity with ``ValidateToken`` and keeps
the answers in a small LRU for ``cache_ttl`` seconds: a repeated token costs a dict lookup,
a new one a round trip. An answer is never served past the token's own expiry, and every
``identity.revoked`` fan-out clears the cache, so a revoked token is refused at once.

If identity cannot be reached the caller gets ``Unavailable`` (a 503), never a guess.

This module must not import the SQL layer or identity's models (import-linter contract,
``tests/unit/test_layering.py``).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import OrderedDict
from typing import TypeVar

from pydantic import BaseModel

from stratus.common.context import RequestContext
from stratus.common.errors import Kind, StratusError, Unavailable
from stratus.common.rpc import Bus, Call, Server
from stratus.identity.rpc import (
    DEFAULT_DOMAIN,
    IDENTITY_TOPIC,
    REVOCATION_TOPIC,
    IssuedToken,
    IssueToken,
    TokenInfo,
    TokensRevoked,
    ValidateToken,
    revocation_dispatcher,
)

log = logging.getLogger(__name__)

UNAVAILABLE = "identity.unavailable"
# After a revocation, clear once more this much later: an answer fetched from an identity
# node that had not yet heard of the revocation must not live for a whole cache_ttl.
SETTLE_SECONDS = 2.0

R = TypeVar("R", bound=BaseModel)


class _Cached:
    __slots__ = ("expires_ts", "info", "stored")

    def __init__(self, info: TokenInfo) -> None:
        self.info = info
        self.stored = time.monotonic()
        self.expires_ts = info.expires_at.timestamp()


class RemoteAuthenticator:
    """The ``Authenticator`` (``common/asgi/routing.py``) of services other than identity.

    ``await start(host)`` before use so revocations reach the cache; ``call_timeout`` bounds
    each call to identity (default: the bus's call timeout).
    """

    def __init__(
        self,
        bus: Bus,
        *,
        cache_ttl: float = 30.0,
        max_entries: int = 10_000,
        call_timeout: float | None = None,
    ) -> None:
        self._bus = bus
        self._ttl = cache_ttl
        self._max_entries = max_entries
        self._timeout = call_timeout
        self._cache: OrderedDict[str, _Cached] = OrderedDict()
        self._inflight: dict[str, asyncio.Future[TokenInfo]] = {}
        self._generation = 0
        self._server: Server | None = None
        self._settle: asyncio.TimerHandle | None = None

    async def start(self, host: str) -> None:
        """Hear every ``identity.revoked`` fan-out (each server on the topic gets them all)."""
        dispatcher = revocation_dispatcher(self._on_revoked)
        self._server = await self._bus.serve(REVOCATION_TOPIC, dispatcher, host=host)

    async def stop(self) -> None:
        if self._server is not None:
            await self._server.stop()
            self._server = None
        if self._settle is not None:
            self._settle.cancel()
            self._settle = None
        self.clear()

    async def __call__(self, token: str, request_id: str) -> RequestContext:
        """The caller's context for an ``X-Auth-Token``: ``Unauthenticated`` if identity
        refuses the token, ``Unavailable`` if identity does not answer."""
        info = self._hit(token) or await self._load(token)
        return info.context(request_id, token)

    async def validate(self, token: str) -> TokenInfo:
        """What ``token`` grants (cached like ``__call__``), for callers needing names."""
        return self._hit(token) or await self._load(token)

    async def issue(
        self,
        user_name: str,
        password: str,
        *,
        user_domain: str = DEFAULT_DOMAIN,
        project_name: str | None = None,
        project_domain: str = DEFAULT_DOMAIN,
    ) -> IssuedToken:
        """A password token (Swift v1 auth); ``Unauthenticated`` on wrong credentials."""
        msg = IssueToken(
            user_name=user_name,
            user_domain=user_domain,
            password=password,
            project_name=project_name,
            project_domain=project_domain,
        )
        issued = await self._ask(msg)
        self._store(issued.token, issued.info, self._generation)  # its first use is a hit
        return issued

    def clear(self) -> None:
        """Forget every cached answer, and let no call already under way fill the cache."""
        self._generation += 1
        self._cache.clear()
        self._inflight.clear()  # later callers ask afresh; current waiters keep their call

    def _hit(self, token: str) -> TokenInfo | None:
        entry = self._cache.get(token)
        if entry is None:
            return None
        if time.monotonic() - entry.stored > self._ttl or time.time() >= entry.expires_ts:
            del self._cache[token]
            return None  # identity gives the precise error
        self._cache.move_to_end(token)
        return entry.info

    async def _load(self, token: str) -> TokenInfo:
        """Ask identity on a miss; concurrent misses of one token share a single call."""
        future = self._inflight.get(token)
        if future is None:
            future = asyncio.ensure_future(self._fetch(token, self._generation))
            self._inflight[token] = future
            future.add_done_callback(lambda f: self._settled(token, f))
        return await asyncio.shield(future)

    def _settled(self, token: str, future: asyncio.Future[TokenInfo]) -> None:
        if self._inflight.get(token) is future:
            del self._inflight[token]
        if not future.cancelled():
            future.exception()  # retrieved here, so an abandoned failure is not logged

    async def _fetch(self, token: str, generation: int) -> TokenInfo:
        info = await self._ask(ValidateToken(token=token))
        self._store(token, info, generation)
        return info

    def _store(self, token: str, info: TokenInfo, generation: int) -> None:
        if self._ttl <= 0 or generation != self._generation:
            return  # a revocation arrived while identity was answering
        self._cache[token] = _Cached(info)
        self._cache.move_to_end(token)
        while len(self._cache) > self._max_entries:
            self._cache.popitem(last=False)

    async def _ask(self, msg: Call[R]) -> R:
        """Identity's verdict as it is; a missing or broken answer as ``Unavailable``."""
        try:
            return await self._bus.call(IDENTITY_TOPIC, msg, timeout=self._timeout)
        except StratusError as exc:
            if exc.kind not in (Kind.UNAVAILABLE, Kind.INTERNAL):
                raise  # Unauthenticated (bad token or credentials) and the like
            log.warning("identity did not answer %s: %s: %s", msg.wire_name, exc.code, exc.message)
            raise Unavailable(
                UNAVAILABLE, "The identity service is unavailable; try again later."
            ) from exc

    async def _on_revoked(self, msg: TokensRevoked) -> None:
        self.clear()
        if self._settle is not None:
            self._settle.cancel()
        self._settle = asyncio.get_running_loop().call_later(SETTLE_SECONDS, self.clear)
