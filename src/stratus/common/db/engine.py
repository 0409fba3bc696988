"""One async engine per service, on SQLite, PostgreSQL or MariaDB."""

from __future__ import annotations

import logging
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

from stratus.common.errors import Unavailable

log = logging.getLogger(__name__)


def sqlite_url(path: Path) -> str:
    return f"sqlite+aiosqlite:///{path}"


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    cur = dbapi_conn.cursor()
    # WAL lets readers run beside the single writer; busy_timeout waits instead of failing.
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.execute("PRAGMA busy_timeout=10000")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.close()


class Database:
    """An engine and a session factory; ``session()`` commits on success, rolls back on error."""

    def __init__(self, url: str, *, pool_size: int = 10, echo: bool = False) -> None:
        self.url = url
        self.dialect = sa.engine.make_url(url).get_backend_name()
        kwargs: dict[str, Any] = {"echo": echo}
        if self.dialect != "sqlite":
            kwargs.update(pool_size=pool_size, max_overflow=pool_size, pool_pre_ping=True)
            if self.dialect in ("mysql", "mariadb"):
                kwargs["pool_recycle"] = 3600
        self.engine: AsyncEngine = create_async_engine(url, **kwargs)
        if self.dialect == "sqlite":
            event.listen(self.engine.sync_engine, "connect", _sqlite_pragmas)
        self.sessions = async_sessionmaker(self.engine, expire_on_commit=False)

    @asynccontextmanager
    async def session(self) -> AsyncIterator[AsyncSession]:
        try:
            async with self.sessions.begin() as s:
                yield s
        except OperationalError as exc:
            if exc.connection_invalidated or _is_connect_failure(exc):
                raise Unavailable("db.unavailable", "the database is unreachable") from exc
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
