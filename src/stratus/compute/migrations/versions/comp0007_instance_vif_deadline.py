"""instance vif deadline (waiting for the ports to be wired)

Revision ID: comp0007
Revises: comp0006
Create Date: 2026-11-24 18:20:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import stratus.common.db.types

revision: str = "comp0007"
down_revision: str | None = "comp0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("instances", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("vif_deadline", stratus.common.db.types.UtcDateTime(), nullable=True)
        )
        batch_op.create_index(
            batch_op.f("ix_instances_vif_deadline"), ["vif_deadline"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("instances", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_instances_vif_deadline"))
        batch_op.drop_column("vif_deadline")
