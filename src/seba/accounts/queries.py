"""Reads for the staff console that span the domains: the audit log in a scope."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import String, cast, or_, select

from seba.accounts.models import StaffUser
from seba.core import audit
from seba.core.access import Principal, require
from seba.core.runtime import Runtime
from seba.patients.models import Patient
from seba.places.models import Facility, Hub, Spoke
from seba.telemedicine.models import Consultation

AUDIT_PAGE = 50


@dataclass(frozen=True)
class AuditPage:
    entries: list[audit.AuditEntry]
    # Pass as ``before_id`` for the next (older) page; None on the last page.
    older_than: int | None


def _as_text(column):
    # Audit rows name their entity by a text id, whatever the entity's key type.
    return cast(column, String)


def _district_slice(district: str | None) -> audit.AuditScope:
    """What a district's admin may read: what its staff did (logins included) — its control
    rooms, hospital staff, the CHOs of its spokes and the doctors of its hubs — and what was
    done to its facilities, its staff, its patients (every read of a record: DPDP
    accountability) and the consults raised at its spokes (the system's lapses and no-shows
    too). Subqueries, not id lists: a district has thousands of staff and patients."""
    facility_codes = select(Facility.code).where(Facility.district_code == district)
    spoke_codes = select(Spoke.code).where(Spoke.district_code == district)
    hub_codes = (
        select(Hub.code)
        .join(Facility, Facility.id == Hub.facility_id)
        .where(Facility.district_code == district)
    )
    staff = select(StaffUser.id).where(
        or_(
            (StaffUser.scope_kind == "district") & (StaffUser.scope_code == district),
            (StaffUser.scope_kind == "facility") & StaffUser.scope_code.in_(facility_codes),
            (StaffUser.scope_kind == "spoke") & StaffUser.scope_code.in_(spoke_codes),
            (StaffUser.scope_kind == "hub") & StaffUser.scope_code.in_(hub_codes),
        )
    )
    return audit.AuditScope(
        actor_ids=staff,
        entities={
            "facility": select(_as_text(Facility.id)).where(Facility.district_code == district),
            "staff_user": select(_as_text(StaffUser.id)).where(StaffUser.id.in_(staff)),
            "patient": select(_as_text(Patient.id)).where(Patient.district_code == district),
            "consultation": select(_as_text(Consultation.id)).where(
                Consultation.spoke_id.in_(select(Spoke.id).where(Spoke.district_code == district))
            ),
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
            within = _district_slice(actor.scope_district)
        entries = await audit.list_entries(
            session, within=within, before_id=before_id, limit=limit + 1
        )
    more = len(entries) > limit
    entries = entries[:limit]
    return AuditPage(entries=entries, older_than=entries[-1].id if more else None)
