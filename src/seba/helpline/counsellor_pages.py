"""The counsellor's day (``/staff/counselling``): their sessions of a day (Asia/Kolkata) with
the phone to ring, marking each done or missed, and a private note per session on its own page
(``/staff/counselling/{id}/note``, so that opening the day reads no note and every note read is
one audited read). Plain forms, no JavaScript needed. Who may: ``counselling.work`` and
``counselling.note`` in the policy table (the counsellor's own sessions only)."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import RedirectResponse, Response
from starlette.datastructures import FormData

from seba.core.access import Principal
from seba.core.formats import PathId
from seba.core.http import get_runtime
from seba.core.i18n import IST
from seba.core.phones import tel_uri
from seba.core.runtime import Runtime
from seba.core.types import utcnow
from seba.helpline import counsellor_work
from seba.web.session import StaffRoute, form_text, permitted, render_staff, staff_form

router = APIRouter(include_in_schema=False, route_class=StaffRoute)
PAGE = "/staff/counselling"
Counsellor = Annotated[Principal, Depends(permitted("counselling.work"))]
NoteKeeper = Annotated[Principal, Depends(permitted("counselling.note"))]
Rt = Annotated[Runtime, Depends(get_runtime)]
STATUS_LABELS = {"booked": "Booked", "done": "Done", "missed": "Missed"}


def _day(value: str | None) -> date:
    today = utcnow().astimezone(IST).date()
    try:
        return date.fromisoformat(value or "") if value else today
    except ValueError:
        return today


@router.get(PAGE)
async def day_page(request: Request, actor: Counsellor, rt: Rt) -> Response:
    day = _day(request.query_params.get("day"))
    sessions = await counsellor_work.day(rt, actor=actor, day=day)
    now = utcnow()
    return render_staff(
        request,
        "helpline/counsellor.html",
        day=day,
        before=day - timedelta(days=1),
        after=day + timedelta(days=1),
        sessions=sessions,
        tel={s.id: tel_uri(s.phone) for s in sessions},
        begun={s.id: s.starts_at <= now for s in sessions},
        status_labels=STATUS_LABELS,
    )


@router.post(PAGE + "/{booking_id}/mark")
async def mark(
    booking_id: PathId,
    actor: Counsellor,
    rt: Rt,
    form: Annotated[FormData, Depends(staff_form)],
) -> Response:
    await counsellor_work.mark(
        rt, actor=actor, booking_id=booking_id, outcome=form_text(form, "outcome")
    )
    day = _day(form_text(form, "day"))
    return RedirectResponse(f"{PAGE}?day={day}", status_code=303)


@router.get(PAGE + "/{booking_id}/note")
async def note_page(booking_id: PathId, request: Request, actor: NoteKeeper, rt: Rt) -> Response:
    body = await counsellor_work.read_note(rt, actor=actor, booking_id=booking_id)
    # render_staff marks it no-store: a private note is never kept by a cache.
    return render_staff(
        request,
        "helpline/note.html",
        booking_id=booking_id,
        body=body,
        note_max=counsellor_work.NOTE_MAX,
        saved=request.query_params.get("saved") == "1",
    )


@router.post(PAGE + "/{booking_id}/note")
async def save_note(
    booking_id: PathId,
    actor: NoteKeeper,
    rt: Rt,
    form: Annotated[FormData, Depends(staff_form)],
) -> Response:
    await counsellor_work.write_note(
        rt, actor=actor, booking_id=booking_id, body=form_text(form, "note")
    )
    return RedirectResponse(f"{PAGE}/{booking_id}/note?saved=1", status_code=303)
