"""The call's routes: a ticket for the consult's doctor or CHO (JSON API, bearer token), the
call record and its chat, and the signaling WebSocket itself. Thin: parse, call the service."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, WebSocket

from seba.accounts.bearer import current_principal
from seba.core.access import Principal
from seba.core.http import get_runtime
from seba.core.openapi import errors
from seba.core.runtime import Runtime
from seba.telemedicine.calls import service, signaling

router = APIRouter(prefix="/api/v1", tags=["telemedicine"])
sockets = APIRouter()
Id = Annotated[int, Path(ge=1, le=2**31 - 1)]
Staff = Annotated[Principal, Depends(current_principal)]
Rt = Annotated[Runtime, Depends(get_runtime)]


@router.post(
    "/consultations/{consult_id}/call/ticket",
    summary="A one-minute ticket to open the consult's call (its doctor or CHO only)",
    # 409 call_not_open: the consult is not (or no longer) held by a doctor.
    responses=errors(409),
)
async def call_ticket(consult_id: Id, principal: Staff, rt: Rt):
    found = await service.issue_ticket(rt, actor=principal, consult_id=consult_id)
    return found.as_dict()


@router.get(
    "/consultations/{consult_id}/call",
    summary="The call record: start, end, duration, seconds per mode, the mode on record",
)
async def call_record(consult_id: Id, principal: Staff, rt: Rt):
    found = await service.call_record(rt, actor=principal, consult_id=consult_id)
    return service.record_out(found)


@router.get("/consultations/{consult_id}/call/chat", summary="The call's chat (its two parties)")
async def call_chat(consult_id: Id, principal: Staff, rt: Rt):
    lines = await service.chat_log(rt, actor=principal, consult_id=consult_id)
    return {"messages": [service.chat_out(m) for m in lines]}


@sockets.websocket("/ws/consults/{consult_id}/call")
async def call_socket(websocket: WebSocket, consult_id: int):
    await signaling.serve_call(websocket, websocket.app.state.runtime, consult_id)
