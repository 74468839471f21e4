"""rate limits: one counter row per (kind, key)

Limits counted with ``SELECT count(*)`` over event rows and then written let parallel requests
all pass. ``rate_limit`` holds one counter per (kind, key) that a single conditional upsert
moves (``seba.core.ratelimit``).

Revision ID: 65cfc25b8c3c
Revises: 5e0a11a7e003
Create Date: 2026-12-03 09:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "65cfc25b8c3c"
down_revision: str | None = "5e0a11a7e003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "rate_limit",
        sa.Column("kind", sa.String(length=40), nullable=False),
        sa.Column("key", sa.String(length=128), nullable=False),
        sa.Column("hits", sa.Integer(), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ends_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("hits >= 0", name=op.f("ck_rate_limit_hits")),
        sa.CheckConstraint("ends_at > started_at", name=op.f("ck_rate_limit_window")),
        sa.PrimaryKeyConstraint("kind", "key", name=op.f("pk_rate_limit")),
    )
    with op.batch_alter_table("rate_limit", schema=None) as batch_op:
        batch_op.create_index("ix_rate_limit_ends_at", ["ends_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("rate_limit", schema=None) as batch_op:
        batch_op.drop_index("ix_rate_limit_ends_at")
    op.drop_table("rate_limit")
