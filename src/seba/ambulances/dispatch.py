"""Requests for an ambulance and dispatch: take a request, rank the free ambulances, assign one.

Assigning is one transaction that takes the request (``UPDATE … WHERE status = 'open'``), then
the ambulance (``UPDATE ambulance SET status = 'busy' WHERE id = :id AND status = 'free'``),
then writes the trip. Every dispatcher takes the two rows in that order, so two of them never
wait on each other in a cycle; whoever comes second finds the row moved and gets a 409. The
partial UNIQUE indexes on live trips (``models.py``) would refuse a second live trip even if
this code were wrong.

The estimate is straight-line distance × ``ROAD_FACTOR`` at the speed of the pickup's area
kind (``SPEED_KMH``): no road network is needed, and ``docs/ambulances.md`` says why.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, TypeVar

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from seba.ambulances import notices
from seba.ambulances.models import Ambulance, AmbulanceRequest, AmbulanceTrip
from seba.ambulances.schemas import CitizenRequestIn, StaffRequestIn
from seba.ambulances.service import announce, event_districts, may_reach, require_district
from seba.beds.queries import haversine_km
from seba.core import audit
from seba.core.access import Principal, require
from seba.core.db import transactional
from seba.core.errors import Conflict, NotFound, ValidationFailed
from seba.core.runtime import Runtime
from seba.core.types import utcnow
from seba.places.models import District, Facility
from seba.referrals.models import HOLDING, AdmissionRequest, Referral
from seba.referrals.steps import citizen_actor, new_reference

# Roads are longer than the straight line: 1.4 is the usual detour index for Indian towns and
# country roads alike (a measured one per district would replace it).
ROAD_FACTOR = 1.4
# Average ambulance speed by area kind, km/h: city traffic, and district roads.
SPEED_KMH = {"urban": 20.0, "rural": 35.0}
# Districts whose pickups are "urban" for the estimate (and for the promise, later).
URBAN_DISTRICTS = frozenset({"kolkata", "howrah"})
# When a district has no free ambulance, those of districts whose HQ lies within this
# straight-line distance of its HQ are offered ("neighbours").
NEIGHBOUR_KM = 120.0
MAX_CANDIDATES = 20
T = TypeVar("T")


def area_kind(district_code: str) -> str:
    return "urban" if district_code in URBAN_DISTRICTS else "rural"


def eta_minutes(distance_km: float, area: str) -> float:
    return round(distance_km * ROAD_FACTOR / SPEED_KMH[area] * 60, 1)


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass(frozen=True)
class Candidate:
    ambulance: Ambulance
    distance_km: float
    eta_min: float

    def as_dict(self) -> dict[str, Any]:
        a = self.ambulance
        return {
            "ambulance_id": a.id,
            "registration": a.registration,
            "kind": a.kind,
            "district": a.district_code,
            "driver_name": a.driver_name,
            "driver_phone": a.driver_phone,
            "distance_km": round(self.distance_km, 1),
            "eta_min": self.eta_min,
        }


# ---------------------------------------------------------------- requests


def request_dict(r: AmbulanceRequest) -> dict[str, Any]:
    return {
        "id": r.id,
        "reference": r.reference,
        "source": r.source,
        "status": r.status,
        "district": r.district_code,
        "lat": r.lat,
        "lon": r.lon,
        "address": r.address,
        "condition": r.condition,
        "notes": r.notes,
        "contact_phone": r.contact_phone,
        "destination_facility_id": r.destination_facility_id,
        "referral_id": r.referral_id,
        "created_at": r.created_at.isoformat(),
        "assigned_at": r.assigned_at.isoformat() if r.assigned_at else None,
    }


async def _destination(session: AsyncSession, code: str | None) -> int | None:
    if code is None:
        return None
    found = await session.scalar(select(Facility.id).where(Facility.code == code))
    if found is None:
        raise ValidationFailed(
            "Unknown facility.", code="unknown_facility", details={"facility": code}
        )
    return found


async def _check_district(session: AsyncSession, code: str) -> None:
    if await session.get(District, code) is None:
        raise ValidationFailed(
            "Unknown district.", code="unknown_district", details={"district": code}
        )


def _new_request(data: StaffRequestIn | CitizenRequestIn, **values: Any) -> AmbulanceRequest:
    return AmbulanceRequest(
        reference=new_reference("AM"),
        status="open",
        district_code=data.district,
        lat=data.lat,
        lon=data.lon,
        address=data.address,
        condition=data.condition,
        notes=data.notes,
        created_at=utcnow(),
        **values,
    )


async def _from_referral(session: AsyncSession, actor: Principal, referral_id: int) -> int:
    """The hospital holding the patient's bed, for a request made from a referral."""
    found = (
        await session.execute(
            select(Referral, AdmissionRequest.district_code)
            .join(AdmissionRequest, AdmissionRequest.id == Referral.request_id)
            .where(Referral.id == referral_id)
        )
    ).first()
    if found is None or not may_reach(actor, "ambulance_request.create", found[1]):
        raise NotFound("No such referral.", code="referral_not_found")
    if found[0].status not in HOLDING:
        raise Conflict(
            "This referral holds no bed now.",
            code="referral_not_holding",
            details={"status": found[0].status},
        )
    return found[0].facility_id


