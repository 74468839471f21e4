"""JSON routes for ambulances: the fleet (admins), requests and dispatch (control room), the
driver's link and the family's status by reference."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Path, Query, Request

from seba.accounts.bearer import current_principal
from seba.ambulances import dispatch, figures, queries, trips
from seba.ambulances import service as fleet
from seba.ambulances.schemas import (
    AmbulanceIn,
    AmbulanceUpdate,
    AssignIn,
    CancelIn,
    CitizenRequestIn,
    Location,
    StaffRequestIn,
    TripStep,
)
from seba.core.access import Principal
from seba.core.errors import ValidationFailed
from seba.core.formats import DistrictCode, PathId
from seba.core.http import get_runtime, request_language
from seba.core.openapi import errors
from seba.core.runtime import Runtime
from seba.places.service import MAX_IMPORT_BYTES
from seba.referrals import otp
from seba.referrals.api import PHONE_HEADER

router = APIRouter(prefix="/api/v1", tags=["ambulances"])

Reference = Annotated[str, Path(max_length=20, pattern=r"^[A-Za-z0-9-]+$")]
# The driver's link token (``secrets.token_urlsafe(24)``: 32 characters).
Token = Annotated[str, Path(min_length=16, max_length=64, pattern=r"^[A-Za-z0-9_-]+$")]

# ---------------------------------------------------------------- the fleet


@router.get("/ambulances", summary="The fleet in your scope")
async def list_ambulances(
    district: Annotated[DistrictCode | None, Query()] = None,
    status: Annotated[Literal["free", "busy", "off_duty"] | None, Query()] = None,
    actor: Principal = Depends(current_principal),
    rt: Runtime = Depends(get_runtime),
):
    return {
        "ambulances": await queries.list_ambulances(
            rt, actor=actor, district=district, status=status
        )
    }


@router.post(
    "/ambulances", status_code=201, summary="Add an ambulance (admins)", responses=errors(409)
)
async def create_ambulance(
    body: AmbulanceIn,
    actor: Principal = Depends(current_principal),
    rt: Runtime = Depends(get_runtime),
):
    return await fleet.create_ambulance(rt, actor=actor, data=body)


@router.patch(
    "/ambulances/{ambulance_id}",
    summary="Change an ambulance or take it off duty (admins)",
    responses=errors(409),
)
async def update_ambulance(
    ambulance_id: PathId,
    body: AmbulanceUpdate,
    actor: Principal = Depends(current_principal),
    rt: Runtime = Depends(get_runtime),
):
    return await fleet.update_ambulance(rt, actor=actor, ambulance_id=ambulance_id, data=body)


@router.post(
    "/ambulances/import",
    summary="Import ambulances from CSV (all or nothing; state admins)",
    openapi_extra={"requestBody": {"content": {"text/csv": {"schema": {"type": "string"}}}}},
)
async def import_ambulances(
    request: Request,
    actor: Principal = Depends(current_principal),
    rt: Runtime = Depends(get_runtime),
):
    raw = bytearray()
    async for chunk in request.stream():
        raw += chunk
        if len(raw) > MAX_IMPORT_BYTES:
            raise ValidationFailed("The file is too large.", code="file_too_large")
    try:
        text = bytes(raw).decode("utf-8-sig")
    except UnicodeDecodeError:
        raise ValidationFailed("The file must be UTF-8 text.", code="not_utf8") from None
    report = await fleet.import_ambulances(rt, actor=actor, text=text)
    return {"created": report.created, "updated": report.updated}


# ---------------------------------------------------------------- requests and dispatch


@router.post(
    "/ambulance-requests",
    status_code=201,
    summary="Record a call for an ambulance (helpline, control room)",
    responses=errors(409),
)
async def create_request(
    body: StaffRequestIn,
    request: Request,
    actor: Principal = Depends(current_principal),
    rt: Runtime = Depends(get_runtime),
):
    return await dispatch.create_request(rt, actor=actor, data=body, lang=request_language(request))


@router.post(
    "/ambulance-requests/citizen",
    status_code=201,
    summary="A family asks for an ambulance (after the phone's one-time code)",
    responses=errors(401),
)
async def citizen_request(
    body: CitizenRequestIn, request: Request, rt: Runtime = Depends(get_runtime)
):
    token = request.headers.get(PHONE_HEADER) or request.cookies.get("seba_phone")
    phone = await otp.phone_for_session(rt, token)
    return await dispatch.submit_citizen_request(
        rt, phone=phone, data=body, lang=request_language(request)
    )


@router.get("/ambulance-requests", summary="Open and assigned requests in your scope (audited)")
async def list_requests(
    district: Annotated[DistrictCode | None, Query()] = None,
    live: bool = True,
    actor: Principal = Depends(current_principal),
    rt: Runtime = Depends(get_runtime),
):
    return {"requests": await queries.list_requests(rt, actor=actor, district=district, live=live)}


@router.get(
    "/ambulance-requests/{request_id}/candidates",
    summary="Free ambulances for a request, nearest first, with an estimated arrival",
)
async def candidates(
    request_id: PathId,
    actor: Principal = Depends(current_principal),
    rt: Runtime = Depends(get_runtime),
):
    return await dispatch.candidates(rt, actor=actor, request_id=request_id)


@router.post(
    "/ambulance-requests/{request_id}/assign",
    status_code=201,
    summary="Send an ambulance (409 if the request or the ambulance was taken)",
    responses=errors(409),
)
async def assign(
    request_id: PathId,
    body: AssignIn,
    actor: Principal = Depends(current_principal),
    rt: Runtime = Depends(get_runtime),
):
    return await dispatch.assign(
        rt, actor=actor, request_id=request_id, ambulance_id=body.ambulance_id
    )


@router.post(
    "/ambulance-requests/{request_id}/cancel",
    summary="Close a request the family no longer needs (its live trip is cancelled)",
    responses=errors(409),
)
async def cancel_request(
    request_id: PathId,
    body: CancelIn | None = None,
    actor: Principal = Depends(current_principal),
    rt: Runtime = Depends(get_runtime),
):
    return await trips.cancel_request(
        rt, actor=actor, request_id=request_id, reason=body.reason if body else ""
    )


@router.get(
    "/ambulance-status/{reference}",
    summary="The family's view of a request by its reference (no patient data)",
)
async def family_status(reference: Reference, rt: Runtime = Depends(get_runtime)):
    return await trips.family_status(rt, reference=reference)


# ---------------------------------------------------------------- the trip


@router.post(
    "/ambulance-trips/{trip_id}/step",
    summary="Move a trip for its driver (dispatchers); 409 for a step not allowed",
    responses=errors(409),
)
async def staff_step(
    trip_id: PathId,
    body: TripStep,
    actor: Principal = Depends(current_principal),
    rt: Runtime = Depends(get_runtime),
):
    return await trips.staff_step(rt, actor=actor, trip_id=trip_id, data=body)


@router.get("/driver-trips/{token}", summary="The driver's trip (the link is the key)")
async def driver_trip(token: Token, rt: Runtime = Depends(get_runtime)):
    return await trips.driver_view(rt, token=token)


@router.post(
    "/driver-trips/{token}/step",
    summary="The driver moves the trip on; 409 for a step not allowed",
    responses=errors(409),
)
async def driver_step(token: Token, body: TripStep, rt: Runtime = Depends(get_runtime)):
    return await trips.driver_step(rt, token=token, data=body)


@router.post(
    "/driver-trips/{token}/location",
    summary="Where the ambulance is now (West Bengal only)",
    responses=errors(409),
)
async def driver_location(token: Token, body: Location, rt: Runtime = Depends(get_runtime)):
    return await trips.driver_location(rt, token=token, data=body)


@router.get(
    "/facilities/{facility_id}/incoming-ambulances",
    summary="Ambulances bringing a patient to this hospital (its staff; audited)",
)
async def incoming_ambulances(
    facility_id: PathId,
    actor: Principal = Depends(current_principal),
    rt: Runtime = Depends(get_runtime),
):
    return {"ambulances": await trips.incoming(rt, actor=actor, facility_id=facility_id)}


# ---------------------------------------------------------------- figures


@router.get(
    "/ambulance-figures",
    summary="Per district and day (IST): requests, times p50/p90, busy vs free, the promise",
)
async def ambulance_figures(
    district: Annotated[DistrictCode | None, Query()] = None,
    day: Annotated[
        date | None,
        Query(
            ge=date(2020, 1, 1),
            le=date(2099, 12, 31),
            description="YYYY-MM-DD, India time; today if left out",
        ),
    ] = None,
    actor: Principal = Depends(current_principal),
    rt: Runtime = Depends(get_runtime),
):
    return await figures.figures(rt, actor=actor, district=district, day=day)
