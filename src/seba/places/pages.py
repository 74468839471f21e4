"""Staff console pages for facilities: the list with census freshness, add, edit, CSV import."""

from __future__ import annotations

import re
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.responses import RedirectResponse, Response
from pydantic import ValidationError
from starlette.datastructures import FormData, UploadFile

from seba import vocabulary
from seba.core.access import Principal
from seba.core.errors import Conflict, ValidationFailed
from seba.core.http import get_runtime
from seba.core.runtime import Runtime
from seba.places import queries as place_queries
from seba.places import service as place_service
from seba.places.models import FACILITY_KINDS, OWNERSHIPS, Facility
from seba.places.schemas import FacilityIn, FacilityUpdate
from seba.web.session import (
    StaffRoute,
    form_text,
    page_principal,
    permitted,
    render_staff,
    say,
    staff_form,
)

router = APIRouter(include_in_schema=False, route_class=StaffRoute)

FacilityId = Annotated[int, Path(ge=1, le=2**31 - 1)]

# Words for ownership and facility kinds: the one vocabulary's.
OWNERSHIP_LABELS = vocabulary.OWNERSHIP_LABELS
KIND_LABELS = vocabulary.FACILITY_KIND_LABELS
TEXT_FIELDS = (
    "code",
    "name",
    "name_bn",
    "district_code",
    "ownership",
    "kind",
    "address",
    "address_bn",
)
MORE_FIELDS = ("reception_phone", "emergency_phone", "phones", "lat", "lon", "hfr_id")
# Pydantic explains problems in English developer prose; the form says what to type instead.
FIELD_MESSAGES = {
    "code": "Use 2 to 80 small English letters, digits or '-', e.g. ipgmer-sskm.",
    "name": "Write 2 to 200 characters.",
    "name_bn": "Write 2 to 200 characters.",
    "district_code": "Choose a district.",
    "ownership": "Choose who runs the facility.",
    "kind": "Choose the kind of facility.",
    "address": "At most 400 characters.",
    "address_bn": "At most 400 characters.",
    "reception_phone": "An Indian mobile, or a landline with its STD code, e.g. 033 2204 1101.",
    "emergency_phone": "An Indian mobile, or a landline with its STD code, e.g. 033 2204 1101.",
    "phones": "Up to 6 phone numbers, one per line: Indian mobiles or landlines with the STD code, "
    "e.g. 033 2204 1101.",
    "lat": "Latitude in West Bengal: a number from 21.0 to 27.5, or leave it empty.",
    "lon": "Longitude in West Bengal: a number from 85.5 to 90.0, or leave it empty.",
    "hfr_id": "HFR ID must be IN followed by 10 digits, e.g. IN2710000011",
}
# Which form field a service's domain error is about.
ERROR_FIELDS = {
    "unknown_district": "district_code",
    "facility_code_taken": "code",
    "hfr_id_taken": "hfr_id",
}
_LATIN_DIGITS = str.maketrans("০১২৩৪৫৬৭৮৯", "0123456789")
_PHONE_SPLIT = re.compile(r"[\n,;]+")


@router.get("/staff/facilities")
async def facilities(
    request: Request,
    district: Annotated[str | None, Query(max_length=40, pattern=r"^[a-z0-9-]*$")] = None,
    q: Annotated[str | None, Query(max_length=100)] = None,
    principal: Principal = Depends(page_principal),
    rt: Runtime = Depends(get_runtime),
):
    rows = await place_queries.facility_rows(
        rt, actor=principal, district=district or None, q=(q or "").strip() or None
    )
    choices = await place_queries.scope_choices(rt, actor=principal)
    return render_staff(
        request,
        "places/facilities.html",
        rows=rows,
        districts=choices.districts,
        district=district or "",
        q=q or "",
        kind_labels=KIND_LABELS,
    )


def _form_values(form: FormData) -> dict[str, str]:
    values = {name: form_text(form, name).strip() for name in (*TEXT_FIELDS, *MORE_FIELDS)}
    values["covid"] = "on" if form_text(form, "covid") else ""
    return values


