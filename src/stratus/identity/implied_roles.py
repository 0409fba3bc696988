"""Implied roles: what holding a role really gives, as Keystone expands it.

A rule "prior implies implied" means whoever holds the prior role also holds the implied
one, transitively. Domain-specific roles exist only to imply others: they never appear in
a token or an effective assignment themselves, but what they imply does. The expansion is
cycle-safe (a cycle just makes its roles equivalent).
"""

from __future__ import annotations

from collections.abc import Iterable

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from stratus.identity.models import ImpliedRole, Role

Rules = dict[str, list[str]]  # prior role id -> implied role ids


async def load_rules(session: AsyncSession) -> Rules:
    rows = await session.execute(
        sa.select(ImpliedRole.prior_role_id, ImpliedRole.implied_role_id).order_by(
            ImpliedRole.prior_role_id, ImpliedRole.implied_role_id
        )
    )
    rules: Rules = {}
    for prior, implied in rows:
        rules.setdefault(prior, []).append(implied)
    return rules


def closure(rules: Rules, role_ids: Iterable[str]) -> dict[str, str | None]:
    """Every role reached from ``role_ids``: role id -> the role that implied it (``None``
    for the roles given)."""
    found: dict[str, str | None] = dict.fromkeys(role_ids)
    queue = list(found)
    while queue:
        prior = queue.pop()
        for implied in rules.get(prior, ()):
            if implied not in found:
                found[implied] = prior
                queue.append(implied)
    return found


async def domain_specific(session: AsyncSession, role_ids: Iterable[str]) -> set[str]:
    """Which of ``role_ids`` belong to a domain (and so never show as held)."""
    ids = list(role_ids)
    if not ids:
        return set()
    query = sa.select(Role.id).where(Role.id.in_(ids), Role.domain_id.is_not(None))
    return set((await session.scalars(query)).all())


async def effective_role_ids(session: AsyncSession, direct: Iterable[str]) -> set[str]:
    """The roles a holder of ``direct`` really has: implications followed, domain-specific
    roles dropped."""
    direct_ids = set(direct)
    if not direct_ids:
        return set()
    reached = closure(await load_rules(session), direct_ids)
    return set(reached) - await domain_specific(session, reached)
