"""The CHO's page for one consult: where it stands (queue place, estimated wait, doctors
online), "Join now" when the doctor is ready, cancel while waiting, and once the doctor has
written it, the prescription (PDF, verification code) and what the centre handed over.

The page follows the consult while it is live: the script holds its event stream (``/events``,
``consults.streams``) and fetches ``state.json`` once per event and after a reconnect (no
patient data there, so no audit row per fetch); without JavaScript a ``<noscript>`` meta
refresh.
"""

from __future__ import annotations

import math

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response
from pydantic import ValidationError
from starlette.datastructures import FormData

from seba.core.access import Principal
from seba.core.errors import Conflict, ValidationFailed
from seba.core.runtime import Runtime
from seba.telemedicine.consults import queries
from seba.telemedicine.consults import service as consult_service
from seba.telemedicine.consults.schemas import MAX_REASON, CancelIn
from seba.telemedicine.pages.events import consult_stream
from seba.telemedicine.pages.forms import BASE, Cho, Form, Id, Message, Rt, schema_errors
from seba.telemedicine.pages.text import (
    LANGUAGE_NAMES,
    LIVE,
    PRIORITY_LABELS,
    SEX_LABELS,
    SPECIALTY_LABELS,
    STATUS_LABELS,
    latin_digits,
    vital_rows,
)
from seba.telemedicine.prescriptions import service as prescription_service
from seba.telemedicine.prescriptions.rules import MAX_ITEMS
from seba.telemedicine.prescriptions.schemas import MAX_NOTE, MAX_QUANTITY, DispensingIn
from seba.web.session import StaffRoute, form_text, permitted, render_staff, say

router = APIRouter(include_in_schema=False, route_class=StaffRoute)


def wait_text(request: Request, progress: queries.Progress) -> dict[str, str]:
    """The queue figures in words, for the page and for its poll."""
    state = progress.state
    wait = state.estimated_wait_s
    if wait is None:
        wait_words = say(request, "Cannot be estimated: no doctor for this consult is online now.")
    elif wait < 60:
        wait_words = say(request, "Less than a minute")
    else:
        wait_words = say(request, "About {minutes} minutes", minutes=math.ceil(wait / 60))
    return {
        "position": say(request, "{position} in the queue", position=state.position),
        "wait": wait_words,
        "online": say(request, "{n} doctors online for it", n=state.doctors_online),
    }


def _shown_status(status: str) -> str:
    # An offer the doctor has not accepted yet is, for the centre, still waiting.
    return "queued" if status == "offered" else status


@router.get(BASE + "/consults/{consult_id}")
async def consult_status(request: Request, consult_id: Id, rt: Rt, principal: Cho):
    return await _status_page(request, rt, principal, consult_id)


async def _status_page(
    request: Request,
    rt: Runtime,
    principal: Principal,
    consult_id: int,
    *,
    status_code: int = 200,
    message: Message | None = None,
    dispensing_errors: dict[int, Message] | None = None,
) -> Response:
    view = await queries.consult_view(rt, actor=principal, consult_id=consult_id)
    progress = await queries.consult_progress(rt, actor=principal, consult_id=consult_id)
    status = _shown_status(progress.state.consult.status)
    rx = view.prescription
    return render_staff(
        request,
        "telemedicine/consult_status.html",
        status_code,
        view=view,
        consult=progress.state.consult,
        status=status,
        status_labels=STATUS_LABELS,
        priority_labels=PRIORITY_LABELS,
        specialty_labels=SPECIALTY_LABELS,
        sex_labels=SEX_LABELS,
        language_names=LANGUAGE_NAMES,
        vitals=vital_rows(view.vitals),
        figures=wait_text(request, progress),
        join_left_s=progress.join_left_s,
        has_prescription=rx is not None,
        verify_path=f"/verify/{rx.verification_code}" if rx else None,
        live=status in LIVE,
        message=say(request, message[0], **message[1]) if message else None,
        max_reason=MAX_REASON,
        dispensing_errors={
            i: say(request, text, **params)
            for i, (text, params) in (dispensing_errors or {}).items()
        },
        dispensed_saved=request.query_params.get("dispensed") == "1" and status_code == 200,
    )


@router.get(BASE + "/consults/{consult_id}/state.json")
async def consult_state(request: Request, consult_id: Id, rt: Rt, principal: Cho):
    """What the status page fetches on an event: no patient data (so no audit row per fetch)."""
    progress = await queries.consult_progress(rt, actor=principal, consult_id=consult_id)
    status = _shown_status(progress.state.consult.status)
    body = {
        "status": status,
        "status_text": say(request, STATUS_LABELS[status]),
        "has_prescription": progress.has_prescription,
        "join_left_s": progress.join_left_s,
        "position": progress.state.position,
        "estimated_wait_s": progress.state.estimated_wait_s,
        "doctors_online": progress.state.doctors_online,
        "text": wait_text(request, progress),
    }
    return JSONResponse(body, headers={"Cache-Control": "no-store"})


