"""JSON routes of the helpline: its numbers, answers to common questions (public reads, admin
edits with history) and the callback queue (citizens ask, agents take and record)."""

from __future__ import annotations

from datetime import date
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request

from seba.accounts.api import client_address
from seba.accounts.bearer import current_principal
from seba.core.access import Principal
from seba.core.formats import PathId
from seba.core.http import get_runtime, request_language
from seba.core.openapi import errors
from seba.core.runtime import Runtime
from seba.helpline import callbacks, counselling, queries
from seba.helpline import service as helpline_service
from seba.helpline.crisis import EMERGENCY_NUMBERS
from seba.helpline.schemas import (
    MAX_QUERY,
    AnswerFull,
    AnswerHistory,
    AnswerHits,
    AnswerIn,
    AnswerOut,
    BookingIn,
    BookingOut,
    CallbackIn,
    CallbackOut,
    CallbackOutcome,
    CallbackReceipt,
    CallbackTaken,
    CounsellorIn,
    CounsellorOut,
    DayFiguresOut,
    MoveIn,
    NumberIn,
    NumberList,
    NumberOut,
    RevisionOut,
    SlotList,
    SlotOut,
)
from seba.referrals import otp

router = APIRouter(prefix="/api/v1", tags=["helpline"])
MAX_HITS = 20


@router.get(
    "/helpline/numbers",
    response_model=NumberList,
    summary="The helpline's numbers: purpose, hours, tap-to-call URI (in the request's language)",
)
async def list_numbers(request: Request, rt: Runtime = Depends(get_runtime)) -> NumberList:
    lang = request_language(request)
    return NumberList(numbers=[NumberOut.of(n, lang) for n in await queries.numbers(rt)])


@router.put(
    "/helpline/numbers/{number_id}",
    response_model=NumberOut,
    summary="Edit a helpline number (state admins); the footer of every page follows",
)
async def edit_number(
    number_id: PathId,
    body: NumberIn,
    request: Request,
    actor: Principal = Depends(current_principal),
    rt: Runtime = Depends(get_runtime),
) -> NumberOut:
    row = await helpline_service.update_number(rt, actor=actor, number_id=number_id, data=body)
    return NumberOut.of(row, request_language(request))


@router.get(
    "/answers",
    response_model=AnswerHits,
    summary="Search the answers to common questions (Bengali, English or Banglish), best first",
)
async def search_answers(
    request: Request,
    q: Annotated[str, Query(max_length=MAX_QUERY)] = "",
    limit: Annotated[int, Query(ge=1, le=MAX_HITS)] = 10,
    rt: Runtime = Depends(get_runtime),
) -> AnswerHits:
    lang = request_language(request)
    found = await queries.find_answers(rt, q, limit=limit)
    return AnswerHits(query=q, answers=[AnswerOut.of(a, lang) for a in found])


@router.get("/answers/{answer_id}", response_model=AnswerOut, summary="One answer")
async def get_answer(
    answer_id: PathId, request: Request, rt: Runtime = Depends(get_runtime)
) -> AnswerOut:
    return AnswerOut.of(await queries.answer(rt, answer_id), request_language(request))


@router.post(
    "/answers",
    status_code=201,
    response_model=AnswerFull,
    summary="Add an answer (state admins)",
    responses=errors(409),
)
async def create_answer(
    body: AnswerIn,
    actor: Principal = Depends(current_principal),
    rt: Runtime = Depends(get_runtime),
) -> AnswerFull:
    return AnswerFull.of(await helpline_service.create_answer(rt, actor=actor, data=body))


@router.put(
    "/answers/{answer_id}",
    response_model=AnswerFull,
    summary="Edit an answer from the version you read (state admins); each version is kept",
    responses=errors(409),
)
async def edit_answer(
    answer_id: PathId,
    body: AnswerIn,
    actor: Principal = Depends(current_principal),
    rt: Runtime = Depends(get_runtime),
) -> AnswerFull:
    answer = await helpline_service.update_answer(rt, actor=actor, answer_id=answer_id, data=body)
    return AnswerFull.of(answer)


@router.get(
    "/answers/{answer_id}/history",
    response_model=AnswerHistory,
    summary="Every saved version of an answer, newest first (state admins)",
)
async def answer_history(
    answer_id: PathId,
    actor: Principal = Depends(current_principal),
    rt: Runtime = Depends(get_runtime),
) -> AnswerHistory:
    revisions = await queries.answer_history(rt, actor=actor, answer_id=answer_id)
    return AnswerHistory(
        answer_id=answer_id,
        revisions=[
            RevisionOut(version=r.version, at=r.at, actor_name=r.actor_name, content=r.content)
            for r in revisions
        ],
    )


# --- callbacks --------------------------------------------------------------------------------
def receipt(place: callbacks.Place) -> CallbackReceipt:
    return CallbackReceipt(
        id=place.callback_id,
        ahead=place.ahead,
        expected_wait_min=place.expected_wait_min,
        crisis=place.crisis,
    )


@router.post(
    "/callbacks",
    status_code=201,
    response_model=CallbackReceipt,
    summary="Ask to be called back (rate-limited per phone and per address); your place and "
    "the expected wait. A phone already waiting gets its place, not a second one.",
    responses=errors(429),
)
async def ask_for_callback(
    body: CallbackIn, request: Request, rt: Runtime = Depends(get_runtime)
) -> CallbackReceipt:
    place = await callbacks.request_callback(rt, data=body, client=client_address(request))
    return receipt(place)


