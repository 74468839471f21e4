"""The state admin's pages of answers (``/staff/helpline/answers``): every answer by topic or
the search's best matches, add one, edit one with its history. Plain forms with the staff CSRF;
who may is ``helpline.manage`` (POLICY).

An edit carries the version it started from (a hidden field). When someone saved meanwhile the
service refuses it (409 ``version_conflict``): the page then shows *their* version in the form,
to edit again from, and the reader's own unsaved text beside it, so nothing typed is lost."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import RedirectResponse, Response
from pydantic import ValidationError
from starlette.datastructures import FormData

from seba.core.access import Principal
from seba.core.errors import Conflict, ValidationFailed
from seba.core.formats import PathId
from seba.core.http import get_runtime
from seba.core.runtime import Runtime
from seba.core.types import utcnow
from seba.helpline import queries
from seba.helpline import service as helpline_service
from seba.helpline.labels import TOPIC_ORDER
from seba.helpline.models import Answer, AnswerRevision
from seba.helpline.schemas import MAX_QUERY, AnswerIn
from seba.helpline.service import REVISION_FIELDS
from seba.vocabulary import ANSWER_TOPIC_LABELS
from seba.web.session import StaffRoute, form_text, permitted, render_staff, say, staff_form

router = APIRouter(include_in_schema=False, route_class=StaffRoute)
ANSWERS_PATH = "/staff/helpline/answers"
Admin = Annotated[Principal, Depends(permitted("helpline.manage"))]
AppRuntime = Annotated[Runtime, Depends(get_runtime)]
SEARCH_LIMIT = 20
# Pydantic explains problems in developer English; the form says what to type instead.
ANSWER_FIELD_MESSAGES = {
    "slug": "A short name in small English letters, digits and hyphens, e.g. oxygen-level-low.",
    "topic": "Choose a topic.",
    "question_bn": "Write the question in Bengali (3 to 300 letters).",
    "question_en": "Write the question in English (3 to 300 letters).",
    "body_bn": "Write the answer in Bengali (3 to 4,000 letters).",
    "body_en": "Write the answer in English (3 to 4,000 letters).",
    "aliases": "At most 2,000 letters.",
    "source": "Name where the answer comes from (3 to 300 letters).",
    "reviewed_on": "A date, e.g. 2026-12-04.",
    "version": "This form lost the version it was opened at. Open the answer again.",
}
# What a revision's changed fields are called on the history list.
ANSWER_FIELD_LABELS = {
    "slug": "Short name",
    "topic": "Topic",
    "question_bn": "Question in Bengali",
    "question_en": "Question in English",
    "body_bn": "Answer in Bengali",
    "body_en": "Answer in English",
    "aliases": "Other spellings and keywords",
    "source": "Source",
    "reviewed_on": "Reviewed on",
}
CONFLICT = "Someone else changed this answer; here is their version. Your text is below it."


def _values_of(row: Answer) -> dict[str, str]:
    values = {name: str(getattr(row, name) or "") for name in REVISION_FIELDS}
    return values | {"version": str(row.version)}


def _values(form: FormData) -> dict[str, str]:
    return {name: form_text(form, name).strip() for name in (*REVISION_FIELDS, "version")}


def _parse(values: dict[str, str], *, editing: bool) -> AnswerIn:
    """The form as the service's input; raises ValidationError naming the bad fields."""
    fields: dict[str, Any] = {k: v for k, v in values.items() if k != "version"}
    if editing:
        fields["version"] = values["version"] or None
    return AnswerIn(**fields)


def _changes(revisions: list[AnswerRevision]) -> list[dict[str, Any]]:
    """Each saved version (newest first) with who, when and which fields it changed."""
    rows = []
    for i, rev in enumerate(revisions):
        older = revisions[i + 1].content if i + 1 < len(revisions) else None
        changed = (
            [ANSWER_FIELD_LABELS[k] for k in REVISION_FIELDS if older.get(k) != rev.content.get(k)]
            if older is not None
            else []
        )
        rows.append({"rev": rev, "created": older is None, "changed": changed})
    return rows


async def _form(
    request: Request,
    rt: Runtime,
    actor: Principal,
    *,
    row: Answer | None,
    values: dict[str, str],
    status_code: int = 200,
    errors: dict[str, str] | None = None,
    message: str | None = None,
    theirs: bool = False,
    mine: dict[str, str] | None = None,
) -> Response:
    history = []
    if row is not None:
        revisions = await queries.answer_history(rt, actor=actor, answer_id=row.id)
        history = _changes(list(revisions))
    return render_staff(
        request,
        "helpline/admin_answer_form.html",
        status_code,
        row=row,
        values=values,
        errors=errors or {},
        message=message,
        theirs=theirs,
        mine=mine,
        history=history,
        saved=request.query_params.get("saved") == "1",
        topics=[(t, ANSWER_TOPIC_LABELS[t]) for t in TOPIC_ORDER],
    )


