"""Reads for the dispatcher and admins: the fleet and the requests of a scope."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select

from seba.ambulances.dispatch import request_dict
from seba.ambulances.models import (
    AMBULANCE_KINDS,
    LIVE_TRIP,
    Ambulance,
    AmbulanceRequest,
    AmbulanceTrip,
)
from seba.ambulances.service import ambulance_dict
from seba.core import audit
from seba.core.access import Principal, Reach, home_district, reach
from seba.core.db import transactional
from seba.core.errors import NotFound
from seba.core.runtime import Runtime
from seba.places.contacts import call_numbers
from seba.places.models import District, Facility

MAX_ROWS = 500


def district_filter(actor: Principal, action: str, district: str | None) -> list[str] | None:
    """The districts a list may show: the actor's, or the one asked for within reach."""
    if reach(actor, action) is Reach.ANY or actor.scope_kind == "state":
        return [district] if district else None
    home = home_district(actor)
    if home is None or (district and district != home):
        return []
    return [home]


async def list_ambulances(
    rt: Runtime, *, actor: Principal, district: str | None = None, status: str | None = None
) -> list[dict[str, Any]]:
    districts = district_filter(actor, "ambulance.read", district)
    query = (
        select(Ambulance, Facility.code)
        .join(Facility, Facility.id == Ambulance.base_facility_id)
        .order_by(Ambulance.district_code, Ambulance.registration)
        .limit(MAX_ROWS)
    )
    if districts is not None:
        query = query.where(Ambulance.district_code.in_(districts))
    if status:
        query = query.where(Ambulance.status == status)
    async with rt.db.read() as session:
        rows = (await session.execute(query)).all()
    return [ambulance_dict(a, code) for a, code in rows]


async def list_requests(
    rt: Runtime, *, actor: Principal, district: str | None = None, live: bool = True
) -> list[dict[str, Any]]:
    """Requests of the actor's reach, oldest first: the open and assigned ones (``live``), or
    the latest of all."""
    districts = district_filter(actor, "ambulance_request.read", district)
    query = select(AmbulanceRequest).limit(MAX_ROWS)
    if live:
        query = query.where(AmbulanceRequest.status.in_(("open", "assigned"))).order_by(
            AmbulanceRequest.created_at, AmbulanceRequest.id
        )
    else:
        query = query.order_by(AmbulanceRequest.id.desc())
    if districts is not None:
        query = query.where(AmbulanceRequest.district_code.in_(districts))
    # Contact phones and conditions are patient data: the listing is audited (read and audit
    # in one transaction).
    async with transactional(rt.db) as session:
        requests = list(await session.scalars(query))
        audit.record(
            session,
            actor=actor,
            action="patient.list",
            entity_type="ambulance_request",
            entity_id="board",
            after={"requests": [r.id for r in requests]},
        )
        trips = {
            t.request_id: t
            for t in await session.scalars(
                select(AmbulanceTrip).where(
                    AmbulanceTrip.request_id.in_([r.id for r in requests]),
                    AmbulanceTrip.status.in_(LIVE_TRIP),
                )
            )
        }
    return [
        {
            **request_dict(r),
            "trip": (
                {
                    "id": trips[r.id].id,
                    "status": trips[r.id].status,
                    "ambulance_id": trips[r.id].ambulance_id,
                }
                if r.id in trips
                else None
            ),
        }
        for r in requests
    ]


async def district_services(rt: Runtime, district: str) -> dict[str, Any]:
    """The public view of a district's ambulances: how many of each kind and how many are free
    now, and the hospitals they are based at with those hospitals' own numbers. No vehicle
    numbers and no drivers' phones: those go only to a family an ambulance is sent to."""
    async with rt.db.read() as session:
        found = await session.get(District, district)
        if found is None:
            raise NotFound("No such district.", code="district_not_found")
        counts = (
            await session.execute(
                select(Ambulance.kind, Ambulance.status, func.count())
                .where(Ambulance.district_code == district)
                .group_by(Ambulance.kind, Ambulance.status)
            )
        ).all()
        bases = list(
            await session.scalars(
                select(Facility)
                .where(
                    Facility.id.in_(
                        select(Ambulance.base_facility_id).where(
                            Ambulance.district_code == district
                        )
                    )
                )
                .order_by(Facility.name)
            )
        )
    kinds: dict[str, dict[str, int]] = {}
    for kind, status, n in counts:
        entry = kinds.setdefault(kind, {"total": 0, "free": 0})
        entry["total"] += n
        entry["free"] += n if status == "free" else 0
    return {
        "district": {"code": found.code, "name": found.name, "name_bn": found.name_bn},
        "kinds": [{"kind": k, **kinds[k]} for k in AMBULANCE_KINDS if k in kinds],
        "bases": [
            {
                "id": f.id,
                "name": f.name,
                "name_bn": f.name_bn,
                "phones": call_numbers(f.emergency_phone, f.reception_phone, f.phones or ()),
            }
            for f in bases
        ],
    }
