"""The call on the consult pages: the ticket the page's script asks for before it opens the
signaling socket (``static/call.js``). The doctor's console and the CHO's consult page include
``telemedicine/_call.html``; this is their one route. JSON, since only the script calls it."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse

from seba.core.access import Principal
from seba.core.errors import DomainError
from seba.telemedicine.calls import service as call_service
from seba.telemedicine.pages.forms import BASE, Form, Id, Rt
from seba.web.session import StaffRoute, permitted, say

router = APIRouter(include_in_schema=False, route_class=StaffRoute)
CallParty = Annotated[Principal, Depends(permitted("consult.call"))]
NO_STORE = {"Cache-Control": "no-store"}


@router.post(BASE + "/consults/{consult_id}/call/ticket")
async def call_ticket(request: Request, consult_id: Id, principal: CallParty, form: Form, rt: Rt):
    try:
        found = await call_service.issue_ticket(rt, actor=principal, consult_id=consult_id)
    except DomainError as exc:
        # The script shows the message as it is: the one error shape, in the reader's words.
        body = {"error": {"code": exc.code, "message": say(request, exc.message, **exc.params)}}
        return JSONResponse(body, status_code=exc.status_code, headers=NO_STORE)
    return JSONResponse(found.as_dict(), headers=NO_STORE)
