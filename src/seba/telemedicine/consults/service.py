"""Consults: raise (CHO), presence and offers (doctor), accept, join, prescribe, complete,
and the sweep that lapses offers, records no-shows and widens overflow.

Every function is one transaction with an audit row. Races are settled by conditional UPDATEs
(a consult moves only from the state we saw) and UNIQUE(doctor_presence.consult_id), never by
an in-process lock, so several server processes on one database stay correct.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import case, func, literal, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from seba.core import audit
from seba.core.access import SYSTEM, Principal, require
from seba.core.db import transactional
from seba.core.errors import Conflict, NotFound, PermissionDenied, ValidationFailed
from seba.core.runtime import Runtime
from seba.core.types import UTCDateTime, utcnow
from seba.patients import service as patient_service
from seba.patients.models import Patient
from seba.patients.schemas import today_in_india
from seba.places.models import SPECIALTIES, STATE_POOL_CODE, Facility, Hub, Spoke
from seba.telemedicine.consults import dispatch, queueing
from seba.telemedicine.consults import vitals as vitals_check
from seba.telemedicine.doctors import doctor_and_presence, doctor_for
from seba.telemedicine.models import (
    CONSULT_MODES,
    LANGUAGES,
    PRIORITIES,
    Consultation,
    Dispensing,
    Doctor,
    DoctorPresence,
    DoctorSkill,
    Prescription,
)
from seba.telemedicine.prescriptions import rules as prescribing
from seba.telemedicine.prescriptions.formulary import load_formulary

HELD = ("offered", "accepted", "in_progress")
# Unambiguous characters for codes people read aloud or type (no 0/O, 1/I/L).
CODE_ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"


@dataclass(frozen=True)
class ConsultIn:
    patient_id: int
    chief_complaint: str
    consent: bool
    specialty: str = "general_medicine"
    language: str = "bn"
    priority: str = "routine"
    history: str = ""
    vitals: dict[str, Any] = field(default_factory=dict)
    follow_up_of: int | None = None
    adult_companion: str | None = None


@dataclass(frozen=True)
class QueueState:
    consult: Consultation
    position: int
    estimated_wait_s: float | None
    doctors_online: int


def _check_consult(data: ConsultIn) -> dict[str, str]:
    problems: dict[str, str] = {}
    if data.specialty not in SPECIALTIES:
        problems["specialty"] = "Unknown specialty."
    if data.language not in LANGUAGES:
        problems["language"] = f"One of: {', '.join(LANGUAGES)}."
    if data.priority not in PRIORITIES:
        problems["priority"] = f"One of: {', '.join(PRIORITIES)}."
    if not 2 <= len(data.chief_complaint.strip()) <= 500:
        problems["chief_complaint"] = "2–500 characters."
    if len(data.history) > 4000:
        problems["history"] = "At most 4000 characters."
    if data.adult_companion is not None and not 2 <= len(data.adult_companion.strip()) <= 120:
        problems["adult_companion"] = "2–120 characters."
    if not data.consent:
        # TPG 2020: a health worker starting the consult records the patient's explicit consent.
        problems["consent"] = "The patient's explicit consent is required."
    return problems


async def raise_consult(rt: Runtime, *, actor: Principal, data: ConsultIn) -> QueueState:
    """A CHO at a spoke asks for a doctor for a patient.

    Records explicit consent (who, when), queues the consult in the spoke's pool and offers it
    at once to the longest-idle eligible doctor if there is one. Raises ValidationFailed (bad
    fields, vitals out of range, a minor without an adult), NotFound (patient or follow-up
    outside the CHO's reach), PermissionDenied.
    """
    require(actor, "consult.create")
    problems = _check_consult(data)
    if problems:
        raise ValidationFailed(details=problems)
    checked_vitals = vitals_check.validate_vitals(data.vitals or {})
    now = utcnow()
    async with transactional(rt.db) as session:
        found = (
            await session.execute(
                select(Spoke, Hub)
                .join(Hub, Hub.id == Spoke.hub_id)
                .where(Spoke.code == actor.scope_code)
            )
        ).first()
        if found is None or not found[0].active:
            raise PermissionDenied("Your spoke is not active.", code="spoke_inactive")
        spoke, hub = found
        patient = await patient_service.access_patient(session, actor, data.patient_id)
        age = patient.age_on(today_in_india())
        if age is not None and age < 18 and not (data.adult_companion or "").strip():
            raise ValidationFailed(
                "A minor needs an identified adult present (TPG 2020).",
                code="minor_needs_adult",
                details={"adult_companion": "required"},
            )
        preferred = None
        if data.follow_up_of is not None:
            earlier = await session.get(Consultation, data.follow_up_of)
            if earlier is None or earlier.patient_id != patient.id:
                raise NotFound("Unknown earlier consult.", code="unknown_consult")
            preferred = earlier.doctor_id
        consult = Consultation(
            spoke_id=spoke.id,
            hub_id=hub.id,
            pool_code=hub.pool_code,
            cho_user_id=actor.user_id,
            patient_id=patient.id,
            specialty=data.specialty,
            language=data.language,
            priority=data.priority,
            priority_rank=PRIORITIES.index(data.priority),
            chief_complaint=data.chief_complaint.strip(),
            history=data.history.strip(),
            vitals=checked_vitals.model_dump(exclude_none=True),
            follow_up_of_id=data.follow_up_of,
            preferred_doctor_id=preferred,
            adult_companion=(data.adult_companion or "").strip() or None,
            consent_by_user_id=actor.user_id,
            consent_at=now,
            status="queued",
            declined_by=[],
            queued_at=now,
            created_at=now,
            updated_at=now,
        )
        session.add(consult)
        await session.flush()
        audit.record(
            session,
            actor=actor,
            action="consult.raise",
            entity_type="consultation",
            entity_id=consult.id,
            after={
                "patient": patient.id,
                "specialty": data.specialty,
                "priority": data.priority,
                "consent_by": actor.username,
            },
        )
        offered_to = await dispatch.route_new_consult(session, rt, consult, now)
        state = await _queue_state(session, rt, consult, offered=offered_to is not None)
    return state


async def _queue_state(
    session: AsyncSession, rt: Runtime, consult: Consultation, *, offered: bool
) -> QueueState:
    """Position among the consults of its pool that compete for the same doctors (same
    specialty and language; overflow from other pools is left out: it is the exception), and
    the wait that position means with the doctors online who can serve the pool now."""
    pools = sorted({consult.pool_code, STATE_POOL_CODE})
    online = await session.scalar(
        select(func.count(func.distinct(DoctorPresence.doctor_id))).where(
            DoctorPresence.status.in_(("online", "busy")),
            DoctorPresence.doctor_id.in_(
                select(DoctorSkill.doctor_id).where(
                    DoctorSkill.specialty == consult.specialty,
                    DoctorSkill.language == consult.language,
                    DoctorSkill.pool_code.in_(pools),
                )
            ),
        )
    )
    if offered or consult.status != "queued":
        return QueueState(consult, 1, 0.0, online or 0)
    ahead = await session.scalar(
        select(func.count()).where(
            Consultation.status == "queued",
            Consultation.pool_code == consult.pool_code,
            Consultation.specialty == consult.specialty,
            Consultation.language == consult.language,
            or_(
                Consultation.priority_rank < consult.priority_rank,
                (Consultation.priority_rank == consult.priority_rank)
                & (
                    (Consultation.queued_at < consult.queued_at)
                    | (
                        (Consultation.queued_at == consult.queued_at)
                        & (Consultation.id < consult.id)
                    )
                ),
            ),
        )
    )
    position = (ahead or 0) + 1
    wait = queueing.estimate_wait_s(position, online or 0, rt.settings.consult_mean_s)
    return QueueState(consult, position, wait, online or 0)


async def queue_state(rt: Runtime, *, actor: Principal, consult_id: int) -> QueueState:
    """Where a consult stands: status, position and estimated wait (CHO polls this)."""
    async with rt.db.read() as session:
        consult = await access_consult(session, actor, consult_id)
        return await _queue_state(session, rt, consult, offered=False)


async def access_consult(session: AsyncSession, actor: Principal, consult_id: int) -> Consultation:
    """The consult if the actor may see it, else NotFound (a forbidden consult looks missing).

    CHO: consults of their spoke. Doctor: consults offered to or held by them. Admins: their
    scope (the spoke's district).
    """
    require(actor, "consult.read")
    consult = await session.get(Consultation, consult_id)
    if consult is None:
        raise NotFound("Unknown consult.", code="unknown_consult")
    allowed = False
    if actor.role == "cho":
        spoke_code = await session.scalar(select(Spoke.code).where(Spoke.id == consult.spoke_id))
        allowed = spoke_code == actor.scope_code
    elif actor.role == "doctor":
        me = await session.scalar(select(Doctor.id).where(Doctor.user_id == actor.user_id))
        allowed = me is not None and consult.doctor_id == me
    elif actor.scope_kind == "state":
        allowed = True
    elif actor.scope_kind == "district":
        district = await session.scalar(
            select(Spoke.district_code).where(Spoke.id == consult.spoke_id)
        )
        allowed = district == actor.scope_code
    if not allowed:
        raise NotFound("Unknown consult.", code="unknown_consult")
    return consult


async def doctor_sees_patient(session: AsyncSession, actor: Principal, patient_id: int) -> bool:
    """Patients domain hook: a doctor sees a patient only through a consult given to them."""
    me = await session.scalar(select(Doctor.id).where(Doctor.user_id == actor.user_id))
    if me is None:
        return False
    found = await session.scalar(
        select(Consultation.id)
        .where(Consultation.patient_id == patient_id, Consultation.doctor_id == me)
        .limit(1)
    )
    return found is not None


patient_service.register_doctor_access(doctor_sees_patient)


# --- the doctor's side -------------------------------------------------------------------


async def set_presence(rt: Runtime, *, actor: Principal, status: str) -> DoctorPresence:
    """A doctor goes online (ready for the next consult), away or offline.

    Going offline or away hands back an offer not yet accepted (without counting it as
    missed); a doctor in a consult must finish it first (Conflict ``finish_consult_first``).
    Going online asks the routing engine for work at once, like a first poll.
    """
    if status not in ("online", "away", "offline"):
        raise ValidationFailed(
            "Status must be online, away or offline.",
            code="invalid_status",
            details={"status": status},
        )
    now = utcnow()
    async with transactional(rt.db) as session:
        doctor = await doctor_for(session, actor)
        # No lock on the presence row first (see dispatch: a consult row is always locked
        # before a presence row); the write below is conditional instead, and a consult
        # offered meanwhile sends us round again.
        before: str | None = None
        for _ in range(3):
            presence = await session.get(DoctorPresence, doctor.id, populate_existing=True)
            before = before or presence.status
            if presence.consult_id is not None:
                held = await session.get(Consultation, presence.consult_id, populate_existing=True)
                if held is not None and held.status in ("accepted", "in_progress"):
                    if status != "online":
                        raise Conflict(
                            "Finish the current consult first.", code="finish_consult_first"
                        )
                    break  # online already, in a consult
                if held is not None and held.status == "offered" and status != "online":
                    await _return_offer(session, held, doctor.id, now, missed=False)
                    continue
                break  # online with an offer: keep it
            values: dict[str, Any] = {"status": status, "last_heartbeat_at": now, "updated_at": now}
            if status == "online" and before != "online":
                values.update(idle_since=now, missed_offers=0)
            elif status != "online":
                values["idle_since"] = None
            moved = await session.execute(
                update(DoctorPresence)
                .where(DoctorPresence.doctor_id == doctor.id, DoctorPresence.consult_id.is_(None))
                .values(**values)
            )
            if moved.rowcount == 1:
                break
        presence = await session.get(DoctorPresence, doctor.id, populate_existing=True)
        audit.record(
            session,
            actor=actor,
            action="doctor.presence",
            entity_type="doctor",
            entity_id=doctor.id,
            before={"status": before},
            after={"status": presence.status},
        )
    if presence.status == "online" and presence.consult_id is None:
        await current_offer(rt, actor=actor)
        async with rt.db.read() as session:
            presence = await session.get(DoctorPresence, doctor.id)
    return presence


async def _return_offer(
    session: AsyncSession,
    consult: Consultation,
    doctor_id: int,
    now: datetime,
    *,
    missed: bool,
    max_missed: int = 2,
) -> None:
    """Put an offered consult back in the queue (same place) and free the doctor.

    The consult row first, then the presence row (the lock order of ``dispatch``).
    """
    declined = sorted({*consult.declined_by, doctor_id}) if missed else consult.declined_by
    moved = await session.execute(
        update(Consultation)
        .where(
            Consultation.id == consult.id,
            Consultation.status == "offered",
            Consultation.doctor_id == doctor_id,
        )
        .values(
            status="queued",
            doctor_id=None,
            offered_at=None,
            offer_expires_at=None,
            declined_by=declined,
            updated_at=now,
        )
        .execution_options(synchronize_session=False)
    )
    if moved.rowcount != 1:
        return  # someone else (the sweep, the doctor's own poll) returned it already
    free: dict[str, Any] = {"consult_id": None, "updated_at": now}
    if missed:
        # Two missed offers in a row: the doctor is probably not at the desk.
        away = DoctorPresence.missed_offers + 1 >= max_missed
        free.update(
            missed_offers=DoctorPresence.missed_offers + 1,
            status=case((away, "away"), else_="online"),
            idle_since=case((away, None), else_=literal(now, UTCDateTime())),
        )
    else:
        free.update(status="online", idle_since=now)
    await session.execute(
        update(DoctorPresence)
        .where(DoctorPresence.doctor_id == doctor_id, DoctorPresence.consult_id == consult.id)
        .values(**free)
        .execution_options(synchronize_session=False)
    )


def _heartbeat_due(rt: Runtime, presence: DoctorPresence, now: datetime) -> bool:
    # A third of the timeout: two writes may be lost or late before the doctor is set offline.
    last = presence.last_heartbeat_at
    return last is None or (now - last).total_seconds() >= rt.settings.presence_timeout_s / 3


async def current_offer(rt: Runtime, *, actor: Principal) -> Consultation | None:
    """The consult offered to (or held by) this doctor; also the doctor's heartbeat.

    An idle online doctor asks the routing engine for work here, so the next patient is
    assigned within one poll. A lapsed offer goes back to the queue and counts as missed.
    The choice is made in a read; a write transaction is opened only to claim a consult,
    return a lapsed offer or record the heartbeat (at most every third of the presence
    timeout), so an idle poll with nothing queued writes nothing.
    """
    now = utcnow()
    async with rt.db.read() as session:
        doctor, presence = await doctor_and_presence(session, actor)
        held = await session.get(Consultation, presence.consult_id) if presence.consult_id else None
        lapsed = held is not None and held.status == "offered" and held.offer_expires_at <= now
        pick = await dispatch.pick_for_doctor(session, rt, presence, now)
        beat = _heartbeat_due(rt, presence, now)
    if pick is None and not lapsed and not beat:
        return held
    async with transactional(rt.db) as session:
        if lapsed:
            await _return_offer(session, held, doctor.id, now, missed=True)
        elif pick is not None:
            await dispatch.offer(
                session,
                consult_id=pick,
                doctor_id=doctor.id,
                now=now,
                timeout_s=rt.settings.offer_timeout_s,
            )
        # Last: the presence row is locked after any consult row (dispatch's lock order).
        await session.execute(
            update(DoctorPresence)
            .where(DoctorPresence.doctor_id == doctor.id)
            .values(last_heartbeat_at=now)
            .execution_options(synchronize_session=False)
        )
        consult_id = await session.scalar(
            select(DoctorPresence.consult_id).where(DoctorPresence.doctor_id == doctor.id)
        )
        return await session.get(Consultation, consult_id) if consult_id else None


async def accept_consult(rt: Runtime, *, actor: Principal, consult_id: int) -> Consultation:
    """A doctor takes a consult offered to them (or one still queued that they may serve).

    Exactly one doctor gets a consult: the move is conditional on its state, and a doctor's
    presence can hold one consult only. Raises Conflict ``already_taken`` (another doctor has
    it), ``offer_expired``, ``doctor_busy``; NotFound for an unknown consult.
    """
    now = utcnow()
    async with transactional(rt.db) as session:
        doctor = await doctor_for(session, actor)
        consult = await session.get(Consultation, consult_id)
        if consult is None:
            raise NotFound("Unknown consult.", code="unknown_consult")
        if consult.doctor_id == doctor.id and consult.status in ("accepted", "in_progress"):
            return consult  # a retried accept answers like the first
        if consult.status == "queued":
            skills = (await dispatch.doctor_skills(session, [doctor.id])).get(doctor.id)
            if skills is None or not (
                consult.specialty in skills.specialties and consult.language in skills.languages
            ):
                raise PermissionDenied(
                    "This consult needs another specialty or language.", code="not_eligible"
                )
            if not await dispatch.offer(
                session,
                consult_id=consult.id,
                doctor_id=doctor.id,
                now=now,
                timeout_s=rt.settings.offer_timeout_s,
            ):
                await _raise_taken_or_busy(session, doctor.id, consult_id)
            await session.refresh(consult)
        elif consult.doctor_id != doctor.id or consult.status != "offered":
            raise Conflict("Another doctor has taken this consult.", code="already_taken")
        elif consult.offer_expires_at <= now:
            await _return_offer(session, consult, doctor.id, now, missed=True)
            raise Conflict("The offer has expired.", code="offer_expired")
        moved = await session.execute(
            update(Consultation)
            .where(
                Consultation.id == consult_id,
                Consultation.status == "offered",
                Consultation.doctor_id == doctor.id,
            )
            .values(
                status="accepted",
                accepted_at=now,
                join_deadline_at=now + timedelta(seconds=rt.settings.join_timeout_s),
                updated_at=now,
            )
        )
        if moved.rowcount != 1:
            raise Conflict("Another doctor has taken this consult.", code="already_taken")
        await session.execute(
            update(DoctorPresence)
            .where(DoctorPresence.doctor_id == doctor.id)
            .values(missed_offers=0, last_heartbeat_at=now, updated_at=now)
        )
        audit.record(
            session,
            actor=actor,
            action="consult.accept",
            entity_type="consultation",
            entity_id=consult_id,
            after={"doctor": doctor.id},
        )
    return consult


async def _raise_taken_or_busy(session: AsyncSession, doctor_id: int, consult_id: int) -> None:
    held = await session.scalar(
        select(DoctorPresence.consult_id).where(DoctorPresence.doctor_id == doctor_id)
    )
    if held is not None and held != consult_id:
        raise Conflict("Finish your current consult first.", code="doctor_busy")
    status = await session.scalar(select(Doctor.id).where(Doctor.id == doctor_id))
    if status is None:
        raise NotFound("Unknown doctor.", code="unknown_doctor")
    presence = await session.get(DoctorPresence, doctor_id)
    if presence.status != "online":
        raise Conflict("Go online to take consults.", code="doctor_not_online")
    raise Conflict("Another doctor has taken this consult.", code="already_taken")


async def join_consult(rt: Runtime, *, actor: Principal, consult_id: int) -> Consultation:
    """The CHO joins the call the doctor opened; after the join window it is a no-show."""
    now = utcnow()
    async with transactional(rt.db) as session:
        consult = await access_consult(session, actor, consult_id)
        if actor.role != "cho":
            raise PermissionDenied()
        if consult.status == "in_progress":
            return consult
        if consult.status != "accepted":
            raise Conflict("No doctor is waiting for you on this consult.", code="not_ready")
        if consult.join_deadline_at <= now:
            await _no_show(session, consult, now)
            raise Conflict("Too late to join: the consult was marked a no-show.", code="no_show")
        consult.status, consult.joined_at, consult.updated_at = "in_progress", now, now
        audit.record(
            session,
            actor=actor,
            action="consult.join",
            entity_type="consultation",
            entity_id=consult_id,
        )
    return consult


async def _no_show(session: AsyncSession, consult: Consultation, now: datetime) -> None:
    consult.status = "no_show"
    consult.closed_reason = "The CHO did not join within the join window."
    consult.completed_at = now
    consult.updated_at = now
    await _free_doctor(session, consult.doctor_id, consult.id, now)


async def _free_doctor(session: AsyncSession, doctor_id: int, consult_id: int, now: datetime):
    await session.execute(
        update(DoctorPresence)
        .where(DoctorPresence.doctor_id == doctor_id, DoctorPresence.consult_id == consult_id)
        .values(status="online", consult_id=None, idle_since=now, updated_at=now)
    )


async def _held_by_me(session: AsyncSession, actor: Principal, consult_id: int):
    doctor = await doctor_for(session, actor)
    consult = await session.get(Consultation, consult_id)
    if consult is None or consult.doctor_id != doctor.id:
        raise NotFound("Unknown consult.", code="unknown_consult")
    return doctor, consult


@dataclass(frozen=True)
class AdmissionIn:
    """Refer for admission: a request in the control room's queue (central referral)."""

    need: str
    condition: str = "moderate"
    notes: str = ""


@dataclass(frozen=True)
class PrescriptionIn:
    mode: str
    items: list[prescribing.RxItemIn]
    diagnosis: str = ""
    findings: str = ""
    investigations: list[str] = field(default_factory=list)
    advice: str = ""
    follow_up_on: date | None = None
    referral: str | None = None
    admission: AdmissionIn | None = None


async def prescribe(
    rt: Runtime, *, actor: Principal, consult_id: int, data: PrescriptionIn
) -> Prescription:
    """Issue the e-prescription of a consult the doctor holds, checked against TPG 2020.

    Raises ValidationFailed ``prescription_not_allowed`` with a reason per refused item,
    Conflict ``already_prescribed`` / ``not_in_consult``, NotFound.
    """
    if data.mode not in CONSULT_MODES:
        raise ValidationFailed(
            "Mode must be video, audio or text.", code="invalid_mode", details={"mode": data.mode}
        )
    now = utcnow()
    async with transactional(rt.db) as session:
        doctor, consult = await _held_by_me(session, actor, consult_id)
        if consult.status not in ("accepted", "in_progress"):
            raise Conflict("This consult is not in progress.", code="not_in_consult")
        if await session.scalar(
            select(Prescription.id).where(Prescription.consultation_id == consult_id)
        ):
            raise Conflict("This consult already has a prescription.", code="already_prescribed")
        patient = await session.get(Patient, consult.patient_id)
        # Only the follow-up rules (refills, add-ons) look at earlier medicines; the read grows
        # with the patient's history, so a first consult skips it.
        earlier = (
            await _earlier_drugs(session, consult.patient_id, consult_id)
            if consult.follow_up_of_id is not None
            else frozenset()
        )
        ctx = prescribing.PrescribingContext(
            mode=data.mode,
            follow_up=consult.follow_up_of_id is not None,
            patient_age_years=patient.age_on(today_in_india()),
            adult_companion=consult.adult_companion,
            doctor_registration=doctor.registration,
            earlier_drugs=earlier,
            current_therapy=earlier,
        )
        formulary = load_formulary()
        check = prescribing.check_prescription(ctx, data.items, formulary)
        prescribing.raise_if_refused(check)
        items = []
        for item, verdict in zip(data.items, check.items, strict=True):
            drug = formulary.get(verdict.drug)
            # Stored under the formulary's generic name, whatever alias the doctor typed.
            items.append(
                {
                    **item.__dict__,
                    "drug": drug.generic,
                    "name_bn": drug.name_bn,
                    "tpg_list": drug.tpg_list,
                }
            )
        spoke = await session.get(Spoke, consult.spoke_id)
        referral_text = (data.referral or "").strip() or None
        if data.admission is not None:
            request = await _refer_for_admission(
                rt, session, actor, consult, patient, spoke, data, now
            )
            referral_text = " — ".join(
                p
                for p in (
                    referral_text,
                    f"Admission requested ({data.admission.need} bed), "
                    f"control room reference {request.reference}",
                )
                if p
            )
        hub_facility = await session.scalar(
            select(Facility)
            .join(Hub, Hub.facility_id == Facility.id)
            .where(Hub.id == consult.hub_id)
        )
        from seba.accounts.models import StaffUser

        cho_full_name, cho_username = (
            await session.execute(
                select(StaffUser.full_name, StaffUser.username).where(
                    StaffUser.id == consult.cho_user_id
                )
            )
        ).one()
        code = "-".join("".join(secrets.choice(CODE_ALPHABET) for _ in range(4)) for _ in range(3))
        document = {
            "consult_kind": "follow_up" if consult.follow_up_of_id else "first",
            "doctor_name": doctor.name,
            "doctor_qualification": doctor.qualification,
            "doctor_registration": doctor.registration,
            "doctor_hpr_id": doctor.hpr_id,
            "hub_name": hub_facility.name,
            "hub_name_bn": hub_facility.name_bn,
            "patient": _identity(patient, today_in_india()),
            "adult_companion": consult.adult_companion,
            "spoke_name": spoke.name,
            "spoke_name_bn": spoke.name_bn,
            "cho_name": cho_full_name or cho_username,
            "chief_complaint": consult.chief_complaint,
            "history": consult.history,
            "vitals": consult.vitals,
            "findings": data.findings.strip(),
            "diagnosis": data.diagnosis.strip(),
            "investigations": [i.strip() for i in data.investigations if i.strip()],
            "advice": data.advice.strip(),
            "follow_up_on": data.follow_up_on.isoformat() if data.follow_up_on else None,
            "referral": referral_text,
        }
        rx = Prescription(
            consultation_id=consult_id,
            doctor_id=doctor.id,
            patient_id=consult.patient_id,
            verification_code=code,
            mode=data.mode,
            items=items,
            document=document,
            issued_at=now,
        )
        session.add(rx)
        consult.mode = data.mode
        if consult.status == "accepted":
            # A prescription means the consult happened (perhaps by phone): no no-show.
            consult.status, consult.joined_at = "in_progress", consult.joined_at or now
        consult.updated_at = now
        await session.flush()
        audit.record(
            session,
            actor=actor,
            action="prescription.issue",
            entity_type="prescription",
            entity_id=rx.id,
            after={"consult": consult_id, "drugs": [i["drug"] for i in items], "mode": data.mode},
        )
    return rx


async def _refer_for_admission(rt, session, actor, consult, patient, spoke, data, now):
    from seba.referrals import service as referral_service
    from seba.referrals.models import BED_NEEDS, CONDITIONS
    from seba.referrals.schemas import Patient as ReferralPatient

    admission = data.admission
    if admission.need not in BED_NEEDS or admission.condition not in CONDITIONS:
        raise ValidationFailed(
            "Choose a bed type and condition for the admission.",
            code="invalid_admission",
            details={"need": list(BED_NEEDS), "condition": list(CONDITIONS)},
        )
    notes = " ".join(
        p
        for p in (
            f"Teleconsult #{consult.id}.",
            data.diagnosis.strip(),
            admission.notes.strip(),
        )
        if p
    )
    return await referral_service.add_teleconsult_request(
        rt,
        session,
        actor=actor,
        patient=ReferralPatient(
            name=patient.name,
            age=patient.age_on(today_in_india()),
            sex=patient.sex,
            phone=patient.phone,
        ),
        district=spoke.district_code,
        condition=admission.condition,
        need=admission.need,
        notes=notes,
    )


def _identity(patient: Patient, day: date) -> dict[str, Any]:
    """The patient as TPG 2020 asks a prescription to identify them, frozen at issue."""
    from seba.core.ids import format_abha

    address = ", ".join(p for p in (patient.village, patient.address) if p)
    return {
        "name": patient.name,
        "age": str(patient.age_on(day)),
        "sex": patient.sex,
        "phone": patient.phone,
        "address": address,
        "abha": format_abha(patient.abha_number) if patient.abha_number else None,
    }


async def _earlier_drugs(session: AsyncSession, patient_id: int, consult_id: int) -> frozenset:
    rows = await session.scalars(
        select(Prescription.items).where(
            Prescription.patient_id == patient_id, Prescription.consultation_id != consult_id
        )
    )
    return frozenset(item["drug"] for items in rows for item in items)


async def complete_consult(
    rt: Runtime, *, actor: Principal, consult_id: int, mode: str | None = None
) -> Consultation:
    """End a consult the doctor holds; the doctor is free for the next patient at once."""
    if mode is not None and mode not in CONSULT_MODES:
        raise ValidationFailed("Mode must be video, audio or text.", code="invalid_mode")
    now = utcnow()
    async with transactional(rt.db) as session:
        doctor, consult = await _held_by_me(session, actor, consult_id)
        if consult.status == "completed":
            return consult
        if consult.status not in ("accepted", "in_progress"):
            raise Conflict("This consult is not in progress.", code="not_in_consult")
        consult.status, consult.completed_at, consult.updated_at = "completed", now, now
        consult.mode = consult.mode or mode
        await _free_doctor(session, doctor.id, consult_id, now)
        audit.record(
            session,
            actor=actor,
            action="consult.complete",
            entity_type="consultation",
            entity_id=consult_id,
        )
    return consult


async def cancel_consult(rt: Runtime, *, actor: Principal, consult_id: int, reason: str) -> None:
    """The CHO withdraws a consult still waiting (patient left, felt better)."""
    now = utcnow()
    async with transactional(rt.db) as session:
        consult = await access_consult(session, actor, consult_id)
        if actor.role != "cho":
            raise PermissionDenied()
        if consult.status not in ("queued", "offered"):
            raise Conflict("Only a waiting consult can be cancelled.", code="not_waiting")
        if consult.status == "offered":
            await _free_doctor(session, consult.doctor_id, consult.id, now)
        consult.status, consult.closed_reason = "cancelled", (reason or "")[:200]
        consult.completed_at = consult.updated_at = now
        audit.record(
            session,
            actor=actor,
            action="consult.cancel",
            entity_type="consultation",
            entity_id=consult_id,
            after={"reason": consult.closed_reason},
        )


async def _sweep_work(rt: Runtime, now: datetime) -> tuple[bool, bool]:
    """(consults to move, doctors gone silent), by a cheap read first: the sweep runs every
    second, and a second with nothing to do must not take the write lock (on SQLite, the whole
    database's)."""
    silent_before = now - timedelta(seconds=rt.settings.presence_timeout_s)
    async with rt.db.read() as session:
        consult = await session.scalar(
            select(Consultation.id)
            .where(
                or_(
                    Consultation.status == "queued",
                    (Consultation.status == "offered") & (Consultation.offer_expires_at <= now),
                    (Consultation.status == "accepted") & (Consultation.join_deadline_at <= now),
                )
            )
            .limit(1)
        )
        silent = await session.scalar(
            select(DoctorPresence.doctor_id)
            .where(
                DoctorPresence.status.in_(("online", "away")),
                DoctorPresence.consult_id.is_(None),
                DoctorPresence.last_heartbeat_at < silent_before,
            )
            .limit(1)
        )
    return consult is not None, silent is not None


@dataclass(frozen=True)
class SweepResult:
    offers_lapsed: int = 0
    no_shows: int = 0
    offline: int = 0
    offered: int = 0


async def sweep(rt: Runtime, *, now: datetime | None = None) -> SweepResult:
    """Time-driven routing work, run every second by the worker.

    Lapsed offers return to the queue (the doctor's miss counted; two set them away); consults
    whose CHO did not join become no-shows; silent doctors go offline; then the whole queue is
    re-assigned, which is when overflow to wider pools happens. Each step is a short
    transaction of its own holding one consult and one presence row at most (dispatch's lock
    order), so the sweep never deadlocks with doctors' polls, nor with a sweep in another
    process: the loser of a race finds the row already moved and skips it.
    """
    from seba.telemedicine.doctors import mark_silent_doctors_offline

    now = now or utcnow()
    consults_due, silent_due = await _sweep_work(rt, now)
    offline = 0
    if silent_due:
        async with transactional(rt.db) as session:
            offline = await mark_silent_doctors_offline(
                session, now=now, timeout_s=rt.settings.presence_timeout_s
            )
    if not consults_due:
        return SweepResult(offline=offline)
    async with rt.db.read() as session:
        lapsed_ids = list(
            await session.scalars(
                select(Consultation.id)
                .where(Consultation.status == "offered", Consultation.offer_expires_at <= now)
                .order_by(Consultation.id)
                .limit(500)
            )
        )
        late_ids = list(
            await session.scalars(
                select(Consultation.id)
                .where(Consultation.status == "accepted", Consultation.join_deadline_at <= now)
                .order_by(Consultation.id)
                .limit(500)
            )
        )
    lapsed = [cid for cid in lapsed_ids if await _lapse_offer(rt, cid, now)]
    late = [cid for cid in late_ids if await _record_no_show(rt, cid, now)]
    async with rt.db.read() as session:
        plan = await dispatch.sweep_plan(session, rt, now)
    offered = 0
    for proposal in plan:
        async with transactional(rt.db) as session:
            offered += await dispatch.offer(
                session,
                consult_id=proposal.consult_id,
                doctor_id=proposal.doctor_id,
                now=now,
                timeout_s=rt.settings.offer_timeout_s,
            )
    return SweepResult(len(lapsed), len(late), offline, offered)


async def _lapse_offer(rt: Runtime, consult_id: int, now: datetime) -> bool:
    async with transactional(rt.db) as session:
        consult = await session.get(Consultation, consult_id)
        if consult.status != "offered" or consult.offer_expires_at > now:
            return False  # accepted or returned meanwhile
        await _return_offer(session, consult, consult.doctor_id, now, missed=True)
        audit.record(
            session,
            actor=SYSTEM,
            action="consult.offer_lapsed",
            entity_type="consultation",
            entity_id=consult_id,
            after={"doctor": consult.doctor_id},
        )
    return True


async def _record_no_show(rt: Runtime, consult_id: int, now: datetime) -> bool:
    async with transactional(rt.db) as session:
        consult = await session.get(Consultation, consult_id, with_for_update=True)
        if consult.status != "accepted" or consult.join_deadline_at > now:
            return False  # the CHO joined, or the doctor prescribed, meanwhile
        await _no_show(session, consult, now)
        audit.record(
            session,
            actor=SYSTEM,
            action="consult.no_show",
            entity_type="consultation",
            entity_id=consult_id,
            after={"doctor": consult.doctor_id},
        )
    return True


@dataclass(frozen=True)
class DispensedIn:
    index: int
    quantity: int
    note: str = ""


async def record_dispensing(
    rt: Runtime, *, actor: Principal, consult_id: int, items: list[DispensedIn]
) -> list[Dispensing]:
    """The CHO records what the spoke handed over, line by line of the prescription (partial
    dispensing is normal: a medicine out of stock is recorded as 0 with a note).

    Raises NotFound (no prescription), ValidationFailed (unknown line, bad quantity).
    """
    if not items:
        raise ValidationFailed("Record at least one medicine.", code="nothing_dispensed")
    async with transactional(rt.db) as session:
        consult = await access_consult(session, actor, consult_id)
        if actor.role != "cho":
            raise PermissionDenied()
        rx = await session.scalar(
            select(Prescription).where(Prescription.consultation_id == consult.id)
        )
        if rx is None:
            raise NotFound("This consult has no prescription yet.", code="no_prescription")
        bad = [
            i.index
            for i in items
            if not 0 <= i.index < len(rx.items) or not 0 <= i.quantity <= 10_000
        ]
        if bad:
            raise ValidationFailed(
                "Each line must be one of the prescription's medicines, quantity 0–10000.",
                code="invalid_dispensing",
                details={"lines": bad},
            )
        rows = [
            Dispensing(
                prescription_id=rx.id,
                item_index=i.index,
                quantity=i.quantity,
                note=i.note.strip()[:200],
                dispensed_by_user_id=actor.user_id,
            )
            for i in items
        ]
        session.add_all(rows)
        await session.flush()
        audit.record(
            session,
            actor=actor,
            action="prescription.dispense",
            entity_type="prescription",
            entity_id=rx.id,
            after=[{"line": i.index, "quantity": i.quantity} for i in items],
        )
    return rows
