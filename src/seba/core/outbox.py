"""The transactional outbox: a message is written in the same transaction as the change that
causes it, and ``seba worker`` delivers it afterwards. Nothing is lost if the process dies.

Delivery is at least once until a message is marked sent, and never again after: a worker
claims due messages with a lease (``UPDATE … WHERE id IN (… FOR UPDATE SKIP LOCKED)`` on
PostgreSQL; ``BEGIN IMMEDIATE`` serialises claims on SQLite), renews the lease on each message
just before sending it (a batch is sent one by one and may outlast its lease), sends outside any
transaction, then marks the message sent only if it still holds the lease. A worker killed
mid-delivery leaves the lease to run out, and another worker retries. A failing send is retried
with exponential backoff and dead-lettered after ``MAX_ATTEMPTS``; admins see dead letters.
"""

from __future__ import annotations

import logging
import secrets
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    Index,
    Integer,
    String,
    Text,
    case,
    select,
    update,
)
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from seba.core.db import Base, Database, transactional
from seba.core.types import UTCDateTime, utcnow

log = logging.getLogger(__name__)

STATUSES = ("pending", "sent", "dead")
CHANNELS = ("sms",)
MAX_ATTEMPTS = 6
REDACTED = "[redacted after delivery]"
LEASE_S = 60
BACKOFF_BASE_S = 5


class OutboxMessage(Base):
    __tablename__ = "outbox_message"
    __table_args__ = (
        CheckConstraint("status IN ('pending', 'sent', 'dead')", name="status"),
        CheckConstraint("attempts >= 0", name="attempts"),
        Index("ix_outbox_message_due", "status", "next_attempt_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    channel: Mapped[str] = mapped_column(String(20))
    recipient: Mapped[str] = mapped_column(String(40))
    body: Mapped[str] = mapped_column(Text)
    # What the message is about, for admins and tests (e.g. {"referral_id": 3}).
    topic: Mapped[Any] = mapped_column(JSON, nullable=True)
    # One-time codes must not outlive their delivery in the database: the text is blanked once
    # the provider took it.
    redact_after_send: Mapped[bool] = mapped_column(Boolean, default=False)
    status: Mapped[str] = mapped_column(String(10), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    lease_token: Mapped[str | None] = mapped_column(String(32))
    lease_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    provider_id: Mapped[str | None] = mapped_column(String(120))
    last_error: Mapped[str | None] = mapped_column(String(500))


def enqueue(
    session: AsyncSession,
    *,
    channel: str,
    recipient: str,
    body: str,
    topic: dict[str, Any] | None = None,
    redact_after_send: bool = False,
    not_before: datetime | None = None,
) -> OutboxMessage:
    """Add a message in the caller's transaction (it leaves only if that commits).
    ``redact_after_send`` blanks the stored text once delivered (one-time codes);
    ``not_before`` schedules it (a reminder): the worker claims it from then on."""
    if channel not in CHANNELS:
        raise ValueError(f"unknown outbox channel {channel!r}")
    message = OutboxMessage(
        channel=channel,
        recipient=recipient,
        body=body,
        topic=topic,
        redact_after_send=redact_after_send,
        status="pending",
        attempts=0,
        created_at=utcnow(),
        next_attempt_at=max(not_before, utcnow()) if not_before else utcnow(),
    )
    session.add(message)
    return message


def record_undeliverable(
    session: AsyncSession,
    *,
    channel: str,
    body: str,
    reason: str,
    topic: dict[str, Any] | None = None,
) -> OutboxMessage:
    """Record, in the caller's transaction, a message that has no one to go to (a hospital
    whose staff gave no mobile): a dead letter with no recipient, so admins see what was not
    said and why, and nothing is ever sent to a guessed number. It cannot be retried."""
    if channel not in CHANNELS:
        raise ValueError(f"unknown outbox channel {channel!r}")
    now = utcnow()
    message = OutboxMessage(
        channel=channel,
        recipient="",
        body=body,
        topic=topic,
        redact_after_send=False,
        status="dead",
        attempts=0,
        created_at=now,
        next_attempt_at=now,
        last_error=reason[:500],
    )
    session.add(message)
    return message


async def claim_due(
    db: Database, *, limit: int = 20, now: datetime | None = None
) -> list[OutboxMessage]:
    """Lease up to ``limit`` due messages to this worker; returns them with their lease token."""
    now = now or utcnow()
    token = secrets.token_hex(16)
    async with transactional(db) as session:
        due = (
            select(OutboxMessage.id)
            .where(
                OutboxMessage.status == "pending",
                OutboxMessage.next_attempt_at <= now,
                (OutboxMessage.lease_until.is_(None)) | (OutboxMessage.lease_until < now),
            )
            .order_by(OutboxMessage.id)
            .limit(limit)
        )
        if db.is_postgresql:
            due = due.with_for_update(skip_locked=True)
        ids = list(await session.scalars(due))
        if not ids:
            return []
        await session.execute(
            update(OutboxMessage)
            .where(OutboxMessage.id.in_(ids))
            .values(
                lease_token=token,
                lease_until=now + timedelta(seconds=LEASE_S),
                attempts=OutboxMessage.attempts + 1,
            )
            .execution_options(synchronize_session=False)
        )
        claimed = list(
            await session.scalars(
                select(OutboxMessage).where(OutboxMessage.id.in_(ids)).order_by(OutboxMessage.id)
            )
        )
    return claimed


async def renew_lease(db: Database, message: OutboxMessage) -> bool:
    """Extend this worker's lease on one claimed message right before sending it.

    Returns False when the lease is lost (it ran out and another worker claimed the message, and
    may have sent it): the message is then not ours to send. Without this, a worker whose batch
    outlived its lease would send messages that another worker had already marked sent.
    """
    async with transactional(db) as session:
        result = await session.execute(
            update(OutboxMessage)
            .where(
                OutboxMessage.id == message.id,
                OutboxMessage.lease_token == message.lease_token,
                OutboxMessage.status == "pending",
            )
            .values(lease_until=utcnow() + timedelta(seconds=LEASE_S))
            .execution_options(synchronize_session=False)
        )
    return result.rowcount == 1


async def mark_sent(db: Database, message: OutboxMessage, *, provider_id: str | None) -> bool:
    """Record a delivery, if this worker still holds the lease. Returns whether it did."""
    async with transactional(db) as session:
        result = await session.execute(
            update(OutboxMessage)
            .where(
                OutboxMessage.id == message.id,
                OutboxMessage.lease_token == message.lease_token,
                OutboxMessage.status == "pending",
            )
            .values(
                status="sent",
                sent_at=utcnow(),
                provider_id=provider_id,
                lease_until=None,
                body=case((OutboxMessage.redact_after_send, REDACTED), else_=OutboxMessage.body),
            )
            .execution_options(synchronize_session=False)
        )
    return result.rowcount == 1


async def mark_failed(db: Database, message: OutboxMessage, *, error: str) -> str:
    """Schedule a retry with backoff, or dead-letter after MAX_ATTEMPTS. Returns the status."""
    dead = message.attempts >= MAX_ATTEMPTS
    delay = BACKOFF_BASE_S * 2 ** max(0, message.attempts - 1)
    async with transactional(db) as session:
        await session.execute(
            update(OutboxMessage)
            .where(OutboxMessage.id == message.id, OutboxMessage.lease_token == message.lease_token)
            .values(
                status="dead" if dead else "pending",
                last_error=error[:500],
                lease_until=None,
                next_attempt_at=utcnow() + timedelta(seconds=delay),
            )
            .execution_options(synchronize_session=False)
        )
    return "dead" if dead else "pending"
