"""Reads for the control room and hospitals: the queue, ranked free beds, where a hold can move,
incoming referrals, and the board's timings. Each view is a fixed number of queries, whatever
its length."""

from __future__ import annotations

import statistics
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from seba.beds.ledger import POOL_SEXES
from seba.beds.models import BedPool
from seba.beds.queries import haversine_km, is_stale
from seba.core.access import Principal
from seba.core.i18n import IST
from seba.places.models import District, Facility
from seba.referrals.models import HOLDING, AdmissionRequest, Referral
from seba.referrals.shapes import family_referral_dict, referral_dict, request_dict

SUGGESTIONS = 5
# Hospitals offered when moving a hold: the nearest ones with a matching free bed.
MOVE_CHOICES = 30


def queue_order():
    # Most severe first; inside a class, requests sent back (rejected, expired) first, then the
    # longest waiting.
    return (
        AdmissionRequest.severity,
        AdmissionRequest.requeued_at.is_(None),
        AdmissionRequest.requeued_at,
        AdmissionRequest.created_at,
        AdmissionRequest.id,
    )


async def waiting_queue(
    session: AsyncSession, actor: Principal, *, now: datetime, stale_after_s: int, limit: int = 100
) -> list[dict[str, Any]]:
    """Waiting requests in the actor's scope, each with up to five ranked facilities that have a
    matching free bed (bed type, the patient's sex then mixed), nearest and freshest first."""
    query = select(AdmissionRequest).where(AdmissionRequest.status == "waiting")
    if actor.scope_kind == "district":
        query = query.where(AdmissionRequest.district_code == actor.scope_code)
    requests = list(await session.scalars(query.order_by(*queue_order()).limit(limit)))
    if not requests:
        return []
    hq = {d.code: (d.lat, d.lon) for d in await session.scalars(select(District))}
    free = (
        await session.execute(
            select(BedPool, Facility)
            .join(Facility, Facility.id == BedPool.facility_id)
            .where(BedPool.total - BedPool.occupied - BedPool.reserved >= 1)
        )
    ).all()
    out = []
    for req in requests:
        origin = (req.lat, req.lon) if req.lat is not None else hq.get(req.district_code)
        sexes = POOL_SEXES[req.patient_sex]
        best: dict[int, dict[str, Any]] = {}
        for pool, fac in free:
            if pool.bed_type != req.need or pool.sex not in sexes:
                continue
            entry = best.setdefault(
                fac.id,
                {
                    "facility_id": fac.id,
                    "code": fac.code,
                    "name": fac.name,
                    "name_bn": fac.name_bn,
                    "district": fac.district_code,
                    "available": 0,
                    "updated_at": fac.census_updated_at.isoformat()
                    if fac.census_updated_at
                    else None,
                    "stale": is_stale(fac.census_updated_at, now, stale_after_s),
                    "distance_km": (
                        round(haversine_km(origin, (fac.lat, fac.lon)), 1)
                        if origin and fac.lat is not None
                        else None
                    ),
                },
            )
            entry["available"] += pool.total - pool.occupied - pool.reserved
        ranked = sorted(
            best.values(),
            key=lambda e: (
                e["stale"],
                e["distance_km"] is None,
                e["distance_km"] or 0,
                -e["available"],
            ),
        )
        out.append(
            {
                **request_dict(req),
                "wait_s": int((now - req.created_at).total_seconds()),
                "suggestions": ranked[:SUGGESTIONS],
                # Distances are from the family when they shared a location, else from the
                # district's headquarters: the operator must know which ("0.2 km" from the
                # district centre says nothing about a village 40 km out).
                "distance_from": "patient" if req.lat is not None else "district_hq",
            }
        )
    return out


async def move_choices(
    session: AsyncSession,
    *,
    leaving: int,
    bed_type: str,
    patient_sex: str,
    district: str | None,
    now: datetime,
    stale_after_s: int,
    limit: int = MOVE_CHOICES,
) -> list[dict[str, Any]]:
    """Facilities a hold at ``leaving`` can move to: a free ``bed_type`` bed in a pool the
    patient may take (their sex, then mixed), in ``district`` when given, never ``leaving``.

    Nearest to ``leaving`` first (then by id); when it has no location, most free beds of the
    type first (then name, id), as the public availability list ranks them. ``free`` counts the
    beds this patient may take.
    """
    here = await session.get(Facility, leaving)
    near = (here.lat, here.lon) if here is not None and here.lat is not None else None
    query = (
        select(BedPool, Facility, District)
        .join(Facility, Facility.id == BedPool.facility_id)
        .join(District, District.code == Facility.district_code)
        .where(BedPool.bed_type == bed_type, Facility.id != leaving)
    )
    if district:
        query = query.where(Facility.district_code == district)
    sexes = POOL_SEXES[patient_sex]
    found: dict[int, dict[str, Any]] = {}
    for pool, fac, dist in (await session.execute(query)).all():
        entry = found.setdefault(
            fac.id,
            {
                "id": fac.id,
                "code": fac.code,
                "name": fac.name,
                "name_bn": fac.name_bn,
                "district": fac.district_code,
                "district_name": dist.name,
                "district_name_bn": dist.name_bn,
                "stale": is_stale(fac.census_updated_at, now, stale_after_s),
                "distance_km": (
                    round(haversine_km(near, (fac.lat, fac.lon)), 2)
                    if near and fac.lat is not None and fac.lon is not None
                    else None
                ),
                "available": 0,
                "free": 0,
            },
        )
        entry["available"] += pool.available
        if pool.sex in sexes:
            entry["free"] += pool.available
    choices = [c for c in found.values() if c["free"] > 0]
    if near is not None:
        choices.sort(key=lambda c: (c["distance_km"] is None, c["distance_km"] or 0.0, c["id"]))
    else:
        choices.sort(key=lambda c: (-c["available"], c["name"], c["id"]))
    return choices[:limit]


