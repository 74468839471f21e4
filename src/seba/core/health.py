"""What a load balancer asks: is this process alive (``/healthz``), and can it serve
(``/readyz``: the database answers, Redis answers if configured, the worker has beaten lately).

The worker writes a heartbeat row every ``HEARTBEAT_EVERY_S`` with the jobs that failed in its
last round, so "SMS are not going out" is visible without reading its log.
"""

from __future__ import annotations

import asyncio
import socket
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from pydantic import BaseModel
from sqlalchemy import JSON, String, select, text
from sqlalchemy.orm import Mapped, mapped_column

from seba.core.db import Base, Database
from seba.core.types import UTCDateTime, utcnow

HEARTBEAT_EVERY_S = 10.0
# A worker silent for this long is reported stale (three beats missed).
WORKER_STALE_S = 3 * HEARTBEAT_EVERY_S
CHECK_TIMEOUT_S = 2.0


class WorkerHeartbeat(Base):
    __tablename__ = "worker_heartbeat"

    name: Mapped[str] = mapped_column(String(120), primary_key=True)
    beat_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # Jobs whose last run failed, with the error's type (no details: they may hold data).
    failing: Mapped[Any] = mapped_column(JSON, default=dict)


def worker_name() -> str:
    import os

    return f"{socket.gethostname()}:{os.getpid()}"[:120]


async def beat(db: Database, name: str, failing: dict[str, str]) -> None:
    """Record that worker ``name`` is alive and which jobs are failing (upsert by name)."""
    now = utcnow()
    async with db.write_session() as session, session.begin():
        row = await session.get(WorkerHeartbeat, name)
        if row is None:
            session.add(WorkerHeartbeat(name=name, beat_at=now, failing=failing))
        else:
            row.beat_at, row.failing = now, failing


@dataclass
class Readiness:
    ready: bool
    checks: dict[str, Any] = field(default_factory=dict)


class ReadinessOut(BaseModel):
    """``/readyz``'s answer (200 ready, 503 not): which check failed is in ``checks``."""

    ready: bool
    checks: dict[str, Any]


async def readiness(db: Database, redis: Any | None) -> Readiness:
    """Each dependency checked with a short timeout. Not ready only when the database cannot be
    reached: without Redis the service degrades (versions and events from the database), and
    without a worker it serves while messages wait in the outbox."""
    checks: dict[str, Any] = {}
    ready = True
    try:
        async with asyncio.timeout(CHECK_TIMEOUT_S), db.read() as session:
            await session.execute(text("SELECT 1"))
            latest = await session.scalar(
                select(WorkerHeartbeat).order_by(WorkerHeartbeat.beat_at.desc()).limit(1)
            )
        checks["database"] = "ok"
        if latest is None:
            checks["worker"] = {"status": "never_seen"}
        else:
            age = (utcnow() - latest.beat_at).total_seconds()
            checks["worker"] = {
                "status": "ok"
                if age <= WORKER_STALE_S and not latest.failing
                else ("failing" if age <= WORKER_STALE_S else "stale"),
                "last_beat_s": round(age, 1),
                "failing": latest.failing or {},
            }
    except Exception as exc:
        ready = False
        checks["database"] = f"unreachable: {type(exc).__name__}"
    if redis is not None:
        try:
            async with asyncio.timeout(CHECK_TIMEOUT_S):
                await redis.ping()
            checks["redis"] = "ok"
        except Exception as exc:
            checks["redis"] = f"unreachable (degraded to the database): {type(exc).__name__}"
    return Readiness(ready=ready, checks=checks)