async def create_request(
    rt: Runtime, *, actor: Principal, data: StaffRequestIn, lang: str = "bn"
) -> dict[str, Any]:
    """The helpline or control room records a call. Raises ValidationFailed (unknown district
    or facility), PermissionDenied ``out_of_scope``, NotFound (referral), Conflict."""
    require(actor, "ambulance_request.create")
    require_district(actor, "ambulance_request.create", data.district)
    async with transactional(rt.db) as session:
        await _check_district(session, data.district)
        destination = await _destination(session, data.destination_facility)
        if data.referral_id is not None:
            destination = await _from_referral(session, actor, data.referral_id)
        req = _new_request(
            data,
            source=data.source,
            contact_phone=data.contact_phone,
            destination_facility_id=destination,
            referral_id=data.referral_id,
            lang=lang,
            created_by=actor.username,
        )
        session.add(req)
        await session.flush()
        out = request_dict(req)
        audit.record(
            session,
            actor=actor,
            action="ambulance_request.create",
            entity_type="ambulance_request",
            entity_id=req.id,
            after={"reference": req.reference, "source": req.source},
        )
        announce(rt, session, request_id=req.id, status="open", districts=[req.district_code])
    return out


async def submit_citizen_request(
    rt: Runtime, *, phone: str, data: CitizenRequestIn, lang: str = "bn"
) -> dict[str, Any]:
    """A family asks for an ambulance behind a verified phone (which is the contact phone)."""
    actor = citizen_actor(phone)
    async with transactional(rt.db) as session:
        await _check_district(session, data.district)
        req = _new_request(
            data,
            source="citizen",
            contact_phone=phone,
            destination_facility_id=await _destination(session, data.destination_facility),
            lang=lang,
            created_by=actor.username,
        )
        session.add(req)
        await session.flush()
        out = request_dict(req)
        audit.record(
            session,
            actor=actor,
            action="ambulance_request.submit",
            entity_type="ambulance_request",
            entity_id=req.id,
            after={"reference": req.reference},
        )
        notices.request_received(session, req)
        announce(rt, session, request_id=req.id, status="open", districts=[req.district_code])
    return out


async def load_request(
    session: AsyncSession, actor: Principal, action: str, request_id: int
) -> AmbulanceRequest:
    row = await session.get(AmbulanceRequest, request_id, populate_existing=True)
    if row is None or not may_reach(actor, action, row.district_code):
        raise NotFound("No such ambulance request.", code="ambulance_request_not_found")
    return row


# ---------------------------------------------------------------- ranking


async def pickup_point(session: AsyncSession, req: AmbulanceRequest) -> tuple[float, float]:
    if req.lat is not None and req.lon is not None:
        return req.lat, req.lon
    district = await session.get(District, req.district_code)
    return district.lat, district.lon


