"""Claims in the database: the judge when several schedulers place on the same hosts.

A claim is one transaction: insert the ``resource_claims`` row, then increment the
host's ``compute_nodes.*_used`` counters with a conditional UPDATE whose WHERE clause
re-checks the room against the allocation ratios. The UPDATE takes the row lock, and
PostgreSQL and MariaDB re-evaluate its condition on the latest committed row, SQLite has
one writer at a time: two schedulers can never both fit into the last room. If the
UPDATE matches no row, the transaction rolls back and the caller tries another host.

The scheduler owns ``*_used``: they always equal the sum of the host's live claims, so
the conductor, which records what agents report, must leave them alone. A release
deletes the row and, only if it deleted one, decrements the counters in the same
transaction, so a release delivered twice (at-least-once bus) changes nothing.
"""

from __future__ import annotations

import enum

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from stratus.common.db import Database
from stratus.compute.models import ComputeNode, ResourceClaim
from stratus.scheduler.host_state import Amounts, Claim
from stratus.scheduler.settings import SchedulerSettings

NOTHING = Amounts(0, 0, 0)


class ClaimOutcome(enum.Enum):
    CLAIMED = "claimed"
    ALREADY_HELD = "already_held"  # this instance holds a claim on that host already
    NO_ROOM = "no_room"  # another scheduler took the room, or the host is gone


class ClaimLedger:
    def __init__(self, db: Database, settings: SchedulerSettings) -> None:
        self._db = db
        self._settings = settings

    async def claim(self, claim: Claim) -> ClaimOutcome:
        try:
            async with self._db.session() as session:
                session.add(
                    ResourceClaim(
                        instance_id=claim.instance_id,
                        host=claim.host,
                        vcpus=claim.amounts.vcpus,
                        memory_mb=claim.amounts.memory_mb,
                        disk_gb=claim.amounts.disk_gb,
                        server_group_id=claim.server_group_id,
                    )
                )
                await session.flush()
                result = await session.execute(self._grow(claim.host, claim.amounts))
                if _rowcount(result) != 1:
                    raise _NoRoom
        except _NoRoom:
            return ClaimOutcome.NO_ROOM
        except IntegrityError:
            return ClaimOutcome.ALREADY_HELD
        return ClaimOutcome.CLAIMED

    async def release(self, instance_id: str, host: str) -> Claim | None:
        """Delete the claim and give its room back; ``None`` if there was none (any more)."""
        held = _held(instance_id, host)
        async with self._db.session() as session:
            row = await _held_row(session, held)
            if row is None:
                return None
            deleted = await session.execute(sa.delete(ResourceClaim).where(held))
            if _rowcount(deleted) != 1:
                return None  # a concurrent release won
            amounts = Amounts(row.vcpus, row.memory_mb, row.disk_gb)
            await session.execute(self._grow(host, _minus(NOTHING, amounts)))
        return Claim(instance_id, host, amounts, row.server_group_id)

    async def resize(self, claim: Claim) -> Claim | None:
        """Change what ``claim.instance_id`` holds on ``claim.host`` to ``claim.amounts``
        (a resize on the instance's own host); the claim as it was, or ``None`` if the
        host has no room for the growth. Shrinking always fits; an instance that holds
        nothing there claims afresh."""
        held = _held(claim.instance_id, claim.host)
        try:
            async with self._db.session() as session:
                row = await _held_row(session, held, lock=True)
                if row is None:
                    raise _NotHeld
                old = Amounts(row.vcpus, row.memory_mb, row.disk_gb)
                new = claim.amounts
                growth = _minus(new, old)
                if _rowcount(await session.execute(self._grow(claim.host, growth))) != 1:
                    raise _NoRoom
                await session.execute(
                    sa.update(ResourceClaim)
                    .where(held)
                    .values(vcpus=new.vcpus, memory_mb=new.memory_mb, disk_gb=new.disk_gb)
                )
        except _NoRoom:
            return None
        except _NotHeld:
            if await self.claim(claim) is not ClaimOutcome.CLAIMED:
                return None
            return Claim(claim.instance_id, claim.host, NOTHING, claim.server_group_id)
        return Claim(claim.instance_id, claim.host, old, row.server_group_id)

    def _grow(self, host: str, by: Amounts) -> sa.Update:
        """Add ``by`` (any part may be negative) to the host's use; only the parts that
        grow must fit under the allocation ratios."""
        s, node = self._settings, ComputeNode
        room = [
            used + extra <= total * _ratio(ratio)
            for used, total, extra, ratio in (
                (node.vcpus_used, node.vcpus, by.vcpus, s.cpu_allocation_ratio),
                (node.memory_mb_used, node.memory_mb, by.memory_mb, s.ram_allocation_ratio),
                (node.local_gb_used, node.local_gb, by.disk_gb, s.disk_allocation_ratio),
            )
            if extra > 0
        ]
        return (
            sa.update(node)
            .where(node.host == host, *room)
            .values(
                vcpus_used=node.vcpus_used + by.vcpus,
                memory_mb_used=node.memory_mb_used + by.memory_mb,
                local_gb_used=node.local_gb_used + by.disk_gb,
            )
            .execution_options(synchronize_session=False)
        )


def _held(instance_id: str, host: str) -> sa.ColumnElement[bool]:
    return (ResourceClaim.instance_id == instance_id) & (ResourceClaim.host == host)


async def _held_row(
    session: AsyncSession, held: sa.ColumnElement[bool], *, lock: bool = False
) -> sa.Row[int, int, int, str | None] | None:
    """The claim's amounts and group, locked for this transaction when ``lock``."""
    query = sa.select(
        ResourceClaim.vcpus, ResourceClaim.memory_mb, ResourceClaim.disk_gb,
        ResourceClaim.server_group_id,
    ).where(held)  # fmt: skip
    return (await session.execute(query.with_for_update() if lock else query)).first()


def _minus(a: Amounts, b: Amounts) -> Amounts:
    return Amounts(a.vcpus - b.vcpus, a.memory_mb - b.memory_mb, a.disk_gb - b.disk_gb)


def _ratio(value: float) -> sa.ColumnElement[float]:
    return sa.literal(value, sa.Float)


def _rowcount(result: object) -> int:
    count = getattr(result, "rowcount", -1)
    return count if isinstance(count, int) else -1


class _NoRoom(Exception):
    """Rolls the claim's transaction back."""


class _NotHeld(Exception):
    """A resize of a claim that is not there."""
