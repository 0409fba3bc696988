"""Transactions that lost a race to a unique constraint, run again on a fresh read.

IP addresses, MACs, segments, the default security group and quota overrides are all
claimed by inserting a row whose key refuses a second claimant; whoever loses gets an
``IntegrityError`` at flush or commit and simply tries again, seeing the winner's row.
A deadlock the server broke (InnoDB's gap locks can make one of such inserts) is retried
the same way.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Awaitable, Callable
from typing import TypeVar

from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from stratus.common.db import Database
from stratus.network.errors import conflict

log = logging.getLogger(__name__)
T = TypeVar("T")
ATTEMPTS = 40


# PostgreSQL's serialization failure and deadlock; MySQL/MariaDB's deadlock and lock wait
SQLSTATES = ("40001", "40P01")
MYSQL_CODES = (1213, 1205)


def lost_race(exc: DBAPIError) -> bool:
    """A unique key taken first, or a deadlock the server broke by aborting us."""
    if isinstance(exc, IntegrityError):
        return True
    orig = exc.orig
    if getattr(orig, "sqlstate", None) in SQLSTATES or getattr(orig, "pgcode", None) in SQLSTATES:
        return True
    args: tuple[object, ...] = getattr(orig, "args", ())
    return bool(args) and args[0] in MYSQL_CODES


async def retrying(db: Database, work: Callable[[AsyncSession], Awaitable[T]]) -> T:
    for attempt in range(ATTEMPTS):
        try:
            async with db.session() as session:
                return await work(session)
        except DBAPIError as exc:
            if not lost_race(exc):
                raise
            log.debug("lost a race (attempt %d): %s", attempt + 1, exc.orig)
            # a short random pause, longer each time, so racers stop meeting
            await asyncio.sleep(random.uniform(0, 0.002 * (attempt + 1)))
    raise conflict("HTTPConflict", "Too many concurrent changes; try the request again.")
