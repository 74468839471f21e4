"""The public page of one hospital: ``GET /hospitals/{id}``, Bengali first.

Address, the hospital's own numbers (tap to call), a map link, beds by type and sex with how
fresh they are, what it offers, and how to ask for a bed. Like the list on ``/`` it is answered
from the worker's in-memory availability (``beds/snapshot.py``) at the data version the request
has seen, rendered once per (language, hospital, data version) and kept with the list's views
(bytes, gzip, ETag, 304): no query beyond the version read the list does. "Updated 12 min ago"
moves with the clock, so a kept page lives only until its words would change.
"""

from __future__ import annotations

import math
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Request
from fastapi.responses import HTMLResponse

from seba.beds import public
from seba.beds.live import VERSION
from seba.beds.models import BED_TYPES
from seba.beds.pages import _answer, _render
from seba.beds.snapshot import Availability
from seba.core.errors import NotFound
from seba.core.http import get_runtime, request_language
from seba.core.i18n import gettext, number
from seba.core.response_cache import CachedBody, make_cached
from seba.core.runtime import Runtime
from seba.core.types import utcnow
from seba.places.contacts import address_in, call_numbers, geo_uri, osm_url

router = APIRouter(include_in_schema=False)

# What a hospital offers, in the order a family asks about it: bed types beyond a regular bed.
OFFERS = ("oxygen", "hdu", "icu", "ventilator", "paediatric")
FacilityId = Annotated[int, Path(ge=1, le=2**31 - 1)]


def hospital_path(facility_id: int) -> str:
    return f"/hospitals/{facility_id}"


def age_words(lang: str, seconds: float) -> tuple[str, float]:
    """How long ago, as a person says it, and the seconds until those words change."""
    seconds = max(0.0, seconds)
    minutes = int(seconds // 60)
    if minutes < 1:
        return gettext(lang, "just now"), 60 - seconds
    if minutes < 60:
        words = gettext(lang, "{minutes} min ago", minutes=number(minutes, lang))
        return words, 60 - seconds % 60
    hours = minutes // 60
    if hours < 48:
        words = gettext(lang, "{hours} h ago", hours=number(hours, lang))
        return words, 3600 - seconds % 3600
    days = hours // 24
    return gettext(lang, "{days} days ago", days=number(days, lang)), 86400 - seconds % 86400


def hospital_context(
    snap: Availability, index: int, lang: str, stale_after_s: int
) -> tuple[dict[str, Any], float]:
    """What the page shows of the hospital in row ``index``, and how long it stays true."""
    row = snap.rows[index]
    assert row is not None
    now_ts = utcnow().timestamp()
    stale = snap.is_stale(index, now_ts, stale_after_s)
    item = row.public(snap.districts[row.district], 0, stale=stale)
    ttl = public.MAX_TTL_S
    ago = None
    if row.updated_at is not None:
        ago, words_change = age_words(lang, now_ts - row.updated_at.timestamp())
        ttl = min(ttl, words_change)
    turns_stale = snap.stale_at([index], now_ts, stale_after_s)
    if turns_stale is not None:
        ttl = min(ttl, max(0.0, turns_stale - now_ts))
    located = row.lat is not None and row.lon is not None
    name = row.name_bn if lang == "bn" else row.name
    has_type = {p[0] for p in row.pools if p[2] > 0}
    return {
        "h": item,
        "name": name,
        "address": address_in(lang, row.address, row.address_bn),
        "emergency": row.emergency_phone,
        "reception": row.reception_phone,
        "others": [
            n
            for n in call_numbers(None, None, row.phones)
            if n not in (row.emergency_phone, row.reception_phone)
        ],
        "has_phone": bool(call_numbers(row.emergency_phone, row.reception_phone, row.phones)),
        "ago": ago,
        "offers": [t for t in OFFERS if t in has_type],
        "free_by_type": {
            t: sum(p[2] - p[3] - p[4] for p in row.pools if p[0] == t) for t in BED_TYPES
        },
        "geo_url": geo_uri(row.lat, row.lon, name) if located else None,  # type: ignore[arg-type]
        "osm_url": osm_url(row.lat, row.lon) if located else None,  # type: ignore[arg-type]
        "stale_hours": stale_after_s // 3600,
    }, ttl


def _page_entry(request: Request, rt: Runtime, snap: Availability, facility_id: int) -> CachedBody:
    lang = request_language(request)
    key = f"hospital:{lang}:{facility_id}"
    views = public.views(rt)
    found = views.get(key, snap.version)
    if found is not None:
        return found
    index = snap.row(facility_id)
    if index is None:
        raise NotFound("No such facility.", code="facility_not_found")
    context, ttl = hospital_context(snap, index, lang, rt.settings.stale_after_s)
    html = _render(
        request,
        "beds/hospital.html",
        switch_url=f"{hospital_path(facility_id)}?lang={'en' if lang == 'bn' else 'bn'}",
        **context,
    )
    # Never kept past the next whole second the words could change at (a page is cheap).
    ttl = max(1.0, math.floor(ttl))
    entry = make_cached(html.encode(), ttl, source=VERSION, version=snap.version)
    return views.put(key, entry)


@router.get("/hospitals/{facility_id}", response_class=HTMLResponse)
async def hospital_page(
    request: Request, facility_id: FacilityId, rt: Runtime = Depends(get_runtime)
):
    """One hospital's public page, from the in-memory availability; 404 for an unknown id."""
    snap = await public.snapshot(rt)
    return _answer(request, _page_entry(request, rt, snap, facility_id))