def _field_errors(request: Request, exc: ValidationError) -> dict[str, str]:
    errors: dict[str, str] = {}
    for err in exc.errors():
        name = str(err["loc"][0]) if err["loc"] else ""
        text = ANSWER_FIELD_MESSAGES.get(name, "Some fields are not valid.")
        errors.setdefault(name, say(request, text))
    return errors


@router.get(ANSWERS_PATH)
async def answers_page(
    request: Request,
    actor: Admin,
    rt: AppRuntime,
    q: Annotated[str, Query(max_length=MAX_QUERY)] = "",
) -> Response:
    q = q.strip()
    found = await queries.find_answers(rt, q, limit=SEARCH_LIMIT) if q else []
    topics = []
    if not q:
        grouped = await queries.answers_by_topic(rt)
        topics = [(ANSWER_TOPIC_LABELS[t], grouped[t]) for t in TOPIC_ORDER if t in grouped]
    return render_staff(
        request,
        "helpline/admin_answers.html",
        q=q,
        found=found,
        topics=topics,
        topic_labels=ANSWER_TOPIC_LABELS,
        saved=request.query_params.get("saved") == "1",
    )


@router.get(ANSWERS_PATH + "/new")
async def new_answer(request: Request, actor: Admin, rt: AppRuntime) -> Response:
    values = dict.fromkeys((*REVISION_FIELDS, "version"), "")
    values["reviewed_on"] = utcnow().date().isoformat()
    return await _form(request, rt, actor, row=None, values=values)


@router.post(ANSWERS_PATH + "/new")
async def add_answer(
    request: Request,
    actor: Admin,
    rt: AppRuntime,
    form: Annotated[FormData, Depends(staff_form)],
) -> Response:
    values = _values(form)
    try:
        await helpline_service.create_answer(rt, actor=actor, data=_parse(values, editing=False))
    except ValidationError as exc:
        message = say(request, "Some fields are not valid.")
        errors = _field_errors(request, exc)
        return await _form(
            request,
            rt,
            actor,
            row=None,
            values=values,
            status_code=422,
            errors=errors,
            message=message,
        )
    except Conflict as exc:  # the short name is taken
        message = say(request, exc.message, **exc.params)
        return await _form(
            request,
            rt,
            actor,
            row=None,
            values=values,
            status_code=409,
            errors={"slug": message},
            message=message,
        )
    return RedirectResponse(ANSWERS_PATH + "?saved=1", status_code=303)


@router.get(ANSWERS_PATH + "/{answer_id}/edit")
async def edit_answer(
    request: Request, answer_id: PathId, actor: Admin, rt: AppRuntime
) -> Response:
    row = await queries.answer(rt, answer_id)
    return await _form(request, rt, actor, row=row, values=_values_of(row))


@router.post(ANSWERS_PATH + "/{answer_id}/edit")
async def change_answer(
    request: Request,
    answer_id: PathId,
    actor: Admin,
    rt: AppRuntime,
    form: Annotated[FormData, Depends(staff_form)],
) -> Response:
    row = await queries.answer(rt, answer_id)
    # The short name is the answer's identity in the data file: shown, never taken from the form.
    values = _values(form) | {"slug": row.slug}
    try:
        data = _parse(values, editing=True)
        await helpline_service.update_answer(rt, actor=actor, answer_id=answer_id, data=data)
    except ValidationError as exc:
        message = say(request, "Some fields are not valid.")
        errors = _field_errors(request, exc)
        return await _form(
            request,
            rt,
            actor,
            row=row,
            values=values,
            status_code=422,
            errors=errors,
            message=message,
        )
    except (Conflict, ValidationFailed) as exc:
        if exc.code != "version_conflict":
            message = say(request, exc.message, **exc.params)
            return await _form(
                request,
                rt,
                actor,
                row=row,
                values=values,
                status_code=exc.status_code,
                message=message,
            )
        row = await queries.answer(rt, answer_id)  # their version, as it is now
        return await _form(
            request,
            rt,
            actor,
            row=row,
            values=_values_of(row),
            status_code=409,
            message=say(request, CONFLICT),
            theirs=True,
            mine=values,
        )
    return RedirectResponse(f"{ANSWERS_PATH}/{answer_id}/edit?saved=1", status_code=303)
