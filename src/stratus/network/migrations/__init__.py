"""The network service's Alembic migrations."""

from pathlib import Path

from stratus.common.db.migrate import MigrationSet
from stratus.network.models import Base

MIGRATIONS = MigrationSet("network", Path(__file__).parent, Base.metadata)
