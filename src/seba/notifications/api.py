"""Admin routes for the outbox (dead letters)."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, Depends

from seba.accounts.bearer import current_principal
from seba.core.access import Principal
from seba.core.formats import PathId
from seba.core.http import get_runtime
from seba.core.openapi import errors
from seba.core.runtime import Runtime
from seba.notifications import service as notification_service

router = APIRouter(prefix="/api/v1", tags=["notifications"])


@router.get("/outbox", summary="Outgoing messages (state admins); ?status=dead for dead letters")
async def list_outbox(
    status: Literal["pending", "sent", "dead"] | None = None,
    actor: Principal = Depends(current_principal),
    rt: Runtime = Depends(get_runtime),
):
    return {"messages": await notification_service.list_messages(rt, actor=actor, status=status)}


@router.post(
    "/outbox/{message_id}/retry", summary="Queue a dead letter again", responses=errors(409)
)
async def retry(
    message_id: PathId,
    actor: Principal = Depends(current_principal),
    rt: Runtime = Depends(get_runtime),
):
    return await notification_service.retry_dead(rt, actor=actor, message_id=message_id)
