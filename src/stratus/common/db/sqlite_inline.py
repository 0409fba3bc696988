"""SQLite on the event loop's own thread, as the driver under SQLAlchemy's aiosqlite dialect.

aiosqlite runs every statement on a worker thread. Each statement then costs two thread
hand-offs, and while the event loop is busy the worker waits for the GIL (up to the
interpreter's 5 ms switch interval) before it can report back: a transaction of a few
statements took milliseconds of waiting, and this process's transactions on one file run
one at a time (``engine._gate``). In WAL mode with ``synchronous=NORMAL`` a statement on a
local file takes microseconds, so here it runs inline.

The one wait that must not block the loop is another *process* holding the write lock:
the connection has no busy timeout, and a statement refused with ``SQLITE_BUSY`` is tried
again on a worker thread, with short sleeps, until ``busy_timeout`` has passed.
"""

from __future__ import annotations

import asyncio
import sqlite3
import time
from collections.abc import Callable, Iterable, Sequence
from typing import Any, TypeVar

T = TypeVar("T")

SQLITE_BUSY = 5  # the primary result code; extended codes such as BUSY_SNAPSHOT differ
BUSY_PAUSE = 0.002  # seconds between attempts while another process holds the lock


def is_busy(exc: BaseException | None) -> bool:
    """``SQLITE_BUSY``: another connection holds the lock (not a stale snapshot)."""
    return (
        isinstance(exc, sqlite3.OperationalError)
        and getattr(exc, "sqlite_errorcode", None) == SQLITE_BUSY
    )


class InlineConnection:
    """The part of ``aiosqlite.Connection`` SQLAlchemy's aiosqlite adapter uses."""

    def __init__(self, conn: sqlite3.Connection, busy_timeout: float) -> None:
        self._connection: sqlite3.Connection | None = conn  # the adapter checks it is set
        self._conn = conn
        self._busy_timeout = busy_timeout
        self._tx = _InlineQueue()  # the adapter's isolation_level setter queues through it

    async def run(self, fn: Callable[..., T], *args: Any) -> T:
        """``fn(*args)`` now; on ``SQLITE_BUSY``, again on a thread until the timeout."""
        try:
            return fn(*args)
        except sqlite3.OperationalError as exc:
            if not is_busy(exc):
                raise
        return await asyncio.to_thread(self._retry_busy, fn, *args)

    def _retry_busy(self, fn: Callable[..., T], *args: Any) -> T:
        deadline = time.monotonic() + self._busy_timeout
        while True:
            time.sleep(BUSY_PAUSE)
            try:
                return fn(*args)
            except sqlite3.OperationalError as exc:
                if not is_busy(exc) or time.monotonic() > deadline:
                    raise

    def cursor(self) -> InlineCursor:
        return InlineCursor(self, self._conn.cursor())

    async def execute(self, sql: str, parameters: Sequence[Any] = ()) -> InlineCursor:
        cursor = self.cursor()
        await cursor.execute(sql, parameters)
        return cursor

    async def commit(self) -> None:
        await self.run(self._conn.commit)

    async def rollback(self) -> None:
        self._conn.rollback()

    async def close(self) -> None:
        if self._connection is not None:
            self._connection = None
            self._conn.close()

    def stop(self) -> None:
        """Close at once (SQLAlchemy's terminate when the connection is invalidated)."""
        if self._connection is not None:
            self._connection = None
            self._conn.close()

    async def create_function(self, *args: Any, **kw: Any) -> None:
        self._conn.create_function(*args, **kw)

    @property
    def isolation_level(self) -> str | None:
        return self._conn.isolation_level

    @isolation_level.setter
    def isolation_level(self, value: Any) -> None:
        self._conn.isolation_level = value


class _InlineQueue:
    """Runs what SQLAlchemy's adapter would queue for aiosqlite's worker thread."""

    def put_nowait(self, item: tuple[asyncio.Future[Any], Callable[[], Any]]) -> None:
        future, function = item
        try:
            future.set_result(function())
        except Exception as exc:
            future.set_exception(exc)


class InlineCursor:
    """The part of ``aiosqlite.Cursor`` SQLAlchemy's adapter uses."""

    def __init__(self, conn: InlineConnection, cursor: sqlite3.Cursor) -> None:
        self._conn = conn
        self._cursor = cursor

    async def __aenter__(self) -> InlineCursor:
        return self

    async def __aexit__(self, *_: object) -> None:
        self._cursor.close()

    async def execute(self, sql: str, parameters: Any = ()) -> InlineCursor:
        await self._conn.run(self._cursor.execute, sql, () if parameters is None else parameters)
        return self

    async def executemany(self, sql: str, seq_of_parameters: Iterable[Any]) -> InlineCursor:
        rows = list(seq_of_parameters)  # a retry must see every row again
        await self._conn.run(self._cursor.executemany, sql, rows)
        return self

    async def fetchone(self) -> Any:
        return self._cursor.fetchone()

    async def fetchmany(self, size: int | None = None) -> list[Any]:
        return self._cursor.fetchmany(self._cursor.arraysize if size is None else size)

    async def fetchall(self) -> list[Any]:
        return self._cursor.fetchall()

    async def close(self) -> None:
        self._cursor.close()

    @property
    def description(self) -> Any:
        return self._cursor.description

    @property
    def rowcount(self) -> int:
        return self._cursor.rowcount

    @property
    def lastrowid(self) -> int | None:
        return self._cursor.lastrowid

    @property
    def arraysize(self) -> int:
        return self._cursor.arraysize

    @arraysize.setter
    def arraysize(self, value: int) -> None:
        self._cursor.arraysize = value


def creator(path: str, busy_timeout: float) -> Callable[[], Any]:
    """An ``async_creator`` for ``create_async_engine`` opening ``path`` inline."""

    async def connect() -> InlineConnection:
        # the worker thread of a busy retry uses the connection while the loop waits for it
        conn = sqlite3.connect(path, check_same_thread=False)
        return InlineConnection(conn, busy_timeout)

    return connect
