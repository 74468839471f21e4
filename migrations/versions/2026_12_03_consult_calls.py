"""consult calls: the call's times, the media really used, and its chat

Revision ID: 5e0a11a7e013
Revises: 5e0a11a7e006
Create Date: 2026-12-03 18:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "5e0a11a7e013"
down_revision: str | None = "5e0a11a7e006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "consult_call",
        sa.Column("consultation_id", sa.Integer(), nullable=False),
        sa.Column("started_at", TS, nullable=False),
        sa.Column("ended_at", TS, nullable=True),
        sa.CheckConstraint(
            "ended_at IS NULL OR ended_at >= started_at", name=op.f("ck_consult_call_order")
        ),
        sa.ForeignKeyConstraint(
            ["consultation_id"],
            ["consultation.id"],
            name=op.f("fk_consult_call_consultation_id_consultation"),
        ),
        sa.PrimaryKeyConstraint("consultation_id", name=op.f("pk_consult_call")),
    )
    op.create_table(
        "consult_call_segment",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("consultation_id", sa.Integer(), nullable=False),
        sa.Column("party", sa.String(length=8), nullable=False),
        sa.Column("mode", sa.String(length=8), nullable=False),
        sa.Column("started_at", TS, nullable=False),
        sa.Column("ended_at", TS, nullable=False),
        sa.CheckConstraint(
            "party IN ('doctor', 'cho')", name=op.f("ck_consult_call_segment_party")
        ),
        sa.CheckConstraint(
            "mode IN ('video', 'audio', 'text')", name=op.f("ck_consult_call_segment_mode")
        ),
        sa.CheckConstraint("ended_at >= started_at", name=op.f("ck_consult_call_segment_order")),
        sa.ForeignKeyConstraint(
            ["consultation_id"],
            ["consultation.id"],
            name=op.f("fk_consult_call_segment_consultation_id_consultation"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_consult_call_segment")),
    )
    op.create_index(
        "ix_consult_call_segment_lookup",
        "consult_call_segment",
        ["consultation_id", "party", "mode", "ended_at"],
        unique=False,
    )
    op.create_table(
        "consult_chat_message",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("consultation_id", sa.Integer(), nullable=False),
        sa.Column("sender_user_id", sa.Integer(), nullable=False),
        sa.Column("party", sa.String(length=8), nullable=False),
        sa.Column("body", sa.String(length=1000), nullable=False),
        sa.Column("sent_at", TS, nullable=False),
        sa.CheckConstraint(
            "party IN ('doctor', 'cho')", name=op.f("ck_consult_chat_message_party")
        ),
        sa.ForeignKeyConstraint(
            ["consultation_id"],
            ["consultation.id"],
            name=op.f("fk_consult_chat_message_consultation_id_consultation"),
        ),
        sa.ForeignKeyConstraint(
            ["sender_user_id"],
            ["staff_user.id"],
            name=op.f("fk_consult_chat_message_sender_user_id_staff_user"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_consult_chat_message")),
    )
    op.create_index(
        "ix_consult_chat_message_consult",
        "consult_chat_message",
        ["consultation_id", "id"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index("ix_consult_chat_message_consult", table_name="consult_chat_message")
    op.drop_table("consult_chat_message")
    op.drop_index("ix_consult_call_segment_lookup", table_name="consult_call_segment")
    op.drop_table("consult_call_segment")
    op.drop_table("consult_call")