@router.get(BASE + "/consults/{consult_id}/events")
async def consult_events(request: Request, consult_id: Id, rt: Rt, principal: Cho):
    """The page's live stream (``consults.streams``): ``state`` and queue ``position``."""
    token = request.state.session_token
    return await consult_stream(request, rt, actor=principal, consult_id=consult_id, token=token)


@router.post(BASE + "/consults/{consult_id}/join")
async def join_consult(request: Request, consult_id: Id, principal: Cho, form: Form, rt: Rt):
    try:
        await consult_service.join_consult(rt, actor=principal, consult_id=consult_id)
    except Conflict as exc:
        return await _status_page(
            request, rt, principal, consult_id, status_code=409, message=(exc.message, exc.params)
        )
    return RedirectResponse(f"{BASE}/consults/{consult_id}", status_code=303)


@router.post(BASE + "/consults/{consult_id}/cancel")
async def cancel_consult(request: Request, consult_id: Id, principal: Cho, form: Form, rt: Rt):
    # The reason is a courtesy to the doctor, not a record: a long one is cut, never refused.
    data = CancelIn(reason=form_text(form, "reason").strip()[:MAX_REASON])
    try:
        await consult_service.cancel_consult(rt, actor=principal, consult_id=consult_id, data=data)
    except Conflict as exc:
        return await _status_page(
            request, rt, principal, consult_id, status_code=409, message=(exc.message, exc.params)
        )
    return RedirectResponse(f"{BASE}/consults/{consult_id}", status_code=303)


QUANTITY_ERROR: Message = ("Enter how many were handed over: 0 to {max}.", {"max": MAX_QUANTITY})


def parse_dispensed_form(
    form: FormData, lines: int
) -> tuple[DispensingIn | None, dict[int, Message]]:
    """Read "what was handed over" into ``DispensingIn``: a quantity (and an optional note) per
    prescription line; lines left empty are not recorded. Returns the input, or the errors by
    line (None when nothing was entered at all)."""
    typed: list[dict[str, object]] = []
    for index in range(lines):
        quantity = latin_digits(form_text(form, f"qty-{index}").strip())
        note = form_text(form, f"note-{index}").strip()[:MAX_NOTE]
        if quantity or note:
            typed.append({"index": index, "quantity": quantity, "note": note})
    if not typed:
        return None, {}
    try:
        return DispensingIn.model_validate({"items": typed}), {}
    except ValidationError as exc:
        errors: dict[int, Message] = {}
        for loc, _ in schema_errors(exc, {"items": QUANTITY_ERROR}).items():
            row = loc[1] if len(loc) > 1 and isinstance(loc[1], int) else 0
            errors[int(typed[row]["index"])] = QUANTITY_ERROR  # type: ignore[arg-type]
        return None, errors


@router.post(BASE + "/consults/{consult_id}/dispensed")
async def record_dispensed(request: Request, consult_id: Id, principal: Cho, form: Form, rt: Rt):
    # At most as many lines as a prescription can have; the service checks the real count.
    data, errors = parse_dispensed_form(form, MAX_ITEMS)
    if data is None:
        return await _status_page(
            request,
            rt,
            principal,
            consult_id,
            status_code=422,
            message=("Enter how many were handed over for at least one medicine.", {}),
            dispensing_errors=errors,
        )
    try:
        await prescription_service.record_dispensing(
            rt, actor=principal, consult_id=consult_id, data=data
        )
    except ValidationFailed as exc:
        return await _status_page(
            request, rt, principal, consult_id, status_code=422, message=(exc.message, exc.params)
        )
    return RedirectResponse(f"{BASE}/consults/{consult_id}?dispensed=1", status_code=303)


@router.get(BASE + "/consults/{consult_id}/prescription.pdf")
async def prescription_pdf(
    consult_id: Id, rt: Rt, principal: Principal = Depends(permitted("prescription.read"))
):
    """The printable prescription, for the CHO of the spoke and the doctor who wrote it."""
    pdf, code = await prescription_service.prescription_pdf(
        rt, actor=principal, consult_id=consult_id
    )
    return Response(
        pdf,
        media_type="application/pdf",
        headers={
            "Content-Disposition": f'inline; filename="prescription-{code}.pdf"',
            "Cache-Control": "private, no-store",
        },
    )
