"""Psychological counselling: 30-minute phone sessions with a counsellor, booked by a citizen
whose phone a one-time code verified (the referrals' phone session, ``referrals.otp``).

- **Slots**: each active counsellor's hours (09:00–21:00 Asia/Kolkata unless set otherwise) cut
  into ``SLOT_MINUTES`` starts; a slot is free when no booking that is not cancelled holds it and
  it starts at least ``LEAD_MINUTES`` from now.
- **Never twice**: a partial unique index on (counsellor, start) over bookings not cancelled. Of
  two citizens booking the last slot at once the database lets one insert; the other's insert
  fails and is answered 409 ``slot_taken`` (nothing of it is written).
- **SMS**: the confirmation and the reminder (``REMINDER_BEFORE_MIN`` before the start) are
  written to the outbox in the booking's transaction; the reminder waits there
  (``next_attempt_at``) and the worker sends it once, at its time, whatever restarts between (the
  outbox's lease and "sent" mark). Cancelling deletes the reminder if no worker holds it yet.
- **Moving** a booking is one transaction: the booking's own row takes the new counsellor and
  start (the old slot is free the moment it commits); if the new slot is taken the unique index
  refuses the update and the whole transaction rolls back, so the citizen keeps the old slot.
  The reminder is replaced by one for the new time.
- **Crisis words** in what the citizen writes when booking (``crisis.signals_crisis``) mark the
  booking for the counsellor (the words are not kept) and show the emergency numbers at once.
- Limits: ``BOOKINGS_PER_PHONE`` a day per phone (``core.ratelimit``); a move takes none.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from sqlalchemy import delete, or_, select, update
from sqlalchemy.exc import IntegrityError

from seba.core import audit, outbox, ratelimit
from seba.core.access import Principal, require
from seba.core.db import transactional
from seba.core.errors import Conflict, NotFound, TooManyRequests, ValidationFailed
from seba.core.i18n import IST, gettext, local_time
from seba.core.runtime import Runtime
from seba.core.types import utcnow
from seba.helpline.crisis import signals_crisis
from seba.helpline.models import CounsellingBooking, Counsellor
from seba.helpline.schemas import CounsellorIn, Language

SLOT_MINUTES = 30
LEAD_MINUTES = 15
REMINDER_BEFORE_MIN = 30
BOOKINGS_PER_PHONE = 3
DAYS_AHEAD = 14


async def add_counsellor(rt: Runtime, *, actor: Principal, data: CounsellorIn) -> Counsellor:
    require(actor, "helpline.manage")
    async with transactional(rt.db) as session:
        row = Counsellor(
            name=data.name,
            name_bn=data.name_bn,
            languages=" ".join(data.languages),
            day_start=data.day_start,
            day_end=data.day_end,
            active=True,
        )
        session.add(row)
        await session.flush()
        audit.record(
            session,
            actor=actor,
            action="counsellor.create",
            entity_type="counsellor",
            entity_id=row.id,
            after=data.model_dump(),
        )
    return row


@dataclass(frozen=True)
class Slot:
    counsellor_id: int
    counsellor: str
    starts_at: datetime


def _starts(counsellor: Counsellor, day: date) -> list[datetime]:
    midnight = datetime.combine(day, time(0), tzinfo=IST)
    return [
        midnight + timedelta(minutes=m)
        for m in range(counsellor.day_start, counsellor.day_end - SLOT_MINUTES + 1, SLOT_MINUTES)
    ]


def check_day(day: date) -> None:
    today = utcnow().astimezone(IST).date()
    if not today <= day <= today + timedelta(days=DAYS_AHEAD):
        raise ValidationFailed(
            "Slots can be booked from today for the next {days} days.",
            code="day_out_of_range",
            details={"day": str(day)},
            params={"days": DAYS_AHEAD},
        )


async def free_slots(rt: Runtime, *, day: date, lang: str | None = None) -> list[Slot]:
    check_day(day)
    now = utcnow()
    async with rt.db.read() as session:
        counsellors = (
            await session.scalars(
                select(Counsellor).where(Counsellor.active.is_(True)).order_by(Counsellor.id)
            )
        ).all()
        start = datetime.combine(day, time(0), tzinfo=IST)
        taken = set(
            (
                await session.execute(
                    select(CounsellingBooking.counsellor_id, CounsellingBooking.starts_at).where(
                        CounsellingBooking.status != "cancelled",
                        CounsellingBooking.starts_at >= start,
                        CounsellingBooking.starts_at < start + timedelta(days=1),
                    )
                )
            ).all()
        )
    slots = []
    for c in counsellors:
        if lang and lang not in c.languages.split():
            continue
        for at in _starts(c, day):
            if at >= now + timedelta(minutes=LEAD_MINUTES) and (c.id, at) not in taken:
                slots.append(Slot(c.id, c.name_bn if lang == "bn" else c.name, at))
    return sorted(slots, key=lambda s: (s.starts_at, s.counsellor_id))


def _sms(lang: str, message: str, **params: str) -> str:
    return gettext(lang, message, **params)


async def _check_slot(session, counsellor_id: int, starts_at: datetime) -> None:
    counsellor = await session.get(Counsellor, counsellor_id)
    if counsellor is None or not counsellor.active:
        raise NotFound("No such counsellor.", code="counsellor_not_found")
    if starts_at not in _starts(counsellor, starts_at.date()) or starts_at < utcnow() + (
        timedelta(minutes=LEAD_MINUTES)
    ):
        raise ValidationFailed("This is not a free slot of this counsellor.", code="not_a_slot")


def _when(starts_at: datetime, lang: str) -> str:
    return local_time(starts_at, lang, "d MMM, h:mm a" if lang == "en" else "d MMMM, B h:mm")


def _slot_taken() -> Conflict:
    return Conflict("Someone has just booked this slot. Please choose another.", code="slot_taken")


def _remind(session, booking: CounsellingBooking, when: str):
    """The reminder SMS, waiting in the outbox until its time (None when that has passed)."""
    remind_at = booking.starts_at - timedelta(minutes=REMINDER_BEFORE_MIN)
    if remind_at <= utcnow():
        return None
    return outbox.enqueue(
        session,
        channel="sms",
        recipient=booking.phone,
        body=_sms(booking.lang, "Seba: your counselling call is at {when}.", when=when),
        topic={"counselling_booking_id": booking.id, "kind": "reminder"},
        not_before=remind_at,
    )


async def _drop_reminder(session, reminder_id: int | None) -> None:
    """Delete a pending reminder unless a worker holds it right now."""
    if reminder_id is None:
        return
    await session.execute(
        delete(outbox.OutboxMessage)
        .where(
            outbox.OutboxMessage.id == reminder_id,
            outbox.OutboxMessage.status == "pending",
            or_(
                outbox.OutboxMessage.lease_until.is_(None),
                outbox.OutboxMessage.lease_until < utcnow(),
            ),
        )
        .execution_options(synchronize_session=False)
    )


async def book(
    rt: Runtime,
    *,
    phone: str,
    counsellor_id: int,
    starts_at: datetime,
    lang: Language,
    said: str = "",
) -> CounsellingBooking:
    """Book a slot for a verified phone; ``said`` is what the citizen wrote (crisis words mark
    the booking, the words are not kept). Raises 404 (no such counsellor), 422 (not a slot of
    theirs, or too soon), 409 ``slot_taken``, 429 ``booking_limit``."""
    starts_at = starts_at.astimezone(IST)
    check_day(starts_at.date())
    async with transactional(rt.db) as session:
        await _check_slot(session, counsellor_id, starts_at)
        verdict = await ratelimit.take(
            session,
            kind="counselling.phone",
            key=phone,
            limit=BOOKINGS_PER_PHONE,
            window_s=24 * 3600,
        )
        if not verdict.allowed:
            raise TooManyRequests(
                "Too many bookings from this phone today.",
                code="booking_limit",
                details={"retry_after_s": verdict.retry_after_s},
            )
        booking = CounsellingBooking(
            counsellor_id=counsellor_id,
            starts_at=starts_at,
            phone=phone,
            lang=lang,
            status="booked",
            created_at=utcnow(),
            crisis=signals_crisis(said),
        )
        session.add(booking)
        try:
            await session.flush()
        except IntegrityError as exc:
            raise _slot_taken() from exc
        when = _when(starts_at, lang)
        outbox.enqueue(
            session,
            channel="sms",
            recipient=phone,
            body=_sms(lang, "Seba: counselling booked for {when}. We will call you.", when=when),
            topic={"counselling_booking_id": booking.id, "kind": "confirmation"},
        )
        if (reminder := _remind(session, booking, when)) is not None:
            await session.flush()
            booking.reminder_id = reminder.id
    return booking


async def move(
    rt: Runtime, *, phone: str, booking_id: int, counsellor_id: int, starts_at: datetime
) -> CounsellingBooking:
    """Move a booking of this phone to another free slot in one step. Raises 404 (another
    phone's booking, no such counsellor), 409 ``booking_closed`` (not booked any more),
    422 ``not_a_slot``, 409 ``slot_taken`` (the old booking stays as it was)."""
    starts_at = starts_at.astimezone(IST)
    check_day(starts_at.date())
    async with transactional(rt.db) as session:
        booking = await session.get(CounsellingBooking, booking_id)
        if booking is None or booking.phone != phone:
            raise NotFound("No such booking.", code="booking_not_found")
        await _check_slot(session, counsellor_id, starts_at)
        old_reminder = booking.reminder_id
        try:
            # Conditional on "booked": a cancel or a counsellor's mark racing the move wins or
            # loses whole. The unique index refuses a slot someone else holds.
            done = await session.execute(
                update(CounsellingBooking)
                .where(CounsellingBooking.id == booking_id, CounsellingBooking.status == "booked")
                .values(counsellor_id=counsellor_id, starts_at=starts_at, reminder_id=None)
                .execution_options(synchronize_session=False)
            )
        except IntegrityError as exc:
            raise _slot_taken() from exc
        if done.rowcount != 1:
            raise Conflict("This booking can no longer be moved.", code="booking_closed")
        await _drop_reminder(session, old_reminder)
        booking = await session.get(CounsellingBooking, booking_id, populate_existing=True)
        when = _when(starts_at, booking.lang)
        outbox.enqueue(
            session,
            channel="sms",
            recipient=phone,
            body=_sms(booking.lang, "Seba: your counselling call is moved to {when}.", when=when),
            topic={"counselling_booking_id": booking.id, "kind": "moved"},
        )
        if (reminder := _remind(session, booking, when)) is not None:
            await session.flush()
            booking.reminder_id = reminder.id
    return booking


async def cancel(rt: Runtime, *, phone: str, booking_id: int) -> CounsellingBooking:
    """Cancel a booking of this phone (another phone's answers 404); the slot is free again."""
    async with transactional(rt.db) as session:
        booking = await session.get(CounsellingBooking, booking_id)
        if booking is None or booking.phone != phone:
            raise NotFound("No such booking.", code="booking_not_found")
        done = await session.execute(
            update(CounsellingBooking)
            .where(CounsellingBooking.id == booking_id, CounsellingBooking.status == "booked")
            .values(status="cancelled")
            .execution_options(synchronize_session=False)
        )
        if done.rowcount != 1:
            raise Conflict("This booking can no longer be cancelled.", code="booking_closed")
        await _drop_reminder(session, booking.reminder_id)
        return await session.get(CounsellingBooking, booking_id, populate_existing=True)
