"""One async engine per service, on SQLite, PostgreSQL or MariaDB.

On SQLite, the transactions of one process on one database file take turns (``_gate``):
SQLite has a single writer, and a connection that finds the write lock taken sleeps in
its busy handler (1, 2, 5 .. 100 ms steps) instead of queueing, so under concurrency
most of the time went to those sleeps; a read that is followed by a write could also
fail when another connection committed in between. Several services of one process
(``stratus up``) use the same file through their own engines, so the turns are per
file, not per engine. Another process holding the write lock is waited for off the
event loop (``sqlite_inline``).
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
import weakref
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

from stratus.common.db import sqlite_inline
from stratus.common.errors import Unavailable

log = logging.getLogger(__name__)


def sqlite_url(path: Path) -> str:
    return f"sqlite+aiosqlite:///{path}"


BUSY_TIMEOUT = 10.0  # seconds an SQLite transaction waits for its turn or the write lock

# asyncio locks belong to one event loop: one set of gates per running loop
_GATES: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[str, asyncio.Lock]] = (
    weakref.WeakKeyDictionary()
)
# the turns the current task holds, as (file, task): a nested session must not wait for
# its own task, while a task started meanwhile (which copies the context) must wait
_HELD: contextvars.ContextVar[frozenset[tuple[str, object]]] = contextvars.ContextVar(
    "stratus_sqlite_turns", default=frozenset()
)


@asynccontextmanager
async def _gate(path: str, wait: float) -> AsyncIterator[None]:
    """Hold this process's turn on the SQLite file ``path`` (re-entrant per task)."""
    held = _HELD.get()
    mine = (path, asyncio.current_task())
    if mine in held:
        yield
        return
    gates = _GATES.setdefault(asyncio.get_running_loop(), {})
    lock = gates.setdefault(path, asyncio.Lock())
    try:
        async with asyncio.timeout(wait):
            await lock.acquire()
    except TimeoutError:
        raise Unavailable("db.busy", "the database stayed busy; try again") from None
    token = _HELD.set(held | {mine})
    try:
        yield
    finally:
        _HELD.reset(token)
        lock.release()


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    cur = dbapi_conn.cursor()
    # WAL lets readers (other processes, migrations) run beside the single writer
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=NORMAL")
    # no busy handler: it would sleep on the event loop (sqlite_inline waits on a thread)
    cur.execute("PRAGMA busy_timeout=0")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.close()


class Database:
    """An engine and a session factory; ``session()`` commits on success, rolls back on error."""

    def __init__(
        self,
        url: str,
        *,
        pool_size: int = 10,
        echo: bool = False,
        busy_timeout: float = BUSY_TIMEOUT,
    ) -> None:
        self.url = url
        self.dialect = sa.engine.make_url(url).get_backend_name()
        kwargs: dict[str, Any] = {"echo": echo}
        if self.dialect != "sqlite":
            kwargs.update(pool_size=pool_size, max_overflow=pool_size, pool_pre_ping=True)
            if self.dialect in ("mysql", "mariadb"):
                kwargs["pool_recycle"] = 3600
        database = sa.engine.make_url(url).database
        on_file = self.dialect == "sqlite" and database not in (None, "", ":memory:")
        # one turn per file, however its path was spelled
        self._sqlite_file = str(Path(database).resolve()) if on_file and database else None
        if self._sqlite_file is not None:
            kwargs["async_creator"] = sqlite_inline.creator(self._sqlite_file, busy_timeout)
        self._busy_timeout = busy_timeout
        self.engine: AsyncEngine = create_async_engine(url, **kwargs)
        if self.dialect == "sqlite":
            event.listen(self.engine.sync_engine, "connect", _sqlite_pragmas)
        self.sessions = async_sessionmaker(self.engine, expire_on_commit=False)

    @asynccontextmanager
    async def session(self) -> AsyncIterator[AsyncSession]:
        try:
            if self._sqlite_file is None:
                async with self.sessions.begin() as s:
                    yield s
            else:
                async with (
                    _gate(self._sqlite_file, self._busy_timeout),
                    self.sessions.begin() as s,
                ):
                    yield s
        except OperationalError as exc:
            if exc.connection_invalidated or _is_connect_failure(exc):
                raise Unavailable("db.unavailable", "the database is unreachable") from exc
            if sqlite_inline.is_busy(exc.orig):
                raise Unavailable("db.busy", "the database stayed locked; try again") from exc
            raise

    async def check(self) -> None:
        """Open one connection; raise ``Unavailable`` with the reason if that fails."""
        try:
            async with self.engine.connect() as conn:
                await conn.execute(sa.text("SELECT 1"))
        except (OSError, DBAPIError) as exc:
            raise Unavailable(
                "db.unavailable", f"cannot reach database {self.safe_url}: {_first_line(exc)}"
            ) from None

    @property
    def safe_url(self) -> str:
        return sa.engine.make_url(self.url).render_as_string(hide_password=True)

    async def close(self) -> None:
        await self.engine.dispose()


def _is_connect_failure(exc: OperationalError) -> bool:
    text = str(exc.orig).lower()
    return any(w in text for w in ("connect", "connection refused", "server has gone away"))


def _first_line(exc: BaseException) -> str:
    orig = getattr(exc, "orig", None) or exc
    return (str(orig).strip().splitlines() or [type(orig).__name__])[0]
