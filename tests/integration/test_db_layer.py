"""The SQL layer on SQLite, PostgreSQL and MariaDB: migrations, sessions, types, failures."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from stratus.common.db import Database, current_revision, upgrade
from stratus.common.errors import Unavailable
from stratus.identity import models as im
from stratus.identity.migrations import MIGRATIONS as IDENTITY
from stratus.registry.migrations import MIGRATIONS as REGISTRY

pytestmark = pytest.mark.integration


@pytest.fixture(params=["sqlite", "postgresql", "mariadb"])
async def db(request: pytest.FixtureRequest, tmp_path: Path):
    if request.param == "sqlite":
        url = f"sqlite+aiosqlite:///{tmp_path / 'test.sqlite'}"
    elif request.param == "postgresql":
        url = request.getfixturevalue("postgres_url")
    else:
        url = request.getfixturevalue("mariadb_url")
    database = Database(url)
    yield database
    await database.close()


async def test_each_service_migrates_into_its_own_version_table(db: Database) -> None:
    assert await upgrade(db, IDENTITY) is True
    assert await upgrade(db, REGISTRY) is True
    # A second run finds both at head and does nothing.
    assert await upgrade(db, IDENTITY) is False
    assert await upgrade(db, REGISTRY) is False
    assert await current_revision(db, IDENTITY) == IDENTITY.head()
    assert await current_revision(db, REGISTRY) == REGISTRY.head()
    async with db.engine.connect() as conn:
        tables = await conn.run_sync(lambda c: set(sa.inspect(c).get_table_names()))
    assert {"alembic_version_identity", "alembic_version_registry"} <= tables
    assert {"users", "projects", "service_records"} <= tables


async def test_session_commits_on_success_and_rolls_back_on_error(db: Database) -> None:
    await upgrade(db, IDENTITY)
    async with db.session() as s:
        s.add(im.Domain(id="d1", name="one"))
    with pytest.raises(RuntimeError):
        async with db.session() as s:
            s.add(im.Domain(id="d2", name="two"))
            await s.flush()
            raise RuntimeError("abort")
    async with db.session() as s:
        names = (await s.execute(sa.select(im.Domain.name))).scalars().all()
    assert names == ["one"]


async def test_unique_constraints_hold(db: Database) -> None:
    await upgrade(db, IDENTITY)
    async with db.session() as s:
        s.add(im.Domain(id="d1", name="same"))
    with pytest.raises(IntegrityError):
        async with db.session() as s:
            s.add(im.Domain(id="d2", name="same"))


async def test_timestamps_keep_microseconds_and_utc(db: Database) -> None:
    await upgrade(db, IDENTITY)
    when = dt.datetime(2026, 1, 2, 3, 4, 5, 678901, tzinfo=dt.UTC)
    async with db.session() as s:
        s.add(im.RevocationEvent(user_id="u", issued_before=when))
    async with db.session() as s:
        got = (await s.execute(sa.select(im.RevocationEvent.issued_before))).scalar_one()
    assert got == when
    assert got.tzinfo is dt.UTC


async def test_json_columns_round_trip(db: Database) -> None:
    await upgrade(db, IDENTITY)
    async with db.session() as s:
        s.add(im.Domain(id="d1", name="j", extra={"k": [1, "two", {"three": None}]}))
    async with db.session() as s:
        dom = await s.get(im.Domain, "d1")
    assert dom is not None
    assert dom.extra == {"k": [1, "two", {"three": None}]}


@pytest.mark.parametrize(
    "url",
    [
        "postgresql+asyncpg://postgres@127.0.0.1:1/none",
        "mysql+aiomysql://root@127.0.0.1:1/none",
    ],
)
async def test_unreachable_server_is_a_clear_unavailable_error(url: str) -> None:
    db = Database(url)
    try:
        with pytest.raises(Unavailable) as info:
            await db.check()
        assert "cannot reach database" in info.value.message
        assert "127.0.0.1:1" in info.value.message
    finally:
        await db.close()
