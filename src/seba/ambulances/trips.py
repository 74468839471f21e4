"""The trip: ``assigned → en_route → at_scene → transporting → at_hospital → closed``, or
``cancelled`` before the patient is on board. Each step is one conditional update (``WHERE
status = :from``) with its time; the end of a trip frees the ambulance in the same
transaction. The driver moves the trip through their link (the token in it is their only key,
and only to that trip); a dispatcher may move it for them.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from seba.ambulances import notices
from seba.ambulances.dispatch import area_kind, load_request, pickup_point, rank, token_hash
from seba.ambulances.models import LIVE_TRIP, Ambulance, AmbulanceRequest, AmbulanceTrip
from seba.ambulances.schemas import Location, TripStep
from seba.ambulances.service import announce, event_districts
from seba.core import audit
from seba.core.access import Principal, require, require_on_facility
from seba.core.db import transactional
from seba.core.errors import Conflict, NotFound
from seba.core.runtime import Runtime
from seba.core.types import utcnow
from seba.places.models import Facility
from seba.referrals.steps import citizen_actor

# The one table of allowed moves; anything else is refused with 409 ``invalid_trip_step``.
NEXT: dict[str, tuple[str, ...]] = {
    "assigned": ("en_route", "cancelled"),
    "en_route": ("at_scene", "cancelled"),
    # At the scene the family may no longer need the ambulance (or the patient refuses).
    "at_scene": ("transporting", "cancelled"),
    # With the patient on board the trip ends only at a hospital.
    "transporting": ("at_hospital",),
    "at_hospital": ("closed",),
    "closed": (),
    "cancelled": (),
}
ENDED = ("closed", "cancelled")


def driver_actor(amb: Ambulance) -> Principal:
    """The driver acting through their link (for the audit log)."""
    return Principal(
        user_id=None, username=f"driver:{amb.registration}", role="driver", scope_kind="state"
    )


def trip_dict(trip: AmbulanceTrip) -> dict[str, Any]:
    def at(value: Any) -> str | None:
        return value.isoformat() if value else None

    return {
        "id": trip.id,
        "request_id": trip.request_id,
        "ambulance_id": trip.ambulance_id,
        "status": trip.status,
        "next": list(NEXT[trip.status]),
        "distance_km": trip.distance_km,
        "eta_min": trip.eta_min,
        "assigned_at": at(trip.assigned_at),
        **{f"{s}_at": at(getattr(trip, f"{s}_at")) for s in TRIP_TIMES},
    }


TRIP_TIMES = ("en_route", "at_scene", "transporting", "at_hospital", "closed", "cancelled")


async def _move(
    rt: Runtime,
    session: AsyncSession,
    trip: AmbulanceTrip,
    data: TripStep,
    actor: Principal,
) -> dict[str, Any]:
    """The step itself, in the caller's transaction."""
    allowed = NEXT[trip.status]
    if data.to not in allowed:
        raise invalid_step(trip.status, data.to)
    now = utcnow()
    values: dict[str, Any] = {"status": data.to, f"{data.to}_at": now}
    if data.to == "cancelled":
        values["cancel_reason"] = data.reason
    moved = await session.execute(
        update(AmbulanceTrip)
        .where(AmbulanceTrip.id == trip.id, AmbulanceTrip.status == trip.status)
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    if moved.rowcount != 1:
        current = await session.get(AmbulanceTrip, trip.id, populate_existing=True)
        raise invalid_step(current.status, data.to)
    before = trip.status
    trip = await session.get(AmbulanceTrip, trip.id, populate_existing=True)
    amb_values: dict[str, Any] = {"updated_at": now}
    if data.lat is not None:
        amb_values.update(lat=data.lat, lon=data.lon, located_at=now)
    if data.to in ENDED:
        amb_values["status"] = "free"
        req_values: dict[str, Any] = (
            {"status": "closed", "ended_at": now}
            # A cancelled trip sends the request back to wait for another ambulance (the
            # dispatcher closes it if the family no longer needs one).
            if data.to == "closed"
            else {"status": "open", "assigned_at": None}
        )
        await session.execute(
            update(AmbulanceRequest)
            .where(AmbulanceRequest.id == trip.request_id, AmbulanceRequest.status == "assigned")
            .values(**req_values)
            .execution_options(synchronize_session=False)
        )
    await session.execute(
        update(Ambulance)
        .where(Ambulance.id == trip.ambulance_id)
        .values(**amb_values)
        .execution_options(synchronize_session=False)
    )
    audit.record(
        session,
        actor=actor,
        action=f"ambulance_trip.{data.to}",
        entity_type="ambulance_trip",
        entity_id=trip.id,
        before={"status": before},
        after={"status": data.to, "reason": data.reason} if data.reason else {"status": data.to},
    )
    destination = await session.scalar(
        select(AmbulanceRequest.destination_facility_id).where(
            AmbulanceRequest.id == trip.request_id
        )
    )
    # ``facility_id``: the destination hospital's page refreshes for its own patients only.
    announce(
        rt,
        session,
        trip_id=trip.id,
        request_id=trip.request_id,
        ambulance_id=trip.ambulance_id,
        facility_id=destination,
        status=data.to,
        districts=await event_districts(
            session, request_id=trip.request_id, ambulance_id=trip.ambulance_id
        ),
    )
    return trip_dict(trip)


def invalid_step(status: str, to: str) -> Conflict:
    return Conflict(
        "The trip cannot go from this step to that one.",
        code="invalid_trip_step",
        details={"status": status, "to": to, "allowed": list(NEXT.get(status, ()))},
    )


async def _trip_by_token(session: AsyncSession, token: str) -> AmbulanceTrip:
    trip = await session.scalar(
        select(AmbulanceTrip)
        .where(AmbulanceTrip.driver_token_hash == token_hash(token))
        .execution_options(populate_existing=True)
    )
    if trip is None:
        raise NotFound("No such trip.", code="trip_not_found")
    return trip


async def driver_step(rt: Runtime, *, token: str, data: TripStep) -> dict[str, Any]:
    """The driver moves their trip (through the link). Raises NotFound, Conflict."""
    async with transactional(rt.db) as session:
        trip = await _trip_by_token(session, token)
        amb = await session.get(Ambulance, trip.ambulance_id)
        return await _move(rt, session, trip, data, driver_actor(amb))


async def staff_step(
    rt: Runtime, *, actor: Principal, trip_id: int, data: TripStep
) -> dict[str, Any]:
    """A dispatcher moves a trip of their district (the driver called in, or cannot)."""
    require(actor, "ambulance.dispatch")
    async with transactional(rt.db) as session:
        trip = await session.get(AmbulanceTrip, trip_id, populate_existing=True)
        if trip is None:
            raise NotFound("No such trip.", code="trip_not_found")
        await load_request(session, actor, "ambulance.dispatch", trip.request_id)
        return await _move(rt, session, trip, data, actor)


async def driver_location(rt: Runtime, *, token: str, data: Location) -> dict[str, Any]:
    """Where the ambulance is, from the driver's page, while the trip is live."""
    async with transactional(rt.db) as session:
        trip = await _trip_by_token(session, token)
        if trip.status not in LIVE_TRIP:
            raise Conflict(
                "This trip has ended.", code="trip_ended", details={"status": trip.status}
            )
        now = utcnow()
        await session.execute(
            update(Ambulance)
            .where(Ambulance.id == trip.ambulance_id)
            .values(lat=data.lat, lon=data.lon, located_at=now)
            .execution_options(synchronize_session=False)
        )
        announce(
            rt,
            session,
            trip_id=trip.id,
            ambulance_id=trip.ambulance_id,
            status=trip.status,
            districts=await event_districts(
                session, request_id=trip.request_id, ambulance_id=trip.ambulance_id
            ),
        )
    return {"lat": data.lat, "lon": data.lon, "located_at": now.isoformat()}


async def driver_view(rt: Runtime, *, token: str) -> dict[str, Any]:
    """What the driver's page shows: their trip, the pickup, the destination."""
    async with rt.db.read() as session:
        trip = await _trip_by_token(session, token)
        req = await session.get(AmbulanceRequest, trip.request_id)
        amb = await session.get(Ambulance, trip.ambulance_id)
        dest = (
            await session.get(Facility, req.destination_facility_id)
            if req.destination_facility_id
            else None
        )
    return {
        "trip": trip_dict(trip),
        "reference": req.reference,
        "vehicle": amb.registration,
        "pickup": {"lat": req.lat, "lon": req.lon, "address": req.address},
        "condition": req.condition,
        "contact_phone": req.contact_phone,
        "destination": _facility(dest),
    }


def _facility(f: Facility | None) -> dict[str, Any] | None:
    if f is None:
        return None
    return {
        "id": f.id,
        "name": f.name,
        "name_bn": f.name_bn,
        "address": f.address,
        "lat": f.lat,
        "lon": f.lon,
    }


async def cancel_request(
    rt: Runtime, *, actor: Principal, request_id: int, reason: str = ""
) -> dict[str, Any]:
    """Close a request the family no longer needs; a live trip is cancelled and its ambulance
    freed. Raises NotFound, Conflict ``request_ended``."""
    require(actor, "ambulance.dispatch")
    async with transactional(rt.db) as session:
        req = await load_request(session, actor, "ambulance.dispatch", request_id)
        await _end_request(rt, session, req, actor, reason)
    return {"id": req.id, "reference": req.reference, "status": "cancelled"}


# The family may cancel until the ambulance reaches them; from the scene on, the crew and
# the control room decide (the patient may be on board).
FAMILY_CANCELS = ("assigned", "en_route")


async def family_cancel(
    rt: Runtime, *, phone: str, reference: str, reason: str = ""
) -> dict[str, Any]:
    """The family cancels their own request, behind the verified phone that made it (another
    phone's request is not found). Raises NotFound, Conflict ``too_late_to_cancel``,
    ``request_ended``.

    The request row is locked first (PostgreSQL; SQLite's writers queue anyway), the row a
    dispatcher's assignment also takes first: an assignment at the same moment either waits
    and then finds the request cancelled (409 ``request_not_open``), or commits first and this
    cancel then sees its trip and cancels it, freeing the ambulance."""
    actor = citizen_actor(phone)
    async with transactional(rt.db) as session:
        req = await session.scalar(
            select(AmbulanceRequest)
            .where(AmbulanceRequest.reference == reference.upper())
            .with_for_update()
            .execution_options(populate_existing=True)
        )
        if req is None or req.contact_phone != phone:
            raise NotFound("No request with this reference.", code="ambulance_request_not_found")
        await _end_request(rt, session, req, actor, reason, trip_statuses=FAMILY_CANCELS)
    return {"reference": req.reference, "status": "cancelled"}


async def _end_request(
    rt: Runtime,
    session: AsyncSession,
    req: AmbulanceRequest,
    actor: Principal,
    reason: str,
    *,
    trip_statuses: tuple[str, ...] | None = None,
) -> None:
    """Cancel the request and its live trip (if its status is in ``trip_statuses``, when
    given), in the caller's transaction; the driver is told by SMS."""
    trip = await session.scalar(
        select(AmbulanceTrip).where(
            AmbulanceTrip.request_id == req.id, AmbulanceTrip.status.in_(LIVE_TRIP)
        )
    )
    if trip is not None:
        if trip_statuses is not None and trip.status not in trip_statuses:
            raise Conflict(
                "The ambulance has reached the patient: please call the driver or the "
                "control room.",
                code="too_late_to_cancel",
                details={"status": trip.status},
            )
        await _move(rt, session, trip, TripStep(to="cancelled", reason=reason), actor)
        amb = await session.get(Ambulance, trip.ambulance_id)
        notices.trip_cancelled(session, req, amb)
    ended = await session.execute(
        update(AmbulanceRequest)
        .where(AmbulanceRequest.id == req.id, AmbulanceRequest.status == "open")
        .values(status="cancelled", ended_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    if ended.rowcount != 1:
        raise Conflict(
            "This request has ended.", code="request_ended", details={"status": req.status}
        )
    audit.record(
        session,
        actor=actor,
        action="ambulance_request.cancel",
        entity_type="ambulance_request",
        entity_id=req.id,
        after={"status": "cancelled", "reason": reason},
    )
    announce(rt, session, request_id=req.id, status="cancelled", districts=[req.district_code])


async def family_status(rt: Runtime, *, reference: str) -> dict[str, Any]:
    """The family's view by reference: the request's status and, once an ambulance is sent,
    the vehicle and its driver's phone. No patient data (the reference travels by SMS)."""
    async with rt.db.read() as session:
        req = await session.scalar(
            select(AmbulanceRequest).where(AmbulanceRequest.reference == reference.upper())
        )
        if req is None:
            raise NotFound("No request with this reference.", code="ambulance_request_not_found")
        found = (
            await session.execute(
                select(AmbulanceTrip, Ambulance)
                .join(Ambulance, Ambulance.id == AmbulanceTrip.ambulance_id)
                .where(AmbulanceTrip.request_id == req.id)
                .order_by(AmbulanceTrip.id.desc())
                .limit(1)
            )
        ).first()
        dest = (
            await session.get(Facility, req.destination_facility_id)
            if req.destination_facility_id
            else None
        )
        trip = None
        if found is not None and found[0].status != "cancelled":
            t, amb = found
            trip = {
                "status": t.status,
                "vehicle": amb.registration,
                "kind": amb.kind,
                "driver_phone": amb.driver_phone,
                "assigned_at": t.assigned_at.isoformat(),
                **await _estimate(session, req, t, amb),
            }
    return {
        "reference": req.reference,
        "status": req.status,
        "created_at": req.created_at.isoformat(),
        "trip": trip,
        "destination": _facility(dest),
    }


# While the ambulance is still coming, its estimate follows its last report.
COMING = ("assigned", "en_route")


async def _estimate(
    session: AsyncSession, req: AmbulanceRequest, trip: AmbulanceTrip, amb: Ambulance
) -> dict[str, Any]:
    """The family's estimate: from the ambulance's last reported location when that report is
    newer than the assignment (by ``dispatch.rank``, the dispatcher's one distance-and-minutes
    rule), else the estimate made at assignment. ``eta_from`` says which, ``located_at`` how
    old the location is. Minutes are from the report, not from now: the page says its age
    rather than guess how far the vehicle drove since."""
    newer = (
        trip.status in COMING
        and amb.lat is not None
        and amb.lon is not None
        and amb.located_at is not None
        and amb.located_at > trip.assigned_at
    )
    if not newer:
        return {"eta_min": trip.eta_min, "eta_from": "assignment", "located_at": None}
    pickup = await pickup_point(session, req)
    ((_, _km, minutes),) = rank(
        pickup, [(amb.id, (amb.lat, amb.lon))], area_kind(req.district_code)
    )
    return {
        "eta_min": minutes,
        "eta_from": "location",
        "located_at": amb.located_at.isoformat(),
    }


async def incoming(rt: Runtime, *, actor: Principal, facility_id: int) -> list[dict[str, Any]]:
    """The ambulances on their way to a hospital with a patient for it (live trips whose
    request names it), for its staff: vehicle, status, estimate, condition. Audited (a
    condition is patient data)."""
    async with transactional(rt.db) as session:
        facility = await session.get(Facility, facility_id)
        if facility is None:
            raise NotFound("No such facility.", code="facility_not_found")
        require_on_facility(actor, "ambulance.incoming", facility)
        rows = (
            await session.execute(
                select(AmbulanceTrip, AmbulanceRequest, Ambulance)
                .join(AmbulanceRequest, AmbulanceRequest.id == AmbulanceTrip.request_id)
                .join(Ambulance, Ambulance.id == AmbulanceTrip.ambulance_id)
                .where(
                    AmbulanceRequest.destination_facility_id == facility_id,
                    AmbulanceTrip.status.in_(LIVE_TRIP),
                )
                .order_by(AmbulanceTrip.assigned_at)
            )
        ).all()
        audit.record(
            session,
            actor=actor,
            action="patient.list",
            entity_type="facility",
            entity_id=facility_id,
            after={"trips": [t.id for t, _r, _a in rows]},
        )
    return [
        {
            "trip_id": t.id,
            "status": t.status,
            "reference": r.reference,
            "condition": r.condition,
            "vehicle": a.registration,
            "driver_phone": a.driver_phone,
            "assigned_at": t.assigned_at.isoformat(),
            "transporting_at": t.transporting_at.isoformat() if t.transporting_at else None,
            "lat": a.lat,
            "lon": a.lon,
        }
        for t, r, a in rows
    ]
