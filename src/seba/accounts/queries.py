"""Reads for the staff console that span accounts and places: the audit log in a scope."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from seba.accounts.models import StaffUser
from seba.core import audit
from seba.core.access import Principal, require
from seba.core.runtime import Runtime
from seba.places.models import Facility

AUDIT_PAGE = 50


@dataclass(frozen=True)
class AuditPage:
    entries: list[audit.AuditEntry]
    # Pass as ``before_id`` for the next (older) page; None on the last page.
    older_than: int | None


async def _district_slice(session: AsyncSession, district: str | None) -> audit.AuditScope:
    """What a district's admin may read: changes to its facilities and staff, and what its
    staff did (logins included)."""
    facility_ids = set(
        await session.scalars(select(Facility.id).where(Facility.district_code == district))
    )
    facility_codes = select(Facility.code).where(Facility.district_code == district)
    user_ids = set(
        await session.scalars(
            select(StaffUser.id).where(
                or_(
                    (StaffUser.scope_kind == "district") & (StaffUser.scope_code == district),
                    (StaffUser.scope_kind == "facility") & StaffUser.scope_code.in_(facility_codes),
                )
            )
        )
    )
    return audit.AuditScope(
        actor_ids=frozenset(user_ids),
        entities={
            "facility": frozenset(str(i) for i in facility_ids),
            "staff_user": frozenset(str(i) for i in user_ids),
        },
    )


async def audit_log(
    rt: Runtime, *, actor: Principal, before_id: int | None = None, limit: int = AUDIT_PAGE
) -> AuditPage:
    """The latest audit entries the actor may read, newest first: the whole log for a
    state-wide reader, their district's slice otherwise. Raises PermissionDenied."""
    require(actor, "audit.read")
    async with rt.db.read() as session:
        within = None
        if actor.scope_kind != "state":
            within = await _district_slice(session, actor.scope_district)
        entries = await audit.list_entries(
            session, within=within, before_id=before_id, limit=limit + 1
        )
    more = len(entries) > limit
    entries = entries[:limit]
    return AuditPage(entries=entries, older_than=entries[-1].id if more else None)
