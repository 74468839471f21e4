"""The dispatcher's board (``/staff/ambulances``): record a call, the open requests with the
free ambulances ranked nearest first, assign in one click, the trips under way. Live through
the staff pages' one stream (``/staff/events``, topic ``ambulances``) and the referral pages'
script, which fetches ``/staff/ambulances/live`` on an event."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

from babel.dates import format_date
from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import RedirectResponse, Response
from pydantic import ValidationError
from starlette.datastructures import FormData

from seba.ambulances import dispatch, figures, queries, trips
from seba.ambulances.schemas import StaffRequestIn
from seba.core.access import Principal
from seba.core.errors import DomainError
from seba.core.formats import PathId
from seba.core.http import get_runtime, request_language
from seba.core.i18n import IST, bn_digits
from seba.core.phones import tel_uri
from seba.core.runtime import Runtime
from seba.core.types import utcnow
from seba.places import queries as place_queries
from seba.referrals.labels import CONDITION_LABELS
from seba.referrals.pages.forms import LATIN_DIGITS, district_options
from seba.vocabulary import (
    AMBULANCE_KIND_LABELS,
    AMBULANCE_REQUEST_STATUS_LABELS,
    TRIP_STATUS_LABELS,
)
from seba.web.session import StaffRoute, form_text, permitted, render_staff, say, staff_form

router = APIRouter(include_in_schema=False, route_class=StaffRoute)

BOARD_PATH = "/staff/ambulances"
# Ranked choices shown per open request, and open requests ranked at once.
SHOWN_CHOICES = 3
RANKED_REQUESTS = 20
BOARD_MESSAGES = {
    "form": "Please check the call's details: a district, a place in West Bengal (map "
    "coordinates) or an address, the condition and a 10-digit mobile number.",
    "assigned": "Ambulance {vehicle} sent for {reference}.",
    "recorded": "Request {reference} recorded.",
}


async def _board(rt: Runtime, principal: Principal) -> dict[str, Any]:
    requests = await queries.list_requests(rt, actor=principal)
    choices: dict[int, list[dict[str, Any]]] = {}
    for r in [r for r in requests if r["status"] == "open"][:RANKED_REQUESTS]:
        ranked = await dispatch.candidates(rt, actor=principal, request_id=r["id"])
        choices[r["id"]] = ranked["ambulances"][:SHOWN_CHOICES]
    return {
        "requests": requests,
        "choices": choices,
        "request_labels": AMBULANCE_REQUEST_STATUS_LABELS,
        "trip_labels": TRIP_STATUS_LABELS,
        "kind_labels": AMBULANCE_KIND_LABELS,
        "condition_labels": CONDITION_LABELS,
    }


async def _page(
    request: Request,
    rt: Runtime,
    principal: Principal,
    *,
    status_code: int = 200,
    message: str | None = None,
    values: dict[str, str] | None = None,
) -> Response:
    scope = await place_queries.scope_choices(rt, actor=principal)
    return render_staff(
        request,
        "ambulances/board.html",
        status_code,
        **await _board(rt, principal),
        district_options=district_options(request, scope.districts),
        message=message,
        notice=_notice(request) if status_code == 200 else None,
        values=values or {},
    )


def _notice(request: Request) -> str | None:
    done = request.query_params.get("done")
    if done not in ("assigned", "recorded"):
        return None
    return say(
        request,
        BOARD_MESSAGES[done],
        reference=request.query_params.get("ref", "")[:12],
        vehicle=request.query_params.get("vehicle", "")[:16],
    )


@router.get(BOARD_PATH)
async def board(
    request: Request,
    principal: Principal = Depends(permitted("ambulance.dispatch")),
    rt: Runtime = Depends(get_runtime),
):
    return await _page(request, rt, principal)


@router.get(BOARD_PATH + "/live")
async def board_live(
    request: Request,
    principal: Principal = Depends(permitted("ambulance.dispatch")),
    rt: Runtime = Depends(get_runtime),
):
    """Only the lists, for the page's live refresh."""
    return render_staff(request, "ambulances/_board.html", **await _board(rt, principal))


@router.post(BOARD_PATH + "/requests")
async def record_call(
    request: Request,
    principal: Principal = Depends(permitted("ambulance_request.create")),
    form: FormData = Depends(staff_form),
    rt: Runtime = Depends(get_runtime),
):
    fields = ("district", "lat", "lon", "address", "condition", "contact_phone", "notes")
    values = {name: form_text(form, name) for name in fields}
    try:
        data = StaffRequestIn(
            **{k: v for k, v in values.items() if v.strip()}, source="control_room"
        )
        made = await dispatch.create_request(
            rt, actor=principal, data=data, lang=request_language(request)
        )
    except ValidationError:
        message = say(request, BOARD_MESSAGES["form"])
        return await _page(request, rt, principal, status_code=422, message=message, values=values)
    except DomainError as exc:
        message = say(request, exc.message, **exc.params)
        return await _page(
            request, rt, principal, status_code=exc.status_code, message=message, values=values
        )
    return RedirectResponse(f"{BOARD_PATH}?done=recorded&ref={made['reference']}", 303)


