"""The doctor's side of a consult: presence, the offer, accept, and complete.

Offers are pushed (``events``, ``streams``): made when a consult is raised, when a doctor goes
online, completes a consult or connects their console, and by the sweep every second. The
``current_offer`` read stays for API clients that poll (and for the console's page load): it is
a heartbeat and a request for work; the routing engine's choice is made in a read and claimed
with conditional updates (``dispatch``), so a call with nothing to do writes nothing. A doctor
may take only a consult routing could offer them (``Reach.POOL`` in the policy table, checked
by ``access``).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from seba.core import audit
from seba.core.access import Principal
from seba.core.db import transactional
from seba.core.errors import Conflict, NotFound
from seba.core.runtime import Runtime
from seba.core.types import utcnow
from seba.telemedicine.consults import access, dispatch, events
from seba.telemedicine.consults.access import access_consult, unknown_consult
from seba.telemedicine.consults.schemas import CompleteIn, PresenceIn
from seba.telemedicine.doctors import doctor_and_presence, doctor_for
from seba.telemedicine.models import Consultation, Doctor, DoctorPresence


async def set_presence(rt: Runtime, *, actor: Principal, data: PresenceIn) -> DoctorPresence:
    """A doctor goes online (ready for the next consult), away or offline.

    Going offline or away hands back an offer not yet accepted (without counting it as
    missed); a doctor in a consult must finish it first (Conflict ``finish_consult_first``).
    Going online asks the routing engine for work at once, like a first poll.
    """
    status = data.status
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
                    await dispatch.return_offer(rt, session, held, doctor.id, now, missed=False)
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
            await dispatch.return_offer(rt, session, held, doctor.id, now, missed=True)
        elif pick is not None:
            await dispatch.offer(rt, session, consult_id=pick, doctor_id=doctor.id, now=now)
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
    """A doctor takes a consult offered to them, or a queued one routing could offer them now
    (``Reach.POOL``: their specialty, language and the pools its waiting time reaches).

    Exactly one doctor gets a consult: the move is conditional on its state, and a doctor's
    presence can hold one consult only. Raises Conflict ``already_taken`` (another doctor has
    it), ``offer_expired`` (also when the offer already went back to the queue), ``doctor_busy``,
    ``doctor_not_online``; NotFound ``unknown_consult`` for a consult that is missing or that
    routing would never give this doctor (it looks missing: it carries a patient's complaint).
    """
    now = utcnow()
    async with transactional(rt.db) as session:
        doctor = await doctor_for(session, actor)
        consult = await session.get(Consultation, consult_id)
        if consult is None:
            raise unknown_consult()
        if consult.doctor_id == doctor.id and consult.status in ("accepted", "in_progress"):
            return consult  # a retried accept answers like the first
        offered_to_me = consult.doctor_id == doctor.id and consult.status == "offered"
        if doctor.id in (consult.declined_by or ()):
            # Offered to this doctor once and lapsed: routing never offers it to them again.
            raise Conflict("The offer has expired.", code="offer_expired")
        if not offered_to_me and not await access.reaches(
            session, actor, consult, "consult.take", now=now, policy=dispatch.policy_for(rt)
        ):
            raise unknown_consult()
        if consult.status == "queued":
            if not await dispatch.offer(
                rt, session, consult_id=consult.id, doctor_id=doctor.id, now=now
            ):
                await _raise_taken_or_busy(session, doctor.id, consult_id)
            await session.refresh(consult)
        elif not offered_to_me:
            raise Conflict("Another doctor has taken this consult.", code="already_taken")
        elif consult.offer_expires_at <= now:
            await dispatch.return_offer(rt, session, consult, doctor.id, now, missed=True)
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
        events.changed(rt, session, consult_id=consult_id, status="accepted", doctor_id=doctor.id)
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


async def held_by_me(
    session: AsyncSession, actor: Principal, consult_id: int
) -> tuple[Doctor, Consultation]:
    """The doctor behind the login and a consult given to them (``Reach.ASSIGNED`` of
    ``consult.practice``); NotFound ``unknown_consult`` for any other."""
    doctor = await doctor_for(session, actor)
    consult = await access_consult(session, actor, consult_id, "consult.practice")
    return doctor, consult


async def complete_consult(
    rt: Runtime, *, actor: Principal, consult_id: int, data: CompleteIn | None = None
) -> Consultation:
    """End a consult the doctor holds; the doctor is free for the next patient at once.
    A retried complete answers like the first. Raises NotFound, Conflict ``not_in_consult``.
    The doctor is then asked for work at once (``current_offer``): a queued consult for them is
    offered, and pushed, without waiting for the sweep."""
    mode = data.mode if data is not None else None
    now = utcnow()
    async with transactional(rt.db) as session:
        doctor, consult = await held_by_me(session, actor, consult_id)
        if consult.status == "completed":
            return consult
        if consult.status not in ("accepted", "in_progress"):
            raise Conflict("This consult is not in progress.", code="not_in_consult")
        consult.status, consult.completed_at, consult.updated_at = "completed", now, now
        consult.mode = consult.mode or mode
        await dispatch.free_doctor(session, doctor.id, consult_id, now)
        events.changed(rt, session, consult_id=consult_id, status="completed", doctor_id=doctor.id)
        audit.record(
            session,
            actor=actor,
            action="consult.complete",
            entity_type="consultation",
            entity_id=consult_id,
        )
    # Free again: the next patient waiting for this doctor is offered now, not at a poll.
    await current_offer(rt, actor=actor)
    return consult
