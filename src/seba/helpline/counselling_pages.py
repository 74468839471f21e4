"""The citizen's counselling booking page, ``/admission/counselling``: under the family pages'
path so that it shares their phone session and CSRF cookie (a phone verified once books a bed or
a session). Without a verified phone it leads to the one-time code (``?then=counselling``).
Plain forms, no JavaScript needed: choose a day, a free slot, book; move a booking to another
free slot in one step (``?move=ID`` shows the slots with a "move here" button); cancel a booking.
Crisis words in what the citizen writes show the emergency numbers at once (with the booking,
or with the refusal when the slot was taken meanwhile)."""

from __future__ import annotations

from datetime import date, datetime, timedelta

from fastapi import APIRouter, Depends, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy import select
from starlette.datastructures import FormData

from seba.core.errors import DomainError, ValidationFailed
from seba.core.formats import PathId
from seba.core.http import get_runtime, request_language
from seba.core.i18n import IST
from seba.core.runtime import Runtime
from seba.core.types import utcnow
from seba.helpline import counselling
from seba.helpline.crisis import EMERGENCY_NUMBERS, signals_crisis
from seba.helpline.models import CounsellingBooking
from seba.referrals.pages.citizen import CitizenRoute, verified_phone
from seba.web import csrf
from seba.web.render import render
from seba.web.session import form_text, say

router = APIRouter(include_in_schema=False, route_class=CitizenRoute)
PAGE = csrf.CITIZEN.path + "/counselling"
DAYS_SHOWN = 7


def _page(request: Request, status_code: int = 200, **context) -> Response:
    value = csrf.CITIZEN.value_for(request)
    response = render(
        request,
        "helpline/counselling.html",
        status_code,
        csrf=value,
        emergency=EMERGENCY_NUMBERS,
        **context,
    )
    response.headers["Cache-Control"] = "no-store"
    csrf.CITIZEN.remember(request, response, value)
    return response


async def _bookings(rt: Runtime, phone: str) -> list[CounsellingBooking]:
    async with rt.db.read() as session:
        return list(
            await session.scalars(
                select(CounsellingBooking)
                .where(
                    CounsellingBooking.phone == phone,
                    CounsellingBooking.status == "booked",
                    CounsellingBooking.starts_at >= utcnow(),
                )
                .order_by(CounsellingBooking.starts_at)
            )
        )


async def _show(
    request: Request, rt: Runtime, phone: str, status_code: int = 200, **context
) -> Response:
    today = utcnow().astimezone(IST).date()
    try:
        day = date.fromisoformat(request.query_params.get("day", "") or str(today))
        counselling.check_day(day)
    except (ValueError, ValidationFailed):
        day = today
    lang = request_language(request)
    slots = await counselling.free_slots(rt, day=day, lang=lang)
    bookings = await _bookings(rt, phone)
    move = request.query_params.get("move", "")
    query = request.query_params
    return _page(
        request,
        status_code,
        day=day,
        days=[today + timedelta(days=i) for i in range(DAYS_SHOWN)],
        slots=slots,
        bookings=bookings,
        moving=next((b for b in bookings if str(b.id) == move), None),
        booked=query.get("booked") == "1",
        moved=query.get("moved") == "1",
        crisis=context.pop("crisis", False) or query.get("crisis") == "1",
        **context,
    )


@router.get(PAGE)
async def counselling_page(request: Request, rt: Runtime = Depends(get_runtime)) -> Response:
    phone = await verified_phone(request, rt)
    if phone is None:
        return RedirectResponse(csrf.CITIZEN.path + "/phone?then=counselling", status_code=303)
    return await _show(request, rt, phone)


def _slot(form: FormData) -> tuple[int, datetime]:
    counsellor_id, _, start = form_text(form, "slot").partition("@")
    try:
        starts_at = datetime.fromisoformat(start)
        if starts_at.tzinfo is None or not counsellor_id.isdigit():
            raise ValueError(start)
    except ValueError:
        raise ValidationFailed("Choose a time.", code="slot_required") from None
    return int(counsellor_id), starts_at


@router.post(PAGE)
async def book(
    request: Request,
    form: FormData = Depends(csrf.CITIZEN.form),
    rt: Runtime = Depends(get_runtime),
) -> Response:
    phone = await verified_phone(request, rt)
    if phone is None:
        return RedirectResponse(csrf.CITIZEN.path + "/phone?then=counselling", status_code=303)
    said = form_text(form, "note")[:500]
    crisis = signals_crisis(said)
    lang = "en" if request_language(request) == "en" else "bn"
    try:
        counsellor_id, starts_at = _slot(form)
        await counselling.book(
            rt, phone=phone, counsellor_id=counsellor_id, starts_at=starts_at, lang=lang, said=said
        )
    except DomainError as exc:
        if not crisis:
            raise
        # Someone in crisis is never left with only an error: the numbers come first.
        return await _show(
            request,
            rt,
            phone,
            exc.status_code,
            crisis=True,
            problem=say(request, exc.message, **exc.params),
        )
    return RedirectResponse(PAGE + ("?booked=1&crisis=1" if crisis else "?booked=1"), 303)


@router.post(PAGE + "/{booking_id}/move")
async def move(
    booking_id: PathId,
    request: Request,
    form: FormData = Depends(csrf.CITIZEN.form),
    rt: Runtime = Depends(get_runtime),
) -> Response:
    phone = await verified_phone(request, rt)
    if phone is None:
        return RedirectResponse(csrf.CITIZEN.path + "/phone?then=counselling", status_code=303)
    counsellor_id, starts_at = _slot(form)
    await counselling.move(
        rt, phone=phone, booking_id=booking_id, counsellor_id=counsellor_id, starts_at=starts_at
    )
    return RedirectResponse(PAGE + "?moved=1", status_code=303)


@router.post(PAGE + "/{booking_id}/cancel")
async def cancel(
    booking_id: PathId,
    request: Request,
    form: FormData = Depends(csrf.CITIZEN.form),
    rt: Runtime = Depends(get_runtime),
) -> Response:
    phone = await verified_phone(request, rt)
    if phone is None:
        return RedirectResponse(csrf.CITIZEN.path + "/phone?then=counselling", status_code=303)
    await counselling.cancel(rt, phone=phone, booking_id=booking_id)
    return RedirectResponse(PAGE, status_code=303)
