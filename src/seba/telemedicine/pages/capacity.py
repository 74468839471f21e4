"""The network's capacity page, for state and district admins and viewers: each pool now (the
capacity alarm with the doctors needed, DOMAIN §3) and one day's figures per pool or hub
(requests, completed, waits p50/p90, no-shows, doctors who served vs needed at the peak hour).

Both come from ``stats`` (the same numbers as ``/api/v1/telemedicine/stats`` and
``/capacity``). No JavaScript: the page refreshes itself every minute while showing today.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated

from babel.dates import format_date
from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response
from sqlalchemy import select

from seba.core.access import Principal
from seba.core.http import get_runtime, request_language
from seba.core.i18n import bn_digits
from seba.core.runtime import Runtime
from seba.places.models import Facility, Hub, Pool
from seba.telemedicine.consults import stats
from seba.telemedicine.pages.text import latin_digits
from seba.web.session import StaffRoute, permitted, render_staff, say

router = APIRouter(include_in_schema=False, route_class=StaffRoute)

CAPACITY = "/staff/tele/capacity"
REFRESH_S = 60
GROUP_LABELS = {"pool": "By pool", "hub": "By hub"}


async def _names(rt: Runtime, group: str) -> dict[str, tuple[str, str]]:
    """code -> (English, Bengali) name of every pool or hub."""
    async with rt.db.read() as session:
        if group == "pool":
            rows = await session.execute(select(Pool.code, Pool.name, Pool.name_bn))
        else:
            rows = await session.execute(
                select(Hub.code, Facility.name, Facility.name_bn).join(
                    Facility, Facility.id == Hub.facility_id
                )
            )
        return {code: (name, name_bn) for code, name, name_bn in rows}


def _parse_day(raw: str) -> date | None:
    try:
        return date.fromisoformat(latin_digits(raw.strip()))
    except ValueError:
        return None


@router.get(CAPACITY)
async def capacity(
    request: Request,
    principal: Annotated[Principal, Depends(permitted("telemedicine.stats"))],
    rt: Annotated[Runtime, Depends(get_runtime)],
    day: Annotated[str, Query(max_length=20)] = "",
    by: Annotated[str, Query(max_length=10)] = "pool",
) -> Response:
    today = stats.today()
    errors: dict[str, str] = {}
    chosen = today if not day.strip() else _parse_day(day)
    if chosen is None:
        errors["day"] = say(request, "Give a date like 2026-12-02.")
    elif chosen > today:
        errors["day"] = say(request, "That day has not come yet.")
    if by not in stats.GROUPS:
        errors["by"] = say(request, "Group by hub or pool.")
    shown_day = chosen if "day" not in errors else today
    group = by if "by" not in errors else "pool"
    # Pools short of doctors first, then the longest queues: what an admin acts on, at the
    # top of a phone screen.
    live = sorted(
        await stats.live_capacity(rt, actor=principal),
        key=lambda p: (not p.alarm, -p.waiting, p.pool),
    )
    rows = await stats.daily(rt, actor=principal, day=shown_day, group=group)
    names = await _names(rt, group)
    lang = request_language(request)
    day_label = format_date(shown_day, "d MMMM y", locale="bn_IN" if lang == "bn" else "en_IN")
    return render_staff(
        request,
        "telemedicine/capacity.html",
        400 if errors else 200,
        live=live,
        alarms=sum(1 for p in live if p.alarm),
        rows=rows,
        names=names,
        day_label=bn_digits(day_label) if lang == "bn" else day_label,
        day_text=day if "day" in errors else shown_day.isoformat(),
        today=today,
        group=group,
        group_labels=GROUP_LABELS,
        errors=errors,
        auto_refresh=REFRESH_S if shown_day == today and not errors else None,
        home=str(request.url.path) + (f"?{request.url.query}" if request.url.query else ""),
    )
