"""The identity service's Alembic migrations."""

from pathlib import Path

from stratus.common.db.migrate import MigrationSet
from stratus.identity.models import Base

MIGRATIONS = MigrationSet("identity", Path(__file__).parent, Base.metadata)
