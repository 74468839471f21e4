"""District and facility tables."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, Boolean, CheckConstraint, Float, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from seba.core.db import Base
from seba.core.types import UTCDateTime, utcnow

OWNERSHIPS = ("government", "govt_requisitioned_private", "private")
FACILITY_KINDS = (
    "medical_college",
    "district_hospital",
    "sub_divisional_hospital",
    "state_general_hospital",
    "specialty",
    "rural_hospital",
    "private_hospital",
    "satellite_centre",
    "safe_home",
)


def _in(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


class District(Base):
    __tablename__ = "district"

    code: Mapped[str] = mapped_column(String(40), primary_key=True)
    name: Mapped[str] = mapped_column(String(80))
    name_bn: Mapped[str] = mapped_column(String(80))
    hq: Mapped[str] = mapped_column(String(80))
    hq_bn: Mapped[str] = mapped_column(String(80))
    lat: Mapped[float] = mapped_column(Float)
    lon: Mapped[float] = mapped_column(Float)
    population_2011: Mapped[int] = mapped_column(Integer)


class Facility(Base):
    __tablename__ = "facility"
    __table_args__ = (
        CheckConstraint(_in("ownership", OWNERSHIPS), name="ownership"),
        CheckConstraint(_in("kind", FACILITY_KINDS), name="kind"),
        CheckConstraint("census_version >= 0", name="census_version"),
        CheckConstraint("lat IS NULL OR (lat BETWEEN -90 AND 90)", name="lat"),
        CheckConstraint("lon IS NULL OR (lon BETWEEN -180 AND 180)", name="lon"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(80), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    name_bn: Mapped[str] = mapped_column(String(200))
    district_code: Mapped[str] = mapped_column(ForeignKey("district.code"), index=True)
    ownership: Mapped[str] = mapped_column(String(40))
    kind: Mapped[str] = mapped_column(String(40))
    covid: Mapped[bool] = mapped_column(Boolean, default=True)
    address: Mapped[str] = mapped_column(String(400), default="")
    # The address as Bengali pages and SMS show it; empty means "use the English one".
    address_bn: Mapped[str] = mapped_column(String(400), default="", server_default="")
    # The hospital's own numbers (``core.phones.hospital_phone``): what every "call" button for
    # it dials. ``phones`` holds any further public numbers (wards, desks).
    reception_phone: Mapped[str | None] = mapped_column(String(20))
    emergency_phone: Mapped[str | None] = mapped_column(String(20))
    phones: Mapped[list[str]] = mapped_column(JSON, default=list)
    lat: Mapped[float | None] = mapped_column(Float)
    lon: Mapped[float | None] = mapped_column(Float)
    hfr_id: Mapped[str | None] = mapped_column(String(12), unique=True)
    # Optimistic-concurrency version of the bed census; bumped by every census submit.
    census_version: Mapped[int] = mapped_column(Integer, default=0)
    census_updated_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


# --- The telemedicine network: pools of districts, hubs and spokes (a graph, not a list) ---

# Specialties a hub may offer and a consult may ask for. General medicine is the default.
SPECIALTIES = (
    "general_medicine",
    "paediatrics",
    "obstetrics_gynaecology",
    "cardiology",
    "neurology",
    "stroke",
    "dermatology",
    "psychiatry",
    "ent",
    "ophthalmology",
    "orthopaedics",
    "pulmonology_tb",
    "nephrology",
    "oncology",
    "endocrinology",
)
SPOKE_KINDS = ("hwc", "facility")
# Pseudo-pool of the state-wide 24x7 specialty hubs (stroke, cardiology): see routing.STATE_POOL.
STATE_POOL_CODE = "state"


class Pool(Base):
    """A group of 2–4 districts whose hubs share one consult queue; neighbours take overflow."""

    __tablename__ = "pool"

    code: Mapped[str] = mapped_column(String(40), primary_key=True)
    name: Mapped[str] = mapped_column(String(120))
    name_bn: Mapped[str] = mapped_column(String(120))
    neighbours: Mapped[list[str]] = mapped_column(JSON, default=list)


class PoolDistrict(Base):
    """Each district lies in exactly one pool (the primary key says so)."""

    __tablename__ = "pool_district"

    district_code: Mapped[str] = mapped_column(ForeignKey("district.code"), primary_key=True)
    pool_code: Mapped[str] = mapped_column(ForeignKey("pool.code"), index=True)


class Hub(Base):
    """A facility acting as a teleconsultation hub, with its specialties and hours."""

    __tablename__ = "hub"
    __table_args__ = (
        CheckConstraint(
            "always_open OR (opens_at IS NOT NULL AND closes_at IS NOT NULL)", name="hours"
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(80), unique=True)
    facility_id: Mapped[int] = mapped_column(ForeignKey("facility.id"), unique=True)
    pool_code: Mapped[str] = mapped_column(ForeignKey("pool.code"), index=True)
    specialties: Mapped[list[str]] = mapped_column(JSON, default=list)
    always_open: Mapped[bool] = mapped_column(Boolean, default=False)
    # Local (Asia/Kolkata) opening hours as HH:MM, unless always open (24x7 emergency hubs).
    opens_at: Mapped[str | None] = mapped_column(String(5))
    closes_at: Mapped[str | None] = mapped_column(String(5))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Spoke(Base):
    """A health & wellness centre (or a facility) whose CHO raises consults to its home hub."""

    __tablename__ = "spoke"
    __table_args__ = (
        CheckConstraint(_in("kind", SPOKE_KINDS), name="kind"),
        CheckConstraint("kind = 'hwc' OR facility_id IS NOT NULL", name="facility"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(80), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    name_bn: Mapped[str] = mapped_column(String(200))
    district_code: Mapped[str] = mapped_column(ForeignKey("district.code"), index=True)
    kind: Mapped[str] = mapped_column(String(20), default="hwc")
    facility_id: Mapped[int | None] = mapped_column(ForeignKey("facility.id"))
    hub_id: Mapped[int] = mapped_column(ForeignKey("hub.id"), index=True)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class SpokeLink(Base):
    """An extra edge: a spoke (say a district hospital) served by a specialty hub too."""

    __tablename__ = "spoke_link"

    spoke_id: Mapped[int] = mapped_column(ForeignKey("spoke.id"), primary_key=True)
    hub_id: Mapped[int] = mapped_column(ForeignKey("hub.id"), primary_key=True, index=True)
    specialty: Mapped[str] = mapped_column(String(40), primary_key=True)
