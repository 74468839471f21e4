"""The public prescription check a pharmacist reaches from the QR code: no login, no more
patient data than it takes to match the paper (initials, age, sex)."""

from __future__ import annotations

import re
from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.responses import RedirectResponse, Response

from seba.core.errors import NotFound
from seba.core.http import get_runtime
from seba.core.runtime import Runtime
from seba.telemedicine.pages.text import (
    MODE_LABELS,
    SEX_LABELS,
    TPG_LIST_LABELS,
    latin_digits,
)
from seba.telemedicine.prescriptions import service as prescription_service
from seba.web.render import render

router = APIRouter(include_in_schema=False)

VERIFY = "/verify"
# Anything a person may paste (a whole URL, a line of the paper) gets the page's own "no such
# code" answer in their language, not a validation error; longer is not a typing slip.
MAX_TYPED = 2000
# Codes are three groups of four from an alphabet without look-alikes; people type them with
# or without the dashes, in any case.
_CODE_CHARS = re.compile(r"[^0-9A-Za-z]")
CODE_LENGTH = 12
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def normalise_code(raw: str) -> str | None:
    """``abcd efgh-jkmn`` -> ``ABCD-EFGH-JKMN``; None when it cannot be a code."""
    compact = _CODE_CHARS.sub("", latin_digits(raw)).upper()
    if len(compact) != CODE_LENGTH:
        return None
    return "-".join(compact[i : i + 4] for i in range(0, CODE_LENGTH, 4))


def _verify_page(
    request: Request, *, status_code: int = 200, code: str = "", found=None, error: str = ""
) -> Response:
    response = render(
        request,
        "telemedicine/verify.html",
        status_code,
        code=code,
        found=found,
        error=error,
        sex_labels=SEX_LABELS,
        mode_labels=MODE_LABELS,
        tpg_labels=TPG_LIST_LABELS,
    )
    # A check must never be answered from a cache: a prescription may be looked up before and
    # after it exists, and a pharmacist's answer must be today's.
    response.headers["Cache-Control"] = "no-store"
    response.headers["X-Robots-Tag"] = "noindex"
    return response


@router.get(VERIFY)
async def verify_form(
    request: Request, code: Annotated[str | None, Query(max_length=MAX_TYPED)] = None
) -> Response:
    """The form to type a code; a typed code goes to its own page."""
    if code is None or not code.strip():
        return _verify_page(request)
    normal = normalise_code(code)
    if normal is None:
        return _verify_page(
            request,
            status_code=404,
            code=_CONTROL.sub("", code.strip())[:40],
            error="A code has 12 letters and digits, like ABCD-EFGH-JKMN.",
        )
    return RedirectResponse(f"{VERIFY}/{normal}", status_code=303)


@router.get(VERIFY + "/{code}")
async def verify_code(
    request: Request,
    code: Annotated[str, Path(max_length=MAX_TYPED)],
    rt: Runtime = Depends(get_runtime),
) -> Response:
    """Public: does this prescription exist, and what does it say? No login; no more patient
    data than a pharmacist needs to match the paper (initials, age, sex)."""
    normal = normalise_code(code)
    not_found = (
        "No prescription has this code. Check the code on the paper; if it is right, "
        "the prescription was not issued by Seba."
    )
    if normal is None:
        # Not even the shape of a code (wrong length, stray characters): nothing to look up.
        shown = _CONTROL.sub("", code)[:40]
        return _verify_page(request, status_code=404, code=shown, error=not_found)
    try:
        found = await prescription_service.verify(rt, code=normal)
    except NotFound:
        return _verify_page(request, status_code=404, code=code, error=not_found)
    return _verify_page(request, code=found.code, found=found)
