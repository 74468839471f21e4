"""The citizen's "call me back" page (``/callback``): a plain form (CSRF double-submit cookie,
no JavaScript needed), the expected wait before asking and the place after; crisis words in
the note show the emergency numbers at once. "Didn't find an answer?" on the answers pages
leads here."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, Response
from pydantic import ValidationError
from starlette.datastructures import FormData

from seba.accounts.api import client_address
from seba.core.errors import TooManyRequests
from seba.core.http import get_runtime, request_language
from seba.core.runtime import Runtime
from seba.helpline import callbacks
from seba.helpline.crisis import EMERGENCY_NUMBERS
from seba.helpline.labels import FIELD_MESSAGES, FIX_BELOW, TOPIC_ORDER
from seba.helpline.schemas import CallbackIn
from seba.vocabulary import CALLBACK_TOPIC_LABELS
from seba.web import csrf
from seba.web.render import render
from seba.web.session import form_text, say

router = APIRouter(include_in_schema=False)
FIELDS = ("phone", "topic", "lang", "note")


def _page(request: Request, status_code: int = 200, **context: Any) -> Response:
    value = csrf.CALLBACK.value_for(request)
    topics = [(t, CALLBACK_TOPIC_LABELS[t]) for t in (*TOPIC_ORDER, "other")]
    response = render(
        request,
        "helpline/callback.html",
        status_code,
        csrf=value,
        topics=topics,
        emergency=EMERGENCY_NUMBERS,
        **context,
    )
    response.headers["Cache-Control"] = "no-store"
    csrf.CALLBACK.remember(request, response, value)
    return response


@router.get("/callback", response_class=HTMLResponse)
async def callback_form(request: Request, rt: Runtime = Depends(get_runtime)) -> Response:
    wait = await callbacks.expected_wait(rt)
    said = {"lang": request_language(request), "topic": request.query_params.get("topic", "")}
    return _page(request, wait=wait, said=said, errors={})


@router.post("/callback", response_class=HTMLResponse)
async def ask_for_callback(
    request: Request,
    form: FormData = Depends(csrf.CALLBACK.form),
    rt: Runtime = Depends(get_runtime),
) -> Response:
    said = {name: form_text(form, name) for name in FIELDS}
    try:
        data = CallbackIn(**{k: v for k, v in said.items() if v or k in ("phone", "topic")})
    except ValidationError as exc:
        errors = {
            str(e["loc"][0]): say(request, FIELD_MESSAGES.get(str(e["loc"][0]), FIX_BELOW))
            for e in exc.errors()
            if e["loc"]
        }
        wait = await callbacks.expected_wait(rt)
        return _page(
            request, 422, wait=wait, said=said, errors=errors, problem=say(request, FIX_BELOW)
        )
    try:
        place = await callbacks.request_callback(rt, data=data, client=client_address(request))
    except TooManyRequests as exc:
        wait = await callbacks.expected_wait(rt)
        response = _page(
            request, 429, wait=wait, said=said, errors={}, problem=say(request, exc.message)
        )
        response.headers["Retry-After"] = str(exc.details["retry_after_s"])
        return response
    return _page(request, place=place, said=said, errors={})
