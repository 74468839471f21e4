"""The call's state changes and reads: tickets, joining and leaving, the media that flowed,
chat; and the record the prescription rules read.

Who may take part is the policy table's ``consult.call`` (the doctor holding the consult, the
CHOs of its spoke), applied by ``consults.access.access_consult``; the party (doctor or CHO)
is the reach that let the actor in, never a role check. A call is open while the consult is
held (accepted or in progress).
"""

from __future__ import annotations

import dataclasses
import re
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import case, literal, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from seba.accounts import service as account_service
from seba.core import audit
from seba.core.access import Principal, Reach, reach
from seba.core.db import transactional
from seba.core.errors import Conflict, NotAuthenticated, ValidationFailed
from seba.core.runtime import Runtime
from seba.core.types import utcnow
from seba.telemedicine.calls import record, tickets
from seba.telemedicine.calls.models import (
    CALL_MODES,
    CallMessage,
    CallSegment,
    ConsultCall,
)
from seba.telemedicine.consults.access import access_consult
from seba.telemedicine.models import Consultation

OPEN = ("accepted", "in_progress")
# Two reports of one mode this many heartbeats apart (20 s at the default 5 s) are one stretch
# of it: a socket that blinked (a new socket's first heartbeat counts nothing) does not split
# the record into pieces. Tied to the heartbeat so that a pause of the mode longer than a
# blink (audio only for a minute on a weak link) stays a gap on the record.
MERGE_HEARTBEATS = 4
MAX_CHAT_CHARS = 1000
# A report may lag the media by a little (the page's heartbeat), never run ahead of the clock.
CLOCK_SLACK_S = 5.0
# Control characters other than newline and tab have no place in a chat line.
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")

PARTY_OF_REACH = {Reach.ASSIGNED: "doctor", Reach.SCOPE: "cho"}

MESSAGES = {
    "call_not_open": "The call is open only while the doctor holds the consult.",
    "invalid_chat_message": "Write a message of 1 to 1000 characters.",
    "invalid_ticket": "This call link is not valid. Open the consult page again.",
    "ticket_expired": "This call link has expired. Open the consult page again.",
}


@dataclass(frozen=True)
class CallPass:
    """What a party needs to open the call: the ticket and how to connect."""

    ticket: str
    expires_in: int
    party: str
    ws_path: str
    ice_servers: list[dict[str, Any]]
    loopback_only: bool
    heartbeat_s: float

    def as_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


@dataclass(frozen=True)
class Party:
    """Someone let into a consult's call."""

    actor: Principal
    consult_id: int
    party: str


def party_of(actor: Principal) -> str:
    """Which side of the call the actor's reach over ``consult.call`` puts them on."""
    return PARTY_OF_REACH[reach(actor, "consult.call")]


async def _open_consult(session: AsyncSession, actor: Principal, consult_id: int) -> Consultation:
    consult = await access_consult(session, actor, consult_id, "consult.call")
    if consult.status not in OPEN:
        raise Conflict(MESSAGES["call_not_open"], code="call_not_open")
    return consult


async def issue_ticket(rt: Runtime, *, actor: Principal, consult_id: int) -> CallPass:
    """A ticket to open the consult's call, for its doctor or a CHO of its spoke, valid
    ``SEBA_CALL_TICKET_TTL_S``. Writes nothing. Raises NotFound ``unknown_consult`` (anyone
    else: the consult is not theirs to know of), Conflict ``call_not_open``, PermissionDenied."""
    party = party_of(actor)
    async with rt.db.read() as session:
        await _open_consult(session, actor, consult_id)
    now = time.time()
    settings = rt.settings
    assert actor.user_id is not None  # the system never calls
    ticket = tickets.Ticket(
        user_id=actor.user_id,
        consult_id=consult_id,
        party=party,
        expires_at=int(now) + settings.call_ticket_ttl_s,
    )
    return CallPass(
        ticket=tickets.sign_ticket(settings.secret_key, ticket),
        expires_in=settings.call_ticket_ttl_s,
        party=party,
        ws_path=f"/ws/consults/{consult_id}/call",
        ice_servers=tickets.ice_servers(settings, actor.user_id, now),
        loopback_only=settings.call_loopback_only,
        heartbeat_s=settings.call_heartbeat_s,
    )


async def open_call(rt: Runtime, *, ticket: str | None, consult_id: int) -> Party:
    """Check a ticket on connect, and the policy again (the consult may have moved on, the
    account been closed). Raises NotAuthenticated ``invalid_ticket`` / ``ticket_expired``,
    NotFound ``unknown_consult`` (a third party), Conflict ``call_not_open``."""
    found = _read_ticket(rt, ticket, consult_id)
    actor = await account_service.principal_for_user(rt, found.user_id)
    async with rt.db.read() as session:
        await _open_consult(session, actor, consult_id)
    if party_of(actor) != found.party:
        raise NotAuthenticated(MESSAGES["invalid_ticket"], code="invalid_ticket")
    return Party(actor=actor, consult_id=consult_id, party=found.party)


