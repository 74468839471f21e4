"""The CHO's teleconsultation pages: find or register the patient (with the possible-duplicate
warning of the patients service), and raise a consult (complaint, vitals, specialty, language,
priority, follow-up, the adult with a minor, the patient's consent). The consult's own page,
where the CHO follows it, joins and prints, is ``consult_pages``.

Every action is a plain POST form (post, redirect, get) that works without JavaScript. State
changes and reads are the services' (patients, consults) and ``telemedicine.queries``': these
routes parse a form, call one of them, and render its answer or its error in the reader's
language. The names shared by the teleconsultation page modules (``BASE``, the dependencies)
live here.
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass, field
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import RedirectResponse, Response
from pydantic import ValidationError
from starlette.datastructures import FormData

from seba.core.access import Principal, can, require
from seba.core.errors import Conflict, NotFound, ValidationFailed
from seba.core.http import request_language
from seba.core.runtime import Runtime
from seba.patients import service as patient_service
from seba.patients.models import MAX_AGE_YEARS
from seba.patients.schemas import PatientIn, today_in_india
from seba.places.models import SPECIALTIES
from seba.telemedicine.consults import queries
from seba.telemedicine.consults import service as consult_service
from seba.telemedicine.consults import vitals as vitals_check
from seba.telemedicine.consults.schemas import MAX_HISTORY, ConsultIn
from seba.telemedicine.models import LANGUAGES, PRIORITIES
from seba.telemedicine.pages.forms import (
    BASE,
    DOCTOR_HOME,
    Cho,
    Form,
    Message,
    Posted,
    Rt,
    schema_errors,
)
from seba.telemedicine.pages.text import (
    CONSENT_TEXT,
    LANGUAGE_NAMES,
    LIVE,
    PRIORITY_HINTS,
    PRIORITY_LABELS,
    RELATION_LABELS,
    SEX_LABELS,
    SPECIALTY_LABELS,
    STATUS_LABELS,
    VITAL_FIELDS,
    fmt_number,
    latin_digits,
)
from seba.telemedicine.prescriptions.rules import ADULT_AGE_YEARS
from seba.web.render import local_time
from seba.web.session import (
    StaffRoute,
    form_text,
    page_principal,
    render_staff,
    say,
)

router = APIRouter(include_in_schema=False, route_class=StaffRoute)

ABHA_DIGITS = 14
REGISTER_FIELDS = (
    "name",
    "sex",
    "age_years",
    "birth_date",
    "phone",
    "relation_to_phone_owner",
    "address",
    "village",
    "abha_number",
)

# --- CHO home: search, register, today's consults ------------------------------------------


def search_kind(text: str) -> tuple[str, str]:
    """What a CHO typed in the one search box: a phone, an ABHA number or a name.

    Fourteen digits are an ABHA number (a phone has ten, or twelve with 91); other digits are
    a phone; anything with letters is a name.
    """
    cleaned = latin_digits(text).strip()
    digits = re.sub(r"[\s\-+()]", "", cleaned)
    if digits.isdigit():
        return ("abha" if len(digits) == ABHA_DIGITS else "phone"), cleaned
    return "name", cleaned


SEARCH_ERRORS = {
    "phone": "Enter a 10-digit mobile number, e.g. 98300 12345.",
    "abha": "An ABHA number has 14 digits, written XX-XXXX-XXXX-XXXX.",
    "name": "Type at least 2 letters of the name.",
}


def _new_key() -> str:
    # A fresh Idempotency-Key per rendered form: a double tap registers one patient.
    return secrets.token_urlsafe(16)


async def _home(
    request: Request,
    rt: Runtime,
    principal: Principal,
    *,
    status_code: int = 200,
    posted: Posted | None = None,
    duplicates: list[dict[str, Any]] | None = None,
    abha_holder: int | None = None,
) -> Response:
    query = (request.query_params.get("q") or "").strip()[:120]
    found = None
    search_error = None
    if query:
        kind, text = search_kind(query)
        try:
            found = await patient_service.search_patients(
                rt, actor=principal, **{kind: text}, limit=20
            )
        except ValidationFailed:
            search_error = say(request, SEARCH_ERRORS[kind])
    today = await queries.spoke_consults_today(rt, actor=principal)
    posted = posted or Posted()
    return render_staff(
        request,
        "telemedicine/cho_home.html",
        status_code,
        query=query,
        found=found,
        search_error=search_error,
        today=today,
        values=posted.values,
        errors=posted.shown_errors(request),
        duplicates=duplicates or [],
        abha_holder=abha_holder,
        idem=_new_key(),
        open_register=bool(posted.values) or request.query_params.get("register") == "1",
        sex_labels=SEX_LABELS,
        relation_labels=RELATION_LABELS,
        status_labels=STATUS_LABELS,
        priority_labels=PRIORITY_LABELS,
        live=LIVE,
        today_iso=today_in_india().isoformat(),
        today_date=today_in_india(),
        relation_options=[(k, say(request, v)) for k, v in RELATION_LABELS.items()],
        max_age=MAX_AGE_YEARS,
    )


@router.get("/tele")
async def short_address() -> Response:
    """``/tele`` is easy to type on a health centre's tablet; the pages live in the console."""
    return RedirectResponse(BASE, status_code=307)


