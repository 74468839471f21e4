"""The hospital's pages: incoming referrals (confirm, reject, admit) and current admissions
(discharge, death, transfer), and a walk-in admitted at the door.

Each step is a plain POST form naming its facility, so a refusal is shown on that facility's
list; the referral service decides whether the referral is the actor's to act on. The page's
script refreshes the lists (``…/live``) when the staff event stream says something changed.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response
from starlette.datastructures import FormData

from seba.ambulances import board_pages as ambulance_pages
from seba.core.access import Principal, can
from seba.core.errors import DomainError, ValidationFailed
from seba.core.http import get_runtime
from seba.core.runtime import Runtime
from seba.places import queries as place_queries
from seba.referrals import admissions as referral_admissions
from seba.referrals import board as referral_board
from seba.referrals import service as referral_service
from seba.referrals.labels import FIX_BELOW
from seba.referrals.models import HOLDING
from seba.referrals.pages.forms import (
    PATIENT_FIELDS,
    Id,
    done,
    form_id,
    labels,
    notice,
    parsed,
    patient_payload,
    said,
    validated,
)
from seba.referrals.schemas import DischargeBody, RejectBody, TransferBody, WalkIn
from seba.web.session import StaffRoute, form_text, permitted, render_staff, say, staff_form

router = APIRouter(include_in_schema=False, route_class=StaffRoute)


def hospital_path(facility_id: int) -> str:
    return f"/staff/facilities/{facility_id}/referrals"


async def _hospital_lists(
    rt: Runtime, principal: Principal, facility_id: int
) -> dict[str, list[dict[str, Any]]]:
    items = await referral_board.facility_referrals(rt, actor=principal, facility_id=facility_id)
    return {
        "holds": [i for i in items if i["status"] in HOLDING],
        "admitted": [i for i in items if i["status"] == "admitted"],
    }


async def _hospital_page(
    request: Request,
    rt: Runtime,
    principal: Principal,
    facility_id: int,
    *,
    status_code: int = 200,
    message: str | None = None,
    values: dict[str, str] | None = None,
    errors: dict[str, str] | None = None,
) -> Response:
    lists = await _hospital_lists(rt, principal, facility_id)
    facility = await place_queries.facility_for(
        rt, actor=principal, facility_id=facility_id, action="referral.respond"
    )
    # The ambulances bringing it patients (issue 14), for staff who may see them.
    coming = (
        await ambulance_pages.incoming_context(rt, principal, facility_id)
        if can(principal, "ambulance.incoming")
        else None
    )
    return render_staff(
        request,
        "referrals/hospital.html",
        status_code,
        facility=facility,
        coming=coming,
        notice=notice(request) if status_code == 200 else None,
        message=message,
        values=values or {},
        errors=said(request, errors or {}),
        **lists,
        **labels(request),
    )


@router.get("/staff/facilities/{facility_id}/referrals")
async def hospital(
    request: Request,
    facility_id: Id,
    principal: Principal = Depends(permitted("referral.respond")),
    rt: Runtime = Depends(get_runtime),
):
    return await _hospital_page(request, rt, principal, facility_id)


@router.get("/staff/facilities/{facility_id}/referrals/live")
async def hospital_live(
    request: Request,
    facility_id: Id,
    principal: Principal = Depends(permitted("referral.respond")),
    rt: Runtime = Depends(get_runtime),
):
    lists = await _hospital_lists(rt, principal, facility_id)
    return render_staff(
        request,
        "referrals/_hospital.html",
        facility_id=facility_id,
        **lists,
        **labels(request),
    )


async def _hospital_step(
    request: Request,
    rt: Runtime,
    principal: Principal,
    form: FormData,
    step: Callable[[str | None], Awaitable[tuple[dict[str, Any], bool]]],
) -> Response:
    """Run one hospital step on a referral and go back to the hospital's list.

    The form names its facility (``facility_id``) so that a refusal can be shown on that list;
    the service decides whether the referral is the actor's to act on."""
    back = form_id(form, "facility_id")
    try:
        result, _ = await step(form_text(form, "idem") or None)
    except DomainError as exc:
        if back is None:
            raise
        return await _hospital_page(
            request,
            rt,
            principal,
            back,
            status_code=exc.status_code,
            message=say(request, exc.message, **exc.params),
        )
    return done(hospital_path(result["facility_id"]), result["status"], result["reference"])


