"""SQLite under concurrency: this process's transactions on one file take turns, and a
write lock held by another process is waited for off the event loop."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

import pytest
import sqlalchemy as sa

from stratus.common.db import Database, sqlite_url, upgrade
from stratus.common.errors import Unavailable
from stratus.identity import models as im
from stratus.identity.migrations import MIGRATIONS as IDENTITY

pytestmark = pytest.mark.integration


async def rename_many(db: Database, domain: str, times: int) -> None:
    """Read-then-write transactions: the pattern that fails under SQLite's deferred
    locking when another connection commits in between."""
    for n in range(times):
        async with db.session() as s:
            row = await s.get(im.Domain, domain)
            assert row is not None
            await asyncio.sleep(0)  # let the other engines' sessions interleave
            row.description = f"{row.description or ''}{n % 10}"


async def test_engines_of_one_process_share_the_file_without_lock_errors(tmp_path: Path) -> None:
    url = sqlite_url(tmp_path / "shared.sqlite")
    first = Database(url)
    await upgrade(first, IDENTITY)
    engines = [first, Database(url), Database(url)]
    try:
        async with first.session() as s:
            s.add_all(im.Domain(id=f"d{i}", name=f"domain-{i}") for i in range(3))
        await asyncio.gather(
            *(rename_many(db, f"d{i % 3}", 40) for i, db in enumerate(engines * 3))
        )
        async with first.session() as s:
            lengths = [len(d or "") for d in (await s.scalars(sa.select(im.Domain.description)))]
        assert sorted(lengths) == [120, 120, 120]  # every write of 9 writers x 40 kept
    finally:
        for db in engines:
            await db.close()


async def test_a_lock_held_by_another_process_is_waited_for_off_the_loop(
    tmp_path: Path,
) -> None:
    path = tmp_path / "locked.sqlite"
    db = Database(sqlite_url(path))
    await upgrade(db, IDENTITY)
    other = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    try:
        other.execute("BEGIN IMMEDIATE")  # another writer holds the lock
        ticks = 0

        async def ticker() -> None:
            nonlocal ticks
            while True:
                await asyncio.sleep(0.01)
                ticks += 1

        async def write() -> None:
            async with db.session() as s:
                s.add(im.Domain(id="late", name="late"))

        ticking = asyncio.create_task(ticker())
        writing = asyncio.create_task(write())
        await asyncio.sleep(0.5)
        assert not writing.done()  # still waiting for the other writer...
        assert ticks > 10  # ...while the event loop kept running
        await asyncio.to_thread(other.execute, "COMMIT")
        await writing
        ticking.cancel()
        async with db.session() as s:
            assert await s.get(im.Domain, "late") is not None
    finally:
        other.close()
        await db.close()


async def test_a_writer_that_never_lets_go_gives_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "stuck.sqlite"
    db = Database(sqlite_url(path))
    await upgrade(db, IDENTITY)
    await db.close()
    db = Database(sqlite_url(path), busy_timeout=0.3)
    other = sqlite3.connect(path, isolation_level=None)
    try:
        other.execute("BEGIN IMMEDIATE")
        with pytest.raises(Unavailable, match="locked"):
            async with db.session() as s:
                s.add(im.Domain(id="never", name="never"))
    finally:
        other.close()
        await db.close()


async def test_a_task_started_inside_a_session_waits_for_its_turn(tmp_path: Path) -> None:
    db = Database(sqlite_url(tmp_path / "nested.sqlite"))
    await upgrade(db, IDENTITY)
    try:

        async def other_writer() -> None:
            async with db.session() as s:
                s.add(im.Domain(id="second", name="second"))

        async with db.session() as s:
            s.add(im.Domain(id="first", name="first"))
            started = asyncio.create_task(other_writer())  # copies this task's context
            await asyncio.sleep(0.2)
            assert not started.done()  # it waits for this transaction's end
            async with db.session() as nested:  # this task's own nested session does not
                assert await nested.get(im.Domain, "second") is None
        await started
        async with db.session() as s:
            assert {d.id for d in await s.scalars(sa.select(im.Domain))} >= {"first", "second"}
    finally:
        await db.close()
