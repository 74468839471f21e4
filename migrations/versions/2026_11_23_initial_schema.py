"""initial schema

Revision ID: 9ac1972785a6
Revises: -
Create Date: 2026-11-23 16:04:12.702973
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "9ac1972785a6"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "data_version",
        sa.Column("name", sa.String(length=40), nullable=False),
        sa.Column("value", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_data_version")),
    )
    op.create_table(
        "district",
        sa.Column("code", sa.String(length=40), nullable=False),
        sa.Column("name", sa.String(length=80), nullable=False),
        sa.Column("name_bn", sa.String(length=80), nullable=False),
        sa.Column("hq", sa.String(length=80), nullable=False),
        sa.Column("hq_bn", sa.String(length=80), nullable=False),
        sa.Column("lat", sa.Float(), nullable=False),
        sa.Column("lon", sa.Float(), nullable=False),
        sa.Column("population_2011", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("code", name=op.f("pk_district")),
    )
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

    op.create_table(
        "staff_user",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("username", sa.String(length=60), nullable=False),
        sa.Column("full_name", sa.String(length=120), nullable=False),
        sa.Column("password_hash", sa.String(length=200), nullable=False),
        sa.Column("role", sa.String(length=30), nullable=False),
        sa.Column("scope_kind", sa.String(length=20), nullable=False),
        sa.Column("scope_code", sa.String(length=80), nullable=True),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "(scope_kind = 'state' AND scope_code IS NULL) OR (scope_kind <> 'state' AND scope_code IS NOT NULL)",
            name=op.f("ck_staff_user_scope_code"),
        ),
        sa.CheckConstraint(
            "role IN ('state_admin', 'district_admin', 'control_room', 'hospital_staff', 'viewer')",
            name=op.f("ck_staff_user_role"),
        ),
        sa.CheckConstraint(
            "scope_kind IN ('state', 'district', 'facility')", name=op.f("ck_staff_user_scope_kind")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_staff_user")),
        sa.UniqueConstraint("username", name=op.f("uq_staff_user_username")),
    )
    op.create_table(
        "api_token",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["staff_user.id"],
            name=op.f("fk_api_token_user_id_staff_user"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_api_token")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_api_token_token_hash")),
    )
    op.create_table(
        "audit_entry",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor_id", sa.Integer(), nullable=True),
        sa.Column("actor_name", sa.String(length=120), nullable=False),
        sa.Column("action", sa.String(length=80), nullable=False),
        sa.Column("entity_type", sa.String(length=40), nullable=False),
        sa.Column("entity_id", sa.String(length=80), nullable=False),
        sa.Column("before", sa.JSON(), nullable=True),
        sa.Column("after", sa.JSON(), nullable=True),
        sa.ForeignKeyConstraint(
            ["actor_id"], ["staff_user.id"], name=op.f("fk_audit_entry_actor_id_staff_user")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_entry")),
    )
    with op.batch_alter_table("audit_entry", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_audit_entry_action"), ["action"], unique=False)
        batch_op.create_index(batch_op.f("ix_audit_entry_actor_id"), ["actor_id"], unique=False)
        batch_op.create_index("ix_audit_entry_entity", ["entity_type", "entity_id"], unique=False)

    op.create_table(
        "facility",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=80), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("name_bn", sa.String(length=200), nullable=False),
        sa.Column("district_code", sa.String(length=40), nullable=False),
        sa.Column("ownership", sa.String(length=40), nullable=False),
        sa.Column("kind", sa.String(length=40), nullable=False),
        sa.Column("covid", sa.Boolean(), nullable=False),
        sa.Column("address", sa.String(length=400), nullable=False),
        sa.Column("phones", sa.JSON(), nullable=False),
        sa.Column("lat", sa.Float(), nullable=True),
        sa.Column("lon", sa.Float(), nullable=True),
        sa.Column("hfr_id", sa.String(length=12), nullable=True),
        sa.Column("census_version", sa.Integer(), nullable=False),
        sa.Column("census_updated_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "kind IN ('medical_college', 'district_hospital', 'sub_divisional_hospital', 'state_general_hospital', 'specialty', 'rural_hospital', 'private_hospital', 'satellite_centre', 'safe_home')",
            name=op.f("ck_facility_kind"),
        ),
        sa.CheckConstraint(
            "ownership IN ('government', 'govt_requisitioned_private', 'private')",
            name=op.f("ck_facility_ownership"),
        ),
        sa.CheckConstraint("census_version >= 0", name=op.f("ck_facility_census_version")),
        sa.CheckConstraint("lat IS NULL OR (lat BETWEEN -90 AND 90)", name=op.f("ck_facility_lat")),
        sa.CheckConstraint(
            "lon IS NULL OR (lon BETWEEN -180 AND 180)", name=op.f("ck_facility_lon")
        ),
        sa.ForeignKeyConstraint(
            ["district_code"], ["district.code"], name=op.f("fk_facility_district_code_district")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_facility")),
        sa.UniqueConstraint("code", name=op.f("uq_facility_code")),
        sa.UniqueConstraint("hfr_id", name=op.f("uq_facility_hfr_id")),
    )
    with op.batch_alter_table("facility", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_facility_district_code"), ["district_code"], unique=False
        )

    op.create_table(
        "bed_pool",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("facility_id", sa.Integer(), nullable=False),
        sa.Column("bed_type", sa.String(length=20), nullable=False),
        sa.Column("sex", sa.String(length=10), nullable=False),
        sa.Column("total", sa.Integer(), nullable=False),
        sa.Column("occupied", sa.Integer(), nullable=False),
        sa.Column("reserved", sa.Integer(), nullable=False),
        sa.CheckConstraint(
            "bed_type IN ('general', 'oxygen', 'hdu', 'icu', 'ventilator', 'paediatric')",
            name=op.f("ck_bed_pool_bed_type"),
        ),
        sa.CheckConstraint("sex IN ('male', 'female', 'any')", name=op.f("ck_bed_pool_sex")),
        sa.CheckConstraint("occupied + reserved <= total", name=op.f("ck_bed_pool_fits")),
        sa.CheckConstraint("occupied >= 0", name=op.f("ck_bed_pool_occupied_nonneg")),
        sa.CheckConstraint("reserved >= 0", name=op.f("ck_bed_pool_reserved_nonneg")),
        sa.CheckConstraint("total >= 0", name=op.f("ck_bed_pool_total_nonneg")),
        sa.ForeignKeyConstraint(
            ["facility_id"],
            ["facility.id"],
            name=op.f("fk_bed_pool_facility_id_facility"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_bed_pool")),
        sa.UniqueConstraint("facility_id", "bed_type", "sex", name="uq_bed_pool_facility_type_sex"),
    )
    op.create_table(
        "bed_event",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("pool_id", sa.Integer(), nullable=False),
        sa.Column("facility_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor_id", sa.Integer(), nullable=True),
        sa.Column("actor_name", sa.String(length=120), nullable=False),
        sa.Column("reason", sa.String(length=400), nullable=False),
        sa.Column("total_before", sa.Integer(), nullable=False),
        sa.Column("occupied_before", sa.Integer(), nullable=False),
        sa.Column("reserved_before", sa.Integer(), nullable=False),
        sa.Column("total_after", sa.Integer(), nullable=False),
        sa.Column("occupied_after", sa.Integer(), nullable=False),
        sa.Column("reserved_after", sa.Integer(), nullable=False),
        sa.CheckConstraint(
            "kind IN ('census', 'reserve', 'release', 'admit', 'discharge')",
            name=op.f("ck_bed_event_kind"),
        ),
        sa.ForeignKeyConstraint(
            ["actor_id"], ["staff_user.id"], name=op.f("fk_bed_event_actor_id_staff_user")
        ),
        sa.ForeignKeyConstraint(
            ["facility_id"],
            ["facility.id"],
            name=op.f("fk_bed_event_facility_id_facility"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["pool_id"],
            ["bed_pool.id"],
            name=op.f("fk_bed_event_pool_id_bed_pool"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_bed_event")),
    )
    with op.batch_alter_table("bed_event", schema=None) as batch_op:
        batch_op.create_index("ix_bed_event_pool_id_id", ["pool_id", "id"], unique=False)
    op.bulk_insert(
        sa.table("data_version", sa.column("name", sa.String), sa.column("value", sa.Integer)),
        [{"name": "beds", "value": 0}],
    )
    # The audit log and the bed ledger are append-only: the database itself refuses to change
    # or delete a row, whatever the application does.
    for table in APPEND_ONLY:
        _append_only(table)


APPEND_ONLY = ("audit_entry", "bed_event")


def _append_only(table: str) -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            """
            CREATE OR REPLACE FUNCTION seba_append_only() RETURNS trigger AS $$
            BEGIN
                RAISE EXCEPTION '% is append-only', TG_TABLE_NAME;
            END;
            $$ LANGUAGE plpgsql
            """
        )
        op.execute(
            f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table} "
            "FOR EACH ROW EXECUTE FUNCTION seba_append_only()"
        )
    else:
        for verb in ("UPDATE", "DELETE"):
            op.execute(
                f"CREATE TRIGGER {table}_no_{verb.lower()} BEFORE {verb} ON {table} "
                f"BEGIN SELECT RAISE(ABORT, '{table} is append-only'); END"
            )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for table in APPEND_ONLY:
            op.execute(f"DROP TRIGGER IF EXISTS {table}_append_only ON {table}")
        op.execute("DROP FUNCTION IF EXISTS seba_append_only()")
    with op.batch_alter_table("bed_event", schema=None) as batch_op:
        batch_op.drop_index("ix_bed_event_pool_id_id")

    op.drop_table("bed_event")
    op.drop_table("bed_pool")
    with op.batch_alter_table("facility", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_facility_district_code"))

    op.drop_table("facility")
    with op.batch_alter_table("audit_entry", schema=None) as batch_op:
        batch_op.drop_index("ix_audit_entry_entity")
        batch_op.drop_index(batch_op.f("ix_audit_entry_actor_id"))
        batch_op.drop_index(batch_op.f("ix_audit_entry_action"))

    op.drop_table("audit_entry")
    op.drop_table("api_token")
    op.drop_table("staff_user")
    with op.batch_alter_table("login_failure", schema=None) as batch_op:
        batch_op.drop_index("ix_login_failure_username_at")
        batch_op.drop_index("ix_login_failure_client_at")

    op.drop_table("login_failure")
    op.drop_table("district")
    op.drop_table("data_version")
