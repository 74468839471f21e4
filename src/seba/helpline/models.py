"""The helpline's tables: its numbers, the answers to common questions (with their history),
and the callback queue."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    Date,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from seba.core.db import Base
from seba.core.types import UTCDateTime, utcnow

ANSWER_TOPICS = (
    "home_care",
    "warning_signs",
    "testing",
    "vaccination",
    "beds",
    "ambulance",
    "telemedicine",
    "counselling",
)
CALLBACK_TOPICS = (*ANSWER_TOPICS, "other")
CALLBACK_STATUSES = ("waiting", "taken", "answered", "closed")
# What an agent records after a call: answered ends it; no answer or busy puts it back in the
# queue after a pause until its tries run out; wrong number ends it.
CALLBACK_OUTCOMES = ("answered", "no_answer", "busy", "wrong_number")
CALLBACK_LANGUAGES = ("bn", "en")


class HelplineNumber(Base):
    """One number the public may call, with what it is for and when it answers."""

    __tablename__ = "helpline_number"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(40), unique=True)
    name_en: Mapped[str] = mapped_column(String(120))
    name_bn: Mapped[str] = mapped_column(String(120))
    purpose_en: Mapped[str] = mapped_column(String(300))
    purpose_bn: Mapped[str] = mapped_column(String(300))
    hours_en: Mapped[str] = mapped_column(String(80))
    hours_bn: Mapped[str] = mapped_column(String(80))
    # As people read it: "1800-313-444-222", "033 2357 1075".
    number: Mapped[str] = mapped_column(String(30))
    position: Mapped[int] = mapped_column(Integer, default=0)
    # Shown in every public page's footer (keep it to one or two).
    in_footer: Mapped[bool] = mapped_column(Boolean, default=False)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Answer(Base):
    """A question people ask and its answer, in Bengali and English.

    ``search_*`` hold the folded search words (``helpline.text``) of the question (with the
    aliases people type) and of the answer: what the full-text index reads. They are written by
    the service with every change, never by hand.
    """

    __tablename__ = "answer"
    __table_args__ = (CheckConstraint("version >= 1", name="version"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    slug: Mapped[str] = mapped_column(String(60), unique=True)
    topic: Mapped[str] = mapped_column(String(30), index=True)
    question_bn: Mapped[str] = mapped_column(String(300))
    question_en: Mapped[str] = mapped_column(String(300))
    body_bn: Mapped[str] = mapped_column(Text)
    body_en: Mapped[str] = mapped_column(Text)
    # Other ways people ask: Banglish, spellings, keywords (one phrase a line or ';'-separated).
    aliases: Mapped[str] = mapped_column(Text, default="")
    source: Mapped[str] = mapped_column(String(300))
    reviewed_on: Mapped[date] = mapped_column(Date)
    version: Mapped[int] = mapped_column(Integer, default=1)
    search_title: Mapped[str] = mapped_column(Text, default="")
    search_body: Mapped[str] = mapped_column(Text, default="")
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class AnswerRevision(Base):
    """Each version of an answer as it was saved, and who saved it (append-only)."""

    __tablename__ = "answer_revision"
    __table_args__ = (UniqueConstraint("answer_id", "version"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    answer_id: Mapped[int] = mapped_column(ForeignKey("answer.id", ondelete="CASCADE"))
    version: Mapped[int] = mapped_column(Integer)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("staff_user.id"))
    actor_name: Mapped[str] = mapped_column(String(120))
    content: Mapped[Any] = mapped_column(JSON)


class CallbackRequest(Base):
    """A citizen's request to be called back: waiting, taken by an agent, then answered or
    closed; a missed call waits again (``due_at``) until its tries run out."""

    __tablename__ = "callback_request"
    __table_args__ = (
        CheckConstraint("status IN ('waiting', 'taken', 'answered', 'closed')", name="status"),
        CheckConstraint("(status = 'taken') = (taken_by IS NOT NULL)", name="taken_by"),
        CheckConstraint("attempts >= 0", name="attempts"),
        # The agents' "take next": waiting, priority first, then oldest.
        Index("ix_callback_request_queue", "status", "priority", "due_at", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    phone: Mapped[str] = mapped_column(String(16), index=True)
    topic: Mapped[str] = mapped_column(String(30))
    lang: Mapped[str] = mapped_column(String(2))
    note: Mapped[str] = mapped_column(String(500), default="")
    # 0 is the most urgent; a crisis word in the note raises it.
    priority: Mapped[int] = mapped_column(Integer, default=2)
    status: Mapped[str] = mapped_column(String(12), default="waiting")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    due_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    taken_by: Mapped[int | None] = mapped_column(ForeignKey("staff_user.id"))
    taken_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    first_call_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    outcome: Mapped[str | None] = mapped_column(String(20))


BOOKING_STATUSES = ("booked", "cancelled", "done", "missed")


class Counsellor(Base):
    """A counsellor who takes 30-minute phone sessions in their languages and hours (minutes
    after midnight, Asia/Kolkata; 09:00–21:00 unless set otherwise)."""

    __tablename__ = "counsellor"
    __table_args__ = (CheckConstraint("day_start < day_end", name="hours"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(120))
    name_bn: Mapped[str] = mapped_column(String(120))
    # Space-separated language codes: "bn en".
    languages: Mapped[str] = mapped_column(String(20), default="bn")
    day_start: Mapped[int] = mapped_column(Integer, default=9 * 60)
    day_end: Mapped[int] = mapped_column(Integer, default=21 * 60)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    # The counsellor's login (role counsellor): whose day and notes these are. One login, one
    # counsellor; None for a counsellor without a login yet.
    user_id: Mapped[int | None] = mapped_column(ForeignKey("staff_user.id"), unique=True)


class CounsellingBooking(Base):
    """One booked slot. A counsellor's slot is held by at most one booking that is not
    cancelled: a partial unique index (``uq_counselling_booking_slot``) says so on both
    engines, whatever the code does."""

    __tablename__ = "counselling_booking"
    __table_args__ = (
        CheckConstraint("status IN ('booked', 'cancelled', 'done', 'missed')", name="status"),
        Index(
            "uq_counselling_booking_slot",
            "counsellor_id",
            "starts_at",
            unique=True,
            sqlite_where=text("status <> 'cancelled'"),
            postgresql_where=text("status <> 'cancelled'"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    counsellor_id: Mapped[int] = mapped_column(ForeignKey("counsellor.id"))
    starts_at: Mapped[datetime] = mapped_column(UTCDateTime)
    phone: Mapped[str] = mapped_column(String(16), index=True)
    lang: Mapped[str] = mapped_column(String(2))
    status: Mapped[str] = mapped_column(String(12), default="booked")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    reminder_id: Mapped[int | None] = mapped_column(Integer)
    # Crisis words in what the citizen wrote when booking: the counsellor sees the flag (the
    # words themselves are not kept).
    crisis: Mapped[bool] = mapped_column(Boolean, default=False)


class CounsellingNote(Base):
    """The counsellor's private note of one session (``POLICY["counselling.note"]``: only the
    counsellor whose session it is; every read audited). Its own table, so that no query of
    bookings (the citizen's list, the day) ever loads it."""

    __tablename__ = "counselling_note"

    booking_id: Mapped[int] = mapped_column(ForeignKey("counselling_booking.id"), primary_key=True)
    body: Mapped[str] = mapped_column(Text, default="")
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
