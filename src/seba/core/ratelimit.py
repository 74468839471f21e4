"""Rate limits the database enforces: one counter row per (kind, key), one statement per hit.

A limit read with ``SELECT count(*)`` and then written is no limit: fifty parallel requests all
read "none yet" and all pass (a probe sent 30 one-time codes to one phone at once). Here a hit
is a single ``INSERT … ON CONFLICT (kind, key) DO UPDATE SET hits = hits + 1 WHERE hits <
:limit RETURNING …``. The database decides: on PostgreSQL the statement takes the row lock and
evaluates the condition on the newest committed row, so the (limit+1)th of any number of
parallel callers updates nothing; on SQLite write transactions are serialised (``BEGIN
IMMEDIATE``). No row returned means refused.

Windows: a key's window opens at its first hit and lasts ``window_s``; the first hit after it
ends starts a new window in the same row (the same statement resets it). So "one code per 30 s"
is exact: the next is allowed 30 s after the one that was sent. A fixed window can admit up to
``2 × limit − 1`` hits in a short span across a rollover (the end of one window and the start
of the next), but never more than ``limit`` per window, so the long-run rate is the limit; an
exact sliding window would need a row per hit again, which is what this replaces.

The hit is counted in the caller's transaction, so a caller that refuses the request for
another reason (or takes several limits and one refuses) raises and the rollback un-counts
everything. Two rules for callers:

- Take limits in one fixed order (narrowest key first): on PostgreSQL a taken row stays locked
  until the caller's transaction ends, and a fixed order means no two callers wait on each other
  in a cycle. For the same reason keep the transaction short after a take: every other request
  for that key waits for it.
- ``give_back`` un-counts a hit in a later transaction (a login that turned out right).

Rows of keys no longer used are deleted by ``sweep`` (the worker runs it); a key that comes back
simply starts a new window, so the table holds one row per recently active key.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import (
    CheckConstraint,
    Index,
    Integer,
    String,
    case,
    delete,
    or_,
    select,
    tuple_,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from seba.core.db import Base, Database, transactional
from seba.core.types import UTCDateTime, utcnow

MAX_KIND = 40
MAX_KEY = 128


class RateLimit(Base):
    """Hits counted for one key of one kind of limit in its current window."""

    __tablename__ = "rate_limit"
    __table_args__ = (
        CheckConstraint("hits >= 0", name="hits"),
        CheckConstraint("ends_at > started_at", name="window"),
        # The sweep looks for windows that ended.
        Index("ix_rate_limit_ends_at", "ends_at"),
    )

    kind: Mapped[str] = mapped_column(String(MAX_KIND), primary_key=True)
    key: Mapped[str] = mapped_column(String(MAX_KEY), primary_key=True)
    hits: Mapped[int] = mapped_column(Integer)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime)
    ends_at: Mapped[datetime] = mapped_column(UTCDateTime)


@dataclass(frozen=True)
class Verdict:
    """The answer to one hit: allowed or not, and when to come back if not."""

    allowed: bool
    kind: str
    key: str
    # Hits in the window: this one included when allowed; the full count when refused.
    hits: int
    # Seconds until the window ends (rounded up, at least 1) when refused; 0 when allowed.
    retry_after_s: int
    # Which window the hit was counted in (for ``give_back``); None when nothing was counted.
    started_at: datetime | None = None


def _key(key: str) -> str:
    # Long keys (or keys PostgreSQL text cannot hold) are hashed, not cut: two long client
    # strings sharing a prefix must not share a limit.
    if len(key) > MAX_KEY or "\x00" in key:
        return "sha256:" + hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest()
    return key


def _seconds_until(moment: datetime, now: datetime) -> int:
    return max(1, math.ceil((moment - now).total_seconds()))


async def take(
    session: AsyncSession,
    *,
    kind: str,
    key: str,
    limit: int,
    window_s: int,
    now: datetime | None = None,
) -> Verdict:
    """Count one hit for ``key`` if fewer than ``limit`` were counted in its window.

    Runs in the caller's transaction and never commits; a caller that goes on to refuse the
    request must roll back (raise inside ``transactional``) so the hit is not counted. A
    ``window_s`` of 0 or less means no limit (nothing is written); a ``limit`` below 1 refuses
    every hit. On PostgreSQL the key's row stays locked until the transaction ends.
    """
    if not 0 < len(kind) <= MAX_KIND:
        raise ValueError(f"rate limit kind must be 1–{MAX_KIND} characters: {kind!r}")
    key = _key(key)
    if window_s <= 0:
        return Verdict(allowed=True, kind=kind, key=key, hits=0, retry_after_s=0)
    if limit < 1:
        return Verdict(allowed=False, kind=kind, key=key, hits=0, retry_after_s=window_s)
    now = now or utcnow()
    dialect = session.bind.dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    stmt = insert(RateLimit).values(
        kind=kind,
        key=key,
        hits=1,
        started_at=now,
        ends_at=now + timedelta(seconds=window_s),
    )
    # ``excluded`` is the row this hit would have inserted: its start is ``now``.
    ended = RateLimit.ends_at <= stmt.excluded.started_at
    stmt = stmt.on_conflict_do_update(
        index_elements=[RateLimit.kind, RateLimit.key],
        set_={
            "hits": case((ended, 1), else_=RateLimit.hits + 1),
            "started_at": case((ended, stmt.excluded.started_at), else_=RateLimit.started_at),
            "ends_at": case((ended, stmt.excluded.ends_at), else_=RateLimit.ends_at),
        },
        # The limit itself: the database refuses the (limit+1)th hit, whoever else is counting.
        where=or_(ended, RateLimit.hits < limit),
    ).returning(RateLimit.hits, RateLimit.started_at)
    counted = (await session.execute(stmt)).first()
    if counted is not None:
        return Verdict(
            allowed=True,
            kind=kind,
            key=key,
            hits=counted.hits,
            retry_after_s=0,
            started_at=counted.started_at,
        )
    # Refused. The row is ours to read consistently (PostgreSQL locked it even though it did
    # not update it; SQLite holds the write lock), so its end is the real time to wait.
    row = (
        await session.execute(
            select(RateLimit.hits, RateLimit.ends_at).where(
                RateLimit.kind == kind, RateLimit.key == key
            )
        )
    ).first()
    return Verdict(
        allowed=False,
        kind=kind,
        key=key,
        hits=row.hits if row else limit,
        retry_after_s=_seconds_until(row.ends_at, now) if row else window_s,
    )


async def give_back(session: AsyncSession, verdict: Verdict) -> None:
    """Un-count an allowed hit (e.g. a login whose password was right), in the caller's
    transaction. Nothing happens if that window has ended since: its count no longer matters."""
    if not verdict.allowed or verdict.started_at is None:
        return
    await session.execute(
        update(RateLimit)
        .where(
            RateLimit.kind == verdict.kind,
            RateLimit.key == verdict.key,
            RateLimit.started_at == verdict.started_at,
            RateLimit.hits > 0,
        )
        .values(hits=RateLimit.hits - 1)
        .execution_options(synchronize_session=False)
    )


async def sweep(db: Database, *, now: datetime | None = None, batch: int = 1000) -> int:
    """Delete rows whose window has ended, ``batch`` at a time, each batch in a transaction of
    its own; returns how many. The worker runs it.

    On PostgreSQL rows another transaction holds are skipped (``SKIP LOCKED``), so the sweep
    never waits and never deadlocks with a ``take``; a skipped row goes next time. Deleting an
    ended window loses nothing: the next hit for its key would have started a new one anyway.
    """
    now = now or utcnow()
    total = 0
    while True:
        ended = (
            select(RateLimit.kind, RateLimit.key)
            .where(RateLimit.ends_at <= now)
            .order_by(RateLimit.ends_at)
            .limit(batch)
        )
        if db.is_postgresql:
            ended = ended.with_for_update(skip_locked=True)
        async with transactional(db) as session:
            result = await session.execute(
                delete(RateLimit)
                .where(RateLimit.ends_at <= now, tuple_(RateLimit.kind, RateLimit.key).in_(ended))
                .execution_options(synchronize_session=False)
            )
        total += result.rowcount
        if result.rowcount < batch:
            return total