def _read_ticket(rt: Runtime, ticket: str | None, consult_id: int) -> tickets.Ticket:
    try:
        return tickets.read_ticket(
            rt.settings.secret_key, ticket, consult_id=consult_id, now_s=time.time()
        )
    except tickets.TicketRefused as exc:
        code = "ticket_expired" if exc.reason == "expired" else "invalid_ticket"
        raise NotAuthenticated(MESSAGES[code], code=code, details={"reason": exc.reason}) from None


async def join_call(
    rt: Runtime, *, ticket: str | None, consult_id: int
) -> tuple[Party, list[CallMessage]]:
    """What a connecting socket does: ``open_call`` and ``call_joined`` in one transaction,
    and the chat so far (the socket's welcome). One write transaction instead of a read, a
    write and a read. Raises as ``open_call`` does."""
    found = _read_ticket(rt, ticket, consult_id)
    actor = await account_service.principal_for_user(rt, found.user_id)
    now = utcnow()
    async with transactional(rt.db) as session:
        await _open_consult(session, actor, consult_id)
        if party_of(actor) != found.party:
            raise NotAuthenticated(MESSAGES["invalid_ticket"], code="invalid_ticket")
        who = Party(actor=actor, consult_id=consult_id, party=found.party)
        await _joined(session, who, now)
        history = list(
            await session.scalars(
                select(CallMessage)
                .where(CallMessage.consultation_id == consult_id)
                .order_by(CallMessage.id)
            )
        )
    return who, history


async def _call_row(session: AsyncSession, consult_id: int, at: datetime) -> ConsultCall:
    row = await session.get(ConsultCall, consult_id)
    if row is None:
        # The doctor and the CHO usually join at the same moment: the first insert makes the
        # row, the other waits for it (PostgreSQL) and reads it, instead of a unique violation.
        insert = postgresql.insert if session.bind.dialect.name == "postgresql" else sqlite.insert
        await session.execute(
            insert(ConsultCall)
            .values(consultation_id=consult_id, started_at=at, ended_at=None)
            .on_conflict_do_nothing(index_elements=[ConsultCall.consultation_id])
        )
        row = await session.get(ConsultCall, consult_id)
        assert row is not None
    return row


async def call_joined(rt: Runtime, *, who: Party) -> None:
    """A party connected: the call starts (first join) or runs again. Audited."""
    now = utcnow()
    async with transactional(rt.db) as session:
        await _open_consult(session, who.actor, who.consult_id)
        await _joined(session, who, now)


def _upsert_call(session: AsyncSession, consult_id: int, at: datetime, ended_at):
    """``INSERT`` the call row starting ``at`` or, if it exists, set its end to ``ended_at``
    (an SQL expression over the existing row, or None): one statement, and no unique violation
    when both parties arrive together (the second waits for the first's row on PostgreSQL)."""
    insert = postgresql.insert if session.bind.dialect.name == "postgresql" else sqlite.insert
    stmt = insert(ConsultCall).values(
        consultation_id=consult_id, started_at=at, ended_at=None if ended_at is None else at
    )
    return stmt.on_conflict_do_update(
        index_elements=[ConsultCall.consultation_id], set_={"ended_at": ended_at}
    )


async def _joined(session: AsyncSession, who: Party, now: datetime) -> None:
    # The call starts at the first join, and runs again (no end) at every join.
    await session.execute(_upsert_call(session, who.consult_id, now, None))
    audit.record(
        session,
        actor=who.actor,
        action="call.join",
        entity_type="consultation",
        entity_id=who.consult_id,
        after={"party": who.party},
    )


async def call_left(rt: Runtime, *, who: Party) -> None:
    """A party disconnected: the call's end moves to now (the last to leave ends it). Runs
    after the consult may have been completed, so it checks reach, not that the call is open."""
    now = utcnow()
    async with transactional(rt.db) as session:
        await access_consult(session, who.actor, who.consult_id, "consult.call")
        # The end moves to now, never before the start (a clock step between the two).
        later = case(
            (ConsultCall.started_at > now, ConsultCall.started_at),
            else_=literal(now, ConsultCall.started_at.type),
        )
        await session.execute(_upsert_call(session, who.consult_id, now, later))
        audit.record(
            session,
            actor=who.actor,
            action="call.leave",
            entity_type="consultation",
            entity_id=who.consult_id,
            after={"party": who.party},
        )


