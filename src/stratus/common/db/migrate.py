"""Alembic migrations per service, each with its own version table.

A service owns its tables and its migration scripts (``stratus/<service>/migrations``).
Migrations run on the service's async engine through ``run_sync``, so the same call
works from ``stratus up`` (inside the event loop) and ``stratus db upgrade``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, MetaData

from stratus.common.db.engine import Database


@dataclass(frozen=True)
class MigrationSet:
    service: str
    script_location: Path
    metadata: MetaData

    @property
    def version_table(self) -> str:
        return f"alembic_version_{self.service}"

    def config(self, connection: Connection | None = None) -> Config:
        cfg = Config()
        cfg.set_main_option("script_location", str(self.script_location))
        cfg.attributes["connection"] = connection
        cfg.attributes["migration_set"] = self
        return cfg

    def head(self) -> str | None:
        return ScriptDirectory.from_config(self.config()).get_current_head()


def _current_sync(conn: Connection, mig: MigrationSet) -> str | None:
    ctx = MigrationContext.configure(conn, opts={"version_table": mig.version_table})
    return ctx.get_current_revision()


async def current_revision(db: Database, mig: MigrationSet) -> str | None:
    async with db.engine.connect() as conn:
        return await conn.run_sync(_current_sync, mig)


def _upgrade_sync(conn: Connection, mig: MigrationSet, target: str) -> None:
    command.upgrade(mig.config(conn), target)


async def upgrade(db: Database, mig: MigrationSet, target: str = "head") -> bool:
    """Bring the service's tables to ``target``; return whether anything ran."""
    if target == "head" and await current_revision(db, mig) == mig.head():
        return False
    async with db.engine.begin() as conn:
        await conn.run_sync(_upgrade_sync, mig, target)
    return True


def run_env() -> None:
    """Body of every service's ``env.py``: migrate on the connection we were handed."""
    from alembic import context  # noqa: PLC0415 - only importable inside an alembic run

    cfg = context.config
    mig: MigrationSet = cfg.attributes["migration_set"]
    conn: Connection = cfg.attributes["connection"]
    context.configure(
        connection=conn,
        target_metadata=mig.metadata,
        version_table=mig.version_table,
        render_as_batch=conn.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()
