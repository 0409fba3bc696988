"""Loading identity rows by id, and turning store conflicts into Keystone's answers.

Every route loads its target the same way so an unknown id, malformed or not, is a 404
with Keystone's message ("Could not find project: x."), and a uniqueness clash found at
flush time (two concurrent creates) is the same 409 as one found by the pre-check.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from stratus.common.errors import Conflict, InvalidInput, NotFound
from stratus.identity import models as m

T = TypeVar("T", bound=m.Base)

_MAX_KEY = 255  # longest primary key of any identity table (region ids)


def not_found(kind: str, ident: str) -> NotFound:
    shown = ident if len(ident) <= _MAX_KEY else ident[:_MAX_KEY] + "..."
    return NotFound(f"identity.{kind}.not_found", f"Could not find {kind}: {shown}.")


def bad_reference(kind: str, ident: str) -> InvalidInput:
    """A body naming an entity that does not exist is bad input (Keystone: 400)."""
    return InvalidInput(f"identity.{kind}.unknown", f"Could not find {kind}: {ident}.")


async def referenced(session: AsyncSession, model: type[T], ident: str, kind: str) -> T:
    """The row a request body refers to, or a 400 naming it."""
    row = await session.get(model, ident) if 0 < len(ident) <= _MAX_KEY else None
    if row is None:
        raise bad_reference(kind, ident)
    return row


async def get(session: AsyncSession, model: type[T], ident: str, kind: str) -> T:
    """The row with primary key ``ident`` or the Keystone 404 for ``kind``."""
    row = await session.get(model, ident) if 0 < len(ident) <= _MAX_KEY else None
    if row is None:
        raise not_found(kind, ident)
    return row


async def first(session: AsyncSession, query: sa.Select[T]) -> T | None:
    return (await session.execute(query.limit(1))).scalars().first()


def where_equal(
    query: sa.Select[T], params: Mapping[str, str], columns: Mapping[str, Any]
) -> sa.Select[T]:
    """Keystone's exact-match list filters: each query parameter given narrows by its column."""
    for name, column in columns.items():
        if (value := params.get(name)) is not None:
            query = query.where(column == value)
    return query


async def all_of(session: AsyncSession, query: sa.Select[T]) -> list[T]:
    return list((await session.execute(query)).scalars().all())


def conflict(kind: str, detail: str) -> Conflict:
    return Conflict(
        f"identity.{kind}.conflict",
        f"Conflict occurred attempting to store {kind} - {detail}.",
    )


def duplicate_name(kind: str, name: str, domain_id: str | None = None) -> Conflict:
    where = f" at domain ID {domain_id}" if domain_id else ""
    return conflict(kind, f"Duplicate entry found with name {name}{where}")


async def flush(session: AsyncSession, clash: Conflict) -> None:
    """Flush pending writes; a constraint the pre-checks missed (a race) becomes ``clash``."""
    try:
        await session.flush()
    except IntegrityError:
        raise clash from None
