"""patient registry

Revision ID: 5e0a11a7e002
Revises: 5e0a11a7e001
Create Date: 2026-11-23 19:40:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "5e0a11a7e002"
down_revision: str | None = "5e0a11a7e001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "patient",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=120), nullable=False),
        sa.Column("name_key", sa.String(length=120), nullable=False),
        sa.Column("sex", sa.String(length=10), nullable=False),
        sa.Column("birth_date", sa.Date(), nullable=False),
        sa.Column("birth_date_estimated", sa.Boolean(), nullable=False),
        sa.Column("phone", sa.String(length=16), nullable=False),
        sa.Column("relation_to_phone_owner", sa.String(length=10), nullable=False),
        sa.Column("address", sa.String(length=400), nullable=False),
        sa.Column("village", sa.String(length=120), nullable=False),
        sa.Column("district_code", sa.String(length=40), nullable=False),
        sa.Column("registered_at_spoke", sa.String(length=80), nullable=True),
        sa.Column("abha_number", sa.String(length=14), nullable=True),
        sa.Column("created_by_user_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("sex IN ('female', 'male', 'other')", name=op.f("ck_patient_sex")),
        sa.CheckConstraint(
            "relation_to_phone_owner IN ('self', 'spouse', 'child', 'parent', 'sibling', 'other')",
            name=op.f("ck_patient_relation"),
        ),
        sa.CheckConstraint("length(name) BETWEEN 1 AND 120", name=op.f("ck_patient_name")),
        sa.CheckConstraint("length(phone) = 13", name=op.f("ck_patient_phone")),
        sa.CheckConstraint(
            "abha_number IS NULL OR length(abha_number) = 14", name=op.f("ck_patient_abha_number")
        ),
        sa.ForeignKeyConstraint(
            ["district_code"], ["district.code"], name=op.f("fk_patient_district_code_district")
        ),
        sa.ForeignKeyConstraint(
            ["registered_at_spoke"],
            ["spoke.code"],
            name=op.f("fk_patient_registered_at_spoke_spoke"),
        ),
        sa.ForeignKeyConstraint(
            ["created_by_user_id"],
            ["staff_user.id"],
            name=op.f("fk_patient_created_by_user_id_staff_user"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_patient")),
        sa.UniqueConstraint("abha_number", name=op.f("uq_patient_abha_number")),
    )
    with op.batch_alter_table("patient", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_patient_phone"), ["phone"], unique=False)
        batch_op.create_index(
            "ix_patient_district_name", ["district_code", "name_key"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("patient", schema=None) as batch_op:
        batch_op.drop_index("ix_patient_district_name")
        batch_op.drop_index(batch_op.f("ix_patient_phone"))

    op.drop_table("patient")
