"""The state admin's page of helpline numbers (``/staff/helpline/numbers``): the list, add one,
edit one. Plain forms with the staff CSRF, no script; who may is ``helpline.manage`` (POLICY).
A save goes through ``service`` (one transaction, audited), which refreshes this worker's
footer after the commit; other workers follow within a minute (``queries.keep_footer``)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import RedirectResponse, Response
from pydantic import ValidationError
from starlette.datastructures import FormData

from seba.core.access import Principal
from seba.core.formats import PathId
from seba.core.http import get_runtime
from seba.core.runtime import Runtime
from seba.helpline import queries
from seba.helpline import service as helpline_service
from seba.helpline.models import HelplineNumber
from seba.helpline.schemas import NumberIn
from seba.web.session import StaffRoute, form_text, permitted, render_staff, say, staff_form

router = APIRouter(include_in_schema=False, route_class=StaffRoute)
NUMBERS_PATH = "/staff/helpline/numbers"
Admin = Annotated[Principal, Depends(permitted("helpline.manage"))]
AppRuntime = Annotated[Runtime, Depends(get_runtime)]
TEXT_FIELDS = ("name_bn", "name_en", "purpose_bn", "purpose_en", "hours_bn", "hours_en", "number")
# Pydantic explains problems in developer English; the form says what to type instead.
NUMBER_FIELD_MESSAGES = {
    "name_bn": "Write the name in Bengali (2 to 120 letters).",
    "name_en": "Write the name in English (2 to 120 letters).",
    "purpose_bn": "Write what it is for, in Bengali (2 to 300 letters).",
    "purpose_en": "Write what it is for, in English (2 to 300 letters).",
    "hours_bn": "Write when it answers, in Bengali (2 to 80 letters).",
    "hours_en": "Write when it answers, in English (2 to 80 letters).",
    "number": (
        "A number that can be dialled: toll-free (1800 …), a short code such as 108, "
        "a 10-digit mobile or a landline with its STD code, e.g. 033 2357 1075."
    ),
    "position": "A whole number from 0 to 1000.",
}


def _values_of(row: HelplineNumber) -> dict[str, str]:
    values = {name: str(getattr(row, name)) for name in TEXT_FIELDS}
    return values | {"position": str(row.position), "in_footer": "yes" if row.in_footer else ""}


def _values(form: FormData) -> dict[str, str]:
    values = {name: form_text(form, name).strip() for name in (*TEXT_FIELDS, "position")}
    return values | {"in_footer": "yes" if form_text(form, "in_footer") else ""}


def _parse(values: dict[str, str]) -> NumberIn:
    """The form as the service's input; raises ValidationError naming the bad fields."""
    fields: dict[str, Any] = {name: values[name] for name in TEXT_FIELDS}
    fields["in_footer"] = values["in_footer"] == "yes"
    fields["position"] = values["position"] or "0"
    return NumberIn(**fields)


def _form(
    request: Request,
    *,
    row: HelplineNumber | None,
    values: dict[str, str],
    status_code: int = 200,
    errors: dict[str, str] | None = None,
    message: str | None = None,
) -> Response:
    return render_staff(
        request,
        "helpline/admin_number_form.html",
        status_code,
        row=row,
        values=values,
        errors=errors or {},
        message=message,
    )


def _refused(request: Request, exc: ValidationError, **context: Any) -> Response:
    """The form again, each problem as a sentence by its field; nothing was written."""
    errors: dict[str, str] = {}
    for err in exc.errors():
        name = str(err["loc"][0]) if err["loc"] else ""
        errors.setdefault(
            name, say(request, NUMBER_FIELD_MESSAGES.get(name, "Some fields are not valid."))
        )
    message = say(request, "Some fields are not valid.")
    return _form(request, status_code=422, errors=errors, message=message, **context)


@router.get(NUMBERS_PATH)
async def numbers_page(request: Request, actor: Admin, rt: AppRuntime) -> Response:
    return render_staff(
        request,
        "helpline/admin_numbers.html",
        numbers=await queries.numbers(rt),
        saved=request.query_params.get("saved") == "1",
    )


@router.get(NUMBERS_PATH + "/new")
async def new_number(request: Request, actor: Admin) -> Response:
    values = dict.fromkeys((*TEXT_FIELDS, "position", "in_footer"), "")
    return _form(request, row=None, values=values)


@router.post(NUMBERS_PATH + "/new")
async def add_number(
    request: Request,
    actor: Admin,
    rt: AppRuntime,
    form: Annotated[FormData, Depends(staff_form)],
) -> Response:
    values = _values(form)
    try:
        await helpline_service.create_number(rt, actor=actor, data=_parse(values))
    except ValidationError as exc:
        return _refused(request, exc, row=None, values=values)
    return RedirectResponse(NUMBERS_PATH + "?saved=1", status_code=303)


@router.get(NUMBERS_PATH + "/{number_id}/edit")
async def edit_number(
    request: Request, number_id: PathId, actor: Admin, rt: AppRuntime
) -> Response:
    row = await queries.number(rt, number_id)
    return _form(request, row=row, values=_values_of(row))


@router.post(NUMBERS_PATH + "/{number_id}/edit")
async def change_number(
    request: Request,
    number_id: PathId,
    actor: Admin,
    rt: AppRuntime,
    form: Annotated[FormData, Depends(staff_form)],
) -> Response:
    row = await queries.number(rt, number_id)
    values = _values(form)
    try:
        data = _parse(values)
        await helpline_service.update_number(rt, actor=actor, number_id=number_id, data=data)
    except ValidationError as exc:
        return _refused(request, exc, row=row, values=values)
    return RedirectResponse(NUMBERS_PATH + "?saved=1", status_code=303)