@router.get(BASE)
async def cho_home(
    request: Request,
    rt: Rt,
    principal: Principal = Depends(page_principal),
    q: Annotated[str | None, Query(max_length=120)] = None,
):
    if can(principal, "consult.practice"):
        return RedirectResponse(DOCTOR_HOME, status_code=303)
    require(principal, "consult.create")
    return await _home(request, rt, principal)


# Pydantic error types of ``PatientIn`` -> what the CHO reads under the field.
PATIENT_ERRORS: dict[tuple[str, str], str] = {
    ("age_years", "age_or_birth_date"): "Give the age in years or the date of birth (one of them).",
    ("birth_date", "birth_date_in_future"): "This date of birth is in the future.",
    ("birth_date", "birth_date_too_early"): "This date of birth is more than 120 years ago.",
    ("abha_number", "abha_length"): "An ABHA number has 14 digits, written XX-XXXX-XXXX-XXXX.",
    ("abha_number", "abha_address_not_number"): (
        "This is an ABHA address (like name@abdm). Enter the 14-digit ABHA number instead."
    ),
}
PATIENT_FIELD_ERRORS: dict[str, str] = {
    "name": "Enter the patient's name.",
    "sex": "Choose the patient's sex.",
    "age_years": "Age must be a whole number of years from 0 to 120.",
    "birth_date": "Enter the date of birth as day, month and year.",
    "phone": "Enter a 10-digit mobile number, e.g. 98300 12345.",
    "relation_to_phone_owner": "Choose how the patient is related to the phone's owner.",
    "address": "Use ordinary text, at most 400 characters.",
    "village": "Use ordinary text, at most 120 characters.",
    "abha_number": "An ABHA number has 14 digits, written XX-XXXX-XXXX-XXXX.",
}


def parse_patient_form(form: FormData) -> tuple[PatientIn | None, Posted]:
    """Read the registration form into ``PatientIn``, or the errors field by field."""
    posted = Posted(values={name: form_text(form, name).strip() for name in REGISTER_FIELDS})
    data: dict[str, Any] = {k: v for k, v in posted.values.items() if v}
    data.setdefault("name", "")
    data.setdefault("phone", "")
    if ("age_years" in data) == ("birth_date" in data):
        # PatientIn says so too, but only once every field is valid: say it with the rest.
        posted.errors["age_years"] = (PATIENT_ERRORS[("age_years", "age_or_birth_date")], {})
    if "age_years" in data:
        age = latin_digits(data["age_years"])
        if age.isascii() and age.isdigit() and len(age) <= 3:
            data["age_years"] = int(age)
        else:
            posted.errors["age_years"] = (PATIENT_FIELD_ERRORS["age_years"], {})
    data["confirm_new"] = form_text(form, "confirm_new") == "1"
    try:
        patient = PatientIn.model_validate(data)
    except ValidationError as exc:
        for error in exc.errors():
            loc = error.get("loc") or ()
            name = (
                "age_years" if error["type"] == "age_or_birth_date" else str(loc[0] if loc else "")
            )
            if name not in PATIENT_FIELD_ERRORS:
                posted.errors.setdefault("form", ("Some fields are not valid.", {}))
                continue
            msgid = PATIENT_ERRORS.get((name, error["type"]), PATIENT_FIELD_ERRORS[name])
            posted.errors.setdefault(name, (msgid, {}))
        return None, posted
    return (None if posted.errors else patient), posted


