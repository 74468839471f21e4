"""The family's pages: a phone verified by a one-time code, the bed request form, and the
status of a request ("know your request").

Families have no staff session: their forms carry a signed double-submit CSRF value
(``web.csrf.CITIZEN``), and a verified code gives a phone-session cookie that the request form
and the status page need. Every form works without JavaScript (post, redirect, get).
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import RedirectResponse, Response
from fastapi.routing import APIRoute
from starlette.datastructures import FormData
from starlette.exceptions import HTTPException as StarletteHTTPException

from seba.accounts.api import client_address
from seba.core.errors import (
    DomainError,
    NotAuthenticated,
    NotFound,
    TooManyRequests,
    ValidationFailed,
)
from seba.core.http import get_runtime, request_language, runtime_of
from seba.core.runtime import Runtime
from seba.referrals import otp
from seba.referrals import service as referral_service
from seba.referrals.labels import FIELD_MESSAGES, FIX_BELOW
from seba.referrals.otp import PHONE_SESSION_S
from seba.referrals.pages.forms import (
    LATIN_DIGITS,
    PATIENT_FIELDS,
    REFERENCE,
    REQUEST_FIELDS,
    beside_field,
    district_options,
    districts,
    labels,
    parsed,
    patient_payload,
    request_payload,
    said,
)
from seba.referrals.schemas import CitizenRequest, normalise_phone
from seba.referrals.steps import reference_pattern
from seba.web import csrf
from seba.web.render import render
from seba.web.session import form_text, say

PHONE_COOKIE = "seba_phone"  # the API reads the same cookie name
OTP_COOKIE = "seba_otp"
# Every cookie of the family's pages (CSRF, code, phone session) is scoped to this path.
CITIZEN_PATH = csrf.CITIZEN.path
# Where a verified code leads: only these two places (no open redirect).
# The ambulance request and the helpline's counselling booking live under the same path, so
# they share the phone session.
THEN = {
    "request": CITIZEN_PATH,
    "status": CITIZEN_PATH + "/status",
    # A family asking for an ambulance (``ambulances/pages.py``), behind the same code.
    "ambulance": CITIZEN_PATH + "/ambulance",
    "counselling": CITIZEN_PATH + "/counselling",
}
# Places that belong to one of the family's own requests: the code step leads there only with a
# ``ref`` of that request's reference format (a path built from the fixed pattern, never a URL
# taken from the query: no open redirect). Without a good ``ref`` the place falls back.
# (then: (reference format, path with ``{ref}``, fallback ``then``))
THEN_WITH_REF = {
    "ambulance_cancel": (
        reference_pattern("AM"),
        CITIZEN_PATH + "/ambulance/{ref}/cancel",
        "ambulance",
    ),
}
_OTP_VALUE = re.compile(r"^(\d{1,10})\.(\d{4})$")


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


router = APIRouter(include_in_schema=False, route_class=CitizenRoute)


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


def _set_cookie(request: Request, response: Response, name: str, value: str, max_age: int) -> None:
    """A cookie of the family's pages: theirs only (HttpOnly), sent on same-site visits."""
    response.set_cookie(
        name,
        value,
        max_age=max_age,
        path=CITIZEN_PATH,
        httponly=True,
        samesite="lax",
        secure=csrf.secure_cookies(request),
    )


async def verified_phone(request: Request, rt: Runtime) -> str | None:
    try:
        return await otp.phone_for_session(rt, request.cookies.get(PHONE_COOKIE))
    except NotAuthenticated:
        return None


def then_target(value: object, ref: object = None) -> tuple[str, str]:
    """Where a verified code leads, as ``(then, ref)``: a known place, and for a place of one
    request a reference of its format (else its fallback); anything else is the bed form."""
    if isinstance(value, str) and value in THEN_WITH_REF:
        pattern, _path, fallback = THEN_WITH_REF[value]
        ref = ref.strip().upper() if isinstance(ref, str) else ""
        return (value, ref) if pattern.fullmatch(ref) else (fallback, "")
    return (value if isinstance(value, str) and value in THEN else "request"), ""


def then_query(then: str, ref: str = "") -> str:
    """The query that carries ``then`` (and its ``ref``) through the phone and code steps."""
    if then == "request":
        return ""
    return f"?then={then}" + (f"&ref={ref}" if ref else "")


def _then_path(then: str, ref: str) -> str:
    return THEN_WITH_REF[then][1].format(ref=ref) if then in THEN_WITH_REF else THEN[then]


def _phone_page(
    request: Request,
    *,
    status_code: int = 200,
    then: str = "request",
    ref: str = "",
    phone: str = "",
    error: str | None = None,
) -> Response:
    return _citizen_render(
        request,
        "referrals/phone.html",
        status_code,
        then=then,
        ref=ref,
        then_query=then_query(then, ref),
        phone=phone,
        error=error,
    )


