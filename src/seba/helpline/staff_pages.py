"""The helpline agents' page (``/staff/callbacks``): take the next callback, call it (tap to
call), record how it went; the queue's length and the day's figures. Plain forms, no
JavaScript needed. Who may: ``callback.work`` in the policy table."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import RedirectResponse, Response
from starlette.datastructures import FormData

from seba.core.access import Principal
from seba.core.errors import ValidationFailed
from seba.core.formats import PathId
from seba.core.http import get_runtime
from seba.core.i18n import IST
from seba.core.phones import tel_uri
from seba.core.runtime import Runtime
from seba.core.types import utcnow
from seba.helpline import callbacks
from seba.helpline.models import CALLBACK_OUTCOMES
from seba.vocabulary import CALLBACK_OUTCOME_LABELS, CALLBACK_TOPIC_LABELS
from seba.web.session import StaffRoute, form_text, permitted, render_staff, staff_form

router = APIRouter(include_in_schema=False, route_class=StaffRoute)
PAGE = "/staff/callbacks"
Agent = Annotated[Principal, Depends(permitted("callback.work"))]


@router.get(PAGE)
async def callbacks_page(
    request: Request, actor: Agent, rt: Annotated[Runtime, Depends(get_runtime)]
) -> Response:
    held = await callbacks.held_by(rt, actor=actor)
    wait = await callbacks.expected_wait(rt)
    figures = await callbacks.day_figures(rt, actor=actor, day=utcnow().astimezone(IST).date())
    return render_staff(
        request,
        "helpline/agent.html",
        held=held,
        tel=tel_uri(held.phone) if held else "",
        topic=CALLBACK_TOPIC_LABELS[held.topic] if held else "",
        outcomes=[(o, CALLBACK_OUTCOME_LABELS[o]) for o in CALLBACK_OUTCOMES],
        wait=wait,
        figures=figures,
        empty=request.query_params.get("empty") == "1",
    )


@router.post(PAGE + "/next")
async def take_next(
    actor: Agent,
    rt: Annotated[Runtime, Depends(get_runtime)],
    form: Annotated[FormData, Depends(staff_form)],
) -> Response:
    row = await callbacks.take_next(rt, actor=actor)
    return RedirectResponse(PAGE if row else PAGE + "?empty=1", status_code=303)


@router.post(PAGE + "/{callback_id}/outcome")
async def record_outcome(
    callback_id: PathId,
    actor: Agent,
    rt: Annotated[Runtime, Depends(get_runtime)],
    form: Annotated[FormData, Depends(staff_form)],
) -> Response:
    outcome = form_text(form, "outcome")
    if outcome not in CALLBACK_OUTCOMES:
        raise ValidationFailed("Choose how the call went.", code="outcome_required")
    await callbacks.record_outcome(rt, actor=actor, callback_id=callback_id, outcome=outcome)
    return RedirectResponse(PAGE, status_code=303)
