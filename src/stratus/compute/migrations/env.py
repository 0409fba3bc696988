"""Alembic entry point: migrate on the connection Stratus hands over."""

from stratus.common.db.migrate import run_env

run_env()