@router.get("/admission")
async def admission(request: Request, rt: Runtime = Depends(get_runtime)):
    """Step 1 (your phone) until the phone is verified, then step 3 (the request form)."""
    phone = await verified_phone(request, rt)
    if phone is None:
        return _phone_page(request)
    return await _request_page(request, rt, phone)


@router.get("/admission/phone")
async def phone_step(request: Request):
    """Step 1 again: another number, or a new code."""
    then, ref = then_target(request.query_params.get("then"), request.query_params.get("ref"))
    return _phone_page(request, then=then, ref=ref)


@router.post("/admission/phone")
async def send_code(
    request: Request,
    form: FormData = Depends(csrf.CITIZEN.form),
    rt: Runtime = Depends(get_runtime),
):
    then, ref = then_target(form.get("then"), form.get("ref"))
    raw = form_text(form, "phone").strip()
    try:
        phone = normalise_phone(raw.translate(LATIN_DIGITS))
    except ValueError:
        return _phone_page(
            request,
            status_code=422,
            then=then,
            ref=ref,
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
        response = _phone_page(
            request, status_code=429, then=then, ref=ref, phone=raw, error=message
        )
        response.headers["Retry-After"] = str(wait)
        return response
    response = RedirectResponse(CITIZEN_PATH + "/code" + then_query(then, ref), status_code=303)
    # Which code this browser is answering (and the number's last digits, to show): the code
    # itself is the secret, so a cookie that names the challenge reveals nothing.
    _set_cookie(
        request, response, OTP_COOKIE, f"{challenge_id}.{phone[-4:]}", rt.settings.otp_ttl_s
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
    ref: str = "",
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
        ref=ref,
        then_query=then_query(then, ref),
        error=error,
        dead=dead,
    )


@router.get("/admission/code")
async def code_step(request: Request):
    then, ref = then_target(request.query_params.get("then"), request.query_params.get("ref"))
    challenge = _challenge(request)
    if challenge is None:
        return RedirectResponse(CITIZEN_PATH + "/phone" + then_query(then, ref), status_code=303)
    return _code_page(request, challenge[1], then=then, ref=ref)


@router.post("/admission/code")
async def check_code(
    request: Request,
    form: FormData = Depends(csrf.CITIZEN.form),
    rt: Runtime = Depends(get_runtime),
):
    then, ref = then_target(form.get("then"), form.get("ref"))
    challenge = _challenge(request)
    if challenge is None:
        expired = NotAuthenticated(
            "This code has expired or was used up. Ask for a new code.", code="otp_expired"
        )
        return _phone_page(
            request, status_code=401, then=then, ref=ref, error=say(request, expired.message)
        )
    challenge_id, last4 = challenge
    code = re.sub(r"\s", "", form_text(form, "code")).translate(LATIN_DIGITS)
    if not re.fullmatch(r"\d{6}", code):
        return _code_page(
            request,
            last4,
            status_code=422,
            then=then,
            ref=ref,
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
            request,
            last4,
            status_code=exc.status_code,
            then=then,
            ref=ref,
            error=message,
            dead=left <= 0,
        )
    except NotAuthenticated as exc:
        return _code_page(
            request,
            last4,
            status_code=exc.status_code,
            then=then,
            ref=ref,
            error=say(request, exc.message),
            dead=True,
        )
    response = RedirectResponse(_then_path(then, ref), status_code=303)
    _set_cookie(request, response, PHONE_COOKIE, token, PHONE_SESSION_S)
    response.delete_cookie(OTP_COOKIE, path=CITIZEN_PATH)
    return response


@router.post("/admission/forget")
async def forget_phone(request: Request, form: FormData = Depends(csrf.CITIZEN.form)):
    """ "Not your phone?": this browser forgets the verified number (a shared phone)."""
    response = RedirectResponse(CITIZEN_PATH, status_code=303)
    response.delete_cookie(PHONE_COOKIE, path=CITIZEN_PATH)
    return response


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
        district_options=district_options(request, await districts(rt)),
        values=values or {},
        errors=said(request, errors or {}),
        message=message,
    )


@router.post("/admission")
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
    data, errors = parsed(
        CitizenRequest,
        {
            **request_payload(values),
            "patient": patient_payload(values, phone),
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
            message=say(request, beside_field(exc, errors), **exc.params),
        )
    warn = "&abha=check" if "abha_checksum_mismatch" in result["warnings"] else ""
    return RedirectResponse(
        f"{THEN['status']}?reference={result['reference']}&sent=1{warn}", status_code=303
    )


@router.get("/admission/status")
async def request_status(request: Request, rt: Runtime = Depends(get_runtime)):
    """Know your request: the reference and the same verified phone show where the patient is."""
    phone = await verified_phone(request, rt)
    if phone is None:
        return _phone_page(request, then="status")
    reference = request.query_params.get("reference", "").strip().upper()
    context: dict[str, Any] = {"phone": phone, "reference": reference, "found": None}
    if reference:
        try:
            if not REFERENCE.match(reference):
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