@router.post(BASE + "/patients")
async def register_patient(request: Request, principal: Cho, form: Form, rt: Rt):
    data, posted = parse_patient_form(form)
    if data is None:
        return await _home(request, rt, principal, status_code=422, posted=posted)
    try:
        registration = await patient_service.register_patient(
            rt, actor=principal, data=data, idempotency_key=form_text(form, "idem") or None
        )
    except Conflict as exc:
        if exc.code == "possible_duplicate":
            return await _home(
                request,
                rt,
                principal,
                status_code=409,
                posted=posted,
                duplicates=list((exc.details or {}).get("candidates", [])),
            )
        if exc.code == "abha_taken":
            posted.errors["abha_number"] = (exc.message, exc.params)
            holder = (exc.details or {}).get("patient_id")
            return await _home(
                request, rt, principal, status_code=409, posted=posted, abha_holder=holder
            )
        raise
    patient_id = registration.patient.id
    return RedirectResponse(
        f"{BASE}/consults/new?patient={patient_id}&registered=1", status_code=303
    )


# --- raising a consult -----------------------------------------------------------------------

# ``ConsultIn``'s fields -> what the CHO reads under the box (``form``: no patient to show).
CONSULT_FIELD_ERRORS: dict[str, Message] = {
    "patient_id": ("Choose the patient again.", {}),
    "chief_complaint": ("Describe the complaint in 2 to 500 characters.", {}),
    "history": ("At most {max} characters.", {"max": MAX_HISTORY}),
    "specialty": ("Choose a specialty.", {}),
    "language": ("Choose the patient's language.", {}),
    "priority": ("Choose how urgent it is.", {}),
    "adult_companion": (
        "Write the name of the adult with the patient (2 to 120 characters).",
        {},
    ),
    "consent": (
        "Tick this box only once the patient has agreed: a teleconsultation needs the "
        "patient's consent.",
        {},
    ),
    "follow_up_of": ("Choose one of the patient's earlier consults.", {}),
}
MINOR_NEEDS_ADULT = (
    "The patient is under 18: write the name of the adult with them (Telemedicine Practice "
    "Guidelines)."
)
CONSULT_FIELDS = (
    "chief_complaint",
    "history",
    "specialty",
    "language",
    "priority",
    "follow_up_of",
    "adult_companion",
)


@dataclass
class ConsultForm(Posted):
    vital_errors: dict[str, str] = field(default_factory=dict)
    data: ConsultIn | None = None


def parse_consult_form(form: FormData, lang: str) -> ConsultForm:
    """Read the consult form into ``ConsultIn``. Vitals are checked here with the reader's
    language, so a wrong value is explained in Bengali or English under its own box and
    nothing is sent on."""
    posted = ConsultForm(values={name: form_text(form, name).strip() for name in CONSULT_FIELDS})
    v = posted.values
    consent = form_text(form, "consent") == "yes"
    v["consent"] = "yes" if consent else ""
    raw_vitals = {}
    for vital in VITAL_FIELDS:
        typed = form_text(form, vital.name).strip()
        v[vital.name] = typed
        if typed:
            # A comma is a decimal point on some phone keyboards.
            raw_vitals[vital.name] = latin_digits(typed).replace(",", ".")
    checked = None
    try:
        checked = vitals_check.validate_vitals(raw_vitals, lang)
    except ValidationFailed as exc:
        posted.vital_errors = dict(exc.details or {})
    payload = {
        "patient_id": latin_digits(form_text(form, "patient").strip()),
        "chief_complaint": v["chief_complaint"],
        "consent": consent,
        "specialty": v["specialty"],
        "language": v["language"],
        "priority": v["priority"],
        "history": v["history"],
        "vitals": checked.model_dump(exclude_none=True) if checked else {},
        "follow_up_of": latin_digits(v["follow_up_of"]) or None,
        "adult_companion": v["adult_companion"] or None,
    }
    try:
        data = ConsultIn.model_validate(payload)
    except ValidationError as exc:
        for loc, message in schema_errors(exc, CONSULT_FIELD_ERRORS).items():
            posted.errors.setdefault(str(loc[0]), message)
        return posted
    if not posted.vital_errors and checked is not None:
        posted.data = data
    return posted


