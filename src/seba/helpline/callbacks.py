"""The callback queue: a busy line becomes a call back that is never lost.

- **Asking** (``request_callback``): a citizen leaves a mobile, a topic and a language. Limits
  (``core.ratelimit``, taken narrowest first in the request's transaction): 3 an hour per
  phone, 20 an hour per client address. A phone already in the queue gets its place back, not
  a second entry. Words of a crisis in the note put the request first (priority 0) and the page
  shows the emergency numbers at once.
- **Taking** (``take_next``): the next waiting callback that is due, by priority then oldest.
  On PostgreSQL the candidate row is read ``FOR UPDATE SKIP LOCKED`` (a second agent skips it
  and takes the one after, instead of waiting) and claimed with a conditional update; on SQLite
  write transactions are serialised (``BEGIN IMMEDIATE``), so the same read-then-claim cannot
  interleave. Either way ``UPDATE … WHERE status = 'waiting'`` is the last word: two agents never
  hold one callback. An agent holds one at a time: asking again gives back the one they hold.
  A callback taken and left for ``TAKEN_TIMEOUT_S`` (the agent's browser closed) goes back to
  the queue, released by whoever takes next.
- **Outcomes** (``record_outcome``): answered or wrong number end it; no answer or busy put it
  back after ``RETRY_DELAYS_S`` until ``MAX_ATTEMPTS`` calls were made, then it is closed.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from sqlalchemy import and_, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from seba.core import audit, ratelimit
from seba.core.access import Principal, require
from seba.core.db import transactional
from seba.core.errors import Conflict, NotFound, TooManyRequests, ValidationFailed
from seba.core.i18n import IST
from seba.core.runtime import Runtime
from seba.core.types import utcnow
from seba.helpline.crisis import signals_crisis
from seba.helpline.models import CallbackRequest
from seba.helpline.schemas import CallbackIn

PHONE_LIMIT = 3
CLIENT_LIMIT = 20
LIMIT_WINDOW_S = 3600
MAX_ATTEMPTS = 3
# After the first and second missed call: try again in 10, then 30 minutes.
RETRY_DELAYS_S = (600, 1800)
TAKEN_TIMEOUT_S = 30 * 60
# Until there are answered calls to measure: five minutes a call.
DEFAULT_HANDLE_S = 300
ACTIVE = ("waiting", "taken")
# Days the figures answer for (a far year would overflow the day's end).
FIRST_DAY, LAST_DAY = date(2020, 1, 1), date(2100, 12, 31)


@dataclass(frozen=True)
class Place:
    """Where a request stands: how many are ahead and the expected wait."""

    callback_id: int
    ahead: int
    expected_wait_min: int
    crisis: bool


def _ahead_of(row: CallbackRequest):
    """Waiting callbacks an agent would take before ``row``."""
    return and_(
        CallbackRequest.status == "waiting",
        or_(
            CallbackRequest.priority < row.priority,
            and_(CallbackRequest.priority == row.priority, CallbackRequest.due_at < row.due_at),
            and_(
                CallbackRequest.priority == row.priority,
                CallbackRequest.due_at == row.due_at,
                CallbackRequest.id < row.id,
            ),
        ),
    )


async def _wait_minutes(session: AsyncSession, ahead: int) -> int:
    """Expected minutes until an agent calls: the calls ahead (and this one's turn) shared by
    the agents who worked in the last hour, at the median handling time of recent calls."""
    now = utcnow()
    agents = await session.scalar(
        select(func.count(func.distinct(CallbackRequest.taken_by))).where(
            CallbackRequest.taken_at >= now - timedelta(hours=1)
        )
    )
    recent = (
        await session.execute(
            select(CallbackRequest.taken_at, CallbackRequest.finished_at)
            .where(CallbackRequest.finished_at.is_not(None), CallbackRequest.taken_at.is_not(None))
            .order_by(CallbackRequest.finished_at.desc())
            .limit(50)
        )
    ).all()
    spans = sorted((r.finished_at - r.taken_at).total_seconds() for r in recent)
    handle = spans[len(spans) // 2] if spans else DEFAULT_HANDLE_S
    return math.ceil((ahead + 1) * max(handle, 60) / max(agents or 0, 1) / 60)


async def _place(session: AsyncSession, row: CallbackRequest) -> Place:
    ahead = await session.scalar(select(func.count()).where(_ahead_of(row))) or 0
    return Place(
        callback_id=row.id,
        ahead=ahead,
        expected_wait_min=await _wait_minutes(session, ahead),
        crisis=row.priority == 0,
    )


async def request_callback(rt: Runtime, *, data: CallbackIn, client: str) -> Place:
    async with transactional(rt.db) as session:
        for kind, key, limit in (
            ("callback.phone", data.phone, PHONE_LIMIT),
            ("callback.client", client, CLIENT_LIMIT),
        ):
            verdict = await ratelimit.take(
                session, kind=kind, key=key, limit=limit, window_s=LIMIT_WINDOW_S
            )
            if not verdict.allowed:
                raise TooManyRequests(
                    "Too many callback requests. Please wait and try again.",
                    code="callback_limit",
                    details={"retry_after_s": verdict.retry_after_s},
                )
        crisis = signals_crisis(data.note)
        existing = await session.scalar(
            select(CallbackRequest)
            .where(CallbackRequest.phone == data.phone, CallbackRequest.status.in_(ACTIVE))
            .order_by(CallbackRequest.id)
            .limit(1)
        )
        if existing is not None:
            if crisis and existing.priority > 0:
                existing.priority = 0
            return await _place(session, existing)
        now = utcnow()
        row = CallbackRequest(
            phone=data.phone,
            topic=data.topic,
            lang=data.lang,
            note=data.note,
            priority=0 if crisis else 2,
            status="waiting",
            created_at=now,
            due_at=now,
            attempts=0,
        )
        session.add(row)
        await session.flush()
        return await _place(session, row)


async def _release_abandoned(session: AsyncSession) -> None:
    await session.execute(
        update(CallbackRequest)
        .where(
            CallbackRequest.status == "taken",
            CallbackRequest.taken_at < utcnow() - timedelta(seconds=TAKEN_TIMEOUT_S),
        )
        .values(status="waiting", taken_by=None, taken_at=None)
        .execution_options(synchronize_session=False)
    )


async def take_next(rt: Runtime, *, actor: Principal) -> CallbackRequest | None:
    """The callback this agent should call now (the one they hold, else the next due), or None
    when the queue is empty."""
    require(actor, "callback.work")
    async with transactional(rt.db) as session:
        held = await session.scalar(
            select(CallbackRequest).where(
                CallbackRequest.status == "taken", CallbackRequest.taken_by == actor.user_id
            )
        )
        if held is not None:
            return held
        await _release_abandoned(session)
        now = utcnow()
        candidate = (
            select(CallbackRequest.id)
            .where(CallbackRequest.status == "waiting", CallbackRequest.due_at <= now)
            .order_by(CallbackRequest.priority, CallbackRequest.due_at, CallbackRequest.id)
            .limit(1)
        )
        if rt.db.is_postgresql:
            candidate = candidate.with_for_update(skip_locked=True)
        callback_id = await session.scalar(candidate)
        if callback_id is None:
            return None
        taken = await session.execute(
            update(CallbackRequest)
            .where(CallbackRequest.id == callback_id, CallbackRequest.status == "waiting")
            .values(status="taken", taken_by=actor.user_id, taken_at=now)
            .execution_options(synchronize_session=False)
        )
        if taken.rowcount != 1:  # cannot happen under the lock; say so rather than guess
            raise Conflict("Someone else took this callback.", code="callback_taken")
        row = await session.get(CallbackRequest, callback_id, populate_existing=True)
        audit.record(
            session,
            actor=actor,
            action="callback.take",
            entity_type="callback_request",
            entity_id=callback_id,
        )
        return row


async def record_outcome(
    rt: Runtime, *, actor: Principal, callback_id: int, outcome: str
) -> CallbackRequest:
    require(actor, "callback.work")
    async with transactional(rt.db) as session:
        row = await session.get(CallbackRequest, callback_id)
        if row is None:
            raise NotFound("No such callback.", code="callback_not_found")
        if row.status != "taken" or row.taken_by != actor.user_id:
            raise Conflict(
                "You are not calling this number now.",
                code="callback_not_yours",
                details={"status": row.status},
            )
        now = utcnow()
        attempts = row.attempts + 1
        values: dict[str, object] = {
            "attempts": attempts,
            "outcome": outcome,
            "taken_by": None,
            "first_call_at": row.first_call_at or now,
        }
        if outcome in ("answered", "wrong_number"):
            values |= {"status": "answered" if outcome == "answered" else "closed"}
            values |= {"finished_at": now}
        elif attempts >= MAX_ATTEMPTS:
            values |= {"status": "closed", "finished_at": now}
        else:
            delay = RETRY_DELAYS_S[min(attempts, len(RETRY_DELAYS_S)) - 1]
            values |= {"status": "waiting", "taken_at": None}
            values |= {"due_at": now + timedelta(seconds=delay)}
        done = await session.execute(
            update(CallbackRequest)
            .where(
                CallbackRequest.id == callback_id,
                CallbackRequest.status == "taken",
                CallbackRequest.taken_by == actor.user_id,
            )
            .values(**values)
            .execution_options(synchronize_session=False)
        )
        if done.rowcount != 1:
            raise Conflict("You are not calling this number now.", code="callback_not_yours")
        audit.record(
            session,
            actor=actor,
            action="callback.outcome",
            entity_type="callback_request",
            entity_id=callback_id,
            after={"outcome": outcome, "attempts": attempts},
        )
        return await session.get(CallbackRequest, callback_id, populate_existing=True)


async def held_by(rt: Runtime, *, actor: Principal) -> CallbackRequest | None:
    """The callback this agent is calling now, if any."""
    require(actor, "callback.work")
    async with rt.db.read() as session:
        return await session.scalar(
            select(CallbackRequest).where(
                CallbackRequest.status == "taken", CallbackRequest.taken_by == actor.user_id
            )
        )


async def expected_wait(rt: Runtime) -> Place:
    """The wait a new request would have now (for the public page)."""
    async with rt.db.read() as session:
        waiting = await session.scalar(
            select(func.count()).where(CallbackRequest.status == "waiting")
        )
        minutes = await _wait_minutes(session, waiting or 0)
    return Place(callback_id=0, ahead=waiting or 0, expected_wait_min=minutes, crisis=False)


@dataclass(frozen=True)
class DayFigures:
    day: date
    requests: int
    answered: int
    closed_unanswered: int
    waiting: int
    p50_min: float | None
    p90_min: float | None


def _percentile(values: list[float], share: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, math.ceil(share * len(ordered)) - 1)]


async def day_figures(rt: Runtime, *, actor: Principal, day: date) -> DayFigures:
    """Requests made on ``day`` (Asia/Kolkata) and what became of them; time to callback is
    from the request to the answered call."""
    require(actor, "callback.work")
    if not FIRST_DAY <= day <= LAST_DAY:
        raise ValidationFailed(
            "No figures for this day.", code="day_out_of_range", details={"day": str(day)}
        )
    start = datetime.combine(day, time(0), tzinfo=IST)
    async with rt.db.read() as session:
        rows = (
            await session.execute(
                select(
                    CallbackRequest.status,
                    CallbackRequest.created_at,
                    CallbackRequest.finished_at,
                ).where(
                    CallbackRequest.created_at >= start,
                    CallbackRequest.created_at < start + timedelta(days=1),
                )
            )
        ).all()
    waits = [
        (r.finished_at - r.created_at).total_seconds() / 60
        for r in rows
        if r.status == "answered" and r.finished_at
    ]
    return DayFigures(
        day=day,
        requests=len(rows),
        answered=sum(r.status == "answered" for r in rows),
        closed_unanswered=sum(r.status == "closed" for r in rows),
        waiting=sum(r.status in ACTIVE for r in rows),
        p50_min=_percentile(waits, 0.5),
        p90_min=_percentile(waits, 0.9),
    )
