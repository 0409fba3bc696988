"""The registry's Alembic migrations."""

from pathlib import Path

from stratus.common.db.migrate import MigrationSet
from stratus.registry.models import Base

MIGRATIONS = MigrationSet("registry", Path(__file__).parent, Base.metadata)
