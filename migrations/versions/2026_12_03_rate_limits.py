"""rate limits: one counter row per (kind, key); login_failure goes

Limits on one-time codes and failed logins were counted with ``SELECT count(*)`` over event
rows and then written: parallel requests all passed. ``rate_limit`` holds one counter per
(kind, key) that a single conditional upsert moves (``seba.core.ratelimit``). Failed logins are
counted there now, so ``login_failure`` (which only grew: nothing ever deleted its rows) is
dropped. One-time codes are now an HMAC under the server key; codes sent before this upgrade
carry an unkeyed hash that can no longer be checked, so they are expired (the family asks again
and is told so, instead of "wrong code").

Revision ID: 65cfc25b8c3c
Revises: 5e0a11a7e003
Create Date: 2026-12-03 09:00:00.000000
"""

from collections.abc import Sequence
from datetime import UTC, datetime

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

    with op.batch_alter_table("login_failure", schema=None) as batch_op:
        batch_op.drop_index("ix_login_failure_username_at")
        batch_op.drop_index("ix_login_failure_client_at")
    op.drop_table("login_failure")

    otp_challenge = sa.table(
        "otp_challenge",
        sa.column("expires_at", sa.DateTime(timezone=True)),
        sa.column("verified_at", sa.DateTime(timezone=True)),
    )
    now = datetime.now(UTC)
    op.execute(
        otp_challenge.update()
        .where(otp_challenge.c.verified_at.is_(None), otp_challenge.c.expires_at > now)
        .values(expires_at=now)
    )


def downgrade() -> None:
    op.create_table(
        "login_failure",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("username", sa.String(length=60), nullable=False),
        sa.Column("client", sa.String(length=64), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_login_failure")),
    )
    with op.batch_alter_table("login_failure", schema=None) as batch_op:
        batch_op.create_index("ix_login_failure_client_at", ["client", "at"], unique=False)
        batch_op.create_index("ix_login_failure_username_at", ["username", "at"], unique=False)

    with op.batch_alter_table("rate_limit", schema=None) as batch_op:
        batch_op.drop_index("ix_rate_limit_ends_at")
    op.drop_table("rate_limit")
