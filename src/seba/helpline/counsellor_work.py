"""A counsellor's work: their login (role ``counsellor``, linked to their ``counsellor`` row),
their day of sessions, marking each session done or missed, and their private notes.

Who may: ``POLICY["counselling.work"]`` and ``POLICY["counselling.note"]``, both reach SELF for
the counsellor role: a session is theirs when its counsellor row's ``user_id`` is the actor.
Another counsellor's session answers 404 (nothing says it exists); any other role is refused
403 by the table before a row is read. Every read of a note is audited (``counselling.note.read``),
every write and mark too.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from seba.accounts import service as account_service
from seba.accounts.models import StaffUser
from seba.core import audit
from seba.core.access import Principal, Reach, grantable_roles, reach, require
from seba.core.db import transactional
from seba.core.errors import Conflict, NotFound, PermissionDenied, ValidationFailed
from seba.core.i18n import IST
from seba.core.runtime import Runtime
from seba.core.types import utcnow
from seba.helpline.models import CounsellingBooking, CounsellingNote, Counsellor

MARKS = ("done", "missed")
NOTE_MAX = 4000


async def add_login(
    rt: Runtime,
    *,
    actor: Principal,
    counsellor_id: int,
    username: str,
    password: str,
    full_name: str = "",
) -> StaffUser:
    """Create the login of an existing counsellor (role counsellor, scope the state) and link it,
    in one transaction. Raises ValidationFailed, PermissionDenied, NotFound (no such counsellor),
    Conflict (username taken, or the counsellor has a login already)."""
    require(actor, "user.manage")
    if "counsellor" not in grantable_roles(actor):
        raise PermissionDenied("You cannot grant this role.", details={"role": "counsellor"})
    account_service.check_new_user(username, password, full_name)
    password_hash = await asyncio.to_thread(account_service.hash_password, password)
    async with transactional(rt.db) as session:
        counsellor = await session.get(Counsellor, counsellor_id, with_for_update=True)
        if counsellor is None:
            raise NotFound("No such counsellor.", code="counsellor_not_found")
        if counsellor.user_id is not None:
            raise Conflict("This counsellor has a login already.", code="counsellor_has_login")
        if await session.scalar(select(StaffUser.id).where(StaffUser.username == username)):
            raise Conflict("This username is taken.", code="username_taken")
        user = StaffUser(
            username=username,
            full_name=full_name or counsellor.name,
            password_hash=password_hash,
            role="counsellor",
            scope_kind="state",
            scope_code=None,
        )
        session.add(user)
        await session.flush()
        counsellor.user_id = user.id
        audit.record(
            session,
            actor=actor,
            action="user.create",
            entity_type="staff_user",
            entity_id=user.id,
            after={"username": username, "role": "counsellor", "counsellor_id": counsellor_id},
        )
    return user


async def _own_counsellor(session: AsyncSession, actor: Principal, action: str) -> Counsellor:
    # The table's rule first: a role without it is refused 403 before any row is read.
    if reach(actor, action) is not Reach.SELF:  # pragma: no cover - the table has no other
        raise PermissionDenied(details={"action": action})
    row = await session.scalar(select(Counsellor).where(Counsellor.user_id == actor.user_id))
    if row is None:
        raise NotFound("Your login is not linked to a counsellor.", code="counsellor_not_linked")
    return row


async def _own_booking(
    session: AsyncSession, actor: Principal, action: str, booking_id: int
) -> CounsellingBooking:
    """The booking if it is a session of the actor's own (``Reach.SELF``); 404 otherwise."""
    counsellor = await _own_counsellor(session, actor, action)
    booking = await session.get(CounsellingBooking, booking_id)
    if booking is None or booking.counsellor_id != counsellor.id:
        raise NotFound("No such session.", code="session_not_found")
    return booking


@dataclass(frozen=True)
class DaySession:
    id: int
    starts_at: datetime
    phone: str
    lang: str
    status: str
    crisis: bool
    has_note: bool