def _number(text: str) -> str | None:
    return text.translate(_LATIN_DIGITS) or None


def _model_input(values: dict[str, str], names: tuple[str, ...]) -> dict[str, Any]:
    """Form text → the schema's input. Missing choices stay empty strings, so the schema
    rejects them rather than a NULL reaching a NOT NULL column."""
    return {
        **{name: values[name] for name in names},
        "covid": values["covid"] == "on",
        "reception_phone": values["reception_phone"] or None,
        "emergency_phone": values["emergency_phone"] or None,
        "phones": [p for p in _PHONE_SPLIT.split(values["phones"]) if p.strip()],
        "lat": _number(values["lat"]),
        "lon": _number(values["lon"]),
        "hfr_id": values["hfr_id"] or None,
    }


def _field_errors(request: Request, exc: ValidationError) -> dict[str, str]:
    errors = {}
    for err in exc.errors():
        name = str(err["loc"][0]) if err["loc"] else ""
        errors[name] = say(request, FIELD_MESSAGES.get(name, "Some fields are not valid."))
    return errors


def _facility_values(facility: Facility) -> dict[str, str]:
    return {
        **{name: getattr(facility, name) or "" for name in TEXT_FIELDS},
        "covid": "on" if facility.covid else "",
        "reception_phone": facility.reception_phone or "",
        "emergency_phone": facility.emergency_phone or "",
        "phones": "\n".join(facility.phones or []),
        "lat": "" if facility.lat is None else str(facility.lat),
        "lon": "" if facility.lon is None else str(facility.lon),
        "hfr_id": facility.hfr_id or "",
    }


async def _facility_form(
    request: Request,
    rt: Runtime,
    principal: Principal,
    *,
    facility: Facility | None,
    values: dict[str, str],
    status_code: int = 200,
    errors: dict[str, str] | None = None,
    message: str | None = None,
) -> Response:
    choices = await place_queries.scope_choices(rt, actor=principal)
    reach = facility is None or await place_queries.alerts_reach(rt, facility)
    return render_staff(
        request,
        "places/facility_form.html",
        status_code,
        facility=facility,
        values=values,
        errors=errors or {},
        message=message,
        saved=request.query_params.get("saved") == "1" and status_code == 200,
        districts=choices.districts,
        ownerships=[(o, OWNERSHIP_LABELS[o]) for o in OWNERSHIPS],
        kinds=[(k, KIND_LABELS[k]) for k in FACILITY_KINDS],
        alerts_reach=reach,
    )


async def _refused(
    request: Request,
    rt: Runtime,
    principal: Principal,
    facility: Facility | None,
    values: dict[str, str],
    exc: ValidationError | ValidationFailed | Conflict,
) -> Response:
    if isinstance(exc, ValidationError):
        errors = _field_errors(request, exc)
        status_code, message = 422, say(request, "Some fields are not valid.")
    else:
        message = say(request, exc.message, **exc.params)
        errors = {ERROR_FIELDS[exc.code]: message} if exc.code in ERROR_FIELDS else {}
        status_code = exc.status_code
    return await _facility_form(
        request,
        rt,
        principal,
        facility=facility,
        values=values,
        status_code=status_code,
        errors=errors,
        message=message,
    )


@router.get("/staff/facilities/new")
async def new_facility(
    request: Request,
    principal: Principal = Depends(permitted("facility.create")),
    rt: Runtime = Depends(get_runtime),
):
    values = dict.fromkeys((*TEXT_FIELDS, *MORE_FIELDS), "") | {"covid": "on"}
    if principal.scope_kind == "district":
        values["district_code"] = principal.scope_code or ""
    return await _facility_form(request, rt, principal, facility=None, values=values)


@router.post("/staff/facilities/new")
async def add_facility(
    request: Request,
    principal: Principal = Depends(permitted("facility.create")),
    form: FormData = Depends(staff_form),
    rt: Runtime = Depends(get_runtime),
):
    values = _form_values(form)
    try:
        data = FacilityIn(**_model_input(values, TEXT_FIELDS))
        facility = await place_service.create_facility(rt, actor=principal, data=data)
    except (ValidationError, ValidationFailed, Conflict) as exc:
        return await _refused(request, rt, principal, None, values, exc)
    return RedirectResponse(f"/staff/facilities/{facility.id}/edit?saved=1", status_code=303)