async def _neighbours(session: AsyncSession, district_code: str) -> list[str]:
    districts = list(await session.scalars(select(District)))
    home = next(d for d in districts if d.code == district_code)
    return [
        d.code
        for d in districts
        if d.code != district_code
        and haversine_km((home.lat, home.lon), (d.lat, d.lon)) <= NEIGHBOUR_KM
    ]


async def _free_in(
    session: AsyncSession, districts: list[str], pickup: tuple[float, float], area: str
) -> list[Candidate]:
    rows = await session.execute(
        _placed().where(Ambulance.status == "free", Ambulance.district_code.in_(districts))
    )
    placed = sorted(((row[0], _position(row)) for row in rows), key=lambda p: p[0].id)
    ranked = rank(pickup, placed, area)
    return [Candidate(amb, km, eta) for amb, km, eta in ranked[:MAX_CANDIDATES]]


def _placed():
    """Ambulances with what says where they are: their last report, their base, their HQ."""
    return (
        select(Ambulance, Facility.lat, Facility.lon, District.lat, District.lon)
        .join(Facility, Facility.id == Ambulance.base_facility_id)
        .join(District, District.code == Ambulance.district_code)
    )


def _position(row: Any) -> tuple[float, float]:
    amb, f_lat, f_lon, d_lat, d_lon = row
    if amb.lat is not None and amb.lon is not None:
        return amb.lat, amb.lon
    if f_lat is not None and f_lon is not None:
        return f_lat, f_lon
    return d_lat, d_lon


def rank(
    pickup: tuple[float, float], placed: Iterable[tuple[T, tuple[float, float]]], area: str
) -> list[tuple[T, float, float]]:
    """(thing, km, minutes) nearest first: the one ranking rule, for the dispatcher's list and
    for ``seba simulate ambulances`` alike. Ties keep the given order (ids ascending)."""
    scored = [(thing, haversine_km(pickup, at)) for thing, at in placed]
    scored.sort(key=lambda pair: pair[1])
    return [(thing, km, eta_minutes(km, area)) for thing, km in scored]


def _candidate(row: Any, pickup: tuple[float, float], area: str) -> Candidate:
    ((amb, km, eta),) = rank(pickup, [(row[0], _position(row))], area)
    return Candidate(amb, km, eta)


async def candidates(rt: Runtime, *, actor: Principal, request_id: int) -> dict[str, Any]:
    """The free ambulances for a request, nearest first with an estimated arrival: its
    district's, or when none is free, its neighbours'."""
    require(actor, "ambulance.dispatch")
    async with rt.db.read() as session:
        req = await load_request(session, actor, "ambulance.dispatch", request_id)
        pickup = await pickup_point(session, req)
        area = area_kind(req.district_code)
        ranked = await _free_in(session, [req.district_code], pickup, area)
        widened = not ranked
        if widened:
            ranked = await _free_in(
                session, await _neighbours(session, req.district_code), pickup, area
            )
    return {
        "request": request_dict(req),
        "area": area,
        "neighbours": widened,
        "ambulances": [c.as_dict() for c in ranked],
    }


# ---------------------------------------------------------------- assigning


