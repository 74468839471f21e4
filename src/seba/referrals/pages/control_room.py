"""The control room's pages: the waiting queue with ranked free beds, holds (reserve, cancel,
move), a phone caller's request, and the board of counts and timings.

Every action is a plain POST form that works without JavaScript (post, redirect, get); the
page's script refreshes the queue part (``…/live``) when the staff event stream says something
changed. A refusal comes back as the page with the service's message, writing nothing.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response
from starlette.datastructures import FormData

from seba.core.access import Principal
from seba.core.errors import DomainError, ValidationFailed
from seba.core.http import get_runtime, request_language
from seba.core.runtime import Runtime
from seba.places import queries as place_queries
from seba.referrals import board as referral_board
from seba.referrals import service as referral_service
from seba.referrals.labels import FIELD_MESSAGES, FIX_BELOW
from seba.referrals.models import BED_NEEDS
from seba.referrals.pages.forms import (
    PATIENT_FIELDS,
    REQUEST_FIELDS,
    Id,
    beside_field,
    district_options,
    districts,
    done,
    form_id,
    labels,
    notice,
    parsed,
    patient_payload,
    request_payload,
    said,
    validated,
)
from seba.referrals.schemas import CallerRequest, MoveBody, Reason, ReferralCreate
from seba.web.session import StaffRoute, form_text, permitted, render_staff, say, staff_form

router = APIRouter(include_in_schema=False, route_class=StaffRoute)
CONTROL_PATH = "/staff/control-room"


async def _queue(request: Request, rt: Runtime, principal: Principal) -> dict[str, Any]:
    items, active = await referral_board.control_queue(rt, actor=principal)
    bn = request_language(request) == "bn"
    names = {d["code"]: d["name_bn"] if bn else d["name"] for d in await districts(rt)}
    return {"items": items, "active": active, "district_names": names}


async def _control_page(
    request: Request,
    rt: Runtime,
    principal: Principal,
    *,
    status_code: int = 200,
    message: str | None = None,
    values: dict[str, str] | None = None,
    errors: dict[str, str] | None = None,
) -> Response:
    choices = await place_queries.scope_choices(rt, actor=principal)
    return render_staff(
        request,
        "referrals/control_room.html",
        status_code,
        **await _queue(request, rt, principal),
        district_options=district_options(request, choices.districts),
        notice=notice(request) if status_code == 200 else None,
        message=message,
        values=values or {},
        errors=said(request, errors or {}),
        **labels(request),
    )


@router.get(CONTROL_PATH)
async def control_room(
    request: Request,
    principal: Principal = Depends(permitted("referral.reserve")),
    rt: Runtime = Depends(get_runtime),
):
    return await _control_page(request, rt, principal)


@router.get(CONTROL_PATH + "/live")
async def control_room_live(
    request: Request,
    principal: Principal = Depends(permitted("referral.reserve")),
    rt: Runtime = Depends(get_runtime),
):
    """Only the queue and the holds, for the page's live refresh."""
    return render_staff(
        request, "referrals/_queue.html", **await _queue(request, rt, principal), **labels(request)
    )


@router.post(CONTROL_PATH + "/reserve")
async def reserve(
    request: Request,
    principal: Principal = Depends(permitted("referral.reserve")),
    form: FormData = Depends(staff_form),
    rt: Runtime = Depends(get_runtime),
):
    try:
        data = validated(
            ReferralCreate,
            request_id=form_id(form, "request_id"),
            facility_id=form_id(form, "facility_id"),
            bed_type=form_text(form, "bed_type"),
        )
        result, _ = await referral_service.create_referral(
            rt, actor=principal, data=data, idempotency_key=form_text(form, "idem") or None
        )
    except DomainError as exc:
        return await _control_page(
            request,
            rt,
            principal,
            status_code=exc.status_code,
            message=say(request, exc.message, **exc.params),
        )
    return done(CONTROL_PATH, "reserved", result["reference"], "#holds")


@router.post("/staff/referrals/{referral_id}/cancel")
async def cancel(
    request: Request,
    referral_id: Id,
    principal: Principal = Depends(permitted("referral.cancel")),
    form: FormData = Depends(staff_form),
    rt: Runtime = Depends(get_runtime),
):
    try:
        reason = validated(Reason, reason=form_text(form, "reason")).reason
        result, _ = await referral_service.cancel_referral(
            rt,
            actor=principal,
            referral_id=referral_id,
            reason=reason,
            close_request=form.get("close") == "yes",
            idempotency_key=form_text(form, "idem") or None,
        )
    except DomainError as exc:
        return await _control_page(
            request,
            rt,
            principal,
            status_code=exc.status_code,
            message=say(request, exc.message, **exc.params),
        )
    return done(CONTROL_PATH, "cancelled", result["reference"], "#holds")


