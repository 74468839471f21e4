"""central referral

Revision ID: c968f4a84386
Revises: 9ac1972785a6
Create Date: 2026-11-23 16:29:46.209152
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "c968f4a84386"
down_revision: str | None = "9ac1972785a6"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "idempotency_record",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("scope", sa.String(length=200), nullable=False),
        sa.Column("key", sa.String(length=120), nullable=False),
        sa.Column("request_hash", sa.String(length=64), nullable=False),
        sa.Column("result", sa.JSON(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_idempotency_record")),
        sa.UniqueConstraint("scope", "key", name="uq_idempotency_record_scope_key"),
    )
    op.create_table(
        "otp_challenge",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("phone", sa.String(length=16), nullable=False),
        sa.Column("client", sa.String(length=64), nullable=False),
        sa.Column("salt", sa.String(length=32), nullable=False),
        sa.Column("code_hash", sa.String(length=64), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("verified_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_otp_challenge")),
    )
    with op.batch_alter_table("otp_challenge", schema=None) as batch_op:
        batch_op.create_index(
            "ix_otp_challenge_client_created", ["client", "created_at"], unique=False
        )
        batch_op.create_index(
            "ix_otp_challenge_phone_created", ["phone", "created_at"], unique=False
        )

    op.create_table(
        "outbox_message",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("channel", sa.String(length=20), nullable=False),
        sa.Column("recipient", sa.String(length=40), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("topic", sa.JSON(), nullable=True),
        sa.Column("redact_after_send", sa.Boolean(), nullable=False),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("lease_token", sa.String(length=32), nullable=True),
        sa.Column("lease_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("provider_id", sa.String(length=120), nullable=True),
        sa.Column("last_error", sa.String(length=500), nullable=True),
        sa.CheckConstraint(
            "status IN ('pending', 'sent', 'dead')", name=op.f("ck_outbox_message_status")
        ),
        sa.CheckConstraint("attempts >= 0", name=op.f("ck_outbox_message_attempts")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_outbox_message")),
    )
    with op.batch_alter_table("outbox_message", schema=None) as batch_op:
        batch_op.create_index("ix_outbox_message_due", ["status", "next_attempt_at"], unique=False)

    op.create_table(
        "phone_session",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("phone", sa.String(length=16), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_phone_session")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_phone_session_token_hash")),
    )
    with op.batch_alter_table("phone_session", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_phone_session_phone"), ["phone"], unique=False)

    op.create_table(
        "admission_request",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("reference", sa.String(length=16), nullable=False),
        sa.Column("source", sa.String(length=20), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("patient_name", sa.String(length=120), nullable=False),
        sa.Column("patient_age", sa.Integer(), nullable=False),
        sa.Column("patient_sex", sa.String(length=10), nullable=False),
        sa.Column("phone", sa.String(length=16), nullable=False),
        sa.Column("district_code", sa.String(length=40), nullable=False),
        sa.Column("lat", sa.Float(), nullable=True),
        sa.Column("lon", sa.Float(), nullable=True),
        sa.Column("condition", sa.String(length=10), nullable=False),
        sa.Column("severity", sa.Integer(), nullable=False),
        sa.Column("need", sa.String(length=20), nullable=False),
        sa.Column("covid_status", sa.String(length=10), nullable=False),
        sa.Column("abha_number", sa.String(length=17), nullable=True),
        sa.Column("notes", sa.String(length=500), nullable=False),
        sa.Column("consent_to_share", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("requeued_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_by", sa.String(length=120), nullable=False),
        sa.Column("lang", sa.String(length=2), nullable=False),
        sa.Column("reserved_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("admitted_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "condition IN ('severe', 'moderate', 'mild')",
            name=op.f("ck_admission_request_condition"),
        ),
        sa.CheckConstraint(
            "covid_status IN ('positive', 'suspected', 'negative', 'unknown')",
            name=op.f("ck_admission_request_covid_status"),
        ),
        sa.CheckConstraint(
            "need IN ('general', 'oxygen', 'hdu', 'icu', 'ventilator', 'paediatric')",
            name=op.f("ck_admission_request_need"),
        ),
        sa.CheckConstraint(
            "patient_sex IN ('male', 'female', 'other')",
            name=op.f("ck_admission_request_patient_sex"),
        ),
        sa.CheckConstraint(
            "source IN ('citizen', 'control_room', 'hospital', 'walk_in', 'transfer')",
            name=op.f("ck_admission_request_source"),
        ),
        sa.CheckConstraint(
            "status IN ('waiting', 'reserved', 'admitted', 'closed', 'cancelled')",
            name=op.f("ck_admission_request_status"),
        ),
        sa.CheckConstraint(
            "patient_age BETWEEN 0 AND 125", name=op.f("ck_admission_request_patient_age")
        ),
        sa.ForeignKeyConstraint(
            ["district_code"],
            ["district.code"],
            name=op.f("fk_admission_request_district_code_district"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_admission_request")),
        sa.UniqueConstraint("reference", name=op.f("uq_admission_request_reference")),
    )
    with op.batch_alter_table("admission_request", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_admission_request_district_code"), ["district_code"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_admission_request_phone"), ["phone"], unique=False)
        batch_op.create_index(
            "ix_admission_request_queue",
            ["status", "severity", "requeued_at", "created_at"],
            unique=False,
        )

    op.create_table(
        "referral",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("request_id", sa.Integer(), nullable=False),
        sa.Column("facility_id", sa.Integer(), nullable=False),
        sa.Column("pool_id", sa.Integer(), nullable=False),
        sa.Column("bed_type", sa.String(length=20), nullable=False),
        sa.Column("sex", sa.String(length=10), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("reason", sa.String(length=400), nullable=False),
        sa.Column("created_by", sa.String(length=120), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("confirmed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("admitted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("transfer_request_id", sa.Integer(), nullable=True),
        sa.CheckConstraint(
            "status IN ('reserved', 'confirmed', 'admitted', 'rejected', 'cancelled', 'expired', 'discharged', 'died', 'transferred')",
            name=op.f("ck_referral_status"),
        ),
        sa.ForeignKeyConstraint(
            ["facility_id"], ["facility.id"], name=op.f("fk_referral_facility_id_facility")
        ),
        sa.ForeignKeyConstraint(
            ["pool_id"], ["bed_pool.id"], name=op.f("fk_referral_pool_id_bed_pool")
        ),
        sa.ForeignKeyConstraint(
            ["request_id"],
            ["admission_request.id"],
            name=op.f("fk_referral_request_id_admission_request"),
        ),
        sa.ForeignKeyConstraint(
            ["transfer_request_id"],
            ["admission_request.id"],
            name=op.f("fk_referral_transfer_request_id_admission_request"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_referral")),
    )
    with op.batch_alter_table("referral", schema=None) as batch_op:
        batch_op.create_index(
            "ix_referral_facility_status", ["facility_id", "status"], unique=False
        )
        batch_op.create_index("ix_referral_holding_expiry", ["status", "expires_at"], unique=False)
        batch_op.create_index(batch_op.f("ix_referral_request_id"), ["request_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("referral", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_referral_request_id"))
        batch_op.drop_index("ix_referral_holding_expiry")
        batch_op.drop_index("ix_referral_facility_status")

    op.drop_table("referral")
    with op.batch_alter_table("admission_request", schema=None) as batch_op:
        batch_op.drop_index("ix_admission_request_queue")
        batch_op.drop_index(batch_op.f("ix_admission_request_phone"))
        batch_op.drop_index(batch_op.f("ix_admission_request_district_code"))

    op.drop_table("admission_request")
    with op.batch_alter_table("phone_session", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_phone_session_phone"))

    op.drop_table("phone_session")
    with op.batch_alter_table("outbox_message", schema=None) as batch_op:
        batch_op.drop_index("ix_outbox_message_due")

    op.drop_table("outbox_message")
    with op.batch_alter_table("otp_challenge", schema=None) as batch_op:
        batch_op.drop_index("ix_otp_challenge_phone_created")
        batch_op.drop_index("ix_otp_challenge_client_created")

    op.drop_table("otp_challenge")
    op.drop_table("idempotency_record")
