"""A consult's life on the CHO's side: raise it, see where it stands in the queue, join the
doctor's call, or withdraw it while it waits.

The doctor's side (presence, offers, accept, complete) is ``offers``; the time-driven work
(lapsed offers, no-shows, overflow) is ``sweep``; who reaches which consult is ``access``. Every
function is one transaction with an audit row. Races are settled by conditional UPDATEs (a
consult moves only from the state we saw) and UNIQUE(doctor_presence.consult_id), never by an
in-process lock, so several server processes on one database stay correct.
"""

from __future__ import annotations

from sqlalchemy import func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from seba.core import audit
from seba.core.access import Principal, require
from seba.core.db import transactional
from seba.core.errors import Conflict, NotFound, PermissionDenied, ValidationFailed
from seba.core.runtime import Runtime
from seba.core.types import utcnow
from seba.patients import service as patient_service
from seba.patients.schemas import today_in_india
from seba.places.models import STATE_POOL_CODE, Hub, Spoke
from seba.telemedicine.consults import dispatch, events, queueing
from seba.telemedicine.consults import vitals as vitals_check
from seba.telemedicine.consults.access import access_consult
from seba.telemedicine.consults.schemas import CancelIn, ConsultIn, QueueState
from seba.telemedicine.models import PRIORITIES, Consultation, DoctorPresence, DoctorSkill
from seba.telemedicine.prescriptions.rules import ADULT_AGE_YEARS


async def raise_consult(rt: Runtime, *, actor: Principal, data: ConsultIn) -> QueueState:
    """A CHO at a spoke asks for a doctor for a patient.

    ``data`` is already valid in shape (``ConsultIn``). Records explicit consent (who, when),
    queues the consult in the spoke's pool and offers it at once to the longest-idle eligible
    doctor if there is one. Raises ValidationFailed (vitals out of range, a minor without an
    adult), NotFound (patient or follow-up outside the CHO's reach), PermissionDenied.
    """
    require(actor, "consult.create")
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
        if age is not None and age < ADULT_AGE_YEARS and data.adult_companion is None:
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
            chief_complaint=data.chief_complaint,
            history=data.history,
            vitals=checked_vitals.model_dump(exclude_none=True),
            follow_up_of_id=data.follow_up_of,
            preferred_doctor_id=preferred,
            adult_companion=data.adult_companion,
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
        if offered_to is None:
            # Waiting: the CHOs behind it in its queue (a more urgent consult goes first) look
            # again at their place. An offer made above told them already (``events.offered``).
            events.changed(
                rt, session, consult_id=consult.id, status="queued", queue=events.queue_of(consult)
            )
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


async def join_consult(rt: Runtime, *, actor: Principal, consult_id: int) -> Consultation:
    """The CHO joins the call the doctor opened; after the join window it is a no-show."""
    now = utcnow()
    async with transactional(rt.db) as session:
        consult = await access_consult(session, actor, consult_id, "consult.manage")
        if consult.status == "in_progress":
            return consult
        if consult.status != "accepted":
            raise Conflict("No doctor is waiting for you on this consult.", code="not_ready")
        if consult.join_deadline_at <= now:
            await dispatch.close_no_show(rt, session, consult, now)
            raise Conflict("Too late to join: the consult was marked a no-show.", code="no_show")
        consult.status, consult.joined_at, consult.updated_at = "in_progress", now, now
        events.changed(
            rt, session, consult_id=consult_id, status="in_progress", doctor_id=consult.doctor_id
        )
        audit.record(
            session,
            actor=actor,
            action="consult.join",
            entity_type="consultation",
            entity_id=consult_id,
        )
    return consult


async def cancel_consult(rt: Runtime, *, actor: Principal, consult_id: int, data: CancelIn) -> None:
    """The CHO withdraws a consult still waiting (patient left, felt better); a doctor it was
    offered to is free again at once. Raises NotFound, Conflict ``not_waiting``."""
    now = utcnow()
    async with transactional(rt.db) as session:
        consult = await access_consult(session, actor, consult_id, "consult.manage")
        if consult.status not in ("queued", "offered"):
            raise Conflict("Only a waiting consult can be cancelled.", code="not_waiting")
        events.changed(
            rt,
            session,
            consult_id=consult_id,
            status="cancelled",
            doctor_id=consult.doctor_id if consult.status == "offered" else None,
            queue=events.queue_of(consult) if consult.status == "queued" else None,
        )
        if consult.status == "offered":
            await dispatch.free_doctor(session, consult.doctor_id, consult.id, now)
        consult.status, consult.closed_reason = "cancelled", data.reason
        consult.completed_at = consult.updated_at = now
        audit.record(
            session,
            actor=actor,
            action="consult.cancel",
            entity_type="consultation",
            entity_id=consult_id,
            after={"reason": consult.closed_reason},
        )
