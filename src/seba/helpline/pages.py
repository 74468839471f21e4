"""The helpline's public pages, Bengali first, working without JavaScript: ``/contact`` (every
number, tap to call), ``/answers`` (search; a plain GET form) and ``/answers/{id}``. Also gives
the base template the footer's numbers (``helpline_footer``)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse

from seba.core.formats import PathId
from seba.core.http import get_runtime, request_language
from seba.core.runtime import Runtime
from seba.helpline import queries
from seba.helpline.labels import TOPIC_ORDER
from seba.helpline.schemas import MAX_QUERY, AnswerOut, NumberOut
from seba.vocabulary import ANSWER_TOPIC_LABELS
from seba.web.render import env, render

router = APIRouter(include_in_schema=False)
# Every page's footer: this process's copy of the numbers marked for it.
env.globals["helpline_footer"] = queries.FOOTER.for_page


@router.get("/contact", response_class=HTMLResponse)
async def contact_page(request: Request, rt: Runtime = Depends(get_runtime)) -> HTMLResponse:
    lang = request_language(request)
    rows = await queries.numbers(rt)
    return render(request, "helpline/contact.html", numbers=[NumberOut.of(n, lang) for n in rows])


@router.get("/answers", response_class=HTMLResponse)
async def answers_page(
    request: Request,
    q: Annotated[str, Query(max_length=MAX_QUERY)] = "",
    rt: Runtime = Depends(get_runtime),
) -> HTMLResponse:
    lang = request_language(request)
    q = q.strip()
    found = [AnswerOut.of(a, lang) for a in await queries.find_answers(rt, q)] if q else []
    topics = []
    if not q:
        grouped = await queries.answers_by_topic(rt)
        topics = [
            (ANSWER_TOPIC_LABELS[t], [AnswerOut.of(a, lang) for a in grouped[t]])
            for t in TOPIC_ORDER
            if t in grouped
        ]
    return render(request, "helpline/answers.html", q=q, found=found, topics=topics)


@router.get("/answers/{answer_id}", response_class=HTMLResponse)
async def answer_page(
    answer_id: PathId, request: Request, rt: Runtime = Depends(get_runtime)
) -> HTMLResponse:
    lang = request_language(request)
    answer = AnswerOut.of(await queries.answer(rt, answer_id), lang)
    return render(
        request,
        "helpline/answer.html",
        answer=answer,
        topic=ANSWER_TOPIC_LABELS[answer.topic],
    )
