"""Reads for the teleconsultation pages: a spoke's consults today, one consult as the CHO or the
doctor sees it, the patient's earlier consults, and the doctor's own presence.

Reads only. Each checks access the way the service does (``access.access_consult``, the
patients domain's ``access_patient``): a consult or patient outside one's reach answers 404
exactly like a missing one. Every read that shows patient data writes its audit row in the same
transaction (DPDP Act; ``ARCHITECTURE.md`` §4.6), so "who looked at this person" stays one
query: ``patient.read`` for one record, ``patient.list`` per patient listed, and
``patient.history`` when a doctor opens the patient's earlier consults and prescriptions.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, time
from typing import Any

from sqlalchemy import select

from seba.core import audit
from seba.core.access import Principal, require
from seba.core.db import transactional
from seba.core.errors import NotFound, PermissionDenied
from seba.core.runtime import Runtime
from seba.core.types import utcnow
from seba.patients import service as patient_service
from seba.patients.schemas import IST, today_in_india
from seba.places.models import Spoke
from seba.telemedicine.consults import service as consult_service
from seba.telemedicine.consults import vitals as vitals_check
from seba.telemedicine.consults.access import access_consult
from seba.telemedicine.consults.schemas import QueueState
from seba.telemedicine.doctors import doctor_for
from seba.telemedicine.models import (
    Consultation,
    Dispensing,
    Doctor,
    DoctorPresence,
    Prescription,
)

HISTORY_LIMIT = 20
SPOKE_TODAY_LIMIT = 200
FOLLOW_UP_CHOICES = 20


@dataclass(frozen=True)
class PatientBrief:
    """What a consult page shows of its patient: enough to be sure it is the right person."""

    id: int
    name: str
    age_years: int
    sex: str
    phone: str
    village: str


@dataclass(frozen=True)
class Handed:
    """One record of what the spoke handed over for one prescription line."""

    quantity: int
    note: str
    at: datetime


@dataclass(frozen=True)
class RxBrief:
    verification_code: str
    issued_at: datetime
    mode: str
    items: list[dict[str, Any]]
    diagnosis: str
    # Prescription line (0-based) -> what was dispensed for it, oldest first.
    dispensed: dict[int, list[Handed]]


@dataclass(frozen=True)
class ConsultView:
    consult: Consultation
    patient: PatientBrief
    spoke_name: str
    spoke_name_bn: str
    doctor_name: str | None
    doctor_registration: str | None
    vitals: dict[str, Any]  # as recorded (validated on the way in)
    flags: list[str]  # red-flag codes of ``vitals.FLAG_MESSAGES``
    prescription: RxBrief | None
    # Seconds left to act: the doctor's offer, or the CHO's join window. None when not running.
    offer_left_s: int | None
    join_left_s: int | None


@dataclass(frozen=True)
class ConsultRow:
    id: int
    patient_name: str
    chief_complaint: str
    priority: str
    status: str
    queued_at: datetime
    has_prescription: bool


@dataclass(frozen=True)
class HistoryRow:
    consult_id: int
    at: datetime
    status: str
    chief_complaint: str
    doctor_name: str | None
    diagnosis: str
    items: list[dict[str, Any]]
    verification_code: str | None


@dataclass(frozen=True)
class EarlierConsult:
    id: int
    at: datetime
    chief_complaint: str
    doctor_name: str | None


@dataclass(frozen=True)
class PresenceView:
    doctor_name: str
    registration: str
    status: str
    consult_id: int | None
    missed_offers: int


@dataclass(frozen=True)
class Progress:
    """A consult's live state for the CHO's page fetch: no patient data, so no audit row."""

    state: QueueState
    has_prescription: bool
    join_left_s: int | None


def _seconds_left(deadline: datetime | None, now: datetime) -> int | None:
    if deadline is None:
        return None
    return max(0, int((deadline - now).total_seconds()))


def _brief(patient: Any) -> PatientBrief:
    return PatientBrief(
        id=patient.id,
        name=patient.name,
        age_years=patient.age_on(today_in_india()),
        sex=patient.sex,
        phone=patient.phone,
        village=patient.village,
    )


def _flags(vitals: dict[str, Any]) -> list[str]:
    # Stored vitals were validated on the way in; a row written before a range changed must
    # still show its consult, just without flags.
    try:
        return vitals_check.flags(vitals_check.Vitals.model_validate(vitals or {}))
    except ValueError:
        return []


async def consult_view(rt: Runtime, *, actor: Principal, consult_id: int) -> ConsultView:
    """One consult with its patient, vitals and red flags, and its prescription if issued.

    For the CHO of the consult's spoke, the doctor it is offered to or held by, and admins in
    scope. Audited as ``patient.read``. Raises NotFound (missing or out of reach),
    PermissionDenied (role).
    """
    now = utcnow()
    async with transactional(rt.db) as session:
        consult = await access_consult(session, actor, consult_id)
        patient = await patient_service.access_patient(session, actor, consult.patient_id)
        spoke = await session.get(Spoke, consult.spoke_id)
        doctor = await session.get(Doctor, consult.doctor_id) if consult.doctor_id else None
        rx = await session.scalar(
            select(Prescription).where(Prescription.consultation_id == consult.id)
        )
        dispensed: dict[int, list[Handed]] = {}
        if rx is not None:
            for row in await session.scalars(
                select(Dispensing)
                .where(Dispensing.prescription_id == rx.id)
                .order_by(Dispensing.dispensed_at, Dispensing.id)
            ):
                dispensed.setdefault(row.item_index, []).append(
                    Handed(row.quantity, row.note, row.dispensed_at)
                )
        audit.record(
            session,
            actor=actor,
            action="patient.read",
            entity_type="patient",
            entity_id=patient.id,
            after={"consult": consult.id},
        )
        return ConsultView(
            consult=consult,
            patient=_brief(patient),
            spoke_name=spoke.name,
            spoke_name_bn=spoke.name_bn,
            doctor_name=doctor.name if doctor else None,
            doctor_registration=doctor.registration if doctor else None,
            vitals=dict(consult.vitals or {}),
            flags=_flags(consult.vitals or {}),
            prescription=(
                RxBrief(
                    verification_code=rx.verification_code,
                    issued_at=rx.issued_at,
                    mode=rx.mode,
                    items=list(rx.items),
                    diagnosis=rx.document.get("diagnosis", ""),
                    dispensed=dispensed,
                )
                if rx
                else None
            ),
            offer_left_s=(
                _seconds_left(consult.offer_expires_at, now)
                if consult.status == "offered"
                else None
            ),
            join_left_s=(
                _seconds_left(consult.join_deadline_at, now)
                if consult.status == "accepted"
                else None
            ),
        )


async def consult_progress(rt: Runtime, *, actor: Principal, consult_id: int) -> Progress:
    """Status, queue position, estimated wait and the join window of one consult.

    Fetched by the CHO's page on every event, so it shows no patient data and writes no
    audit row; access is checked as for the consult itself (NotFound otherwise).
    """
    state = await consult_service.queue_state(rt, actor=actor, consult_id=consult_id)
    async with rt.db.read() as session:
        has_rx = await session.scalar(
            select(Prescription.id).where(Prescription.consultation_id == consult_id)
        )
    consult = state.consult
    join_left = (
        _seconds_left(consult.join_deadline_at, utcnow()) if consult.status == "accepted" else None
    )
    return Progress(state=state, has_prescription=has_rx is not None, join_left_s=join_left)


def _midnight_in_india() -> datetime:
    return datetime.combine(today_in_india(), time(0), IST).astimezone(UTC)


async def spoke_consults_today(rt: Runtime, *, actor: Principal) -> list[ConsultRow]:
    """The consults raised at the CHO's spoke since midnight (India time), newest first.

    Every patient listed is audited (``patient.list``). Raises PermissionDenied for anyone
    but a CHO (other roles have no spoke).
    """
    require(actor, "consult.create")
    since = _midnight_in_india()
    async with transactional(rt.db) as session:
        spoke_id = await session.scalar(select(Spoke.id).where(Spoke.code == actor.scope_code))
        if spoke_id is None:
            raise PermissionDenied("Your spoke is not active.", code="spoke_inactive")
        consults = list(
            await session.scalars(
                select(Consultation)
                .where(Consultation.spoke_id == spoke_id, Consultation.created_at >= since)
                .order_by(Consultation.created_at.desc(), Consultation.id.desc())
                .limit(SPOKE_TODAY_LIMIT)
            )
        )
        with_rx = set(
            await session.scalars(
                select(Prescription.consultation_id).where(
                    Prescription.consultation_id.in_([c.id for c in consults])
                )
            )
        )
        rows = []
        for consult in consults:
            try:
                patient = await patient_service.access_patient(session, actor, consult.patient_id)
            except NotFound:
                continue  # moved out of the CHO's reach since (not expected; never shown)
            rows.append(
                ConsultRow(
                    id=consult.id,
                    patient_name=patient.name,
                    chief_complaint=consult.chief_complaint,
                    priority=consult.priority,
                    status=consult.status,
                    queued_at=consult.queued_at,
                    has_prescription=consult.id in with_rx,
                )
            )
        listed = {c.id for c in rows}
        for patient_id in dict.fromkeys(c.patient_id for c in consults if c.id in listed):
            audit.record(
                session,
                actor=actor,
                action="patient.list",
                entity_type="patient",
                entity_id=patient_id,
                after={"listed_by": "spoke_consults_today"},
            )
        return rows


async def _history_rows(session: Any, patient_id: int, except_id: int | None) -> list[HistoryRow]:
    query = (
        select(Consultation, Doctor.name, Prescription)
        .outerjoin(Doctor, Doctor.id == Consultation.doctor_id)
        .outerjoin(Prescription, Prescription.consultation_id == Consultation.id)
        .where(Consultation.patient_id == patient_id)
        .order_by(Consultation.created_at.desc(), Consultation.id.desc())
        .limit(HISTORY_LIMIT + 1)
    )
    rows = []
    for consult, doctor_name, rx in await session.execute(query):
        if consult.id == except_id:
            continue
        rows.append(
            HistoryRow(
                consult_id=consult.id,
                at=consult.created_at,
                status=consult.status,
                chief_complaint=consult.chief_complaint,
                doctor_name=doctor_name,
                diagnosis=rx.document.get("diagnosis", "") if rx else "",
                items=list(rx.items) if rx else [],
                verification_code=rx.verification_code if rx else None,
            )
        )
    return rows[:HISTORY_LIMIT]


async def patient_history(rt: Runtime, *, actor: Principal, consult_id: int) -> list[HistoryRow]:
    """The patient's earlier consults and prescriptions, newest first, for the consult open now.

    Whoever may see the consult may see its patient's history (the doctor holding it, the CHO
    of its spoke, admins in scope). Audited as ``patient.history``. Raises NotFound.
    """
    async with transactional(rt.db) as session:
        consult = await access_consult(session, actor, consult_id)
        patient = await patient_service.access_patient(session, actor, consult.patient_id)
        rows = await _history_rows(session, patient.id, consult.id)
        audit.record(
            session,
            actor=actor,
            action="patient.history",
            entity_type="patient",
            entity_id=patient.id,
            after={"consult": consult.id, "shown": [r.consult_id for r in rows]},
        )
        return rows


async def follow_up_choices(
    rt: Runtime, *, actor: Principal, patient_id: int
) -> list[EarlierConsult]:
    """The patient's completed consults, newest first: what a new consult may follow up.

    For the CHO raising a consult. Audited as ``patient.history``. Raises PermissionDenied
    (role), NotFound ``patient_not_found``.
    """
    require(actor, "consult.create")
    async with transactional(rt.db) as session:
        patient = await patient_service.access_patient(session, actor, patient_id)
        found = await session.execute(
            select(Consultation, Doctor.name)
            .outerjoin(Doctor, Doctor.id == Consultation.doctor_id)
            .where(Consultation.patient_id == patient.id, Consultation.status == "completed")
            .order_by(Consultation.created_at.desc(), Consultation.id.desc())
            .limit(FOLLOW_UP_CHOICES)
        )
        choices = [EarlierConsult(c.id, c.created_at, c.chief_complaint, name) for c, name in found]
        audit.record(
            session,
            actor=actor,
            action="patient.history",
            entity_type="patient",
            entity_id=patient.id,
            after={"shown": [c.id for c in choices], "for": "follow_up"},
        )
        return choices


async def doctor_presence(rt: Runtime, *, actor: Principal) -> PresenceView:
    """The signed-in doctor's own name, registration and presence (no patient data).

    Raises PermissionDenied (not a doctor's login).
    """
    async with rt.db.read() as session:
        doctor = await doctor_for(session, actor)
        presence = await session.get(DoctorPresence, doctor.id)
        return PresenceView(
            doctor_name=doctor.name,
            registration=doctor.registration,
            status=presence.status if presence else "offline",
            consult_id=presence.consult_id if presence else None,
            missed_offers=presence.missed_offers if presence else 0,
        )
