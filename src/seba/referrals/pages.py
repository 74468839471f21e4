"""Central referral pages: the family's bed request and status (behind a phone code), the control
room (queue, holds, phone callers, board), the hospital's incoming referrals and admissions, and
the staff event stream that keeps those lists live.

Every action is a plain POST form that works without JavaScript (post, redirect, get); the
script only refreshes the list parts when the event stream says something changed. State
changes and reads are the referral service's: these routes parse a form, call it, and render
its answer or its error in the reader's language.

Citizens have no staff session: their forms carry a signed double-submit CSRF value
(``web.csrf.CITIZEN``), and a verified code gives a phone-session cookie that the request form
and the status page need.
"""

from __future__ import annotations

import json
import re
import secrets
from collections.abc import Awaitable, Callable
from typing import Annotated, Any, TypeVar

from fastapi import APIRouter, Depends, Path, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import RedirectResponse, Response
from fastapi.routing import APIRoute
from pydantic import BaseModel, ValidationError
from starlette.datastructures import FormData
from starlette.exceptions import HTTPException as StarletteHTTPException

from seba.accounts.api import client_address
from seba.beds import public
from seba.beds.labels import BED_TYPE_LABELS, PUBLIC_LABELS
from seba.beds.pages import directions_href, tel_href
from seba.core.access import Principal
from seba.core.errors import (
    DomainError,
    NotAuthenticated,
    NotFound,
    TooManyRequests,
    ValidationFailed,
)
from seba.core.http import get_runtime, request_language, runtime_of
from seba.core.runtime import Runtime
from seba.places import queries as place_queries
from seba.referrals import admissions as referral_admissions
from seba.referrals import board as referral_board
from seba.referrals import otp
from seba.referrals import service as referral_service
from seba.referrals.labels import (
    CONDITION_HINTS,
    CONDITION_LABELS,
    COVID_LABELS,
    FIELD_MESSAGES,
    FIX_BELOW,
    NOTICES,
    PATIENT_SEX_LABELS,
    SOURCE_LABELS,
    STATUS_LABELS,
)
from seba.referrals.models import BED_NEEDS, CONDITIONS, COVID_STATUSES, HOLDING, PATIENT_SEXES
from seba.referrals.otp import PHONE_SESSION_S
from seba.referrals.schemas import (
    CallerRequest,
    CitizenRequest,
    DischargeBody,
    MoveBody,
    Reason,
    ReferralCreate,
    RejectBody,
    TransferBody,
    WalkIn,
    normalise_phone,
)
from seba.web import csrf
from seba.web.live import event_stream
from seba.web.render import render
from seba.web.session import (
    StaffRoute,
    form_text,
    permitted,
    render_staff,
    say,
    session_alive,
    staff_form,
)

Id = Annotated[int, Path(ge=1, le=2**31 - 1)]
M = TypeVar("M", bound=BaseModel)

PHONE_COOKIE = "seba_phone"  # the API reads the same cookie name
OTP_COOKIE = "seba_otp"
# Every cookie of the family's pages (CSRF, code, phone session) is scoped to this path.
CITIZEN_PATH = csrf.CITIZEN.path
# Where a verified code leads: only these two places (no open redirect).
THEN = {"request": CITIZEN_PATH, "status": CITIZEN_PATH + "/status"}
_OTP_VALUE = re.compile(r"^(\d{1,10})\.(\d{4})$")
_REFERENCE = re.compile(r"^[A-Z0-9-]{4,20}$")
_LATIN_DIGITS = str.maketrans("০১২৩৪৫৬৭৮৯", "0123456789")

PATIENT_FIELDS = ("name", "age", "sex", "phone")
REQUEST_FIELDS = ("district", "condition", "need", "covid_status", "abha_number", "notes")
MAX_NOTES = 500
MAX_REASON = 400
# Bus topics forwarded to staff pages, and the only keys passed on (ids and a status: the
# stream carries no patient data, whoever listens).
LIVE_TOPICS = ("referrals", "beds")
LIVE_KEYS = ("referral_id", "request_id", "facility_id", "status")


# ---------------------------------------------------------------- shared parsing and context


