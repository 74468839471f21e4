"""ambulances: the fleet, requests for an ambulance, trips

Two partial UNIQUE indexes on ``ambulance_trip`` (one live trip per ambulance, one per request)
are the schema's guarantee behind dispatch's conditional updates.

Revision ID: 5e0a11a7e014
Revises: 5e0a11a7e013
Create Date: 2026-12-04 02:30:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

TS = sa.DateTime(timezone=True)

revision: str = "5e0a11a7e014"
down_revision: str | None = "5e0a11a7e013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

LIVE = "status IN ('assigned', 'en_route', 'at_scene', 'transporting', 'at_hospital')"


def _in(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


def _box(column: str, lo: float, hi: float) -> str:
    return f"{column} IS NULL OR ({column} BETWEEN {lo} AND {hi})"


def upgrade() -> None:
    op.create_table(
        "ambulance",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("registration", sa.String(length=16), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("base_facility_id", sa.Integer(), nullable=False),
        sa.Column("district_code", sa.String(length=40), nullable=False),
        sa.Column("driver_name", sa.String(length=120), nullable=False),
        sa.Column("driver_phone", sa.String(length=16), nullable=False),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("lat", sa.Float(), nullable=True),
        sa.Column("lon", sa.Float(), nullable=True),
        sa.Column("located_at", TS, nullable=True),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("updated_at", TS, nullable=False),
        sa.CheckConstraint(
            _in("kind", ("bls", "als", "patient_transport", "free_govt")),
            name=op.f("ck_ambulance_kind"),
        ),
        sa.CheckConstraint(
            _in("status", ("free", "busy", "off_duty")), name=op.f("ck_ambulance_status")
        ),
        sa.CheckConstraint(_box("lat", 21.0, 27.5), name=op.f("ck_ambulance_lat")),
        sa.CheckConstraint(_box("lon", 85.5, 90.0), name=op.f("ck_ambulance_lon")),
        sa.ForeignKeyConstraint(
            ["base_facility_id"],
            ["facility.id"],
            name=op.f("fk_ambulance_base_facility_id_facility"),
        ),
        sa.ForeignKeyConstraint(
            ["district_code"], ["district.code"], name=op.f("fk_ambulance_district_code_district")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ambulance")),
        sa.UniqueConstraint("registration", name=op.f("uq_ambulance_registration")),
    )
    op.create_index(
        "ix_ambulance_district_status", "ambulance", ["district_code", "status"], unique=False
    )
    op.create_table(
        "ambulance_request",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("reference", sa.String(length=16), nullable=False),
        sa.Column("source", sa.String(length=20), nullable=False),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("district_code", sa.String(length=40), nullable=False),
        sa.Column("lat", sa.Float(), nullable=True),
        sa.Column("lon", sa.Float(), nullable=True),
        sa.Column("address", sa.String(length=400), nullable=False),
        sa.Column("condition", sa.String(length=10), nullable=False),
        sa.Column("notes", sa.String(length=500), nullable=False),
        sa.Column("contact_phone", sa.String(length=16), nullable=False),
        sa.Column("destination_facility_id", sa.Integer(), nullable=True),
        sa.Column("referral_id", sa.Integer(), nullable=True),
        sa.Column("lang", sa.String(length=2), nullable=False),
        sa.Column("created_by", sa.String(length=120), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("assigned_at", TS, nullable=True),
        sa.Column("ended_at", TS, nullable=True),
        sa.CheckConstraint(
            _in("source", ("citizen", "helpline", "control_room")),
            name=op.f("ck_ambulance_request_source"),
        ),
        sa.CheckConstraint(
            _in("status", ("open", "assigned", "closed", "cancelled")),
            name=op.f("ck_ambulance_request_status"),
        ),
        sa.CheckConstraint(
            _in("condition", ("severe", "moderate", "mild")),
            name=op.f("ck_ambulance_request_condition"),
        ),
        sa.CheckConstraint(_box("lat", 21.0, 27.5), name=op.f("ck_ambulance_request_lat")),
        sa.CheckConstraint(_box("lon", 85.5, 90.0), name=op.f("ck_ambulance_request_lon")),
        sa.CheckConstraint(
            "(lat IS NULL) = (lon IS NULL)", name=op.f("ck_ambulance_request_lat_lon_together")
        ),
        sa.CheckConstraint(
            "lat IS NOT NULL OR address <> ''", name=op.f("ck_ambulance_request_pickup")
        ),
        sa.ForeignKeyConstraint(
            ["destination_facility_id"],
            ["facility.id"],
            name=op.f("fk_ambulance_request_destination_facility_id_facility"),
        ),
        sa.ForeignKeyConstraint(
            ["district_code"],
            ["district.code"],
            name=op.f("fk_ambulance_request_district_code_district"),
        ),
        sa.ForeignKeyConstraint(
            ["referral_id"], ["referral.id"], name=op.f("fk_ambulance_request_referral_id_referral")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ambulance_request")),
        sa.UniqueConstraint("reference", name=op.f("uq_ambulance_request_reference")),
    )
    op.create_index(
        "ix_ambulance_request_district_status",
        "ambulance_request",
        ["district_code", "status"],
        unique=False,
    )
    op.create_table(
        "ambulance_trip",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("request_id", sa.Integer(), nullable=False),
        sa.Column("ambulance_id", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("driver_token_hash", sa.String(length=64), nullable=False),
        sa.Column("distance_km", sa.Float(), nullable=False),
        sa.Column("eta_min", sa.Float(), nullable=False),
        sa.Column("assigned_by", sa.String(length=120), nullable=False),
        sa.Column("assigned_at", TS, nullable=False),
        sa.Column("en_route_at", TS, nullable=True),
        sa.Column("at_scene_at", TS, nullable=True),
        sa.Column("transporting_at", TS, nullable=True),
        sa.Column("at_hospital_at", TS, nullable=True),
        sa.Column("closed_at", TS, nullable=True),
        sa.Column("cancelled_at", TS, nullable=True),
        sa.Column("cancel_reason", sa.String(length=400), nullable=False),
        sa.CheckConstraint(
            _in(
                "status",
                (
                    "assigned",
                    "en_route",
                    "at_scene",
                    "transporting",
                    "at_hospital",
                    "closed",
                    "cancelled",
                ),
            ),
            name=op.f("ck_ambulance_trip_status"),
        ),
        sa.ForeignKeyConstraint(
            ["ambulance_id"],
            ["ambulance.id"],
            name=op.f("fk_ambulance_trip_ambulance_id_ambulance"),
        ),
        sa.ForeignKeyConstraint(
            ["request_id"],
            ["ambulance_request.id"],
            name=op.f("fk_ambulance_trip_request_id_ambulance_request"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ambulance_trip")),
        sa.UniqueConstraint("driver_token_hash", name=op.f("uq_ambulance_trip_driver_token_hash")),
    )
    op.create_index("ix_ambulance_trip_request_id", "ambulance_trip", ["request_id"])
    op.create_index("ix_ambulance_trip_ambulance_id", "ambulance_trip", ["ambulance_id"])
    op.create_index(
        "uq_ambulance_trip_live_ambulance",
        "ambulance_trip",
        ["ambulance_id"],
        unique=True,
        sqlite_where=sa.text(LIVE),
        postgresql_where=sa.text(LIVE),
    )
    op.create_index(
        "uq_ambulance_trip_live_request",
        "ambulance_trip",
        ["request_id"],
        unique=True,
        sqlite_where=sa.text(LIVE),
        postgresql_where=sa.text(LIVE),
    )


def downgrade() -> None:
    op.drop_table("ambulance_trip")
    op.drop_table("ambulance_request")
    op.drop_table("ambulance")