@router.get(
    "/callbacks/wait",
    response_model=CallbackReceipt,
    summary="How many are waiting and the expected wait for a new request",
)
async def callback_wait(rt: Runtime = Depends(get_runtime)) -> CallbackReceipt:
    return receipt(await callbacks.expected_wait(rt))


@router.post(
    "/callbacks/next",
    response_model=CallbackTaken,
    summary="Take the next callback (priority, then oldest), or the one you hold; "
    "`callback` is null when the queue is empty",
)
async def take_next_callback(
    actor: Principal = Depends(current_principal), rt: Runtime = Depends(get_runtime)
) -> CallbackTaken:
    row = await callbacks.take_next(rt, actor=actor)
    return CallbackTaken(callback=CallbackOut.of(row) if row else None)


@router.post(
    "/callbacks/{callback_id}/outcome",
    response_model=CallbackOut,
    summary="Record how the call went; no answer or busy puts it back in the queue for later",
    responses=errors(409),
)
async def record_callback_outcome(
    callback_id: PathId,
    body: CallbackOutcome,
    actor: Principal = Depends(current_principal),
    rt: Runtime = Depends(get_runtime),
) -> CallbackOut:
    row = await callbacks.record_outcome(
        rt, actor=actor, callback_id=callback_id, outcome=body.outcome
    )
    return CallbackOut.of(row)


@router.get(
    "/callbacks/figures",
    response_model=DayFiguresOut,
    summary="A day's callbacks (Asia/Kolkata): requests, answered, time to callback p50/p90",
)
async def callback_figures(
    day: date,
    actor: Principal = Depends(current_principal),
    rt: Runtime = Depends(get_runtime),
) -> DayFiguresOut:
    figures = await callbacks.day_figures(rt, actor=actor, day=day)
    return DayFiguresOut.model_validate(figures, from_attributes=True)


# --- counselling ------------------------------------------------------------------------------
PHONE_HEADER = "X-Phone-Session"


async def verified_phone(request: Request, rt: Runtime = Depends(get_runtime)) -> str:
    """The phone a one-time code verified (the referrals' phone session: header or cookie)."""
    token = request.headers.get(PHONE_HEADER) or request.cookies.get("seba_phone")
    return await otp.phone_for_session(rt, token)


def booking_out(row) -> BookingOut:
    return BookingOut(
        id=row.id,
        counsellor_id=row.counsellor_id,
        starts_at=row.starts_at,
        status=row.status,
        lang=row.lang,
        crisis=row.crisis,
        emergency_numbers=[number for _, number in EMERGENCY_NUMBERS] if row.crisis else [],
    )


@router.post(
    "/counsellors",
    status_code=201,
    response_model=CounsellorOut,
    summary="Add a counsellor with languages and working hours (state admins)",
)
async def add_counsellor(
    body: CounsellorIn,
    actor: Principal = Depends(current_principal),
    rt: Runtime = Depends(get_runtime),
) -> CounsellorOut:
    return CounsellorOut.of(await counselling.add_counsellor(rt, actor=actor, data=body))


@router.get(
    "/counselling/slots",
    response_model=SlotList,
    summary="Free 30-minute counselling slots of a day (Asia/Kolkata), optionally by language",
)
async def counselling_slots(
    day: date,
    lang: Annotated[str | None, Query(pattern="^(bn|en)$")] = None,
    rt: Runtime = Depends(get_runtime),
) -> SlotList:
    slots = await counselling.free_slots(rt, day=day, lang=lang)
    return SlotList(
        day=day,
        slots=[
            SlotOut(counsellor_id=s.counsellor_id, counsellor=s.counsellor, starts_at=s.starts_at)
            for s in slots
        ],
    )


@router.post(
    "/counselling/bookings",
    status_code=201,
    response_model=BookingOut,
    summary="Book a slot with a verified phone (X-Phone-Session); SMS confirmation now and a "
    "reminder 30 minutes before",
    responses=errors(401, 409, 429),
)
async def book_counselling(
    body: BookingIn,
    phone: str = Depends(verified_phone),
    rt: Runtime = Depends(get_runtime),
) -> BookingOut:
    row = await counselling.book(
        rt,
        phone=phone,
        counsellor_id=body.counsellor_id,
        starts_at=body.starts_at,
        lang=body.lang,
        said=body.note,
    )
    return booking_out(row)


@router.post(
    "/counselling/bookings/{booking_id}/move",
    response_model=BookingOut,
    summary="Move your booking to another free slot in one step (if that slot is taken, 409 "
    "slot_taken and the booking keeps its old slot); the reminder follows",
    responses=errors(401, 409),
)
async def move_counselling(
    booking_id: PathId,
    body: MoveIn,
    phone: str = Depends(verified_phone),
    rt: Runtime = Depends(get_runtime),
) -> BookingOut:
    row = await counselling.move(
        rt,
        phone=phone,
        booking_id=booking_id,
        counsellor_id=body.counsellor_id,
        starts_at=body.starts_at,
    )
    return booking_out(row)


@router.post(
    "/counselling/bookings/{booking_id}/cancel",
    response_model=BookingOut,
    summary="Cancel your booking (the slot is free again; its reminder is not sent)",
    responses=errors(401, 409),
)
async def cancel_counselling(
    booking_id: PathId,
    phone: str = Depends(verified_phone),
    rt: Runtime = Depends(get_runtime),
) -> BookingOut:
    return booking_out(await counselling.cancel(rt, phone=phone, booking_id=booking_id))
