"""Admin views of the outbox: what is waiting, what was sent, what died; retry a dead letter."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select, update

from seba.core import audit
from seba.core.access import Principal, require
from seba.core.db import transactional
from seba.core.errors import Conflict, NotFound
from seba.core.outbox import OutboxMessage
from seba.core.runtime import Runtime
from seba.core.types import utcnow


def message_dict(m: OutboxMessage) -> dict[str, Any]:
    return {
        "id": m.id,
        "channel": m.channel,
        # Messages may carry one-time codes and patient names: admins see the last digits of
        # the phone and the topic, not the text.
        "recipient": "…" + m.recipient[-4:] if m.recipient else None,
        "topic": m.topic,
        "status": m.status,
        "attempts": m.attempts,
        "created_at": m.created_at.isoformat(),
        "next_attempt_at": m.next_attempt_at.isoformat() if m.next_attempt_at else None,
        "sent_at": m.sent_at.isoformat() if m.sent_at else None,
        "last_error": m.last_error,
    }


async def list_messages(
    rt: Runtime, *, actor: Principal, status: str | None, limit: int = 100
) -> list[dict[str, Any]]:
    require(actor, "outbox.read")
    query = select(OutboxMessage).order_by(OutboxMessage.id.desc()).limit(limit)
    if status:
        query = query.where(OutboxMessage.status == status)
    async with rt.db.read() as session:
        return [message_dict(m) for m in await session.scalars(query)]


async def retry_dead(rt: Runtime, *, actor: Principal, message_id: int) -> dict[str, Any]:
    """Put a dead letter back in the queue with fresh attempts (after the gateway is fixed)."""
    require(actor, "outbox.read")
    async with transactional(rt.db) as session:
        message = await session.get(OutboxMessage, message_id)
        if message is None:
            raise NotFound("No such message.", code="message_not_found")
        if not message.recipient:
            # Recorded as undeliverable (no staff mobile): there is no one to send it to.
            raise Conflict(
                "This message has no recipient and cannot be retried.",
                code="message_has_no_recipient",
            )
        result = await session.execute(
            update(OutboxMessage)
            .where(OutboxMessage.id == message_id, OutboxMessage.status == "dead")
            .values(status="pending", attempts=0, next_attempt_at=utcnow(), lease_until=None)
            .execution_options(synchronize_session=False)
        )
        if result.rowcount != 1:
            raise Conflict("Only a dead message can be retried.", code="message_not_dead")
        audit.record(
            session,
            actor=actor,
            action="outbox.retry",
            entity_type="outbox_message",
            entity_id=message_id,
            before={"status": "dead"},
            after={"status": "pending"},
        )
        await session.refresh(message)
        return message_dict(message)
