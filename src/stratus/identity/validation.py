"""Token validation: from a token string to what it grants, fast enough for every request.

Every API request of every service carries a token, so a repeated token must cost
microseconds: answers are kept in a bounded LRU keyed by the token for ``cache_ttl``
seconds, together with the request context and the rendered token body. A hit still checks
expiry and the in-memory revocation events. A miss decodes the token, checks revocation,
then reads the user, the scope and the effective roles (three small queries).

Freshness: ``invalidate()`` (called after every identity write) drops the cache, marks the
revocation events stale and tells the other nodes over the bus; without a bus, each node
polls for new revocation events every ``poll_interval`` seconds.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
import socket
import time
import uuid
from collections import OrderedDict
from collections.abc import Coroutine
from typing import TYPE_CHECKING, Any

from stratus.common.context import RequestContext
from stratus.identity import revocation
from stratus.identity.catalog import CatalogCache
from stratus.identity.grants import ValidatedToken, describe
from stratus.identity.revocation import RevocationList
from stratus.identity.tokens import TokenPayload, TokenProvider, invalid_token

if TYPE_CHECKING:
    from stratus.common.db import Database
    from stratus.common.rpc import Bus, Server
    from stratus.identity.rpc import TokensRevoked

log = logging.getLogger(__name__)

PRUNE_EVERY = 3600.0  # seconds between deletions of revocation events no token can match
ALLOW_EXPIRED_WINDOW = dt.timedelta(days=2)  # Keystone's default for ?allow_expired


class _Entry:
    """A cached answer: the validated token and the context handed to handlers."""

    __slots__ = ("ctx", "expires_ts", "issued_ts", "stored", "validated")

    def __init__(self, validated: ValidatedToken) -> None:
        self.validated = validated
        self.ctx = validated.context()
        self.issued_ts = validated.payload.issued_at.timestamp()
        self.expires_ts = validated.payload.expires_at.timestamp()
        self.stored = time.monotonic()


class TokenValidator:
    def __init__(
        self,
        db: Database,
        tokens: TokenProvider,
        *,
        cache_ttl: float,
        max_entries: int = 10_000,
        poll_interval: float = 2.0,
    ) -> None:
        self.db = db
        self.tokens = tokens
        self.catalog = CatalogCache(db)
        self.revocations = RevocationList()
        self.node_id = uuid.uuid4().hex
        self._ttl = cache_ttl
        self._max_entries = max_entries
        self._poll_interval = poll_interval
        self._cache: OrderedDict[str, _Entry] = OrderedDict()
        self._inflight: dict[str, asyncio.Future[_Entry]] = {}
        self._generation = 0
        self._events_stale = True
        self._events_lock = asyncio.Lock()
        self._bus: Bus | None = None
        self._server: Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._announce_pending = False

    async def start(self, bus: Bus | None, *, host: str | None = None) -> None:
        """Load revocation events, listen for other nodes' revocations, start polling."""
        await self._sync_events(force=True)
        if bus is not None:
            from stratus.identity.rpc import (  # noqa: PLC0415 - the bus is optional
                REVOCATION_TOPIC,
                revocation_dispatcher,
            )

            self._bus = bus
            dispatcher = revocation_dispatcher(self._on_revoked)
            self._server = await bus.serve(REVOCATION_TOPIC, dispatcher, host=host or _host())
        self._spawn(self._poll())

    async def stop(self) -> None:
        if self._server is not None:
            await self._server.stop()
            self._server = None
        self._bus = None
        for task in list(self._tasks):
            task.cancel()
        for task in list(self._tasks):
            with contextlib.suppress(asyncio.CancelledError):
                await task

    def invalidate(self) -> None:
        """Forget every cached answer here and on every other node (after any write)."""
        self._drop_cached()
        self.catalog.invalidate()
        self._events_stale = True
        if self._bus is not None and not self._announce_pending:
            self._announce_pending = True
            self._spawn(self._announce())

    async def authenticate(self, token: str, request_id: str) -> RequestContext:
        """The caller's context for an ``X-Auth-Token``; ``Unauthenticated`` if unusable."""
        entry = self._hit(token) or await self._load(token)
        ctx = entry.ctx.model_copy(
            update={"request_id": request_id, "auth_token": token, "roles": list(entry.ctx.roles)}
        )
        return ctx

    async def validate(self, token: str, *, allow_expired: bool = False) -> ValidatedToken:
        """Everything a token grants, for ``GET /v3/auth/tokens`` (``Unauthenticated`` if not)."""
        if allow_expired:
            payload = self.tokens.decode(token, allow_expired=True)
            if payload.expires_at < dt.datetime.now(dt.UTC) - ALLOW_EXPIRED_WINDOW:
                raise invalid_token()
            await self._sync_events()
            if self.revocations.is_revoked(payload):
                raise invalid_token()
            return await self.describe(payload)
        entry = self._hit(token) or await self._load(token)
        return entry.validated

    async def describe(self, payload: TokenPayload) -> ValidatedToken:
        """What ``payload`` grants now (user, scope, roles, catalog); no revocation check."""
        generation = self._generation
        async with self.db.session() as session:
            validated = await describe(session, payload)
        if validated.scoped:
            project_id = validated.project.id if validated.project else None
            validated.catalog = await self.catalog.for_project(project_id)
        validated.generation = generation
        return validated

    def remember(self, token: str, validated: ValidatedToken) -> None:
        """Cache a token just issued, so its first use is a hit; unless an identity write
        came while it was being described (disabled user, revoked role...): that answer
        may be stale, so its first use validates afresh."""
        if self._ttl > 0 and validated.generation == self._generation:
            self._store(token, _Entry(validated))

    def _hit(self, token: str) -> _Entry | None:
        entry = self._cache.get(token)
        if entry is None:
            return None
        if (
            time.monotonic() - entry.stored > self._ttl
            or time.time() >= entry.expires_ts
            or self.revocations.is_revoked(entry.validated.payload, entry.issued_ts)
        ):
            self._cache.pop(token, None)
            return None  # the slow path gives the precise error
        self._cache.move_to_end(token)
        return entry

    async def _load(self, token: str) -> _Entry:
        """Validate on a miss; concurrent misses of one token share a single load."""
        future = self._inflight.get(token)
        if future is None:
            future = asyncio.ensure_future(self._load_uncached(token))
            self._inflight[token] = future
            future.add_done_callback(lambda f: self._settle(token, f))
        return await asyncio.shield(future)

    def _settle(self, token: str, future: asyncio.Future[_Entry]) -> None:
        if self._inflight.get(token) is future:
            del self._inflight[token]
        if not future.cancelled():
            future.exception()  # retrieved here, so an abandoned failure is not logged

    async def _load_uncached(self, token: str) -> _Entry:
        payload = self.tokens.decode(token)
        await self._sync_events()
        if self.revocations.is_revoked(payload):
            raise invalid_token()
        generation = self._generation
        entry = _Entry(await self.describe(payload))
        if self._ttl > 0 and generation == self._generation:
            self._store(token, entry)
        return entry

    def _store(self, token: str, entry: _Entry) -> None:
        self._cache[token] = entry
        self._cache.move_to_end(token)
        while len(self._cache) > self._max_entries:
            self._cache.popitem(last=False)

    def _drop_cached(self) -> None:
        self._generation += 1
        self._cache.clear()

    async def _sync_events(self, *, force: bool = False) -> None:
        """Load new revocation events if stale, or if forced (the poll and the broadcast)."""
        if not (force or self._events_stale):
            return
        async with self._events_lock:
            if not (force or self._events_stale):
                return  # another task refreshed while this one waited
            self._events_stale = False
            try:
                async with self.db.session() as session:
                    added = await self.revocations.refresh(session)
            except BaseException:
                self._events_stale = True
                raise
        if added:
            self._drop_cached()

    async def _on_revoked(self, msg: TokensRevoked) -> None:
        if msg.origin == self.node_id:
            return
        self._drop_cached()
        self.catalog.invalidate()
        self._events_stale = True
        await self._sync_events()

    async def _announce(self) -> None:
        from stratus.identity.rpc import REVOCATION_TOPIC, TokensRevoked  # noqa: PLC0415

        self._announce_pending = False
        if self._bus is None:
            return
        try:
            await self._bus.fanout(REVOCATION_TOPIC, TokensRevoked(origin=self.node_id))
        except Exception as exc:  # the others catch up on their next poll
            log.warning("could not tell other identity nodes about a change: %s", exc)

    async def _poll(self) -> None:
        """Pick up revocations made on nodes we did not hear from; prune old events."""
        pruned_at = time.monotonic()
        while True:
            await asyncio.sleep(self._poll_interval)
            try:
                await self._sync_events(force=True)
                if time.monotonic() - pruned_at >= PRUNE_EVERY:
                    pruned_at = time.monotonic()
                    await self._prune()
            except Exception as exc:  # keep serving from memory; retry on the next tick
                log.warning("revocation events not refreshed: %s", exc)

    async def _prune(self) -> None:
        lifetime = dt.timedelta(seconds=self.tokens.expiration_s)
        async with self.db.session() as session:
            removed = await revocation.prune(session, lifetime)
        if removed:
            async with self._events_lock:
                self.revocations.reset()
            self._events_stale = True
            await self._sync_events()

    def _spawn(self, coro: Coroutine[Any, Any, None]) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)


def _host() -> str:
    """This node's name as an RPC host (letters, digits, ``-``, ``_`` and ``.`` only)."""
    name = "".join(c if c.isalnum() or c in "-_." else "-" for c in socket.gethostname())
    return name.strip("-._") or "identity"
