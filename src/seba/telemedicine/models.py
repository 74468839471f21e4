"""Doctors, their hubs, rosters and presence; consult requests and prescriptions."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, CheckConstraint, ForeignKey, Index, Integer, SmallInteger, String
from sqlalchemy.orm import Mapped, mapped_column

from seba.core.db import Base
from seba.core.types import UTCDateTime, utcnow
from seba.places.models import _in

SEXES = ("female", "male", "other")
# online: free for the next consult; busy: holds an offer or a consult; away: set by the
# system after missed offers (or by the doctor), gets no offers; offline: signed off or silent.
PRESENCE = ("online", "busy", "away", "offline")
LANGUAGES = ("bn", "en", "hi", "ne", "ur", "sat")


class Doctor(Base):
    """A hub doctor. TPG 2020: the registration number is printed on every prescription."""

    __tablename__ = "doctor"
    __table_args__ = (
        CheckConstraint(_in("sex", SEXES), name="sex"),
        CheckConstraint("length(registration) >= 3", name="registration"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("staff_user.id"), unique=True)
    name: Mapped[str] = mapped_column(String(120))
    qualification: Mapped[str] = mapped_column(String(120))
    # "WBMC 12345": the council and number, as the doctor's registration certificate reads.
    registration: Mapped[str] = mapped_column(String(60), unique=True)
    hpr_id: Mapped[str | None] = mapped_column(String(14), unique=True)
    sex: Mapped[str] = mapped_column(String(10))
    specialties: Mapped[list[str]] = mapped_column(JSON, default=list)
    languages: Mapped[list[str]] = mapped_column(JSON, default=list)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class DoctorHub(Base):
    """A doctor's hub memberships (a specialist may sit in two hubs)."""

    __tablename__ = "doctor_hub"

    doctor_id: Mapped[int] = mapped_column(ForeignKey("doctor.id"), primary_key=True)
    hub_id: Mapped[int] = mapped_column(ForeignKey("hub.id"), primary_key=True, index=True)


class DoctorSkill(Base):
    """Routing index: one row per (specialty, language, pool) a doctor can serve.

    Derived from the doctor's specialties, languages and hubs' pools, and rebuilt whenever
    they change, so that finding the longest-idle eligible doctor is one indexed query.
    """

    __tablename__ = "doctor_skill"
    __table_args__ = (Index("ix_doctor_skill_lookup", "specialty", "language", "pool_code"),)

    doctor_id: Mapped[int] = mapped_column(ForeignKey("doctor.id"), primary_key=True)
    specialty: Mapped[str] = mapped_column(String(40), primary_key=True)
    language: Mapped[str] = mapped_column(String(8), primary_key=True)
    pool_code: Mapped[str] = mapped_column(ForeignKey("pool.code"), primary_key=True)


