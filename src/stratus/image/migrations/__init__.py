"""The image service's Alembic migrations."""

from pathlib import Path

from stratus.common.db.migrate import MigrationSet
from stratus.image.models import Base

MIGRATIONS = MigrationSet("image", Path(__file__).parent, Base.metadata)
