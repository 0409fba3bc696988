"""The SQL layer: async engines, per-service migrations. Agents and drivers never import it."""

from stratus.common.db.engine import Database, sqlite_url
from stratus.common.db.migrate import MigrationSet, current_revision, upgrade

__all__ = ["Database", "MigrationSet", "current_revision", "sqlite_url", "upgrade"]
