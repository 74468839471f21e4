"""Ambulance pages: the family's (``/ambulance/{reference}``: public; the reference travels by
SMS and the page shows no patient data, only the status, the vehicle and its driver's phone once
one is sent) and the driver's (``/ambulance/trip/{token}``: the link sent to the driver is the
key; large buttons, plain forms, no script needed on a weak network)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Path, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from pydantic import ValidationError
from starlette.datastructures import FormData

from seba.ambulances import dispatch, queries, trips
from seba.ambulances.schemas import CitizenRequestIn, TripStep
from seba.beds.hospital_pages import age_words
from seba.core.errors import Conflict, DomainError
from seba.core.http import get_runtime, request_language
from seba.core.phones import tel_uri
from seba.core.runtime import Runtime
from seba.core.types import utcnow
from seba.referrals.labels import CONDITION_LABELS
from seba.referrals.pages.citizen import then_query, then_target, verified_phone
from seba.referrals.pages.forms import district_options, districts
from seba.vocabulary import (
    AMBULANCE_KIND_LABELS,
    AMBULANCE_REQUEST_STATUS_LABELS,
    TRIP_STATUS_LABELS,
)
from seba.web import csrf
from seba.web.csrf import DoubleSubmit
from seba.web.render import render
from seba.web.session import form_text, say

router = APIRouter(include_in_schema=False)
DistrictPath = Annotated[str, Path(max_length=40, pattern=r"^[a-z0-9][a-z0-9-]{1,39}$")]


@router.get("/ambulances", response_class=HTMLResponse)
async def districts_page(request: Request, rt: Runtime = Depends(get_runtime)):
    """Choose a district (the public list of districts, in the reader's language)."""
    return render(
        request,
        "ambulances/districts.html",
        districts=district_options(request, await districts(rt)),
    )


@router.get("/ambulances/{district}", response_class=HTMLResponse)
async def district_page(
    request: Request, district: DistrictPath, rt: Runtime = Depends(get_runtime)
):
    """A district's free ambulance services, how to ask for one, in Bengali and English."""
    return render(
        request,
        "ambulances/district.html",
        info=await queries.district_services(rt, district),
        kind_labels=AMBULANCE_KIND_LABELS,
        tel_href=tel_uri,
    )


def location_age(request: Request, located_at: str) -> str:
    """How old a reported location is, as a person says it ("3 min ago"), in the reader's
    language (the census pages' words)."""
    seconds = (utcnow() - datetime.fromisoformat(located_at)).total_seconds()
    return age_words(request_language(request), seconds)[0]


@router.get("/ambulance/{reference}", response_class=HTMLResponse)
async def family_status_page(
    request: Request,
    reference: Annotated[str, Path(max_length=20, pattern=r"^[A-Za-z0-9-]+$")],
    rt: Runtime = Depends(get_runtime),
):
    found = await trips.family_status(rt, reference=reference)
    trip = found["trip"]
    located = trip["located_at"] if trip else None
    return render(
        request,
        "ambulances/status.html",
        found=found,
        request_labels=AMBULANCE_REQUEST_STATUS_LABELS,
        trip_labels=TRIP_STATUS_LABELS,
        kind_labels=AMBULANCE_KIND_LABELS,
        tel_href=tel_uri,
        location_age=location_age(request, located) if located else None,
    )


# The driver's forms have no session: a double-submit cookie scoped to the driver's pages.
DRIVER = DoubleSubmit(cookie="seba_driver_csrf", path="/ambulance/trip", purpose="driver")
Token = Annotated[str, Path(min_length=16, max_length=64, pattern=r"^[A-Za-z0-9_-]+$")]
# What a refused step tells the driver (the form's own words; the API has the error's).
DRIVER_MESSAGES = {
    "invalid_trip_step": "This step is not possible now. The page shows where the trip is.",
    "bad_location": "The location must be in West Bengal: latitude 21–27.5, longitude 85.5–90.",
}


async def _driver_page(
    request: Request, rt: Runtime, token: str, error: str | None = None, status_code: int = 200
) -> HTMLResponse:
    view = await trips.driver_view(rt, token=token)
    csrf_value = DRIVER.value_for(request)
    response = render(
        request,
        "ambulances/driver.html",
        status_code=status_code,
        view=view,
        token=token,
        csrf=csrf_value,
        error=DRIVER_MESSAGES.get(error) if error else None,
        trip_labels=TRIP_STATUS_LABELS,
        tel_href=tel_uri,
    )
    DRIVER.remember(request, response, csrf_value)
    return response


@router.get("/ambulance/trip/{token}", response_class=HTMLResponse)
async def driver_page(request: Request, token: Token, rt: Runtime = Depends(get_runtime)):
    return await _driver_page(request, rt, token)


@router.post("/ambulance/trip/{token}/step", response_class=HTMLResponse)
async def driver_step(
    request: Request,
    token: Token,
    form: FormData = Depends(DRIVER.form),
    rt: Runtime = Depends(get_runtime),
):
    lat, lon = form.get("lat") or None, form.get("lon") or None
    try:
        step = TripStep(to=form.get("to"), lat=lat, lon=lon)
    except ValidationError:
        return await _driver_page(request, rt, token, "bad_location", 422)
    try:
        await trips.driver_step(rt, token=token, data=step)
    except Conflict as exc:
        return await _driver_page(request, rt, token, exc.code, 409)
    return RedirectResponse(f"/ambulance/trip/{token}", status_code=303)


# ---------------------------------------------------------------- a family asks


ASK_PATH = "/admission/ambulance"  # under the family's pages: their code and cookies hold here
ASK_MESSAGES = {
    "form": "Please choose the district and say where the patient is: an address or a "
    "landmark, or use your location.",
}


async def _ask_page(
    request: Request,
    rt: Runtime,
    phone: str,
    *,
    status_code: int = 200,
    values: dict[str, str] | None = None,
    message: str | None = None,
) -> HTMLResponse:
    value = csrf.CITIZEN.value_for(request)
    response = render(
        request,
        "ambulances/ask.html",
        status_code,
        csrf=value,
        phone=phone,
        district_options=district_options(request, await districts(rt)),
        condition_labels=CONDITION_LABELS,
        values=values or {},
        message=message,
    )
    response.headers["Cache-Control"] = "no-store"
    csrf.CITIZEN.remember(request, response, value)
    return response


@router.get(ASK_PATH, response_class=HTMLResponse)
async def ask_page(request: Request, rt: Runtime = Depends(get_runtime)):
    """The family's request form, behind the referral pages' phone code."""
    phone = await verified_phone(request, rt)
    if phone is None:
        return RedirectResponse("/admission/phone?then=ambulance", status_code=303)
    return await _ask_page(request, rt, phone)


@router.post(ASK_PATH, response_class=HTMLResponse)
async def ask(
    request: Request,
    form: FormData = Depends(csrf.CITIZEN.form),
    rt: Runtime = Depends(get_runtime),
):
    phone = await verified_phone(request, rt)
    if phone is None:
        return RedirectResponse("/admission/phone?then=ambulance", status_code=303)
    fields = ("district", "lat", "lon", "address", "condition", "notes")
    values = {name: form_text(form, name).strip() for name in fields}
    try:
        data = CitizenRequestIn(**{k: v for k, v in values.items() if v})
    except ValidationError:
        message = say(request, ASK_MESSAGES["form"])
        return await _ask_page(request, rt, phone, status_code=422, values=values, message=message)
    try:
        made = await dispatch.submit_citizen_request(
            rt, phone=phone, data=data, lang=request_language(request)
        )
    except DomainError as exc:
        message = say(request, exc.message, **exc.params)
        return await _ask_page(
            request, rt, phone, status_code=exc.status_code, values=values, message=message
        )
    return RedirectResponse(f"/ambulance/{made['reference']}", status_code=303)


# ---------------------------------------------------------------- a family cancels

Reference = Annotated[str, Path(max_length=20, pattern=r"^[A-Za-z0-9-]+$")]


def _to_code(reference: str) -> RedirectResponse:
    """The phone code first, then back to this request's cancel page (``then_query`` keeps
    the reference only when it has the ``AM-…`` format; else the code leads to the ask form)."""
    then, ref = then_target("ambulance_cancel", reference)
    return RedirectResponse("/admission/phone" + then_query(then, ref), status_code=303)


async def _cancel_page(
    request: Request,
    phone: str,
    reference: str,
    *,
    status_code: int = 200,
    message: str | None = None,
) -> HTMLResponse:
    value = csrf.CITIZEN.value_for(request)
    response = render(
        request,
        "ambulances/cancel.html",
        status_code,
        csrf=value,
        phone=phone,
        reference=reference.upper(),
        message=message,
    )
    response.headers["Cache-Control"] = "no-store"
    csrf.CITIZEN.remember(request, response, value)
    return response


@router.get(ASK_PATH + "/{reference}/cancel", response_class=HTMLResponse)
async def cancel_page(request: Request, reference: Reference, rt: Runtime = Depends(get_runtime)):
    """Asks before cancelling, behind the phone code that made the request (the family's
    cookies live under ``/admission``, so the page does too)."""
    phone = await verified_phone(request, rt)
    if phone is None:
        return _to_code(reference)
    return await _cancel_page(request, phone, reference)


@router.post(ASK_PATH + "/{reference}/cancel", response_class=HTMLResponse)
async def cancel(
    request: Request,
    reference: Reference,
    form: FormData = Depends(csrf.CITIZEN.form),
    rt: Runtime = Depends(get_runtime),
):
    phone = await verified_phone(request, rt)
    if phone is None:
        return _to_code(reference)
    try:
        await trips.family_cancel(rt, phone=phone, reference=reference)
    except DomainError as exc:
        message = say(request, exc.message, **exc.params)
        return await _cancel_page(
            request, phone, reference, status_code=exc.status_code, message=message
        )
    return RedirectResponse(f"/ambulance/{reference.upper()}", status_code=303)
