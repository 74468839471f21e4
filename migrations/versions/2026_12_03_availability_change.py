"""availability change log: which facility each bed data version changed

Revision ID: 5e0a11a7e005
Revises: 5e0a11a7e004
Create Date: 2026-12-03 12:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "5e0a11a7e005"
down_revision: str | None = "5e0a11a7e004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "availability_change",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("facility_id", sa.Integer(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_availability_change")),
    )
    with op.batch_alter_table("availability_change", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_availability_change_version"), ["version"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("availability_change", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_availability_change_version"))
    op.drop_table("availability_change")
