"""The staff pages' live stream: every referral and bed change, as ids only.

The control room and hospital pages fetch their lists again on an event (and after a
reconnect, when they may have missed some), so the stream needs no history. It carries no
patient data, whoever listens: only the ``LIVE_KEYS`` of each event are passed on.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import APIRouter, Depends, Request

from seba.core.access import Principal, home_district
from seba.core.http import get_runtime
from seba.core.runtime import Runtime
from seba.web.live import event_stream
from seba.web.session import StaffRoute, permitted, session_alive

router = APIRouter(include_in_schema=False, route_class=StaffRoute)

# Bus topics forwarded to staff pages, and the only keys passed on (ids and a status).
LIVE_TOPICS = ("referrals", "beds", "ambulances")
LIVE_KEYS = ("referral_id", "request_id", "facility_id", "trip_id", "ambulance_id", "status")


def for_listener(principal: Principal) -> Callable[[str, dict[str, Any]], bool] | None:
    """Which events a listener gets: a district user's stream skips the ambulance events of
    other districts (``districts``: the request's, the vehicle's, the destination hospital's),
    so a district dispatcher's board does not refetch for every district's call. Events
    without ``districts`` (a state import) reach everyone; other topics are unchanged (a
    hospital's page filters by its own ``facility_id``)."""
    if principal.scope_kind != "district":
        return None
    district = home_district(principal)

    def only(topic: str, data: dict[str, Any]) -> bool:
        codes = data.get("districts")
        return topic != "ambulances" or codes is None or district in codes

    return only


@router.get("/staff/events")
async def staff_events(
    request: Request,
    principal: Principal = Depends(permitted("referral.read")),
    rt: Runtime = Depends(get_runtime),
):
    """One SSE stream per staff page. At each heartbeat the session is checked again: a logout
    ends the stream."""
    token = request.state.session_token
    return event_stream(
        request,
        rt,
        topics=LIVE_TOPICS,
        keep=LIVE_KEYS,
        still_allowed=lambda: session_alive(rt, token),
        only=for_listener(principal),
    )