async def day(rt: Runtime, *, actor: Principal, day: date) -> list[DaySession]:
    """The actor's sessions of ``day`` (Asia/Kolkata), cancelled ones left out, by time. The
    phone is there because the counsellor rings it; nothing else of the citizen is kept."""
    start = datetime.combine(day, time(0), tzinfo=IST)
    async with rt.db.read() as session:
        counsellor = await _own_counsellor(session, actor, "counselling.work")
        rows = (
            await session.execute(
                select(CounsellingBooking, CounsellingNote.booking_id)
                .outerjoin(CounsellingNote, CounsellingNote.booking_id == CounsellingBooking.id)
                .where(
                    CounsellingBooking.counsellor_id == counsellor.id,
                    CounsellingBooking.status != "cancelled",
                    CounsellingBooking.starts_at >= start,
                    CounsellingBooking.starts_at < start + timedelta(days=1),
                )
                .order_by(CounsellingBooking.starts_at)
            )
        ).all()
    return [
        DaySession(b.id, b.starts_at, b.phone, b.lang, b.status, b.crisis, note is not None)
        for b, note in rows
    ]


async def mark(rt: Runtime, *, actor: Principal, booking_id: int, outcome: str) -> str:
    """Mark one of the actor's sessions done or missed (a mark may be corrected). Refused 409
    for a cancelled session (``session_cancelled``) or one not begun yet
    (``session_not_started``)."""
    if outcome not in MARKS:
        raise ValidationFailed("Mark a session done or missed.", code="mark_required")
    async with transactional(rt.db) as session:
        booking = await _own_booking(session, actor, "counselling.work", booking_id)
        before = booking.status
        if before == "cancelled":
            raise Conflict("This session was cancelled.", code="session_cancelled")
        if booking.starts_at > utcnow():
            raise Conflict(
                "This session has not begun yet: mark it after its time.",
                code="session_not_started",
            )
        # Conditional on the status read: a cancel racing the mark leaves one of them winning.
        done = await session.execute(
            update(CounsellingBooking)
            .where(CounsellingBooking.id == booking_id, CounsellingBooking.status == before)
            .values(status=outcome)
            .execution_options(synchronize_session=False)
        )
        if done.rowcount != 1:
            raise Conflict("This session was changed meanwhile.", code="session_changed")
        audit.record(
            session,
            actor=actor,
            action=f"counselling.{outcome}",
            entity_type="counselling_booking",
            entity_id=booking_id,
            before={"status": before},
            after={"status": outcome},
        )
    return outcome


async def read_note(rt: Runtime, *, actor: Principal, booking_id: int) -> str:
    """The actor's note of their own session ("" when none); the read is audited."""
    async with transactional(rt.db) as session:
        await _own_booking(session, actor, "counselling.note", booking_id)
        note = await session.get(CounsellingNote, booking_id)
        audit.record(
            session,
            actor=actor,
            action="counselling.note.read",
            entity_type="counselling_booking",
            entity_id=booking_id,
        )
    return note.body if note else ""


async def write_note(rt: Runtime, *, actor: Principal, booking_id: int, body: str) -> None:
    """Keep the actor's note of their own session (replacing the last one); audited without
    its words (the audit log is read by admins, the note is not theirs to read)."""
    body = body.replace("\x00", "").strip()
    if len(body) > NOTE_MAX:
        raise ValidationFailed(
            "A note holds at most {n} characters.", code="note_too_long", params={"n": NOTE_MAX}
        )
    async with transactional(rt.db) as session:
        booking = await _own_booking(session, actor, "counselling.note", booking_id)
        if booking.status == "cancelled":
            raise Conflict("This session was cancelled.", code="session_cancelled")
        note = await session.get(CounsellingNote, booking_id, with_for_update=True)
        if note is None:
            session.add(CounsellingNote(booking_id=booking_id, body=body, updated_at=utcnow()))
            try:
                await session.flush()
            except IntegrityError as exc:
                # The same counsellor saving the first note twice at once (two tabs).
                raise Conflict("The note was saved meanwhile.", code="note_changed") from exc
        else:
            note.body, note.updated_at = body, utcnow()
        audit.record(
            session,
            actor=actor,
            action="counselling.note.write",
            entity_type="counselling_booking",
            entity_id=booking_id,
            after={"characters": len(body)},
        )
