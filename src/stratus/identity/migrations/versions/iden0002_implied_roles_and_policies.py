"""implied roles and policies

Revision ID: iden0002
Revises: iden0001
Create Date: 2026-11-24 05:20:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "iden0002"
down_revision: str | None = "iden0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "implied_roles",
        sa.Column("prior_role_id", sa.String(length=64), nullable=False),
        sa.Column("implied_role_id", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(
            ["prior_role_id"],
            ["roles.id"],
            name=op.f("fk_implied_roles_prior_role_id_roles"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["implied_role_id"],
            ["roles.id"],
            name=op.f("fk_implied_roles_implied_role_id_roles"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("prior_role_id", "implied_role_id", name=op.f("pk_implied_roles")),
    )
    with op.batch_alter_table("implied_roles", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_implied_roles_implied_role_id"), ["implied_role_id"], unique=False
        )
    op.create_table(
        "policies",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("type", sa.String(length=255), nullable=False),
        sa.Column("blob", sa.Text(), nullable=False),
        sa.Column("extra", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_policies")),
    )


def downgrade() -> None:
    op.drop_table("policies")
    with op.batch_alter_table("implied_roles", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_implied_roles_implied_role_id"))
    op.drop_table("implied_roles")
