"""The fleet (``ambulance``), requests for one (``ambulance_request``), trips
(``ambulance_trip``).

An ambulance is ``free``, ``busy`` (on a live trip) or ``off_duty``. A trip is one ambulance
sent to one request: ``assigned → en_route → at_scene → transporting → at_hospital → closed``,
or ``cancelled`` before the patient is on board. Two partial UNIQUE indexes are the schema's
guarantee that an ambulance is on at most one live trip and a request has at most one live
trip, whatever the code above them does; the service's conditional updates are what make the
loser of a race a clean 409 rather than an integrity error.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, Float, ForeignKey, Index, String, text
from sqlalchemy.orm import Mapped, mapped_column

from seba.core.db import Base
from seba.core.types import UTCDateTime, utcnow
from seba.places.models import _in
from seba.referrals.models import CONDITIONS

AMBULANCE_KINDS = ("bls", "als", "patient_transport", "free_govt")
AMBULANCE_STATUSES = ("free", "busy", "off_duty")
REQUEST_SOURCES = ("citizen", "helpline", "control_room")
REQUEST_STATUSES = ("open", "assigned", "closed", "cancelled")
TRIP_STATUSES = (
    "assigned",
    "en_route",
    "at_scene",
    "transporting",
    "at_hospital",
    "closed",
    "cancelled",
)
LIVE_TRIP = ("assigned", "en_route", "at_scene", "transporting", "at_hospital")
_LIVE_SQL = "status IN ('assigned', 'en_route', 'at_scene', 'transporting', 'at_hospital')"
# Inside West Bengal's bounding box (the same box facilities and admission requests use).
_IN_BENGAL = "{c} IS NULL OR ({c} BETWEEN {lo} AND {hi})"


def _lat(column: str) -> str:
    return _IN_BENGAL.format(c=column, lo=21.0, hi=27.5)


def _lon(column: str) -> str:
    return _IN_BENGAL.format(c=column, lo=85.5, hi=90.0)


class Ambulance(Base):
    __tablename__ = "ambulance"
    __table_args__ = (
        CheckConstraint(_in("kind", AMBULANCE_KINDS), name="kind"),
        CheckConstraint(_in("status", AMBULANCE_STATUSES), name="status"),
        CheckConstraint(_lat("lat"), name="lat"),
        CheckConstraint(_lon("lon"), name="lon"),
        Index("ix_ambulance_district_status", "district_code", "status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    # Normalised: "WB 06 AB 1234" (``schemas.registration``).
    registration: Mapped[str] = mapped_column(String(16), unique=True)
    kind: Mapped[str] = mapped_column(String(20))
    base_facility_id: Mapped[int] = mapped_column(ForeignKey("facility.id"))
    district_code: Mapped[str] = mapped_column(ForeignKey("district.code"))
    driver_name: Mapped[str] = mapped_column(String(120))
    driver_phone: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(10), default="free")
    # The last known location and when it was known; None until the first report (the base
    # facility's location stands in for dispatch).
    lat: Mapped[float | None] = mapped_column(Float)
    lon: Mapped[float | None] = mapped_column(Float)
    located_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class AmbulanceRequest(Base):
    __tablename__ = "ambulance_request"
    __table_args__ = (
        CheckConstraint(_in("source", REQUEST_SOURCES), name="source"),
        CheckConstraint(_in("status", REQUEST_STATUSES), name="status"),
        CheckConstraint(_in("condition", CONDITIONS), name="condition"),
        CheckConstraint(_lat("lat"), name="lat"),
        CheckConstraint(_lon("lon"), name="lon"),
        CheckConstraint("(lat IS NULL) = (lon IS NULL)", name="lat_lon_together"),
        CheckConstraint("lat IS NOT NULL OR address <> ''", name="pickup"),
        Index("ix_ambulance_request_district_status", "district_code", "status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    reference: Mapped[str] = mapped_column(String(16), unique=True)
    source: Mapped[str] = mapped_column(String(20))
    status: Mapped[str] = mapped_column(String(10), default="open")
    district_code: Mapped[str] = mapped_column(ForeignKey("district.code"))
    lat: Mapped[float | None] = mapped_column(Float)
    lon: Mapped[float | None] = mapped_column(Float)
    address: Mapped[str] = mapped_column(String(400), default="")
    condition: Mapped[str] = mapped_column(String(10))
    notes: Mapped[str] = mapped_column(String(500), default="")
    contact_phone: Mapped[str] = mapped_column(String(16))
    destination_facility_id: Mapped[int | None] = mapped_column(ForeignKey("facility.id"))
    # The referral whose reserved bed the patient is taken to ("one click from the referral").
    referral_id: Mapped[int | None] = mapped_column(ForeignKey("referral.id"))
    # The family's SMS are written in it.
    lang: Mapped[str] = mapped_column(String(2), default="bn")
    created_by: Mapped[str] = mapped_column(String(120))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    assigned_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class AmbulanceTrip(Base):
    __tablename__ = "ambulance_trip"
    __table_args__ = (
        CheckConstraint(_in("status", TRIP_STATUSES), name="status"),
        # The schema's guarantee: one live trip per ambulance, one per request.
        Index(
            "uq_ambulance_trip_live_ambulance",
            "ambulance_id",
            unique=True,
            sqlite_where=text(_LIVE_SQL),
            postgresql_where=text(_LIVE_SQL),
        ),
        Index(
            "uq_ambulance_trip_live_request",
            "request_id",
            unique=True,
            sqlite_where=text(_LIVE_SQL),
            postgresql_where=text(_LIVE_SQL),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    request_id: Mapped[int] = mapped_column(ForeignKey("ambulance_request.id"), index=True)
    ambulance_id: Mapped[int] = mapped_column(ForeignKey("ambulance.id"), index=True)
    status: Mapped[str] = mapped_column(String(16), default="assigned")
    # SHA-256 of the driver's link token: the link is the driver's only key to the trip.
    driver_token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    # The estimate given when assigned, to compare with what happened.
    distance_km: Mapped[float] = mapped_column(Float)
    eta_min: Mapped[float] = mapped_column(Float)
    assigned_by: Mapped[str] = mapped_column(String(120))
    assigned_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    en_route_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    at_scene_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    transporting_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    at_hospital_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    cancelled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    cancel_reason: Mapped[str] = mapped_column(String(400), default="")
