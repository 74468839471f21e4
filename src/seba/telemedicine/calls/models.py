"""The call's record: when it ran, which media really flowed and for how long, and its chat.

No audio or video is ever stored (TPG 2020: recording needs explicit consent, and Seba does not
record): only times, and the text the two parties typed to each other.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from seba.core.db import Base
from seba.core.types import UTCDateTime
from seba.places.models import _in

PARTIES = ("doctor", "cho")
CALL_MODES = ("video", "audio", "text")


class ConsultCall(Base):
    """One row per consult that had a call: the first join and the last leave. The duration is
    ``ended_at - started_at``, derived, never stored twice."""

    __tablename__ = "consult_call"
    __table_args__ = (CheckConstraint("ended_at IS NULL OR ended_at >= started_at", name="order"),)

    consultation_id: Mapped[int] = mapped_column(ForeignKey("consultation.id"), primary_key=True)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class CallSegment(Base):
    """``party``'s browser received ``mode`` from ``started_at`` to ``ended_at``, as measured
    by the server from the party's own media counters (``getStats`` bytes that grew between two
    of its heartbeats, timed by the server's clock). ``text`` is time with the call up, no media
    flowing and the parties on chat. Adjacent reports extend one row."""

    __tablename__ = "consult_call_segment"
    __table_args__ = (
        CheckConstraint(_in("party", PARTIES), name="party"),
        CheckConstraint(_in("mode", CALL_MODES), name="mode"),
        CheckConstraint("ended_at >= started_at", name="order"),
        Index("ix_consult_call_segment_lookup", "consultation_id", "party", "mode", "ended_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    consultation_id: Mapped[int] = mapped_column(ForeignKey("consultation.id"))
    party: Mapped[str] = mapped_column(String(8))
    mode: Mapped[str] = mapped_column(String(8))
    started_at: Mapped[datetime] = mapped_column(UTCDateTime)
    ended_at: Mapped[datetime] = mapped_column(UTCDateTime)


class CallMessage(Base):
    """A chat line of the call, kept with the consult (TPG 2020: keep the digital trail)."""

    __tablename__ = "consult_chat_message"
    __table_args__ = (
        CheckConstraint(_in("party", PARTIES), name="party"),
        Index("ix_consult_chat_message_consult", "consultation_id", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    consultation_id: Mapped[int] = mapped_column(ForeignKey("consultation.id"))
    sender_user_id: Mapped[int] = mapped_column(ForeignKey("staff_user.id"))
    party: Mapped[str] = mapped_column(String(8))
    body: Mapped[str] = mapped_column(String(1000))
    sent_at: Mapped[datetime] = mapped_column(UTCDateTime)