@router.post(BOARD_PATH + "/assign")
async def assign(
    request: Request,
    principal: Principal = Depends(permitted("ambulance.dispatch")),
    form: FormData = Depends(staff_form),
    rt: Runtime = Depends(get_runtime),
):
    try:
        request_id, ambulance_id = (
            int(form_text(form, "request_id")),
            int(form_text(form, "ambulance_id")),
        )
    except ValueError:
        return await _page(request, rt, principal, status_code=422, message=None)
    try:
        sent = await dispatch.assign(
            rt, actor=principal, request_id=request_id, ambulance_id=ambulance_id
        )
    except DomainError as exc:
        message = say(request, exc.message, **exc.params)
        return await _page(request, rt, principal, status_code=exc.status_code, message=message)
    return RedirectResponse(
        f"{BOARD_PATH}?done=assigned&ref={sent['request']}&vehicle={sent['ambulance']}", 303
    )


@router.post(BOARD_PATH + "/from-referral")
async def from_referral(
    request: Request,
    principal: Principal = Depends(permitted("ambulance_request.create")),
    form: FormData = Depends(staff_form),
    rt: Runtime = Depends(get_runtime),
):
    """The control room's "send an ambulance" on a bed hold: the request is made from the
    referral and the board shows it with its nearest free ambulances."""
    try:
        referral_id = int(form_text(form, "referral_id"))
    except ValueError:
        return await _page(request, rt, principal, status_code=422)
    try:
        made = await dispatch.request_from_referral(
            rt, actor=principal, referral_id=referral_id, lang=request_language(request)
        )
    except DomainError as exc:
        message = say(request, exc.message, **exc.params)
        return await _page(request, rt, principal, status_code=exc.status_code, message=message)
    return RedirectResponse(
        f"{BOARD_PATH}?done=recorded&ref={made['reference']}#req-{made['id']}", 303
    )


FIRST_DAY = date(2020, 1, 1)  # the figures API's first day


def _figures_day(raw: str, today: date) -> tuple[date, str | None]:
    """The day asked for (``?day=YYYY-MM-DD``, Bengali digits too) and what is wrong with it:
    a bad, too early or future day shows today with the sentence (never a 500)."""
    if not raw.strip():
        return today, None
    try:
        day = date.fromisoformat(raw.strip().translate(LATIN_DIGITS))
    except ValueError:
        return today, "Give a date like 2026-12-02."
    if day > today:
        return today, "That day has not come yet."
    if day < FIRST_DAY:
        return today, "Give a date like 2026-12-02."
    return day, None


@router.get(BOARD_PATH + "/figures")
async def figures_page(
    request: Request,
    day: Annotated[str, Query(max_length=20)] = "",
    principal: Principal = Depends(permitted("ambulance.figures")),
    rt: Runtime = Depends(get_runtime),
):
    """One day's figures per district (counts and times only): today, or the day picked."""
    today = utcnow().astimezone(IST).date()
    shown, error = _figures_day(day, today)
    scope = await place_queries.scope_choices(rt, actor=principal)
    names = dict(district_options(request, scope.districts))
    lang = request_language(request)
    label = format_date(shown, "d MMMM y", locale="bn_IN" if lang == "bn" else "en_IN")
    return render_staff(
        request,
        "ambulances/figures.html",
        status_code=422 if error else 200,
        found=await figures.figures(rt, actor=principal, day=shown),
        names=names,
        today=today,
        is_today=shown == today,
        day_label=bn_digits(label) if lang == "bn" else label,
        day_text=day if error else shown.isoformat(),
        day_error=say(request, error) if error else None,
    )


async def incoming_context(rt: Runtime, principal: Principal, facility_id: int) -> dict[str, Any]:
    """What ``ambulances/_incoming.html`` needs (the hospital's referral page includes it)."""
    return {
        "ambulances": await trips.incoming(rt, actor=principal, facility_id=facility_id),
        "trip_labels": TRIP_STATUS_LABELS,
        "condition_labels": CONDITION_LABELS,
        "tel_href": tel_uri,
    }


@router.get("/staff/facilities/{facility_id}/ambulances/live")
async def incoming_live(
    request: Request,
    facility_id: PathId,
    principal: Principal = Depends(permitted("ambulance.incoming")),
    rt: Runtime = Depends(get_runtime),
):
    """The hospital page's "ambulances coming" list, for its live refresh."""
    return render_staff(
        request, "ambulances/_incoming.html", **await incoming_context(rt, principal, facility_id)
    )
