"""Revocation events: how a token that is still cryptographically valid stops working.

Tokens are not stored, so revoking one records a rule instead: "tokens whose <field> is X
and that were issued before T are revoked". Every validator keeps the rules in memory
(``RevocationList``), loads the ones newer than what it has seen, and checks each token
against them by dictionary lookups, so a check costs well under a microsecond.

Writers call the ``revoke_*`` functions inside their own session (the event commits with
the change that caused it), then ``IdentityState.changed()`` so this node's validator drops
its cache and reloads events; the validator also tells the other nodes over the bus.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from stratus.identity.models import RevocationEvent
from stratus.identity.tokens import TokenPayload

FIELDS = ("user_id", "project_id", "domain_id", "audit_id", "audit_chain_id", "app_cred_id")
OVERLAP = dt.timedelta(seconds=60)  # re-read window: covers commit order and clock skew


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


async def _record(
    session: AsyncSession, *, expires_at: dt.datetime | None = None, **match: str | None
) -> None:
    session.add(RevocationEvent(issued_before=_now(), expires_at=expires_at, **match))


async def revoke_token(session: AsyncSession, payload: TokenPayload) -> None:
    """Revoke one token (``DELETE /v3/auth/tokens``): its audit id, until it expires."""
    await _record(session, audit_id=payload.audit_id, expires_at=payload.expires_at)


async def revoke_user(session: AsyncSession, user_id: str) -> None:
    """Revoke every token of a user issued until now: disable, delete, password change."""
    await _record(session, user_id=user_id)


async def revoke_project(session: AsyncSession, project_id: str) -> None:
    """Revoke every token scoped to a project issued until now: disable or delete."""
    await _record(session, project_id=project_id)


async def revoke_domain(session: AsyncSession, domain_id: str) -> None:
    """Revoke domain-scoped tokens of a domain: disable or delete.

    Tokens of its users and projects are refused by the validator's enabled checks, which
    every node re-runs because this event clears every node's cache.
    """
    await _record(session, domain_id=domain_id)


async def revoke_app_cred(session: AsyncSession, app_cred_id: str) -> None:
    """Revoke every token obtained with an application credential: delete."""
    await _record(session, app_cred_id=app_cred_id)


async def prune(session: AsyncSession, lifetime: dt.timedelta) -> int:
    """Delete events no live token can match any more; return how many went.

    An event with ``expires_at`` outlives the one token it names only until that token
    expires; any other event matters for ``lifetime`` (the longest token life) after it.
    """
    now = _now()
    result = await session.execute(
        sa.delete(RevocationEvent).where(
            sa.or_(
                RevocationEvent.expires_at < now,
                sa.and_(
                    RevocationEvent.expires_at.is_(None),
                    RevocationEvent.issued_before < now - lifetime,
                ),
            )
        )
    )
    return int(getattr(result, "rowcount", 0) or 0)


@dataclass(frozen=True, slots=True)
class Rule:
    """One event in memory: the non-null fields it matches and its time limit."""

    id: int
    match: tuple[tuple[str, str], ...]
    issued_before: float  # POSIX seconds


def _token_value(payload: TokenPayload, field: str) -> str | None:
    if field == "audit_id":
        return payload.audit_id
    if field == "audit_chain_id":
        return payload.audit_chain_id
    value: str | None = getattr(payload, field)
    return value


class RevocationList:
    """The events a validator knows, indexed for lookups by (field, value)."""

    def __init__(self) -> None:
        self._single: dict[tuple[str, str], float] = {}
        self._compound: list[Rule] = []
        self._seen: set[int] = set()
        self._newest: dt.datetime | None = None

    def __len__(self) -> int:
        return len(self._seen)

    def reset(self) -> None:
        self._single.clear()
        self._compound.clear()
        self._seen.clear()
        self._newest = None

    def add(self, rules: Iterable[Rule]) -> int:
        """Index ``rules``; return how many were new."""
        added = 0
        for rule in rules:
            if rule.id in self._seen:
                continue
            self._seen.add(rule.id)
            added += 1
            if len(rule.match) == 1:
                key = rule.match[0]
                self._single[key] = max(self._single.get(key, 0.0), rule.issued_before)
            elif rule.match:
                self._compound.append(rule)
        return added

    def is_revoked(self, payload: TokenPayload, issued_at: float | None = None) -> bool:
        """Whether any known event matches ``payload`` (``issued_at``: its POSIX time)."""
        if not self._seen:
            return False
        when = payload.issued_at.timestamp() if issued_at is None else issued_at
        single = self._single
        for field in FIELDS:
            value = _token_value(payload, field)
            if value is not None and when <= single.get((field, value), -1.0):
                return True
        return any(
            when <= rule.issued_before and all(_token_value(payload, f) == v for f, v in rule.match)
            for rule in self._compound
        )

    async def refresh(self, session: AsyncSession) -> int:
        """Load events recorded since the newest one seen (with an overlap); return new ones.

        Reading by time with an overlap rather than by id never misses an event whose
        transaction committed after a later one (ids are not commit-ordered on every
        database); ids already seen are skipped.
        """
        stmt = sa.select(RevocationEvent)
        if self._newest is not None:
            stmt = stmt.where(RevocationEvent.revoked_at >= self._newest - OVERLAP)
        events = (await session.scalars(stmt)).all()
        if events:
            newest = max(e.revoked_at for e in events)
            self._newest = newest if self._newest is None else max(self._newest, newest)
        return self.add(_rule(e) for e in events)


def _rule(event: RevocationEvent) -> Rule:
    match = tuple(
        (field, value) for field in FIELDS if (value := getattr(event, field)) is not None
    )
    return Rule(event.id, match, event.issued_before.timestamp())
