"""aggregate updated_at

Revision ID: comp0003
Revises: comp0002
Create Date: 2026-11-25 09:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import stratus.common.db.types

revision: str = "comp0003"
down_revision: str | None = "comp0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("aggregates", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("updated_at", stratus.common.db.types.UtcDateTime(), nullable=True)
        )


def downgrade() -> None:
    with op.batch_alter_table("aggregates", schema=None) as batch_op:
        batch_op.drop_column("updated_at")
