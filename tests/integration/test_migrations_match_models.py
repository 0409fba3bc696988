"""Every service's migrations build exactly the tables its models declare.

A model changed without a migration (or the reverse) would pass on a fresh SQLite file
created from the models, and fail on a real upgraded database; this catches it.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Connection

from stratus import services
from stratus.common.db import Database, MigrationSet, upgrade

SETS = [mig for name in services.FACTORIES for mig in services.create(name).migrations()]


def _diff(conn: Connection, mig: MigrationSet, only_own_tables: bool = False) -> list[object]:
    opts: dict[str, object] = {"version_table": mig.version_table, "compare_type": True}
    if only_own_tables:
        opts["include_name"] = lambda name, kind, _parents: (
            kind != "table" or name in mig.metadata.tables
        )
    ctx = MigrationContext.configure(conn, opts=opts)
    return [d for d in compare_metadata(ctx, mig.metadata) if not _is_version_table(d)]


def _is_version_table(diff: object) -> bool:
    return isinstance(diff, tuple) and "alembic_version" in str(diff)


@pytest.mark.parametrize("mig", SETS, ids=lambda m: m.service)
async def test_upgraded_schema_matches_the_models(mig: MigrationSet, tmp_path: Path) -> None:
    db = Database(f"sqlite+aiosqlite:///{tmp_path / 'schema.sqlite'}")
    try:
        await upgrade(db, mig)
        async with db.engine.connect() as conn:
            diff = await conn.run_sync(_diff, mig)
        assert diff == [], f"{mig.service}: models and migrations differ: {diff}"
    finally:
        await db.close()


@pytest.mark.parametrize("server", ["postgres", "mariadb"])
async def test_every_service_upgrades_into_one_shared_database(
    server: str, request: pytest.FixtureRequest
) -> None:
    """A multi-node cloud gives every service the same database: no two services may
    claim one table, index or constraint name, and each still matches its models."""
    db = Database(request.getfixturevalue(f"{server}_url"))
    try:
        for mig in SETS:
            await upgrade(db, mig)
        async with db.engine.connect() as conn:
            for mig in SETS:
                diff = await conn.run_sync(_diff, mig, True)
                assert diff == [], f"{mig.service}: models and migrations differ: {diff}"
    finally:
        await db.close()
