"""The consoles' live streams (server-sent events), for the pages and the API alike.

The doctor's stream (``offer``, ``consult``; their presence while open) and one consult's
stream for its CHO (``state``, ``position``): topics and events in ``consults.events``, the
process's bookkeeping (sessions, presence, the sibling watch) in ``consults.streams``.
"""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator

from fastapi import Request
from fastapi.responses import StreamingResponse

from seba.core.access import Principal
from seba.core.runtime import Runtime
from seba.telemedicine.consults import events, offers
from seba.telemedicine.consults.access import access_consult
from seba.telemedicine.consults.streams import consoles_of, standing_offer
from seba.telemedicine.doctors import doctor_for
from seba.web.live import event_stream

log = logging.getLogger(__name__)


def _sse(name: str, data: dict) -> bytes:
    return f"event: {name}\ndata: {json.dumps(data)}\n\n".encode()


async def doctor_stream(
    request: Request, rt: Runtime, *, actor: Principal, token: str
) -> StreamingResponse:
    """The doctor's stream: ``offer`` and ``consult`` events of their topic; their presence.

    Right after subscribing it sends ``offer`` at once if an offer stands, so nothing offered
    between the page's fetch and the subscription is missed; then it asks for work once
    (``offers.current_offer``: a heartbeat, and an offer if a consult waits for them, which
    arrives as an event like any other). Raises PermissionDenied for a login that is not a
    doctor's.
    """
    async with rt.db.read() as session:
        doctor = await doctor_for(session, actor)
    consoles = consoles_of(rt)
    response = event_stream(
        request,
        rt,
        topics=(events.doctor_topic(doctor.id),),
        keep=events.KEEP,
        event_key=events.EVENT_KEY,
        still_allowed=lambda: consoles.still_allowed(token),
    )
    inner = response.body_iterator

    async def body() -> AsyncIterator[bytes | str]:
        async with consoles.hold(token, doctor.id):
            try:
                first = True
                async for chunk in inner:
                    yield chunk
                    if first:  # the preamble: subscribed, nothing is lost from here
                        first = False
                        standing = await standing_offer(rt, doctor.id)
                        if standing is not None:
                            yield _sse("offer", {"consult_id": standing})
                        try:
                            await offers.current_offer(rt, actor=actor)
                        except Exception as exc:  # the sweep offers within a second anyway
                            log.warning("console stream: asking for work failed (%s)", exc)
            finally:
                await inner.aclose()  # type: ignore[attr-defined]

    response.body_iterator = body()
    return response


async def consult_stream(
    request: Request, rt: Runtime, *, actor: Principal, consult_id: int, token: str
) -> StreamingResponse:
    """One consult's stream for its CHO: ``state`` on each status change, ``position`` when its
    queue moves. Raises NotFound ``unknown_consult`` for a consult out of reach (as a read)."""
    async with rt.db.read() as session:
        consult = await access_consult(session, actor, consult_id)
        queue = events.queue_of(consult)
    consoles = consoles_of(rt)
    response = event_stream(
        request,
        rt,
        topics=(events.consult_topic(consult_id), events.queue_topic(*queue)),
        keep=events.KEEP,
        event_key=events.EVENT_KEY,
        still_allowed=lambda: consoles.still_allowed(token),
    )
    inner = response.body_iterator

    async def body() -> AsyncIterator[bytes | str]:
        async with consoles.hold(token, consult_id=consult_id, queue=queue):
            try:
                async for chunk in inner:
                    yield chunk
            finally:
                await inner.aclose()  # type: ignore[attr-defined]

    response.body_iterator = body()
    return response
