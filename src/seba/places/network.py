"""The telemedicine network: pools of districts, hubs (facilities with specialties and hours)
and spokes (health & wellness centres mapped to a home hub), plus extra spoke→specialty-hub
edges. A graph: a district hospital can be a spoke of a state-wide specialty hub.

State changes here follow the house rules (one transaction, audited, ``actor`` required);
the list queries at the bottom serve the network API and the consult forms.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from seba.core import audit
from seba.core.access import Principal, require
from seba.core.db import transactional
from seba.core.errors import Conflict, NotFound, ValidationFailed
from seba.core.runtime import Runtime
from seba.places.models import (
    SPECIALTIES,
    STATE_POOL_CODE,
    District,
    Facility,
    Hub,
    Pool,
    PoolDistrict,
    Spoke,
    SpokeLink,
)

CODE_RE = re.compile(r"[a-z0-9][a-z0-9-]{1,79}")
HHMM_RE = re.compile(r"([01]\d|2[0-3]):[0-5]\d")


@dataclass(frozen=True)
class PoolIn:
    code: str
    name: str
    name_bn: str
    districts: tuple[str, ...]
    neighbours: tuple[str, ...] = ()


@dataclass(frozen=True)
class HubIn:
    code: str
    facility_code: str
    pool_code: str
    specialties: tuple[str, ...]
    always_open: bool = False
    opens_at: str | None = "09:00"
    closes_at: str | None = "15:00"


@dataclass(frozen=True)
class SpokeIn:
    code: str
    name: str
    name_bn: str
    district_code: str
    hub_code: str
    kind: str = "hwc"
    facility_code: str | None = None


def check_specialties(values: tuple[str, ...] | list[str], field: str = "specialties") -> None:
    unknown = sorted(set(values) - set(SPECIALTIES))
    if not values or unknown:
        raise ValidationFailed(
            "Unknown specialty.",
            code="unknown_specialty",
            details={field: unknown or "at least one", "known": list(SPECIALTIES)},
        )


async def save_pools(rt: Runtime, *, actor: Principal, pools: list[PoolIn]) -> int:
    """Create or replace pools and their districts (each district in exactly one pool).

    The state pool (state-wide 24x7 specialty hubs) always exists. Raises ValidationFailed
    for unknown districts, a district in two pools, or a neighbour that is not a pool.
    """
    require(actor, "network.manage")
    codes = {p.code for p in pools} | {STATE_POOL_CODE}
    seen: dict[str, str] = {}
    for p in pools:
        if not CODE_RE.fullmatch(p.code) or p.code == STATE_POOL_CODE:
            raise ValidationFailed("Invalid pool code.", code="invalid_code", details=p.code)
        for d in p.districts:
            if d in seen:
                raise ValidationFailed(
                    "A district can be in one pool only.",
                    code="district_in_two_pools",
                    details={"district": d, "pools": [seen[d], p.code]},
                )
            seen[d] = p.code
        if bad := set(p.neighbours) - codes:
            raise ValidationFailed(
                "Unknown neighbour pool.", code="unknown_pool", details=sorted(bad)
            )
    async with transactional(rt.db) as session:
        known = set(await session.scalars(select(District.code)))
        if bad := set(seen) - known:
            raise ValidationFailed(
                "Unknown district.", code="unknown_district", details=sorted(bad)
            )
        if await session.get(Pool, STATE_POOL_CODE) is None:
            session.add(
                Pool(code=STATE_POOL_CODE, name="State-wide", name_bn="রাজ্যব্যাপী", neighbours=[])
            )
        for p in pools:
            pool = await session.get(Pool, p.code)
            if pool is None:
                pool = Pool(code=p.code)
                session.add(pool)
            pool.name, pool.name_bn, pool.neighbours = p.name, p.name_bn, list(p.neighbours)
        await session.flush()
        for district, pool_code in seen.items():
            row = await session.get(PoolDistrict, district)
            if row is None:
                session.add(PoolDistrict(district_code=district, pool_code=pool_code))
            else:
                row.pool_code = pool_code
        audit.record(
            session,
            actor=actor,
            action="network.pools",
            entity_type="pool",
            entity_id="*",
            after={p.code: list(p.districts) for p in pools},
        )
    return len(pools)


def _check_hub(data: HubIn) -> None:
    problems: dict[str, str] = {}
    if not CODE_RE.fullmatch(data.code):
        problems["code"] = "2–80 lowercase letters, digits or '-'."
    if not data.always_open and not (
        data.opens_at
        and data.closes_at
        and HHMM_RE.fullmatch(data.opens_at)
        and HHMM_RE.fullmatch(data.closes_at)
        and data.opens_at < data.closes_at
    ):
        problems["hours"] = "Give opening and closing times as HH:MM, opening first."
    if problems:
        raise ValidationFailed(details=problems)
    check_specialties(data.specialties)


async def create_hub(rt: Runtime, *, actor: Principal, data: HubIn) -> Hub:
    """Make a facility a hub. Raises ValidationFailed, NotFound (facility/pool), Conflict."""
    require(actor, "network.manage")
    _check_hub(data)
    async with transactional(rt.db) as session:
        hub = await add_hub(session, data)
        audit.record(
            session,
            actor=actor,
            action="hub.create",
            entity_type="hub",
            entity_id=hub.id,
            after={"code": hub.code, "pool": hub.pool_code, "specialties": hub.specialties},
        )
    return hub


async def add_hub(session: AsyncSession, data: HubIn) -> Hub:
    facility_id = await session.scalar(
        select(Facility.id).where(Facility.code == data.facility_code)
    )
    if facility_id is None:
        raise NotFound("Unknown facility.", code="unknown_facility")
    if await session.get(Pool, data.pool_code) is None:
        raise NotFound("Unknown pool.", code="unknown_pool")
    taken = await session.scalar(
        select(Hub.code).where(or_(Hub.code == data.code, Hub.facility_id == facility_id))
    )
    if taken:
        raise Conflict("This hub already exists.", code="hub_exists", details={"hub": taken})
    hub = Hub(
        code=data.code,
        facility_id=facility_id,
        pool_code=data.pool_code,
        specialties=list(data.specialties),
        always_open=data.always_open,
        opens_at=None if data.always_open else data.opens_at,
        closes_at=None if data.always_open else data.closes_at,
    )
    session.add(hub)
    await session.flush()
    return hub


async def create_spoke(rt: Runtime, *, actor: Principal, data: SpokeIn) -> Spoke:
    """Add a spoke mapped to its home hub. Raises ValidationFailed, NotFound, Conflict."""
    require(actor, "network.manage")
    if not CODE_RE.fullmatch(data.code) or not data.name.strip() or not data.name_bn.strip():
        raise ValidationFailed(details={"code": data.code, "name": "required"})
    async with transactional(rt.db) as session:
        hub_id = await session.scalar(select(Hub.id).where(Hub.code == data.hub_code))
        if hub_id is None:
            raise NotFound("Unknown hub.", code="unknown_hub")
        if await session.get(District, data.district_code) is None:
            raise ValidationFailed("Unknown district.", code="unknown_district")
        facility_id = None
        if data.facility_code is not None:
            facility_id = await session.scalar(
                select(Facility.id).where(Facility.code == data.facility_code)
            )
            if facility_id is None:
                raise NotFound("Unknown facility.", code="unknown_facility")
        if await session.scalar(select(Spoke.id).where(Spoke.code == data.code)):
            raise Conflict("This spoke already exists.", code="spoke_exists")
        spoke = Spoke(
            code=data.code,
            name=data.name.strip(),
            name_bn=data.name_bn.strip(),
            district_code=data.district_code,
            kind="facility" if facility_id else "hwc",
            facility_id=facility_id,
            hub_id=hub_id,
        )
        session.add(spoke)
        await session.flush()
        audit.record(
            session,
            actor=actor,
            action="spoke.create",
            entity_type="spoke",
            entity_id=spoke.id,
            after={"code": spoke.code, "hub": data.hub_code},
        )
    return spoke


async def link_spoke(
    rt: Runtime, *, actor: Principal, spoke_code: str, hub_code: str, specialty: str
) -> None:
    """Add an edge: this spoke is also served by a specialty hub (e.g. stroke, 24x7)."""
    require(actor, "network.manage")
    check_specialties([specialty], "specialty")
    async with transactional(rt.db) as session:
        spoke_id = await session.scalar(select(Spoke.id).where(Spoke.code == spoke_code))
        hub = await session.scalar(select(Hub).where(Hub.code == hub_code))
        if spoke_id is None or hub is None:
            raise NotFound("Unknown spoke or hub.", code="unknown_node")
        if specialty not in hub.specialties:
            raise ValidationFailed(
                "This hub does not offer that specialty.", code="specialty_not_offered"
            )
        if await session.get(SpokeLink, (spoke_id, hub.id, specialty)) is None:
            session.add(SpokeLink(spoke_id=spoke_id, hub_id=hub.id, specialty=specialty))
        audit.record(
            session,
            actor=actor,
            action="spoke.link",
            entity_type="spoke",
            entity_id=spoke_id,
            after={"hub": hub_code, "specialty": specialty},
        )


# --- reads -----------------------------------------------------------------------------


@dataclass(frozen=True)
class HubRow:
    code: str
    name: str
    name_bn: str
    district_code: str
    pool_code: str
    specialties: list[str]
    always_open: bool
    opens_at: str | None
    closes_at: str | None
    spokes: int


async def list_hubs(rt: Runtime, *, actor: Principal) -> list[HubRow]:
    """Every active hub with its number of home spokes (codes are not secret among staff)."""
    require(actor, "network.read")
    from sqlalchemy import func

    spokes = (
        select(Spoke.hub_id, func.count().label("n"))
        .where(Spoke.active.is_(True))
        .group_by(Spoke.hub_id)
        .subquery()
    )
    async with rt.db.read() as session:
        rows = await session.execute(
            select(Hub, Facility.name, Facility.name_bn, Facility.district_code, spokes.c.n)
            .join(Facility, Facility.id == Hub.facility_id)
            .outerjoin(spokes, spokes.c.hub_id == Hub.id)
            .where(Hub.active.is_(True))
            .order_by(Hub.code)
        )
        return [
            HubRow(
                code=hub.code,
                name=name,
                name_bn=name_bn,
                district_code=district,
                pool_code=hub.pool_code,
                specialties=list(hub.specialties),
                always_open=hub.always_open,
                opens_at=hub.opens_at,
                closes_at=hub.closes_at,
                spokes=n or 0,
            )
            for hub, name, name_bn, district, n in rows
        ]


@dataclass(frozen=True)
class SpokeRow:
    code: str
    name: str
    name_bn: str
    district_code: str
    kind: str
    hub_code: str
    # "home" for the spoke's own hub, else the specialty of the extra edge.
    link: str


async def list_spokes(
    rt: Runtime, *, actor: Principal, hub_code: str | None, limit: int, offset: int
) -> list[SpokeRow]:
    """Spokes of one hub (home spokes and spokes linked for a specialty), or all, paged."""
    require(actor, "network.read")
    async with rt.db.read() as session:
        if hub_code is None:
            query = (
                select(Spoke, Hub.code)
                .join(Hub, Hub.id == Spoke.hub_id)
                .where(Spoke.active.is_(True))
                .order_by(Spoke.code)
                .limit(limit)
                .offset(offset)
            )
            return [_spoke_row(s, code, "home") for s, code in await session.execute(query)]
        hub_id = await session.scalar(select(Hub.id).where(Hub.code == hub_code))
        if hub_id is None:
            raise NotFound("Unknown hub.", code="unknown_hub")
        home = select(Spoke).where(Spoke.hub_id == hub_id, Spoke.active.is_(True))
        rows = [_spoke_row(s, hub_code, "home") for s in await session.scalars(home)]
        linked = (
            select(Spoke, SpokeLink.specialty)
            .join(SpokeLink, SpokeLink.spoke_id == Spoke.id)
            .where(SpokeLink.hub_id == hub_id)
        )
        rows += [_spoke_row(s, hub_code, sp) for s, sp in await session.execute(linked)]
        rows.sort(key=lambda r: (r.code, r.link))
        return rows[offset : offset + limit]


def _spoke_row(spoke: Spoke, hub_code: str, link: str) -> SpokeRow:
    return SpokeRow(
        code=spoke.code,
        name=spoke.name,
        name_bn=spoke.name_bn,
        district_code=spoke.district_code,
        kind=spoke.kind,
        hub_code=hub_code,
        link=link,
    )
