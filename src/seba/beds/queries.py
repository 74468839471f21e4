"""Public bed availability: the reads behind the public API and page.

The whole state is 264 hospitals and a few thousand pools, so a view loads the matching
facilities and their pools in two queries and filters, ranks and pages in Python; the result
is serialised once per data version by the response cache (``core/response_cache.py``).
"""

from __future__ import annotations

import math
import unicodedata
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from seba.beds.models import BED_TYPES, SEXES, BedPool
from seba.places.models import District, Facility

DEFAULT_LIMIT = 50
MAX_LIMIT = 500


@dataclass(frozen=True)
class AvailabilityFilter:
    district: str | None = None
    ownership: str | None = None
    bed_type: str | None = None
    sex: str | None = None
    covid: bool | None = None
    available_only: bool = False
    q: str | None = None
    near: tuple[float, float] | None = None
    limit: int = DEFAULT_LIMIT
    offset: int = 0


def haversine_km(a: tuple[float, float], b: tuple[float, float]) -> float:
    lat1, lon1, lat2, lon2 = map(math.radians, (*a, *b))
    h = (
        math.sin((lat2 - lat1) / 2) ** 2
        + math.cos(lat1) * math.cos(lat2) * math.sin((lon2 - lon1) / 2) ** 2
    )
    return 6371.0088 * 2 * math.asin(math.sqrt(h))


def is_stale(updated_at: datetime | None, now: datetime, stale_after_s: int) -> bool:
    return updated_at is None or now - updated_at > timedelta(seconds=stale_after_s)


def pool_order(pool: BedPool) -> tuple[int, int]:
    """Pools as every view lists them: by bed type, then sex, in the models' order."""
    return BED_TYPES.index(pool.bed_type), SEXES.index(pool.sex)


def facility_public(
    facility: Facility,
    district: District,
    pools: list[BedPool],
    *,
    now: datetime,
    stale_after_s: int,
) -> dict[str, Any]:
    beds = [
        {
            "bed_type": p.bed_type,
            "sex": p.sex,
            "total": p.total,
            "occupied": p.occupied,
            "reserved": p.reserved,
            "available": p.available,
        }
        for p in sorted(pools, key=pool_order)
    ]
    return {
        "id": facility.id,
        "code": facility.code,
        "name": facility.name,
        "name_bn": facility.name_bn,
        "district": facility.district_code,
        "district_name": district.name,
        "district_name_bn": district.name_bn,
        "ownership": facility.ownership,
        "kind": facility.kind,
        "covid": facility.covid,
        "address": facility.address,
        "phones": list(facility.phones or []),
        "lat": facility.lat,
        "lon": facility.lon,
        "hfr_id": facility.hfr_id,
        "updated_at": facility.census_updated_at.isoformat()
        if facility.census_updated_at
        else None,
        "stale": is_stale(facility.census_updated_at, now, stale_after_s),
        "total": sum(b["total"] for b in beds),
        "available": sum(b["available"] for b in beds),
        "beds": beds,
    }


def next_stale_at(facilities: list[Facility], now: datetime, stale_after_s: int) -> datetime | None:
    """When the first still-fresh facility in a view turns stale (the view must change then)."""
    times = [
        f.census_updated_at + timedelta(seconds=stale_after_s)
        for f in facilities
        if not is_stale(f.census_updated_at, now, stale_after_s)
    ]
    return min(times) if times else None


def _fold(text: str) -> str:
    # Bengali keyboards type ড় ঢ় য় either as one code point or as letter + nukta; NFC makes both
    # the same (letter + nukta, as the shipped data is), so a search finds either spelling.
    return unicodedata.normalize("NFC", text).casefold()


def _matches_text(facility: Facility, q: str) -> bool:
    needle = _fold(q)
    return any(needle in _fold(v or "") for v in (facility.name, facility.name_bn, facility.code))