@router.post("/staff/referrals/{referral_id}/confirm")
async def confirm(
    request: Request,
    referral_id: Id,
    principal: Principal = Depends(permitted("referral.respond")),
    form: FormData = Depends(staff_form),
    rt: Runtime = Depends(get_runtime),
):
    async def step(key: str | None):
        return await referral_service.confirm_referral(
            rt, actor=principal, referral_id=referral_id, idempotency_key=key
        )

    return await _hospital_step(request, rt, principal, form, step)


@router.post("/staff/referrals/{referral_id}/reject")
async def reject(
    request: Request,
    referral_id: Id,
    principal: Principal = Depends(permitted("referral.respond")),
    form: FormData = Depends(staff_form),
    rt: Runtime = Depends(get_runtime),
):
    async def step(key: str | None):
        body, _ = parsed(RejectBody, {"reason": form_text(form, "reason")})
        if body is None:
            raise ValidationFailed("Write why the patient cannot be taken (at least 3 letters).")
        return await referral_service.reject_referral(
            rt, actor=principal, referral_id=referral_id, reason=body.reason, idempotency_key=key
        )

    return await _hospital_step(request, rt, principal, form, step)


@router.post("/staff/referrals/{referral_id}/admit")
async def admit(
    request: Request,
    referral_id: Id,
    principal: Principal = Depends(permitted("referral.respond")),
    form: FormData = Depends(staff_form),
    rt: Runtime = Depends(get_runtime),
):
    async def step(key: str | None):
        return await referral_admissions.admit_referral(
            rt, actor=principal, referral_id=referral_id, idempotency_key=key
        )

    return await _hospital_step(request, rt, principal, form, step)


@router.post("/staff/admissions/{admission_id}/discharge")
async def discharge(
    request: Request,
    admission_id: Id,
    principal: Principal = Depends(permitted("referral.respond")),
    form: FormData = Depends(staff_form),
    rt: Runtime = Depends(get_runtime),
):
    async def step(key: str | None):
        data = validated(
            DischargeBody, outcome=form_text(form, "outcome"), reason=form_text(form, "reason")
        )
        return await referral_admissions.discharge_admission(
            rt, actor=principal, admission_id=admission_id, data=data, idempotency_key=key
        )

    return await _hospital_step(request, rt, principal, form, step)


@router.post("/staff/admissions/{admission_id}/transfer")
async def transfer(
    request: Request,
    admission_id: Id,
    principal: Principal = Depends(permitted("referral.respond")),
    form: FormData = Depends(staff_form),
    rt: Runtime = Depends(get_runtime),
):
    async def step(key: str | None):
        data = validated(
            TransferBody,
            need=form_text(form, "need"),
            condition=form_text(form, "condition"),
            reason=form_text(form, "reason"),
        )
        return await referral_admissions.transfer_admission(
            rt, actor=principal, admission_id=admission_id, data=data, idempotency_key=key
        )

    return await _hospital_step(request, rt, principal, form, step)


@router.post("/staff/facilities/{facility_id}/admissions")
async def walk_in(
    request: Request,
    facility_id: Id,
    principal: Principal = Depends(permitted("referral.respond")),
    form: FormData = Depends(staff_form),
    rt: Runtime = Depends(get_runtime),
):
    """A patient admitted at the door, without a referral."""
    values = {n: form_text(form, n).strip() for n in (*PATIENT_FIELDS, "bed_type", "condition")}
    values["covid_status"] = form_text(form, "covid_status")
    data, errors = parsed(
        WalkIn,
        {
            "patient": patient_payload(values),
            "bed_type": values["bed_type"],
            "condition": values["condition"],
            "covid_status": values["covid_status"],
        },
    )
    try:
        if data is None:
            raise ValidationFailed(FIX_BELOW)
        result, _ = await referral_admissions.admit_walk_in(
            rt,
            actor=principal,
            facility_id=facility_id,
            data=data,
            idempotency_key=form_text(form, "idem") or None,
        )
    except DomainError as exc:
        return await _hospital_page(
            request,
            rt,
            principal,
            facility_id,
            status_code=exc.status_code,
            message=say(request, exc.message, **exc.params),
            values=values,
            errors=errors,
        )
    return done(hospital_path(facility_id), "walk_in", result["reference"])
