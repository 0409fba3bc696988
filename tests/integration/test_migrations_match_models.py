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


def _diff(conn: Connection, mig: MigrationSet) -> list[object]:
    ctx = MigrationContext.configure(
        conn, opts={"version_table": mig.version_table, "compare_type": True}
    )
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