async def _consult_form(
    request: Request,
    rt: Runtime,
    principal: Principal,
    patient_id: int,
    *,
    status_code: int = 200,
    posted: ConsultForm | None = None,
    message: Message | None = None,
) -> Response:
    patient = await patient_service.get_patient(rt, actor=principal, patient_id=patient_id)
    earlier = await queries.follow_up_choices(rt, actor=principal, patient_id=patient_id)
    posted = posted or ConsultForm(
        values={"specialty": "general_medicine", "language": "bn", "priority": "routine"}
    )
    brief = queries.PatientBrief(
        id=patient.id,
        name=patient.name,
        age_years=patient.age_on(today_in_india()),
        sex=patient.sex,
        phone=patient.phone,
        village=patient.village,
    )
    errors = posted.shown_errors(request)
    if message is None and (errors or posted.vital_errors):
        message = ("Some answers need a change. See the marked boxes below.", {})
    return render_staff(
        request,
        "telemedicine/consult_form.html",
        status_code,
        patient=brief,
        minor=brief.age_years < ADULT_AGE_YEARS,
        earlier=earlier,
        values=posted.values,
        errors=errors,
        vital_errors=posted.vital_errors,
        message=say(request, message[0], **message[1]) if message else None,
        registered=request.query_params.get("registered") == "1",
        vital_fields=VITAL_FIELDS,
        fmt_number=fmt_number,
        specialty_options=[(s, say(request, SPECIALTY_LABELS[s])) for s in SPECIALTIES],
        follow_up_options=[(str(e.id), _earlier_label(request, e)) for e in earlier],
        languages=[(code, LANGUAGE_NAMES[code]) for code in LANGUAGES],
        priorities=PRIORITIES,
        priority_labels=PRIORITY_LABELS,
        priority_hints=PRIORITY_HINTS,
        sex_labels=SEX_LABELS,
        consent_text=CONSENT_TEXT,
    )


def _earlier_label(request: Request, earlier: queries.EarlierConsult) -> str:
    lang = request_language(request)
    parts = [local_time(earlier.at, lang), earlier.chief_complaint[:60]]
    if earlier.doctor_name:
        parts.append(earlier.doctor_name)
    return " · ".join(parts)


@router.get(BASE + "/consults/new")
async def new_consult(
    request: Request,
    principal: Cho,
    rt: Rt,
    patient: Annotated[int, Query(ge=1, le=2**31 - 1)],
):
    return await _consult_form(request, rt, principal, patient)


@router.post(BASE + "/consults")
async def raise_consult(request: Request, principal: Cho, form: Form, rt: Rt):
    posted = parse_consult_form(form, request_language(request))
    patient = latin_digits(form_text(form, "patient").strip())
    if "form" in posted.errors or "patient_id" in posted.errors:
        # No patient to show the form for: a forged or truncated post.
        raise NotFound("No such patient.", code="patient_not_found")
    if posted.data is None:
        return await _consult_form(
            request, rt, principal, int(patient), status_code=422, posted=posted
        )
    try:
        state = await consult_service.raise_consult(rt, actor=principal, data=posted.data)
    except ValidationFailed as exc:
        details = exc.details if isinstance(exc.details, dict) else {}
        if exc.code == "minor_needs_adult":
            posted.errors["adult_companion"] = (MINOR_NEEDS_ADULT, {})
        elif exc.code == "invalid_vitals":
            posted.vital_errors = {k: str(v) for k, v in details.items()}
        for name in details:
            if name in CONSULT_FIELD_ERRORS and name not in posted.errors:
                posted.errors[name] = CONSULT_FIELD_ERRORS[name]
        return await _consult_form(
            request, rt, principal, int(patient), status_code=422, posted=posted
        )
    except NotFound as exc:
        if exc.code != "unknown_consult":
            raise
        posted.errors["follow_up_of"] = CONSULT_FIELD_ERRORS["follow_up_of"]
        return await _consult_form(
            request, rt, principal, int(patient), status_code=422, posted=posted
        )
    return RedirectResponse(f"{BASE}/consults/{state.consult.id}", status_code=303)