async def availability(
    session: AsyncSession, f: AvailabilityFilter, *, now: datetime, stale_after_s: int
) -> tuple[dict[str, Any], datetime | None]:
    """The public availability view and the time it stops being true by itself (staleness)."""
    query = select(Facility, District).join(District, District.code == Facility.district_code)
    if f.district:
        query = query.where(Facility.district_code == f.district)
    if f.ownership:
        query = query.where(Facility.ownership == f.ownership)
    if f.covid is not None:
        query = query.where(Facility.covid.is_(f.covid))
    rows = [(fac, dist) for fac, dist in (await session.execute(query)).all()]
    if f.q:
        rows = [(fac, dist) for fac, dist in rows if _matches_text(fac, f.q)]
    pools_by_facility: dict[int, list[BedPool]] = {fac.id: [] for fac, _ in rows}
    if rows:
        pool_query = select(BedPool)
        if len(rows) < 400:
            pool_query = pool_query.where(BedPool.facility_id.in_(list(pools_by_facility)))
        if f.bed_type:
            pool_query = pool_query.where(BedPool.bed_type == f.bed_type)
        if f.sex:
            # A patient of one sex can use that sex's pool or a mixed ("any") pool.
            pool_query = pool_query.where(BedPool.sex.in_([f.sex, "any"]))
        for pool in await session.scalars(pool_query):
            if pool.facility_id in pools_by_facility:
                pools_by_facility[pool.facility_id].append(pool)
    items = []
    for fac, dist in rows:
        pools = pools_by_facility[fac.id]
        if (f.bed_type or f.sex) and not pools:
            continue
        item = facility_public(fac, dist, pools, now=now, stale_after_s=stale_after_s)
        if f.available_only and item["available"] <= 0:
            continue
        if f.near is not None:
            item["distance_km"] = (
                round(haversine_km(f.near, (fac.lat, fac.lon)), 2)
                if fac.lat is not None and fac.lon is not None
                else None
            )
        items.append(item)
    if f.near is not None:
        items.sort(key=lambda i: (i["distance_km"] is None, i["distance_km"] or 0.0, i["id"]))
    else:
        # Most free beds first, then name: what a family looking for a bed wants to see.
        items.sort(key=lambda i: (-i["available"], i["name"], i["id"]))
    page = items[f.offset : f.offset + f.limit]
    shown = [fac for fac, _ in rows if fac.id in {i["id"] for i in page}]
    body = {"as_of": now.isoformat(), "count": len(items), "facilities": page}
    return body, next_stale_at(shown, now, stale_after_s)


async def facility_detail(
    session: AsyncSession, facility_id: int, *, now: datetime, stale_after_s: int
) -> tuple[dict[str, Any], datetime | None] | None:
    row = (
        await session.execute(
            select(Facility, District)
            .join(District, District.code == Facility.district_code)
            .where(Facility.id == facility_id)
        )
    ).first()
    if row is None:
        return None
    fac, dist = row
    pools = list(await session.scalars(select(BedPool).where(BedPool.facility_id == fac.id)))
    item = facility_public(fac, dist, pools, now=now, stale_after_s=stale_after_s)
    item["version"] = fac.census_version
    return item, next_stale_at([fac], now, stale_after_s)


async def district_totals(
    session: AsyncSession, *, now: datetime, stale_after_s: int
) -> dict[str, Any]:
    districts = list(await session.scalars(select(District).order_by(District.name)))
    facilities = list(await session.scalars(select(Facility)))
    pools = list(await session.scalars(select(BedPool)))
    by_district: dict[str, dict[str, Any]] = {
        d.code: {
            "code": d.code,
            "name": d.name,
            "name_bn": d.name_bn,
            "lat": d.lat,
            "lon": d.lon,
            "facilities": 0,
            "stale_facilities": 0,
            "total": 0,
            "available": 0,
            "by_bed_type": {t: {"total": 0, "available": 0} for t in BED_TYPES},
        }
        for d in districts
    }
    district_of = {}
    for fac in facilities:
        district_of[fac.id] = fac.district_code
        entry = by_district[fac.district_code]
        entry["facilities"] += 1
        entry["stale_facilities"] += is_stale(fac.census_updated_at, now, stale_after_s)
    for pool in pools:
        entry = by_district[district_of[pool.facility_id]]
        entry["total"] += pool.total
        entry["available"] += pool.available
        entry["by_bed_type"][pool.bed_type]["total"] += pool.total
        entry["by_bed_type"][pool.bed_type]["available"] += pool.available
    return {"as_of": now.isoformat(), "districts": list(by_district.values())}
