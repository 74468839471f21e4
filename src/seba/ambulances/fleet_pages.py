"""The fleet admin page (``/staff/ambulances/fleet``): a district's ambulances, add one, edit
one. Plain forms with the staff CSRF, no script; who may is ``ambulance.manage`` (POLICY),
the district's reach is the service's (``service.require_district``)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import RedirectResponse, Response
from pydantic import ValidationError
from starlette.datastructures import FormData

from seba.ambulances import queries
from seba.ambulances import service as fleet
from seba.ambulances.pages import location_age
from seba.ambulances.schemas import AmbulanceIn, AmbulanceUpdate
from seba.core.access import Principal, home_district
from seba.core.errors import Conflict, PermissionDenied, ValidationFailed
from seba.core.formats import PathId
from seba.core.http import get_runtime, request_language
from seba.core.runtime import Runtime
from seba.places import queries as place_queries
from seba.referrals.pages.forms import district_options
from seba.vocabulary import AMBULANCE_KIND_LABELS, AMBULANCE_STATUS_LABELS
from seba.web.session import StaffRoute, form_text, permitted, render_staff, say, staff_form

router = APIRouter(include_in_schema=False, route_class=StaffRoute)

FLEET_PATH = "/staff/ambulances/fleet"
FIELDS = ("registration", "kind", "base_facility", "driver_name", "driver_phone", "status")
# Pydantic explains problems in developer English; the form says what to type instead.
FLEET_FIELD_MESSAGES = {
    "registration": "An Indian registration number, e.g. WB 06 AB 1234.",
    "kind": "Choose the kind of ambulance.",
    "base_facility": "Choose the hospital it is based at.",
    "driver_name": "Write the driver's name (2 to 120 letters).",
    "driver_phone": "A 10-digit Indian mobile number, e.g. 98300 12345.",
    "status": "Choose free or off duty.",
}
# Which field a service's refusal is about.
ERROR_FIELDS = {
    "registration_taken": "registration",
    "unknown_facility": "base_facility",
    "out_of_scope": "base_facility",
    "ambulance_busy": "status",
}
DistrictQuery = Annotated[str | None, Query(max_length=40, pattern=r"^[a-z0-9-]*$")]


def _district(principal: Principal, asked: str | None) -> str | None:
    """The district the page is about: the one asked for (403 outside the admin's reach), else
    the admin's own; a state admin who asked for none chooses first."""
    district = asked or home_district(principal)
    if district:
        fleet.require_district(principal, "ambulance.manage", district)
    return district


def _located(request: Request, located_at: str | None) -> str:
    return location_age(request, located_at) if located_at else say(request, "No report yet")


async def _choices(request: Request, rt: Runtime, principal: Principal) -> dict[str, Any]:
    scope = await place_queries.scope_choices(rt, actor=principal)
    return {
        "districts": district_options(request, scope.districts),
        "facilities": scope.facilities,
        "kind_labels": AMBULANCE_KIND_LABELS,
        "status_labels": AMBULANCE_STATUS_LABELS,
    }


@router.get(FLEET_PATH)
async def fleet_page(
    request: Request,
    district: DistrictQuery = None,
    principal: Principal = Depends(permitted("ambulance.manage")),
    rt: Runtime = Depends(get_runtime),
):
    chosen = _district(principal, district)
    rows = await queries.list_ambulances(rt, actor=principal, district=chosen) if chosen else []
    for row in rows:
        row["located"] = _located(request, row["located_at"])
    return render_staff(
        request,
        "ambulances/fleet.html",
        **await _choices(request, rt, principal),
        district=chosen or "",
        rows=rows,
        saved=request.query_params.get("saved") == "1",
    )


async def _form(
    request: Request,
    rt: Runtime,
    principal: Principal,
    *,
    ambulance: dict[str, Any] | None,
    values: dict[str, str],
    district: str | None,
    status_code: int = 200,
    errors: dict[str, str] | None = None,
    message: str | None = None,
) -> Response:
    choices = await _choices(request, rt, principal)
    bn = request_language(request) == "bn"
    bases = sorted(
        (
            (f.code, f.name_bn if bn and f.name_bn else f.name)
            for f in choices.pop("facilities")
            if f.code and (district is None or f.district_code == district)
        ),
        key=lambda pair: pair[1],
    )
    return render_staff(
        request,
        "ambulances/fleet_form.html",
        status_code,
        **choices,
        bases=bases,
        ambulance=ambulance,
        values=values,
        district=district or "",
        errors=errors or {},
        message=message,
    )


def _values(form: FormData) -> dict[str, str]:
    return {name: form_text(form, name).strip() for name in FIELDS}


async def _refused(
    request: Request,
    rt: Runtime,
    principal: Principal,
    exc: ValidationError | ValidationFailed | Conflict | PermissionDenied,
    **context: Any,
) -> Response:
    """The form again with why, next to the field it is about; nothing was written."""
    if isinstance(exc, ValidationError):
        errors = {}
        for err in exc.errors():
            name = str(err["loc"][0]) if err["loc"] else ""
            text = FLEET_FIELD_MESSAGES.get(name, "Some fields are not valid.")
            errors.setdefault(name, say(request, text))
        status_code, message = 422, say(request, "Some fields are not valid.")
    else:
        message = say(request, exc.message, **exc.params)
        errors = {ERROR_FIELDS[exc.code]: message} if exc.code in ERROR_FIELDS else {}
        status_code = exc.status_code
    return await _form(
        request, rt, principal, status_code=status_code, errors=errors, message=message, **context
    )


@router.get(FLEET_PATH + "/new")
async def new_ambulance(
    request: Request,
    district: DistrictQuery = None,
    principal: Principal = Depends(permitted("ambulance.manage")),
    rt: Runtime = Depends(get_runtime),
):
    values = dict.fromkeys(FIELDS, "") | {"status": "free"}
    chosen = _district(principal, district)
    return await _form(request, rt, principal, ambulance=None, values=values, district=chosen)


@router.post(FLEET_PATH + "/new")
async def add_ambulance(
    request: Request,
    district: DistrictQuery = None,
    principal: Principal = Depends(permitted("ambulance.manage")),
    form: FormData = Depends(staff_form),
    rt: Runtime = Depends(get_runtime),
):
    chosen = _district(principal, district)
    values = _values(form)
    try:
        data = AmbulanceIn(**{k: v for k, v in values.items() if v})
        made = await fleet.create_ambulance(rt, actor=principal, data=data)
    except (ValidationError, ValidationFailed, Conflict, PermissionDenied) as exc:
        return await _refused(
            request, rt, principal, exc, ambulance=None, values=values, district=chosen
        )
    return RedirectResponse(f"{FLEET_PATH}?district={made['district']}&saved=1", 303)


@router.get(FLEET_PATH + "/{ambulance_id}/edit")
async def edit_ambulance(
    request: Request,
    ambulance_id: PathId,
    principal: Principal = Depends(permitted("ambulance.manage")),
    rt: Runtime = Depends(get_runtime),
):
    found = await fleet.ambulance_for(rt, actor=principal, ambulance_id=ambulance_id)
    values = {name: str(found.get(name) or "") for name in FIELDS}
    if found["status"] == "busy":
        values["status"] = ""
    return await _form(
        request, rt, principal, ambulance=found, values=values, district=found["district"]
    )


@router.post(FLEET_PATH + "/{ambulance_id}/edit")
async def change_ambulance(
    request: Request,
    ambulance_id: PathId,
    principal: Principal = Depends(permitted("ambulance.manage")),
    form: FormData = Depends(staff_form),
    rt: Runtime = Depends(get_runtime),
):
    found = await fleet.ambulance_for(rt, actor=principal, ambulance_id=ambulance_id)
    # The registration is the vehicle's identity: shown, never taken from the form.
    values = _values(form) | {"registration": found["registration"]}
    # An empty status means "leave it": a vehicle on a trip keeps "busy" until the trip ends.
    changes = {k: v for k, v in values.items() if k != "registration" and (v or k != "status")}
    try:
        data = AmbulanceUpdate(**changes)
        await fleet.update_ambulance(rt, actor=principal, ambulance_id=ambulance_id, data=data)
    except (ValidationError, ValidationFailed, Conflict, PermissionDenied) as exc:
        return await _refused(
            request,
            rt,
            principal,
            exc,
            ambulance=found,
            values=values,
            district=found["district"],
        )
    return RedirectResponse(f"{FLEET_PATH}?district={found['district']}&saved=1", 303)
