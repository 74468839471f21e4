"""Reads of places for the staff console, each limited to the reader's scope."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select

from seba.accounts import alerts
from seba.beds.queries import is_stale
from seba.core.access import Principal, require, require_on_facility
from seba.core.errors import NotFound
from seba.core.runtime import Runtime
from seba.core.types import utcnow
from seba.places.models import District, Facility, Hub, Spoke


@dataclass(frozen=True)
class FacilityRow:
    facility: Facility
    district: District
    # Census freshness, by the same rule the public pages use.
    stale: bool
    # Whether a referral's SMS alert reaches someone there (a staff account with a mobile).
    alerts_reach: bool = True


@dataclass(frozen=True)
class ScopeChoices:
    """The districts and facilities inside a principal's scope (for pickers and labels)."""

    districts: list[District]
    facilities: list[Facility]


@dataclass(frozen=True)
class ScopePlace:
    """A principal's scope as people read it: the kind of place and its names (None for the
    whole state, or a code no row has any more), never the raw code."""

    kind: str
    name: str | None = None
    name_bn: str | None = None


async def scope_place(rt: Runtime, *, actor: Principal) -> ScopePlace:
    """The place the actor's scope names: a district, a facility, a spoke or a hub (the facility
    it is at)."""
    kind, code = actor.scope_kind, actor.scope_code
    query = {
        "district": select(District.name, District.name_bn).where(District.code == code),
        "facility": select(Facility.name, Facility.name_bn).where(Facility.code == code),
        "spoke": select(Spoke.name, Spoke.name_bn).where(Spoke.code == code),
        "hub": select(Facility.name, Facility.name_bn)
        .join(Hub, Hub.facility_id == Facility.id)
        .where(Hub.code == code),
    }.get(kind)
    if query is None or code is None:
        return ScopePlace(kind)
    async with rt.db.read() as session:
        row = (await session.execute(query)).first()
    return ScopePlace(kind, row[0], row[1]) if row else ScopePlace(kind)


def _in_scope(query, actor: Principal):
    if actor.scope_kind == "district":
        return query.where(Facility.district_code == actor.scope_code)
    if actor.scope_kind == "facility":
        return query.where(Facility.code == actor.scope_code)
    return query


async def facility_rows(
    rt: Runtime, *, actor: Principal, district: str | None = None, q: str | None = None
) -> list[FacilityRow]:
    """Facilities the actor may see, by district then name, optionally narrowed.

    ``q`` matches the English or Bengali name or the code, ignoring case. Raises
    PermissionDenied.
    """
    require(actor, "facility.read")
    query = _in_scope(
        select(Facility, District)
        .join(District, District.code == Facility.district_code)
        .order_by(District.name, Facility.name),
        actor,
    )
    if district:
        query = query.where(Facility.district_code == district)
    now: datetime = utcnow()
    async with rt.db.read() as session:
        rows = (await session.execute(query)).all()
        reachable = await alerts.reachable_facilities(session)
    needle = (q or "").casefold()
    return [
        FacilityRow(
            facility=f,
            district=d,
            stale=is_stale(f.census_updated_at, now, rt.settings.stale_after_s),
            alerts_reach=f.code in reachable,
        )
        for f, d in rows
        if not needle or any(needle in v.casefold() for v in (f.name, f.name_bn, f.code))
    ]


async def scope_choices(rt: Runtime, *, actor: Principal) -> ScopeChoices:
    """Districts and facilities inside the actor's scope, by name. Raises PermissionDenied."""
    require(actor, "facility.read")
    districts = select(District).order_by(District.name)
    if actor.scope_kind != "state":
        districts = districts.where(District.code == actor.scope_district)
    async with rt.db.read() as session:
        return ScopeChoices(
            districts=list(await session.scalars(districts)),
            facilities=list(
                await session.scalars(_in_scope(select(Facility).order_by(Facility.name), actor))
            ),
        )


async def alerts_reach(rt: Runtime, facility: Facility) -> bool:
    """Whether a referral's SMS alert to this facility reaches one of its staff."""
    async with rt.db.read() as session:
        return bool(await alerts.alert_mobiles(session, facility.code))


async def facility_for(rt: Runtime, *, actor: Principal, facility_id: int, action: str) -> Facility:
    """One facility the actor may take ``action`` on. Raises NotFound, PermissionDenied."""
    async with rt.db.read() as session:
        facility = await session.get(Facility, facility_id)
    if facility is None:
        raise NotFound("No such facility.", code="facility_not_found")
    require_on_facility(actor, action, facility)
    return facility