async def assign(
    rt: Runtime, *, actor: Principal, request_id: int, ambulance_id: int
) -> dict[str, Any]:
    """Send a free ambulance to an open request: request → assigned, ambulance → busy, a trip
    with the driver's link; SMS to the family (vehicle, driver's phone) and to the driver (the
    link) through the outbox. Raises NotFound, Conflict ``request_not_open`` /
    ``ambulance_not_free``; nothing is written on any error.
    """
    require(actor, "ambulance.dispatch")
    token = secrets.token_urlsafe(24)
    async with transactional(rt.db) as session:
        now = utcnow()
        req = await load_request(session, actor, "ambulance.dispatch", request_id)
        taken = await session.execute(
            update(AmbulanceRequest)
            .where(AmbulanceRequest.id == req.id, AmbulanceRequest.status == "open")
            .values(status="assigned", assigned_at=now)
            .execution_options(synchronize_session=False)
        )
        if taken.rowcount != 1:
            current = await session.get(AmbulanceRequest, req.id, populate_existing=True)
            raise Conflict(
                "This request is not waiting for an ambulance.",
                code="request_not_open",
                details={"status": current.status},
            )
        if await session.get(Ambulance, ambulance_id) is None:
            raise NotFound("No such ambulance.", code="ambulance_not_found")
        moved = await session.execute(
            update(Ambulance)
            .where(Ambulance.id == ambulance_id, Ambulance.status == "free")
            .values(status="busy", updated_at=now)
            .execution_options(synchronize_session=False)
        )
        if moved.rowcount != 1:
            raise Conflict(
                "This ambulance is not free.",
                code="ambulance_not_free",
                details={"ambulance_id": ambulance_id},
            )
        req = await session.get(AmbulanceRequest, request_id, populate_existing=True)
        row = (
            await session.execute(
                _placed()
                .where(Ambulance.id == ambulance_id)
                .execution_options(populate_existing=True)
            )
        ).one()
        estimate = _candidate(row, await pickup_point(session, req), area_kind(req.district_code))
        amb = estimate.ambulance
        trip = AmbulanceTrip(
            request_id=req.id,
            ambulance_id=amb.id,
            status="assigned",
            driver_token_hash=token_hash(token),
            distance_km=round(estimate.distance_km, 2),
            eta_min=estimate.eta_min,
            assigned_by=actor.username,
            assigned_at=now,
        )
        session.add(trip)
        try:
            await session.flush()
        except IntegrityError:
            # Only reachable if the conditional updates above were bypassed: the schema's
            # guarantee (one live trip per ambulance and per request) answers as a conflict.
            raise Conflict("This ambulance is not free.", code="ambulance_not_free") from None
        audit.record(
            session,
            actor=actor,
            action="ambulance.dispatch",
            entity_type="ambulance_trip",
            entity_id=trip.id,
            after={"request": req.reference, "ambulance": amb.registration},
        )
        link = f"{rt.settings.public_base_url.rstrip('/')}/ambulance/trip/{token}"
        notices.assigned(session, req, amb, trip)
        notices.driver_link(session, req, amb, link)
        announce(
            rt,
            session,
            request_id=req.id,
            trip_id=trip.id,
            ambulance_id=amb.id,
            facility_id=req.destination_facility_id,
            status="assigned",
            districts=await event_districts(session, request_id=req.id, ambulance_id=amb.id),
        )
    return {
        "trip_id": trip.id,
        "request": req.reference,
        "ambulance": amb.registration,
        "driver_phone": amb.driver_phone,
        "distance_km": trip.distance_km,
        "eta_min": trip.eta_min,
        "driver_link": link,
    }


async def request_from_referral(
    rt: Runtime, *, actor: Principal, referral_id: int, lang: str = "bn"
) -> dict[str, Any]:
    """ "Send an ambulance" from a bed hold, in one click: the family's district, location,
    condition and phone from their admission request; the hospital holding the bed as the
    destination. Without a location the pickup says to ask the family (the dispatcher calls
    them from the board). Raises NotFound, Conflict ``referral_not_holding``."""
    async with rt.db.read() as session:
        found = (
            await session.execute(
                select(AdmissionRequest)
                .join(Referral, Referral.request_id == AdmissionRequest.id)
                .where(Referral.id == referral_id)
            )
        ).scalar_one_or_none()
    if found is None or not may_reach(actor, "ambulance_request.create", found.district_code):
        raise NotFound("No such referral.", code="referral_not_found")
    data = StaffRequestIn(
        district=found.district_code,
        lat=found.lat,
        lon=found.lon,
        address="" if found.lat is not None else f"Referral {found.reference}: ask the family",
        condition=found.condition,
        contact_phone=found.phone,
        referral_id=referral_id,
        source="control_room",
    )
    return await create_request(rt, actor=actor, data=data, lang=lang)