def form_id(form: FormData, name: str) -> int | None:
    """A posted row id; anything but a plain positive 32-bit number reads as missing."""
    text = form_text(form, name).strip()
    if text.isascii() and text.isdigit() and len(text) <= 10 and 0 < int(text) < 2**31:
        return int(text)
    return None


def _parsed(model: type[M], payload: dict[str, Any]) -> tuple[M | None, dict[str, str]]:
    """The model, or the names of the fields that are wrong (as the forms name them)."""
    try:
        return model.model_validate(payload), {}
    except ValidationError as exc:
        fields: dict[str, str] = {}
        for err in exc.errors():
            loc = [str(p) for p in err["loc"]]
            name = loc[1] if loc[0] == "patient" and len(loc) > 1 else loc[0]
            name = "location" if name in ("lat", "lon") else name
            fields.setdefault(name, FIELD_MESSAGES.get(name, ValidationFailed.message))
        return None, fields


def _model(model: type[M], **payload: Any) -> M:
    """The model, or ValidationFailed (for forms whose fields are all chosen, not typed)."""
    parsed, errors = _parsed(model, payload)
    if parsed is None:
        raise ValidationFailed(next(iter(errors.values())), details=sorted(errors))
    return parsed


def _patient_payload(values: dict[str, str], phone: str | None = None) -> dict[str, Any]:
    return {
        "name": values["name"],
        "age": values["age"].translate(_LATIN_DIGITS),
        "sex": values["sex"],
        "phone": phone or values["phone"].translate(_LATIN_DIGITS),
    }


def _request_payload(values: dict[str, str]) -> dict[str, Any]:
    return {
        "district": values["district"],
        "condition": values["condition"],
        "need": values["need"],
        "covid_status": values["covid_status"],
        "abha_number": values["abha_number"].translate(_LATIN_DIGITS) or None,
        "notes": values["notes"],
        "lat": values.get("lat") or None,
        "lon": values.get("lon") or None,
    }


def _beside_field(exc: DomainError, errors: dict[str, str]) -> str:
    """The message above a form: a district the service did not know is shown at the field."""
    if exc.code == "unknown_district":
        errors["district"] = FIELD_MESSAGES["district"]
        return FIX_BELOW
    return exc.message


def _said(request: Request, errors: dict[str, str]) -> dict[str, str]:
    return {
        name: say(request, text, max=MAX_REASON if name == "reason" else MAX_NOTES)
        for name, text in errors.items()
    }


