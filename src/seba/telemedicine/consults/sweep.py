"""The sweep: the routing work that time drives, run every second by the worker.

Offers that lapsed go back to the queue, consults whose CHO never joined become no-shows,
silent doctors go offline, and the whole queue is assigned again (which is when overflow to
wider pools happens). The sweep is what makes offers that time brings (a lapse, a decline, an
overflow, a doctor freed by a no-show or a cancel) within a second, pushed to the doctor: no
offer waits for a poll. An API client's poll also lapses its own expired offer.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import or_, select

from seba.core import audit
from seba.core.access import SYSTEM
from seba.core.db import transactional
from seba.core.runtime import Runtime
from seba.core.types import utcnow
from seba.telemedicine.consults import dispatch
from seba.telemedicine.doctors import mark_silent_doctors_offline
from seba.telemedicine.models import Consultation, DoctorPresence


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
                rt,
                session,
                consult_id=proposal.consult_id,
                doctor_id=proposal.doctor_id,
                now=now,
            )
    return SweepResult(len(lapsed), len(late), offline, offered)


async def _lapse_offer(rt: Runtime, consult_id: int, now: datetime) -> bool:
    async with transactional(rt.db) as session:
        consult = await session.get(Consultation, consult_id)
        if consult.status != "offered" or consult.offer_expires_at > now:
            return False  # accepted or returned meanwhile
        await dispatch.return_offer(rt, session, consult, consult.doctor_id, now, missed=True)
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
        await dispatch.close_no_show(rt, session, consult, now)
        audit.record(
            session,
            actor=SYSTEM,
            action="consult.no_show",
            entity_type="consultation",
            entity_id=consult_id,
            after={"doctor": consult.doctor_id},
        )
    return True
