"""Admission requests (the queue the control room works) and referrals (a bed held, then a stay).

A referral is one patient's claim on one bed: ``reserved`` (holding a reserved bed until
``expires_at``) → ``confirmed`` by the hospital → ``admitted`` (the bed is occupied) →
``discharged`` | ``died`` | ``transferred``; or it ends early as ``rejected``, ``cancelled`` or
``expired`` (the bed goes back). An admitted referral is the admission: its id is used by the
``/api/v1/admissions/{id}/…`` routes.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
)
from sqlalchemy.orm import Mapped, mapped_column

from seba.core.db import Base
from seba.core.types import UTCDateTime, utcnow
from seba.places.models import _in

PATIENT_SEXES = ("male", "female", "other")
CONDITIONS = ("severe", "moderate", "mild")  # most urgent first
COVID_STATUSES = ("positive", "suspected", "negative", "unknown")
REQUEST_SOURCES = ("citizen", "control_room", "hospital", "walk_in", "transfer", "teleconsult")
REQUEST_STATUSES = ("waiting", "reserved", "admitted", "closed", "cancelled")
REFERRAL_STATUSES = (
    "reserved",
    "confirmed",
    "admitted",
    "rejected",
    "cancelled",
    "expired",
    "discharged",
    "died",
    "transferred",
)
HOLDING = ("reserved", "confirmed")  # statuses that hold a reserved bed
BED_NEEDS = ("general", "oxygen", "hdu", "icu", "ventilator", "paediatric")


class AdmissionRequest(Base):
    __tablename__ = "admission_request"
    __table_args__ = (
        CheckConstraint(_in("patient_sex", PATIENT_SEXES), name="patient_sex"),
        CheckConstraint(_in("condition", CONDITIONS), name="condition"),
        CheckConstraint(_in("covid_status", COVID_STATUSES), name="covid_status"),
        CheckConstraint(_in("source", REQUEST_SOURCES), name="source"),
        CheckConstraint(_in("status", REQUEST_STATUSES), name="status"),
        CheckConstraint(_in("need", BED_NEEDS), name="need"),
        CheckConstraint("patient_age BETWEEN 0 AND 125", name="patient_age"),
        Index("ix_admission_request_queue", "status", "severity", "requeued_at", "created_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    reference: Mapped[str] = mapped_column(String(16), unique=True)
    source: Mapped[str] = mapped_column(String(20))
    status: Mapped[str] = mapped_column(String(20), default="waiting")
    patient_name: Mapped[str] = mapped_column(String(120))
    patient_age: Mapped[int] = mapped_column(Integer)
    patient_sex: Mapped[str] = mapped_column(String(10))
    phone: Mapped[str] = mapped_column(String(16), index=True)
    district_code: Mapped[str] = mapped_column(ForeignKey("district.code"), index=True)
    lat: Mapped[float | None] = mapped_column(Float)
    lon: Mapped[float | None] = mapped_column(Float)
    condition: Mapped[str] = mapped_column(String(10))
    # 0 = severe … 2 = mild: the queue sorts on it.
    severity: Mapped[int] = mapped_column(Integer)
    need: Mapped[str] = mapped_column(String(20))
    covid_status: Mapped[str] = mapped_column(String(10), default="unknown")
    abha_number: Mapped[str | None] = mapped_column(String(17))
    notes: Mapped[str] = mapped_column(String(500), default="")
    consent_to_share: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # Set when a hospital rejects or a hold expires: the request goes back to the top of its class.
    requeued_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_by: Mapped[str] = mapped_column(String(120))
    # The language the family used: their SMS are written in it.
    lang: Mapped[str] = mapped_column(String(2), default="bn")
    reserved_at: Mapped[datetime | None] = mapped_column(UTCDateTime)  # first reservation
    admitted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class Referral(Base):
    __tablename__ = "referral"
    __table_args__ = (
        CheckConstraint(_in("status", REFERRAL_STATUSES), name="status"),
        Index("ix_referral_facility_status", "facility_id", "status"),
        Index("ix_referral_holding_expiry", "status", "expires_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    request_id: Mapped[int] = mapped_column(ForeignKey("admission_request.id"), index=True)
    facility_id: Mapped[int] = mapped_column(ForeignKey("facility.id"))
    pool_id: Mapped[int] = mapped_column(ForeignKey("bed_pool.id"))
    bed_type: Mapped[str] = mapped_column(String(20))
    sex: Mapped[str] = mapped_column(String(10))  # the pool's sex (male/female/any)
    status: Mapped[str] = mapped_column(String(20))
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    reason: Mapped[str] = mapped_column(String(400), default="")
    created_by: Mapped[str] = mapped_column(String(120))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    confirmed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    admitted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # The new request a transfer opened.
    transfer_request_id: Mapped[int | None] = mapped_column(ForeignKey("admission_request.id"))


class OtpChallenge(Base):
    """A one-time code sent to a phone; only a salted HMAC of the code under the server key is
    kept (``otp.code_mac``)."""

    __tablename__ = "otp_challenge"
    __table_args__ = (
        Index("ix_otp_challenge_phone_created", "phone", "created_at"),
        Index("ix_otp_challenge_client_created", "client", "created_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    phone: Mapped[str] = mapped_column(String(16))
    client: Mapped[str] = mapped_column(String(64))
    salt: Mapped[str] = mapped_column(String(32))
    code_hash: Mapped[str] = mapped_column(String(64))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    verified_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class PhoneSession(Base):
    """Proof that someone holds a phone (after a code), for the request form and status page."""

    __tablename__ = "phone_session"

    id: Mapped[int] = mapped_column(primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    phone: Mapped[str] = mapped_column(String(16), index=True)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