@router.get("/staff/facilities/{facility_id}/edit")
async def edit_facility(
    request: Request,
    facility_id: FacilityId,
    principal: Principal = Depends(permitted("facility.update")),
    rt: Runtime = Depends(get_runtime),
):
    facility = await place_queries.facility_for(
        rt, actor=principal, facility_id=facility_id, action="facility.update"
    )
    return await _facility_form(
        request, rt, principal, facility=facility, values=_facility_values(facility)
    )


@router.post("/staff/facilities/{facility_id}/edit")
async def change_facility(
    request: Request,
    facility_id: FacilityId,
    principal: Principal = Depends(permitted("facility.update")),
    form: FormData = Depends(staff_form),
    rt: Runtime = Depends(get_runtime),
):
    facility = await place_queries.facility_for(
        rt, actor=principal, facility_id=facility_id, action="facility.update"
    )
    # Code and district are the facility's identity: shown, never taken from the form.
    values = _form_values(form) | {"code": facility.code, "district_code": facility.district_code}
    editable = tuple(n for n in TEXT_FIELDS if n not in ("code", "district_code"))
    try:
        data = FacilityUpdate(**_model_input(values, editable))
        await place_service.update_facility(rt, actor=principal, facility_id=facility_id, data=data)
    except (ValidationError, ValidationFailed, Conflict) as exc:
        return await _refused(request, rt, principal, facility, values, exc)
    return RedirectResponse(f"/staff/facilities/{facility_id}/edit?saved=1", status_code=303)


def _import_page(request: Request, status_code: int = 200, **context: Any) -> Response:
    return render_staff(
        request,
        "places/import.html",
        status_code,
        columns=place_service.IMPORT_COLUMNS,
        max_mb=place_service.MAX_IMPORT_BYTES // (1024 * 1024),
        **context,
    )


@router.get("/staff/facilities/import")
async def import_form(
    request: Request, principal: Principal = Depends(permitted("facility.import"))
):
    return _import_page(request)


# Room for the multipart envelope and the CSRF field around the file itself.
MAX_IMPORT_BODY = place_service.MAX_IMPORT_BYTES + 64 * 1024


async def upload_size_allowed(request: Request) -> None:
    """Refuse an oversized upload by its declared length, before a byte of it is read, so the
    admin gets a page with the reason. ``max_body_size`` below is the hard stop for a body that
    declares no length or lies about it (answered with Starlette's plain 413); it sits above
    this limit because Starlette refuses a declared length over it before any page code runs."""
    length = request.headers.get("content-length", "")
    if length.isdigit() and int(length) > MAX_IMPORT_BODY:
        raise ValidationFailed("The file is too large.", code="file_too_large")


@router.post(
    "/staff/facilities/import",
    dependencies=[Depends(upload_size_allowed)],
    max_body_size=2 * MAX_IMPORT_BODY,
)
async def import_upload(
    request: Request,
    principal: Principal = Depends(permitted("facility.import")),
    form: FormData = Depends(staff_form),
    rt: Runtime = Depends(get_runtime),
):
    upload = form.get("file")
    try:
        if not isinstance(upload, UploadFile) or not upload.filename:
            raise ValidationFailed("Choose a CSV file to upload.", code="no_file")
        raw = await upload.read()
        try:
            text = raw.decode("utf-8-sig")
        except UnicodeDecodeError:
            raise ValidationFailed("The file must be UTF-8 text.", code="not_utf8") from None
        report = await place_service.import_facilities(rt, actor=principal, text=text)
    except ValidationFailed as exc:
        details = exc.details if isinstance(exc.details, dict) else {}
        return _import_page(
            request,
            exc.status_code,
            message=say(request, exc.message, **exc.params),
            lines=details.get("lines", []),
        )
    return _import_page(request, report=report)
