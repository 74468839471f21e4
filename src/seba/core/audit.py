"""The append-only audit log: who did what to which entity, before and after."""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, Select, String, and_, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from seba.core.db import Base
from seba.core.types import UTCDateTime, utcnow


class AuditEntry(Base):
    __tablename__ = "audit_entry"
    __table_args__ = (Index("ix_audit_entry_entity", "entity_type", "entity_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # Nullable only for the system itself (imports, demo loader, the worker): actor_name says so.
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("staff_user.id"), index=True)
    actor_name: Mapped[str] = mapped_column(String(120))
    action: Mapped[str] = mapped_column(String(80), index=True)
    entity_type: Mapped[str] = mapped_column(String(40))
    entity_id: Mapped[str] = mapped_column(String(80))
    before: Mapped[Any] = mapped_column(JSON, nullable=True)
    after: Mapped[Any] = mapped_column(JSON, nullable=True)


def record(
    session: AsyncSession,
    *,
    actor: Any,
    action: str,
    entity_type: str,
    entity_id: Any,
    before: Any = None,
    after: Any = None,
) -> AuditEntry:
    """Append an audit row in the caller's transaction. ``actor`` is a Principal."""
    entry = AuditEntry(
        at=utcnow(),
        actor_id=actor.user_id,
        actor_name=actor.username,
        action=action,
        entity_type=entity_type,
        entity_id=str(entity_id),
        before=before,
        after=after,
    )
    session.add(entry)
    return entry


@dataclass(frozen=True)
class AuditScope:
    """A slice of the log: entries by these actors, or about these entities (type → ids).

    Ids are a collection or a ``SELECT`` of one column (kept in the database: a district's
    slice names thousands of staff and patients)."""

    actor_ids: Collection[int] | Select = frozenset()
    entities: Mapping[str, Collection[str] | Select] = field(default_factory=dict)


async def list_entries(
    session: AsyncSession,
    *,
    within: AuditScope | None = None,
    before_id: int | None = None,
    limit: int = 50,
) -> list[AuditEntry]:
    """Entries newest first, ``within`` a slice (None: all), older than ``before_id``.

    Paged by id rather than offset, so a page stays put while new entries arrive.
    """
    query = select(AuditEntry).order_by(AuditEntry.id.desc()).limit(limit)
    if before_id is not None:
        query = query.where(AuditEntry.id < before_id)
    if within is not None:
        query = query.where(
            or_(
                AuditEntry.actor_id.in_(within.actor_ids),
                *(
                    and_(AuditEntry.entity_type == kind, AuditEntry.entity_id.in_(ids))
                    for kind, ids in within.entities.items()
                ),
            )
        )
    return list(await session.scalars(query))
