"""The compute service's Alembic migrations."""

from pathlib import Path

from stratus.common.db.migrate import MigrationSet
from stratus.compute.models import Base

MIGRATIONS = MigrationSet("compute", Path(__file__).parent, Base.metadata)