async def referrals_for_facility(
    session: AsyncSession, facility_id: int, *, statuses: tuple[str, ...] = (*HOLDING, "admitted")
) -> list[dict[str, Any]]:
    rows = (
        await session.execute(
            select(Referral, AdmissionRequest, Facility)
            .join(AdmissionRequest, AdmissionRequest.id == Referral.request_id)
            .join(Facility, Facility.id == Referral.facility_id)
            .where(Referral.facility_id == facility_id, Referral.status.in_(statuses))
            .order_by(Referral.status, Referral.created_at)
        )
    ).all()
    return [referral_dict(ref, req, fac) for ref, req, fac in rows]


async def family_referrals(session: AsyncSession, request_id: int) -> list[dict[str, Any]]:
    """Every bed a request has had, newest first, as the family's status page shows them."""
    rows = (
        await session.execute(
            select(Referral, Facility)
            .join(Facility, Facility.id == Referral.facility_id)
            .where(Referral.request_id == request_id)
            .order_by(Referral.id.desc())
        )
    ).all()
    return [family_referral_dict(ref, fac) for ref, fac in rows]


async def active_referrals(session: AsyncSession, actor: Principal) -> list[dict[str, Any]]:
    """Holds in flight (reserved/confirmed) in the control room's scope."""
    query = (
        select(Referral, AdmissionRequest, Facility)
        .join(AdmissionRequest, AdmissionRequest.id == Referral.request_id)
        .join(Facility, Facility.id == Referral.facility_id)
        .where(Referral.status.in_(HOLDING))
        .order_by(Referral.expires_at)
    )
    if actor.scope_kind == "district":
        query = query.where(AdmissionRequest.district_code == actor.scope_code)
    return [referral_dict(r, q, f) for r, q, f in (await session.execute(query)).all()]


def _percentiles(values: list[float]) -> dict[str, float | None]:
    if not values:
        return {"count": 0, "median_s": None, "p90_s": None}
    values = sorted(values)
    p90 = values[min(len(values) - 1, round(0.9 * (len(values) - 1)))]
    return {
        "count": len(values),
        "median_s": round(statistics.median(values), 1),
        "p90_s": round(p90, 1),
    }


async def board(session: AsyncSession, actor: Principal, *, now: datetime) -> dict[str, Any]:
    """Counts now, and request→reservation and reservation→admission times, today and this week
    (Asia/Kolkata days; the week starts on Monday)."""
    local = now.astimezone(IST)
    today = local.replace(hour=0, minute=0, second=0, microsecond=0)
    week = today - timedelta(days=today.weekday())
    scoped = []
    if actor.scope_kind == "district":
        scoped = [AdmissionRequest.district_code == actor.scope_code]
    waiting = await session.scalar(
        select(func.count())
        .select_from(AdmissionRequest)
        .where(AdmissionRequest.status == "waiting", *scoped)
    )
    by_status = dict(
        (
            await session.execute(
                select(Referral.status, func.count())
                .join(AdmissionRequest, AdmissionRequest.id == Referral.request_id)
                .where(Referral.status.in_((*HOLDING, "admitted")), *scoped)
                .group_by(Referral.status)
            )
        ).all()
    )
    since = week.astimezone(now.tzinfo)
    requests = list(
        await session.scalars(
            select(AdmissionRequest).where(AdmissionRequest.reserved_at >= since, *scoped)
        )
    )
    admitted = (
        await session.execute(
            select(Referral.created_at, Referral.admitted_at)
            .join(AdmissionRequest, AdmissionRequest.id == Referral.request_id)
            .where(Referral.admitted_at >= since, AdmissionRequest.source != "walk_in", *scoped)
        )
    ).all()

    def window(start: datetime) -> dict[str, Any]:
        start = start.astimezone(now.tzinfo)
        return {
            "request_to_reservation": _percentiles(
                [
                    (r.reserved_at - r.created_at).total_seconds()
                    for r in requests
                    if r.reserved_at >= start
                ]
            ),
            "reservation_to_admission": _percentiles(
                [(a - c).total_seconds() for c, a in admitted if a >= start]
            ),
        }

    return {
        "as_of": now.isoformat(),
        "waiting": waiting,
        "reserved": by_status.get("reserved", 0),
        "confirmed": by_status.get("confirmed", 0),
        "admitted": by_status.get("admitted", 0),
        "today": window(today),
        "this_week": window(week),
    }
