"""Public bed views served from the response cache (one serialisation per data version)."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from seba.beds import queries
from seba.beds.queries import AvailabilityFilter
from seba.core.errors import NotFound
from seba.core.response_cache import CachedBody, ResponseCache
from seba.core.runtime import Runtime
from seba.core.types import utcnow

# However long a view stays true, rebuild it at least this often (belt and braces).
MAX_TTL_S = 60.0


def dumps(body: Any) -> bytes:
    return json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode()


def _ttl(now: datetime, changes_at: datetime | None) -> float:
    if changes_at is None:
        return MAX_TTL_S
    return max(0.0, min(MAX_TTL_S, (changes_at - now).total_seconds()))


def beds_cache(rt: Runtime) -> ResponseCache:
    cache = rt.caches.get("beds")
    if cache is None:
        cache = rt.caches["beds"] = ResponseCache(rt.versions, "beds")
    return cache


def filter_key(f: AvailabilityFilter) -> str:
    return "availability?" + json.dumps(
        [
            f.district,
            f.ownership,
            f.bed_type,
            f.sex,
            f.covid,
            f.available_only,
            (f.q or "").casefold() or None,
            f.near,
            f.limit,
            f.offset,
        ]
    )


async def availability(rt: Runtime, f: AvailabilityFilter) -> CachedBody:
    async def build() -> tuple[bytes, float]:
        now = utcnow()
        async with rt.db.read() as session:
            body, changes_at = await queries.availability(
                session, f, now=now, stale_after_s=rt.settings.stale_after_s
            )
        return dumps(body), _ttl(now, changes_at)

    return await beds_cache(rt).get(filter_key(f), build)


async def availability_data(rt: Runtime, f: AvailabilityFilter) -> dict[str, Any]:
    """The same view as a dict, for pages (parsed from the cached bytes: still one query set)."""
    entry = await availability(rt, f)
    return json.loads(entry.body)


async def facility(rt: Runtime, facility_id: int) -> CachedBody:
    async def build() -> tuple[bytes, float]:
        now = utcnow()
        async with rt.db.read() as session:
            found = await queries.facility_detail(
                session, facility_id, now=now, stale_after_s=rt.settings.stale_after_s
            )
        if found is None:
            raise NotFound("No such facility.", code="facility_not_found")
        body, changes_at = found
        return dumps(body), _ttl(now, changes_at)

    return await beds_cache(rt).get(f"facility:{facility_id}", build)


async def districts(rt: Runtime) -> CachedBody:
    async def build() -> tuple[bytes, float]:
        now = utcnow()
        async with rt.db.read() as session:
            body = await queries.district_totals(
                session, now=now, stale_after_s=rt.settings.stale_after_s
            )
        # Stale counts move with the clock; a short life keeps them honest.
        return dumps(body), 30.0

    return await beds_cache(rt).get("districts", build)
