"""What every referral page shares: reading posted forms into the service's models, the words
and small helpers the templates need, and the notice shown after a step (post, redirect, get).
"""

from __future__ import annotations

import json
import re
import secrets
from typing import Annotated, Any, TypeVar

from fastapi import Path, Request
from fastapi.responses import RedirectResponse
from pydantic import BaseModel, ValidationError
from starlette.datastructures import FormData

from seba.beds import public
from seba.beds.results_pages import directions_href, tel_href
from seba.core.errors import DomainError, ValidationFailed
from seba.core.http import request_language
from seba.core.runtime import Runtime
from seba.referrals.labels import (
    CONDITION_HINTS,
    CONDITION_LABELS,
    COVID_LABELS,
    FIELD_MESSAGES,
    FIX_BELOW,
    NOTICES,
    SOURCE_LABELS,
)
from seba.referrals.models import BED_NEEDS, CONDITIONS, COVID_STATUSES, PATIENT_SEXES
from seba.vocabulary import BED_TYPE_LABELS, PATIENT_SEX_LABELS, REFERRAL_STATUS_LABELS
from seba.web.session import form_text, say

Id = Annotated[int, Path(ge=1, le=2**31 - 1)]
M = TypeVar("M", bound=BaseModel)

REFERENCE = re.compile(r"^[A-Z0-9-]{4,20}$")
# Phones here type Bengali digits as readily as Latin ones.
LATIN_DIGITS = str.maketrans("০১২৩৪৫৬৭৮৯", "0123456789")
PATIENT_FIELDS = ("name", "age", "sex", "phone")
REQUEST_FIELDS = ("district", "condition", "need", "covid_status", "abha_number", "notes")
MAX_NOTES = 500
MAX_REASON = 400


# ---------------------------------------------------------------- posted forms


def form_id(form: FormData, name: str) -> int | None:
    """A posted row id; anything but a plain positive 32-bit number reads as missing."""
    text = form_text(form, name).strip()
    if text.isascii() and text.isdigit() and len(text) <= 10 and 0 < int(text) < 2**31:
        return int(text)
    return None


def parsed(model: type[M], payload: dict[str, Any]) -> tuple[M | None, dict[str, str]]:
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


def validated(model: type[M], **payload: Any) -> M:
    """The model, or ValidationFailed (for forms whose fields are all chosen, not typed)."""
    found, errors = parsed(model, payload)
    if found is None:
        raise ValidationFailed(next(iter(errors.values())), details=sorted(errors))
    return found


def patient_payload(values: dict[str, str], phone: str | None = None) -> dict[str, Any]:
    return {
        "name": values["name"],
        "age": values["age"].translate(LATIN_DIGITS),
        "sex": values["sex"],
        "phone": phone or values["phone"].translate(LATIN_DIGITS),
    }


def request_payload(values: dict[str, str]) -> dict[str, Any]:
    return {
        "district": values["district"],
        "condition": values["condition"],
        "need": values["need"],
        "covid_status": values["covid_status"],
        "abha_number": values["abha_number"].translate(LATIN_DIGITS) or None,
        "notes": values["notes"],
        "lat": values.get("lat") or None,
        "lon": values.get("lon") or None,
    }


def beside_field(exc: DomainError, errors: dict[str, str]) -> str:
    """The message above a form: a district the service did not know is shown at the field."""
    if exc.code == "unknown_district":
        errors["district"] = FIELD_MESSAGES["district"]
        return FIX_BELOW
    return exc.message


def said(request: Request, errors: dict[str, str]) -> dict[str, str]:
    """Field messages in the reader's language."""
    return {
        name: say(request, text, max=MAX_REASON if name == "reason" else MAX_NOTES)
        for name, text in errors.items()
    }


# ---------------------------------------------------------------- districts


async def districts(rt: Runtime) -> list[dict[str, Any]]:
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


# ---------------------------------------------------------------- what templates need


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
            # One word per bed type everywhere (``seba.vocabulary``): the family's form and
            # the control room's say the same.
            "public_need": _options(request, BED_NEEDS, BED_TYPE_LABELS),
            "covid_status": _options(request, COVID_STATUSES, COVID_LABELS),
        },
        "show_phone": show_phone,
        "condition_labels": CONDITION_LABELS,
        "condition_hints": {code: say(request, hint) for code, hint in CONDITION_HINTS.items()},
        "sex_labels": PATIENT_SEX_LABELS,
        "covid_labels": COVID_LABELS,
        "status_labels": REFERRAL_STATUS_LABELS,
        "source_labels": SOURCE_LABELS,
        "bed_labels": BED_TYPE_LABELS,
        "public_bed_labels": BED_TYPE_LABELS,
        "tel_href": tel_href,
        "directions_href": directions_href,
        "duration": lambda seconds: duration(request, seconds),
        # A fresh Idempotency-Key per rendered form: a double click sends the same one twice,
        # and the service answers the second with the first one's result.
        "new_key": lambda: secrets.token_urlsafe(16),
        "max_reason": MAX_REASON,
    }


# ---------------------------------------------------------------- after a step


def notice(request: Request) -> str | None:
    """The line that says what the last step did (``?done=…&ref=…``), in the reader's language."""
    done = request.query_params.get("done", "")
    reference = request.query_params.get("ref", "")
    if done in NOTICES and REFERENCE.match(reference):
        return say(request, NOTICES[done], reference=reference)
    return None


def done(path: str, what: str, reference: str, anchor: str = "") -> RedirectResponse:
    """Back to the list after a step, with the notice to show there."""
    return RedirectResponse(f"{path}?done={what}&ref={reference}{anchor}", status_code=303)