class RosterShift(Base):
    """A weekly shift: weekday 0 = Monday, local (Asia/Kolkata) HH:MM."""

    __tablename__ = "roster_shift"
    __table_args__ = (
        CheckConstraint("weekday BETWEEN 0 AND 6", name="weekday"),
        CheckConstraint("starts_at < ends_at", name="order"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    doctor_id: Mapped[int] = mapped_column(ForeignKey("doctor.id"), index=True)
    hub_id: Mapped[int] = mapped_column(ForeignKey("hub.id"))
    weekday: Mapped[int] = mapped_column(SmallInteger)
    starts_at: Mapped[str] = mapped_column(String(5))
    ends_at: Mapped[str] = mapped_column(String(5))


class DoctorPresence(Base):
    """Where a doctor is now. One row per doctor; the routing engine reads it.

    ``consult_id`` is the consult the doctor holds (offered or in progress); a doctor holds at
    most one, and the database says so (UNIQUE on consult_id, conditional updates on status).
    """

    __tablename__ = "doctor_presence"
    __table_args__ = (
        CheckConstraint(_in("status", PRESENCE), name="status"),
        CheckConstraint("(status = 'busy') = (consult_id IS NOT NULL)", name="busy_holds"),
        CheckConstraint("missed_offers >= 0", name="missed_offers"),
        Index("ix_doctor_presence_idle", "status", "idle_since"),
    )

    doctor_id: Mapped[int] = mapped_column(ForeignKey("doctor.id"), primary_key=True)
    status: Mapped[str] = mapped_column(String(10), default="offline")
    # When the doctor last became free: the longest idle gets the next consult.
    idle_since: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_heartbeat_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    missed_offers: Mapped[int] = mapped_column(Integer, default=0)
    consult_id: Mapped[int | None] = mapped_column(Integer, unique=True)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


# A consult's life: queued -> offered -> accepted (doctor took it; CHO must join) ->
# in_progress (CHO joined) -> completed. An offer that lapses returns it to queued (keeping its
# place); a CHO who does not join in time makes it a no_show; the CHO may cancel while queued.
CONSULT_STATUSES = (
    "queued",
    "offered",
    "accepted",
    "in_progress",
    "completed",
    "no_show",
    "cancelled",
)
PRIORITIES = ("emergency", "urgent", "routine", "follow_up")
CONSULT_MODES = ("video", "audio", "text")


class Consultation(Base):
    __tablename__ = "consultation"
    __table_args__ = (
        CheckConstraint(_in("status", CONSULT_STATUSES), name="status"),
        CheckConstraint(_in("priority", PRIORITIES), name="priority"),
        CheckConstraint("priority_rank BETWEEN 0 AND 3", name="priority_rank"),
        CheckConstraint(
            "status IN ('queued', 'cancelled', 'no_show') OR doctor_id IS NOT NULL",
            name="held_by_doctor",
        ),
        CheckConstraint("mode IS NULL OR " + _in("mode", CONSULT_MODES), name="mode"),
        # TPG 2020: a consult started by a health worker needs the patient's explicit consent.
        CheckConstraint(
            "consent_by_user_id IS NOT NULL AND consent_at IS NOT NULL", name="consent"
        ),
        # The queue's order: the routing engine's queue_key, served by one index.
        Index("ix_consultation_queue", "status", "priority_rank", "queued_at"),
        Index("ix_consultation_patient", "patient_id", "created_at"),
        Index("ix_consultation_spoke_created", "spoke_id", "created_at"),
        Index("ix_consultation_doctor_created", "doctor_id", "created_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    spoke_id: Mapped[int] = mapped_column(ForeignKey("spoke.id"))
    # The hub and pool the consult was raised to (statistics group by them).
    hub_id: Mapped[int] = mapped_column(ForeignKey("hub.id"), index=True)
    pool_code: Mapped[str] = mapped_column(ForeignKey("pool.code"))
    cho_user_id: Mapped[int] = mapped_column(ForeignKey("staff_user.id"))
    patient_id: Mapped[int] = mapped_column(ForeignKey("patient.id"))
    specialty: Mapped[str] = mapped_column(String(40))
    language: Mapped[str] = mapped_column(String(8))
    priority: Mapped[str] = mapped_column(String(12))
    priority_rank: Mapped[int] = mapped_column(SmallInteger)
    chief_complaint: Mapped[str] = mapped_column(String(500))
    history: Mapped[str] = mapped_column(String(4000), default="")
    vitals: Mapped[dict] = mapped_column(JSON, default=dict)
    follow_up_of_id: Mapped[int | None] = mapped_column(ForeignKey("consultation.id"))
    preferred_doctor_id: Mapped[int | None] = mapped_column(ForeignKey("doctor.id"))
    # For a minor (TPG 2020): the identified adult present with the patient.
    adult_companion: Mapped[str | None] = mapped_column(String(120))
    consent_by_user_id: Mapped[int] = mapped_column(ForeignKey("staff_user.id"))
    consent_at: Mapped[datetime] = mapped_column(UTCDateTime)
    status: Mapped[str] = mapped_column(String(12), default="queued")
    doctor_id: Mapped[int | None] = mapped_column(ForeignKey("doctor.id"))
    # Doctors who let an offer of this consult lapse: it is not offered to them again.
    declined_by: Mapped[list[int]] = mapped_column(JSON, default=list)
    queued_at: Mapped[datetime] = mapped_column(UTCDateTime)
    offered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    offer_expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    accepted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    join_deadline_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    joined_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    completed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    closed_reason: Mapped[str | None] = mapped_column(String(200))
    mode: Mapped[str | None] = mapped_column(String(8))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class ConsultAttachment(Base):
    """A photo or PDF the CHO attached; the bytes live in the attachment store, not the row."""

    __tablename__ = "consult_attachment"

    id: Mapped[int] = mapped_column(primary_key=True)
    consultation_id: Mapped[int] = mapped_column(ForeignKey("consultation.id"), index=True)
    filename: Mapped[str] = mapped_column(String(200))
    content_type: Mapped[str] = mapped_column(String(60))
    size_bytes: Mapped[int] = mapped_column(Integer)
    sha256: Mapped[str] = mapped_column(String(64))
    uploaded_by_user_id: Mapped[int] = mapped_column(ForeignKey("staff_user.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Prescription(Base):
    """An issued e-prescription: immutable once written (the record TPG asks us to keep).

    ``document`` holds every field as printed, so the PDF and the public verification page
    show what was issued even if the doctor's or patient's details change later.
    """

    __tablename__ = "prescription"

    id: Mapped[int] = mapped_column(primary_key=True)
    consultation_id: Mapped[int] = mapped_column(ForeignKey("consultation.id"), unique=True)
    doctor_id: Mapped[int] = mapped_column(ForeignKey("doctor.id"))
    patient_id: Mapped[int] = mapped_column(ForeignKey("patient.id"), index=True)
    verification_code: Mapped[str] = mapped_column(String(20), unique=True)
    mode: Mapped[str] = mapped_column(String(8))
    items: Mapped[list[dict]] = mapped_column(JSON)
    document: Mapped[dict] = mapped_column(JSON)
    issued_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Dispensing(Base):
    """What the spoke actually handed over, per prescription line."""

    __tablename__ = "dispensing"
    __table_args__ = (CheckConstraint("quantity >= 0", name="quantity"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    prescription_id: Mapped[int] = mapped_column(ForeignKey("prescription.id"), index=True)
    item_index: Mapped[int] = mapped_column(SmallInteger)
    quantity: Mapped[int] = mapped_column(Integer)
    note: Mapped[str] = mapped_column(String(200), default="")
    dispensed_by_user_id: Mapped[int] = mapped_column(ForeignKey("staff_user.id"))
    dispensed_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
