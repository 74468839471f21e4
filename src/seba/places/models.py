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
    phones: Mapped[list[str]] = mapped_column(JSON, default=list)
    lat: Mapped[float | None] = mapped_column(Float)
    lon: Mapped[float | None] = mapped_column(Float)
    hfr_id: Mapped[str | None] = mapped_column(String(12), unique=True)
    # Optimistic-concurrency version of the bed census; bumped by every census submit.
    census_version: Mapped[int] = mapped_column(Integer, default=0)
    census_updated_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
