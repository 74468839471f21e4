"""``Idempotency-Key``: a retried POST returns the first result and changes nothing twice.

The key is claimed by inserting a row in the service's own transaction, before the change. A
retry that arrives while the first is still running waits on the unique index (PostgreSQL) or
the write lock (SQLite), then finds the stored result. The same key with a different request is
refused (422), so a client bug cannot silently return someone else's answer.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, String, UniqueConstraint, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from seba.core.db import Base, Database, transactional
from seba.core.errors import ValidationFailed
from seba.core.types import UTCDateTime, utcnow

MAX_KEY = 120


class IdempotencyRecord(Base):
    __tablename__ = "idempotency_record"
    __table_args__ = (UniqueConstraint("scope", "key", name="uq_idempotency_record_scope_key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    # Who and where: a key is only ever compared within one caller and one endpoint.
    scope: Mapped[str] = mapped_column(String(200))
    key: Mapped[str] = mapped_column(String(MAX_KEY))
    request_hash: Mapped[str] = mapped_column(String(64))
    result: Mapped[Any] = mapped_column(JSON, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


def request_fingerprint(payload: Any) -> str:
    return hashlib.sha256(json.dumps(payload, sort_keys=True, default=str).encode()).hexdigest()


def check_key(key: str | None) -> str | None:
    if key is None:
        return None
    key = key.strip()
    if not key or len(key) > MAX_KEY or not key.isprintable():
        raise ValidationFailed(
            "Idempotency-Key must be 1–120 printable characters.", code="invalid_idempotency_key"
        )
    return key


Work = Callable[[AsyncSession], Awaitable[Any]]


async def run_once(
    db: Database, *, scope: str, key: str | None, fingerprint: str, work: Work
) -> tuple[Any, bool]:
    """Run ``work(session)`` in one write transaction, at most once per (scope, key).

    Returns ``(result, replayed)``. ``work`` must return a JSON-able result (it is stored).
    The key row is inserted before the work, so a concurrent retry blocks on it and, once the
    first commits, fails on the unique index; it then reads the first result.
    """
    for attempt in (1, 2):
        try:
            async with transactional(db) as session:
                record = None
                if key is not None:
                    stored = await session.scalar(
                        select(IdempotencyRecord).where(
                            IdempotencyRecord.scope == scope, IdempotencyRecord.key == key
                        )
                    )
                    if stored is not None:
                        if stored.request_hash != fingerprint:
                            raise ValidationFailed(
                                "This Idempotency-Key was used for a different request.",
                                code="idempotency_key_reused",
                            )
                        return stored.result, True
                    record = IdempotencyRecord(
                        scope=scope, key=key, request_hash=fingerprint, created_at=utcnow()
                    )
                    session.add(record)
                    await session.flush()
                result = await work(session)
                if record is not None:
                    record.result = result
            return result, False
        except IntegrityError:
            # Only the key race is retried; on the retry the stored result is found.
            if key is None or attempt == 2:
                raise
    raise AssertionError("unreachable")
