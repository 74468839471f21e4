"""Figures per district and day: requests, time to assign, to reach the patient and to the
hospital (p50/p90, minutes from the call), ambulances busy and free now, and the share of
requests reached within the district's promise (``SEBA_AMBULANCE_PROMISE_URBAN_MIN`` /
``…_RURAL_MIN``, by area kind). Counts and times only: no patient data."""

from __future__ import annotations

import math
from collections import defaultdict
from datetime import date, datetime, time, timedelta
from typing import Any

from sqlalchemy import func, select

from seba.ambulances.dispatch import area_kind
from seba.ambulances.models import Ambulance, AmbulanceRequest, AmbulanceTrip
from seba.ambulances.queries import district_filter
from seba.core.access import Principal, require
from seba.core.i18n import IST
from seba.core.runtime import Runtime
from seba.core.types import utcnow


def _minutes(later: datetime | None, earlier: datetime) -> float | None:
    return None if later is None else (later - earlier).total_seconds() / 60


def _p(values: list[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    k = (len(ordered) - 1) * q
    lo, hi = math.floor(k), math.ceil(k)
    return round(ordered[lo] + (ordered[hi] - ordered[lo]) * (k - lo), 1)


def _spread(values: list[float]) -> dict[str, float | None]:
    return {"p50": _p(values, 0.5), "p90": _p(values, 0.9)}


async def figures(
    rt: Runtime, *, actor: Principal, district: str | None = None, day: date | None = None
) -> dict[str, Any]:
    require(actor, "ambulance.figures")
    day = day or utcnow().astimezone(IST).date()
    start = datetime.combine(day, time(0), tzinfo=IST)
    districts = district_filter(actor, "ambulance.figures", district)
    requests = select(AmbulanceRequest).where(
        AmbulanceRequest.created_at >= start, AmbulanceRequest.created_at < start + timedelta(1)
    )
    fleet = select(Ambulance.district_code, Ambulance.status, func.count()).group_by(
        Ambulance.district_code, Ambulance.status
    )
    if districts is not None:
        requests = requests.where(AmbulanceRequest.district_code.in_(districts))
        fleet = fleet.where(Ambulance.district_code.in_(districts))
    async with rt.db.read() as session:
        rows = list(await session.scalars(requests))
        trips: dict[int, AmbulanceTrip] = {}
        for trip in await session.scalars(
            select(AmbulanceTrip)
            .where(AmbulanceTrip.request_id.in_([r.id for r in rows]))
            .order_by(AmbulanceTrip.id)
        ):
            # The first trip that reached the patient, else the first sent.
            held = trips.get(trip.request_id)
            if held is None or (held.at_scene_at is None and trip.at_scene_at is not None):
                trips[trip.request_id] = trip
        counts = (await session.execute(fleet)).all()
    promise = {
        "urban": rt.settings.ambulance_promise_urban_min,
        "rural": rt.settings.ambulance_promise_rural_min,
    }
    by_district: dict[str, dict[str, Any]] = defaultdict(
        lambda: {"requests": 0, "assign": [], "patient": [], "hospital": [], "within": 0}
    )
    for r in rows:
        d = by_district[r.district_code]
        d["requests"] += 1
        trip = trips.get(r.id)
        if trip is None:
            continue
        d["assign"].append(_minutes(trip.assigned_at, r.created_at))
        reached = _minutes(trip.at_scene_at, r.created_at)
        if reached is not None:
            d["patient"].append(reached)
            d["within"] += reached <= promise[area_kind(r.district_code)]
        if (to_hospital := _minutes(trip.at_hospital_at, r.created_at)) is not None:
            d["hospital"].append(to_hospital)
    vehicles: dict[str, dict[str, int]] = defaultdict(lambda: {"free": 0, "busy": 0, "off_duty": 0})
    for code, status, n in counts:
        vehicles[code][status] = n
    out = []
    for code in sorted(set(by_district) | set(vehicles)):
        d = by_district[code]
        out.append(
            {
                "district": code,
                "area": area_kind(code),
                "promise_min": promise[area_kind(code)],
                "requests": d["requests"],
                "time_to_assign_min": _spread(d["assign"]),
                "time_to_patient_min": _spread(d["patient"]),
                "time_to_hospital_min": _spread(d["hospital"]),
                "within_promise": round(d["within"] / d["requests"], 3) if d["requests"] else None,
                "ambulances": vehicles[code],
            }
        )
    return {"day": day.isoformat(), "districts": out}