async def _move_page(
    request: Request,
    rt: Runtime,
    principal: Principal,
    referral_id: int,
    *,
    bed_type: str | None = None,
    status_code: int = 200,
    message: str | None = None,
) -> Response:
    """The hold and the hospitals in the operator's area with a matching free bed, nearest to
    the hospital it is leaving first."""
    hold = await referral_service.read_referral(rt, actor=principal, referral_id=referral_id)
    bed_type = bed_type if bed_type in BED_NEEDS else hold["bed_type"]
    choices = await referral_board.move_choices(
        rt,
        actor=principal,
        facility_id=hold["facility_id"],
        bed_type=bed_type,
        patient_sex=hold["patient"]["sex"],
    )
    return render_staff(
        request,
        "referrals/move.html",
        status_code,
        hold=hold,
        bed_type=bed_type,
        options_list=choices,
        # The nearest hospital whose census is fresh is offered ready to pick; one whose
        # census is old may have no bed any more, so it is never chosen for the operator
        # (and if every one is old, none is: the operator calls first and then picks).
        preselected=next((c["id"] for c in choices if not c["stale"]), None),
        message=message,
        **labels(request),
    )


@router.get("/staff/referrals/{referral_id}/move")
async def move_form(
    request: Request,
    referral_id: Id,
    principal: Principal = Depends(permitted("referral.cancel")),
    rt: Runtime = Depends(get_runtime),
):
    return await _move_page(
        request, rt, principal, referral_id, bed_type=request.query_params.get("bed_type")
    )


@router.post("/staff/referrals/{referral_id}/move")
async def move(
    request: Request,
    referral_id: Id,
    principal: Principal = Depends(permitted("referral.cancel")),
    form: FormData = Depends(staff_form),
    rt: Runtime = Depends(get_runtime),
):
    bed_type = form_text(form, "bed_type")
    try:
        data = validated(MoveBody, facility_id=form_id(form, "facility_id"), bed_type=bed_type)
        result = await referral_service.move_referral(
            rt, actor=principal, referral_id=referral_id, data=data
        )
    except DomainError as exc:
        return await _move_page(
            request,
            rt,
            principal,
            referral_id,
            bed_type=bed_type,
            status_code=exc.status_code,
            message=say(request, exc.message, **exc.params),
        )
    return done(CONTROL_PATH, "moved", result["reference"], "#holds")


@router.post(CONTROL_PATH + "/requests")
async def record_caller(
    request: Request,
    principal: Principal = Depends(permitted("request.create")),
    form: FormData = Depends(staff_form),
    rt: Runtime = Depends(get_runtime),
):
    """A phone caller's request, typed by the operator, joins the queue."""
    values = {n: form_text(form, n).strip() for n in (*PATIENT_FIELDS, *REQUEST_FIELDS)}
    consent = form.get("consent") == "yes"
    data, errors = parsed(
        CallerRequest,
        {**request_payload(values), "patient": patient_payload(values), "consent": consent},
    )
    if not consent:
        errors["consent"] = FIELD_MESSAGES["consent"]
    try:
        if data is None or errors:
            raise ValidationFailed(FIX_BELOW)
        result = await referral_service.create_caller_request(rt, actor=principal, data=data)
    except DomainError as exc:
        if exc.code == "out_of_scope":
            errors["district"] = FIELD_MESSAGES["district"]
        return await _control_page(
            request,
            rt,
            principal,
            status_code=exc.status_code,
            message=say(request, beside_field(exc, errors), **exc.params),
            values=values | {"consent": "yes" if consent else ""},
            errors=errors,
        )
    return done(CONTROL_PATH, "recorded", result["reference"], "#queue")


async def _board(rt: Runtime, principal: Principal) -> dict[str, Any]:
    return await referral_board.control_board(rt, actor=principal)


@router.get(CONTROL_PATH + "/board")
async def board(
    request: Request,
    principal: Principal = Depends(permitted("request.create")),
    rt: Runtime = Depends(get_runtime),
):
    """Counts and timings for the control room (no patient data)."""
    return render_staff(
        request, "referrals/board.html", board=await _board(rt, principal), **labels(request)
    )


@router.get(CONTROL_PATH + "/board/live")
async def board_live(
    request: Request,
    principal: Principal = Depends(permitted("request.create")),
    rt: Runtime = Depends(get_runtime),
):
    return render_staff(
        request, "referrals/_board.html", board=await _board(rt, principal), **labels(request)
    )