async def record_flow(
    rt: Runtime, *, who: Party, mode: str, started_at: datetime, ended_at: datetime
) -> None:
    """Record that ``mode`` reached ``who``'s browser from ``started_at`` to ``ended_at`` (the
    signaling layer measures it). A report that touches the last stretch of the same mode
    extends it; a report may repeat, it is counted once. A new stretch is audited. Raises
    ValidationFailed ``invalid_flow`` (unknown mode, backwards or future times), NotFound."""
    now = utcnow()
    if (
        mode not in CALL_MODES
        or ended_at < started_at
        or ended_at > now + timedelta(seconds=CLOCK_SLACK_S)
    ):
        raise ValidationFailed(code="invalid_flow", details={"mode": mode})
    async with transactional(rt.db) as session:
        await access_consult(session, who.actor, who.consult_id, "consult.call")
        call = await _call_row(session, who.consult_id, started_at)
        call.started_at = min(call.started_at, started_at)
        last = await session.scalar(
            select(CallSegment)
            .where(
                CallSegment.consultation_id == who.consult_id,
                CallSegment.party == who.party,
                CallSegment.mode == mode,
                CallSegment.ended_at
                >= started_at - timedelta(seconds=MERGE_HEARTBEATS * rt.settings.call_heartbeat_s),
            )
            .order_by(CallSegment.ended_at.desc())
            .limit(1)
        )
        if last is not None and last.started_at <= ended_at:
            last.started_at = min(last.started_at, started_at)
            last.ended_at = max(last.ended_at, ended_at)
            return
        segment = CallSegment(
            consultation_id=who.consult_id,
            party=who.party,
            mode=mode,
            started_at=started_at,
            ended_at=ended_at,
        )
        session.add(segment)
        await session.flush()
        audit.record(
            session,
            actor=who.actor,
            action="call.media",
            entity_type="consultation",
            entity_id=who.consult_id,
            after={"party": who.party, "mode": mode, "segment": segment.id},
        )


def clean_chat(body: object) -> str:
    """A chat line as stored: trimmed, 1–1000 characters, no control characters."""
    if not isinstance(body, str):
        raise ValidationFailed(MESSAGES["invalid_chat_message"], code="invalid_chat_message")
    text = _CONTROL.sub("", body.replace("\r\n", "\n")).strip()
    if not 1 <= len(text) <= MAX_CHAT_CHARS:
        raise ValidationFailed(MESSAGES["invalid_chat_message"], code="invalid_chat_message")
    return text


async def post_chat(rt: Runtime, *, who: Party, body: object) -> CallMessage:
    """Keep a chat line with the consult. The line names its sender; no audit row besides
    (the line is its own trail). Raises ValidationFailed ``invalid_chat_message``, Conflict
    ``call_not_open``, NotFound."""
    text = clean_chat(body)
    async with transactional(rt.db) as session:
        await _open_consult(session, who.actor, who.consult_id)
        assert who.actor.user_id is not None
        message = CallMessage(
            consultation_id=who.consult_id,
            sender_user_id=who.actor.user_id,
            party=who.party,
            body=text,
            sent_at=utcnow(),
        )
        session.add(message)
        await session.flush()
    return message


def chat_out(message: CallMessage) -> dict[str, Any]:
    return {
        "id": message.id,
        "party": message.party,
        "body": message.body,
        "sent_at": message.sent_at.isoformat(),
    }


async def chat_log(rt: Runtime, *, actor: Principal, consult_id: int) -> list[CallMessage]:
    """The call's chat, oldest first, for its two parties (at any time after, too)."""
    async with rt.db.read() as session:
        await access_consult(session, actor, consult_id, "consult.call")
        return list(
            await session.scalars(
                select(CallMessage)
                .where(CallMessage.consultation_id == consult_id)
                .order_by(CallMessage.id)
            )
        )


async def record_in(session: AsyncSession, consult_id: int, min_video_s: int) -> record.CallRecord:
    """The call record of a consult, in the caller's session (the prescribing transaction
    reads it there, so the rules and the record agree)."""
    call = await session.get(ConsultCall, consult_id)
    rows = (
        await session.execute(
            select(
                CallSegment.party, CallSegment.mode, CallSegment.started_at, CallSegment.ended_at
            ).where(CallSegment.consultation_id == consult_id)
        )
    ).all()
    return record.summarise(
        (record.Span(*row) for row in rows),
        started_at=call.started_at if call else None,
        ended_at=call.ended_at if call else None,
        min_video_s=min_video_s,
    )


async def call_record(rt: Runtime, *, actor: Principal, consult_id: int) -> record.CallRecord:
    """The call's times and seconds per mode, for whoever may read the consult."""
    async with rt.db.read() as session:
        await access_consult(session, actor, consult_id, "consult.read")
        return await record_in(session, consult_id, rt.settings.video_min_seconds)


def record_out(found: record.CallRecord) -> dict[str, Any]:
    return {
        "started_at": found.started_at.isoformat() if found.started_at else None,
        "ended_at": found.ended_at.isoformat() if found.ended_at else None,
        "duration_s": found.duration_s,
        "seconds": found.seconds,
        "doctor_video_s": found.doctor_video_s,
        "mode": found.mode,
    }