def duration(request: Request, seconds: float | None) -> str:
    """A wait or a median, as people say it: "under a minute", "25 min", "2 h 5 min"."""
    if seconds is None:
        return "—"
    minutes = int(seconds // 60)
    if minutes < 1:
        return say(request, "under a minute")
    if minutes < 60:
        return say(request, "{minutes} min", minutes=minutes)
    return say(request, "{hours} h {minutes} min", hours=minutes // 60, minutes=minutes % 60)


def _options(request: Request, codes: tuple[str, ...], words: dict[str, str]):
    return [(code, say(request, words[code])) for code in codes]


def show_phone(phone: str) -> str:
    """+919830012345 as people write it: 98300 12345."""
    return f"{phone[3:8]} {phone[8:]}" if phone.startswith("+91") and len(phone) == 13 else phone


def labels(request: Request) -> dict[str, Any]:
    """What every referral template needs: the words for codes and a few small helpers."""
    return {
        "options": {
            "sex": _options(request, PATIENT_SEXES, PATIENT_SEX_LABELS),
            "condition": _options(request, CONDITIONS, CONDITION_LABELS),
            "need": _options(request, BED_NEEDS, BED_TYPE_LABELS),
            # The family chooses in the words of the public bed page they came from.
            "public_need": _options(request, BED_NEEDS, PUBLIC_LABELS["bed_type"]),
            "covid_status": _options(request, COVID_STATUSES, COVID_LABELS),
        },
        "show_phone": show_phone,
        "condition_labels": CONDITION_LABELS,
        "condition_hints": {code: say(request, hint) for code, hint in CONDITION_HINTS.items()},
        "sex_labels": PATIENT_SEX_LABELS,
        "covid_labels": COVID_LABELS,
        "status_labels": STATUS_LABELS,
        "source_labels": SOURCE_LABELS,
        "bed_labels": BED_TYPE_LABELS,
        "public_bed_labels": PUBLIC_LABELS["bed_type"],
        "tel_href": tel_href,
        "directions_href": directions_href,
        "duration": lambda seconds: duration(request, seconds),
        # A fresh Idempotency-Key per rendered form: a double click sends the same one twice,
        # and the service answers the second with the first one's result.
        "new_key": lambda: secrets.token_urlsafe(16),
        "max_reason": MAX_REASON,
    }


def _notice(request: Request) -> str | None:
    done = request.query_params.get("done", "")
    reference = request.query_params.get("ref", "")
    if done in NOTICES and _REFERENCE.match(reference):
        return say(request, NOTICES[done], reference=reference)
    return None


def _done(path: str, done: str, reference: str, anchor: str = "") -> RedirectResponse:
    return RedirectResponse(f"{path}?done={done}&ref={reference}{anchor}", status_code=303)


# ---------------------------------------------------------------- citizens


class CitizenRoute(APIRoute):
    """Public referral pages: an error a page did not show in its form becomes a page in the
    family's language with the right status (never the API's JSON, never a 500)."""

    def get_route_handler(self) -> Callable[[Request], Awaitable[Response]]:
        handler = super().get_route_handler()

        async def citizen_handler(request: Request) -> Response:
            try:
                return await handler(request)
            except DomainError as exc:
                return _citizen_error(request, exc.status_code, exc)
            except RequestValidationError:
                return _citizen_error(request, 422, ValidationFailed())
            except StarletteHTTPException as exc:
                # Malformed or oversized form bodies.
                status = exc.status_code if 400 <= exc.status_code < 500 else 400
                message = "The request is too large." if status == 413 else None
                return _citizen_error(request, status, DomainError(message))

        return citizen_handler


citizen = APIRouter(include_in_schema=False, route_class=CitizenRoute)


def _citizen_render(
    request: Request, template: str, status_code: int = 200, **context: Any
) -> Response:
    """A citizen page with its form's CSRF value; never stored (it may show patient details)."""
    value = csrf.CITIZEN.value_for(request)
    response = render(request, template, status_code, csrf=value, **labels(request), **context)
    response.headers["Cache-Control"] = "no-store"
    csrf.CITIZEN.remember(request, response, value)
    return response


def _citizen_error(request: Request, status_code: int, exc: DomainError) -> Response:
    return _citizen_render(
        request,
        "referrals/citizen_error.html",
        status_code,
        message=say(request, exc.message, **exc.params),
    )


async def verified_phone(request: Request, rt: Runtime) -> str | None:
    try:
        return await otp.phone_for_session(rt, request.cookies.get(PHONE_COOKIE))
    except NotAuthenticated:
        return None


def _then(value: object) -> str:
    return value if isinstance(value, str) and value in THEN else "request"


def _phone_page(
    request: Request,
    *,
    status_code: int = 200,
    then: str = "request",
    phone: str = "",
    error: str | None = None,
) -> Response:
    return _citizen_render(
        request, "referrals/phone.html", status_code, then=then, phone=phone, error=error
    )


@citizen.get("/admission")
async def admission(request: Request, rt: Runtime = Depends(get_runtime)):
    """Step 1 (your phone) until the phone is verified, then step 3 (the request form)."""
    phone = await verified_phone(request, rt)
    if phone is None:
        return _phone_page(request)
    return await _request_page(request, rt, phone)


@citizen.get("/admission/phone")
async def phone_step(request: Request):
    """Step 1 again: another number, or a new code."""
    return _phone_page(request, then=_then(request.query_params.get("then")))


@citizen.post("/admission/phone")
async def send_code(
    request: Request,
    form: FormData = Depends(csrf.CITIZEN.form),
    rt: Runtime = Depends(get_runtime),
):
    then = _then(form.get("then"))
    raw = form_text(form, "phone").strip()
    try:
        phone = normalise_phone(raw.translate(_LATIN_DIGITS))
    except ValueError:
        return _phone_page(
            request,
            status_code=422,
            then=then,
            phone=raw,
            error=say(request, FIELD_MESSAGES["phone"]),
        )
    try:
        challenge_id = await otp.start(
            rt, phone=phone, client=client_address(request), lang=request_language(request)
        )
    except TooManyRequests as exc:
        wait = exc.details["retry_after_s"]
        message = say(request, exc.message)
        if exc.code == "otp_resend_too_soon":
            message += " " + say(request, "Try again in {seconds} seconds.", seconds=wait)
        response = _phone_page(request, status_code=429, then=then, phone=raw, error=message)
        response.headers["Retry-After"] = str(wait)
        return response
    response = RedirectResponse(
        CITIZEN_PATH + "/code" + ("?then=status" if then == "status" else ""), status_code=303
    )
    # Which code this browser is answering (and the number's last digits, to show): the code
    # itself is the secret, so a cookie that names the challenge reveals nothing.
    response.set_cookie(
        OTP_COOKIE,
        f"{challenge_id}.{phone[-4:]}",
        max_age=rt.settings.otp_ttl_s,
        path=CITIZEN_PATH,
        httponly=True,
        samesite="lax",
        secure=csrf.secure_cookies(request),
    )
    return response


def _challenge(request: Request) -> tuple[int, str] | None:
    match = _OTP_VALUE.match(request.cookies.get(OTP_COOKIE, ""))
    return (int(match[1]), match[2]) if match else None


def _code_page(
    request: Request,
    last4: str,
    *,
    status_code: int = 200,
    then: str = "request",
    error: str | None = None,
    dead: bool = False,
) -> Response:
    return _citizen_render(
        request,
        "referrals/code.html",
        status_code,
        minutes=max(1, runtime_of(request).settings.otp_ttl_s // 60),
        last4=last4,
        then=then,
        error=error,
        dead=dead,
    )


@citizen.get("/admission/code")
async def code_step(request: Request):
    then = _then(request.query_params.get("then"))
    challenge = _challenge(request)
    if challenge is None:
        return RedirectResponse(
            CITIZEN_PATH + "/phone" + ("?then=status" if then == "status" else ""),
            status_code=303,
        )
    return _code_page(request, challenge[1], then=then)


@citizen.post("/admission/code")
async def check_code(
    request: Request,
    form: FormData = Depends(csrf.CITIZEN.form),
    rt: Runtime = Depends(get_runtime),
):
    then = _then(form.get("then"))
    challenge = _challenge(request)
    if challenge is None:
        expired = NotAuthenticated(
            "This code has expired or was used up. Ask for a new code.", code="otp_expired"
        )
        return _phone_page(request, status_code=401, then=then, error=say(request, expired.message))
    challenge_id, last4 = challenge
    code = re.sub(r"\s", "", form_text(form, "code")).translate(_LATIN_DIGITS)
    if not re.fullmatch(r"\d{6}", code):
        return _code_page(
            request,
            last4,
            status_code=422,
            then=then,
            error=say(request, "Enter the 6-digit code from the SMS."),
        )
    try:
        token, _phone = await otp.verify(rt, challenge_id=challenge_id, code=code)
    except ValidationFailed as exc:
        left = exc.details["attempts_left"]
        message = (
            say(request, "Wrong code. Tries left: {left}.", left=left)
            if left > 0
            else say(request, "This code has expired or was used up. Ask for a new code.")
        )
        return _code_page(
            request, last4, status_code=exc.status_code, then=then, error=message, dead=left <= 0
        )
    except NotAuthenticated as exc:
        return _code_page(
            request,
            last4,
            status_code=exc.status_code,
            then=then,
            error=say(request, exc.message),
            dead=True,
        )
    response = RedirectResponse(THEN[then], status_code=303)
    response.set_cookie(
        PHONE_COOKIE,
        token,
        max_age=PHONE_SESSION_S,
        path=CITIZEN_PATH,
        httponly=True,
        samesite="lax",
        secure=csrf.secure_cookies(request),
    )
    response.delete_cookie(OTP_COOKIE, path=CITIZEN_PATH)
    return response


@citizen.post("/admission/forget")
async def forget_phone(request: Request, form: FormData = Depends(csrf.CITIZEN.form)):
    """ "Not your phone?": this browser forgets the verified number (a shared phone)."""
    response = RedirectResponse(CITIZEN_PATH, status_code=303)
    response.delete_cookie(PHONE_COOKIE, path=CITIZEN_PATH)
    return response


async def _districts(rt: Runtime) -> list[dict[str, Any]]:
    """Every district (code, name, name_bn): the public, cached view."""
    return json.loads((await public.districts(rt)).body)["districts"]


def district_options(request: Request, districts: list[Any]) -> list[tuple[str, str]]:
    """(code, name) in the reader's language and its alphabetical order."""
    bn = request_language(request) == "bn"
    named = [
        (d["code"], d["name_bn"] if bn else d["name"])
        if isinstance(d, dict)
        else (d.code, d.name_bn if bn else d.name)
        for d in districts
    ]
    return sorted(named, key=lambda pair: pair[1])


async def _request_page(
    request: Request,
    rt: Runtime,
    phone: str,
    *,
    status_code: int = 200,
    values: dict[str, str] | None = None,
    errors: dict[str, str] | None = None,
    message: str | None = None,
) -> Response:
    return _citizen_render(
        request,
        "referrals/request.html",
        status_code,
        phone=phone,
        district_options=district_options(request, await _districts(rt)),
        values=values or {},
        errors=_said(request, errors or {}),
        message=message,
    )


@citizen.post("/admission")
async def submit_request(
    request: Request,
    form: FormData = Depends(csrf.CITIZEN.form),
    rt: Runtime = Depends(get_runtime),
):
    phone = await verified_phone(request, rt)
    if phone is None:
        # The hour of the phone session ran out while the form was being filled.
        return _phone_page(
            request,
            status_code=401,
            error=say(request, "Please verify your phone number with a one-time code first."),
        )
    values = {n: form_text(form, n).strip() for n in (*PATIENT_FIELDS, *REQUEST_FIELDS)}
    values |= {n: form_text(form, n).strip() for n in ("lat", "lon")}
    consent = form.get("consent") == "yes"
    data, errors = _parsed(
        CitizenRequest,
        {
            **_request_payload(values),
            "patient": _patient_payload(values, phone),
            "consent": consent,
        },
    )
    try:
        if data is None:
            raise ValidationFailed(FIX_BELOW)
        result = await referral_service.submit_citizen_request(
            rt, phone=phone, data=data, lang=request_language(request)
        )
    except DomainError as exc:
        if "location" in errors:
            # Hidden fields the family cannot edit: sent again empty, the form goes through.
            values |= {"lat": "", "lon": ""}
        return await _request_page(
            request,
            rt,
            phone,
            status_code=exc.status_code,
            values=values | {"consent": "yes" if consent else ""},
            errors=errors,
            message=say(request, _beside_field(exc, errors), **exc.params),
        )
    warn = "&abha=check" if "abha_checksum_mismatch" in result["warnings"] else ""
    return RedirectResponse(
        f"{THEN['status']}?reference={result['reference']}&sent=1{warn}", status_code=303
    )


@citizen.get("/admission/status")
async def request_status(request: Request, rt: Runtime = Depends(get_runtime)):
    """Know your request: the reference and the same verified phone show where the patient is."""
    phone = await verified_phone(request, rt)
    if phone is None:
        return _phone_page(request, then="status")
    reference = request.query_params.get("reference", "").strip().upper()
    context: dict[str, Any] = {"phone": phone, "reference": reference, "found": None}
    if reference:
        try:
            if not _REFERENCE.match(reference):
                raise ValidationFailed("Write the reference number from your SMS, like WB-7K3M9QX.")
            context["found"] = await referral_service.citizen_status(
                rt, phone=phone, reference=reference
            )
        except (NotFound, ValidationFailed) as exc:
            return _citizen_render(
                request,
                "referrals/status.html",
                exc.status_code,
                error=say(request, exc.message),
                **context,
            )
    return _citizen_render(
        request,
        "referrals/status.html",
        sent=request.query_params.get("sent") == "1",
        abha_check=request.query_params.get("abha") == "check",
        **context,
    )


# ---------------------------------------------------------------- control room

staff = APIRouter(include_in_schema=False, route_class=StaffRoute)
CONTROL_PATH = "/staff/control-room"


async def _queue(request: Request, rt: Runtime, principal: Principal) -> dict[str, Any]:
    items, active = await referral_board.control_queue(rt, actor=principal)
    bn = request_language(request) == "bn"
    names = {d["code"]: d["name_bn"] if bn else d["name"] for d in await _districts(rt)}
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
        notice=_notice(request) if status_code == 200 else None,
        message=message,
        values=values or {},
        errors=_said(request, errors or {}),
        **labels(request),
    )


@staff.get(CONTROL_PATH)
async def control_room(
    request: Request,
    principal: Principal = Depends(permitted("referral.reserve")),
    rt: Runtime = Depends(get_runtime),
):
    return await _control_page(request, rt, principal)


@staff.get(CONTROL_PATH + "/live")
async def control_room_live(
    request: Request,
    principal: Principal = Depends(permitted("referral.reserve")),
    rt: Runtime = Depends(get_runtime),
):
    """Only the queue and the holds, for the page's live refresh."""
    return render_staff(
        request, "referrals/_queue.html", **await _queue(request, rt, principal), **labels(request)
    )


@staff.post(CONTROL_PATH + "/reserve")
async def reserve(
    request: Request,
    principal: Principal = Depends(permitted("referral.reserve")),
    form: FormData = Depends(staff_form),
    rt: Runtime = Depends(get_runtime),
):
    try:
        data = _model(
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
    return _done(CONTROL_PATH, "reserved", result["reference"], "#holds")


@staff.post("/staff/referrals/{referral_id}/cancel")
async def cancel(
    request: Request,
    referral_id: Id,
    principal: Principal = Depends(permitted("referral.cancel")),
    form: FormData = Depends(staff_form),
    rt: Runtime = Depends(get_runtime),
):
    try:
        reason = _model(Reason, reason=form_text(form, "reason")).reason
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
    return _done(CONTROL_PATH, "cancelled", result["reference"], "#holds")


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
        message=message,
        **labels(request),
    )


@staff.get("/staff/referrals/{referral_id}/move")
async def move_form(
    request: Request,
    referral_id: Id,
    principal: Principal = Depends(permitted("referral.cancel")),
    rt: Runtime = Depends(get_runtime),
):
    return await _move_page(
        request, rt, principal, referral_id, bed_type=request.query_params.get("bed_type")
    )


@staff.post("/staff/referrals/{referral_id}/move")
async def move(
    request: Request,
    referral_id: Id,
    principal: Principal = Depends(permitted("referral.cancel")),
    form: FormData = Depends(staff_form),
    rt: Runtime = Depends(get_runtime),
):
    bed_type = form_text(form, "bed_type")
    try:
        data = _model(MoveBody, facility_id=form_id(form, "facility_id"), bed_type=bed_type)
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
    return _done(CONTROL_PATH, "moved", result["reference"], "#holds")


@staff.post(CONTROL_PATH + "/requests")
async def record_caller(
    request: Request,
    principal: Principal = Depends(permitted("request.create")),
    form: FormData = Depends(staff_form),
    rt: Runtime = Depends(get_runtime),
):
    """A phone caller's request, typed by the operator, joins the queue."""
    values = {n: form_text(form, n).strip() for n in (*PATIENT_FIELDS, *REQUEST_FIELDS)}
    consent = form.get("consent") == "yes"
    data, errors = _parsed(
        CallerRequest,
        {**_request_payload(values), "patient": _patient_payload(values), "consent": consent},
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
            message=say(request, _beside_field(exc, errors), **exc.params),
            values=values | {"consent": "yes" if consent else ""},
            errors=errors,
        )
    return _done(CONTROL_PATH, "recorded", result["reference"], "#queue")


async def _board(rt: Runtime, principal: Principal) -> dict[str, Any]:
    return await referral_board.control_board(rt, actor=principal)


@staff.get(CONTROL_PATH + "/board")
async def board(
    request: Request,
    principal: Principal = Depends(permitted("request.create")),
    rt: Runtime = Depends(get_runtime),
):
    """Counts and timings for the control room (no patient data)."""
    return render_staff(
        request, "referrals/board.html", board=await _board(rt, principal), **labels(request)
    )


@staff.get(CONTROL_PATH + "/board/live")
async def board_live(
    request: Request,
    principal: Principal = Depends(permitted("request.create")),
    rt: Runtime = Depends(get_runtime),
):
    return render_staff(
        request, "referrals/_board.html", board=await _board(rt, principal), **labels(request)
    )


# ---------------------------------------------------------------- hospital


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
    return render_staff(
        request,
        "referrals/hospital.html",
        status_code,
        facility=facility,
        notice=_notice(request) if status_code == 200 else None,
        message=message,
        values=values or {},
        errors=_said(request, errors or {}),
        **lists,
        **labels(request),
    )


@staff.get("/staff/facilities/{facility_id}/referrals")
async def hospital(
    request: Request,
    facility_id: Id,
    principal: Principal = Depends(permitted("referral.respond")),
    rt: Runtime = Depends(get_runtime),
):
    return await _hospital_page(request, rt, principal, facility_id)


@staff.get("/staff/facilities/{facility_id}/referrals/live")
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
    return _done(hospital_path(result["facility_id"]), result["status"], result["reference"])


@staff.post("/staff/referrals/{referral_id}/confirm")
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


@staff.post("/staff/referrals/{referral_id}/reject")
async def reject(
    request: Request,
    referral_id: Id,
    principal: Principal = Depends(permitted("referral.respond")),
    form: FormData = Depends(staff_form),
    rt: Runtime = Depends(get_runtime),
):
    async def step(key: str | None):
        body, _ = _parsed(RejectBody, {"reason": form_text(form, "reason")})
        if body is None:
            raise ValidationFailed("Write why the patient cannot be taken (at least 3 letters).")
        return await referral_service.reject_referral(
            rt, actor=principal, referral_id=referral_id, reason=body.reason, idempotency_key=key
        )

    return await _hospital_step(request, rt, principal, form, step)


@staff.post("/staff/referrals/{referral_id}/admit")
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


@staff.post("/staff/admissions/{admission_id}/discharge")
async def discharge(
    request: Request,
    admission_id: Id,
    principal: Principal = Depends(permitted("referral.respond")),
    form: FormData = Depends(staff_form),
    rt: Runtime = Depends(get_runtime),
):
    async def step(key: str | None):
        data = _model(
            DischargeBody, outcome=form_text(form, "outcome"), reason=form_text(form, "reason")
        )
        return await referral_admissions.discharge_admission(
            rt, actor=principal, admission_id=admission_id, data=data, idempotency_key=key
        )

    return await _hospital_step(request, rt, principal, form, step)


@staff.post("/staff/admissions/{admission_id}/transfer")
async def transfer(
    request: Request,
    admission_id: Id,
    principal: Principal = Depends(permitted("referral.respond")),
    form: FormData = Depends(staff_form),
    rt: Runtime = Depends(get_runtime),
):
    async def step(key: str | None):
        data = _model(
            TransferBody,
            need=form_text(form, "need"),
            condition=form_text(form, "condition"),
            reason=form_text(form, "reason"),
        )
        return await referral_admissions.transfer_admission(
            rt, actor=principal, admission_id=admission_id, data=data, idempotency_key=key
        )

    return await _hospital_step(request, rt, principal, form, step)


@staff.post("/staff/facilities/{facility_id}/admissions")
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
    data, errors = _parsed(
        WalkIn,
        {
            "patient": _patient_payload(values),
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
    return _done(hospital_path(facility_id), "walk_in", result["reference"])


# ---------------------------------------------------------------- live


@staff.get("/staff/events")
async def staff_events(
    request: Request,
    principal: Principal = Depends(permitted("referral.read")),
    rt: Runtime = Depends(get_runtime),
):
    """One SSE stream per staff page: every referral and bed change, as ids only.

    The page fetches its lists again on an event (and after a reconnect, when it may have
    missed some), so the stream needs no history. At each heartbeat the session is checked
    again: a logout ends the stream.
    """
    token = request.state.session_token
    return event_stream(
        request,
        rt,
        topics=LIVE_TOPICS,
        keep=LIVE_KEYS,
        still_allowed=lambda: session_alive(rt, token),
    )


router = APIRouter()
router.include_router(citizen)
router.include_router(staff)
