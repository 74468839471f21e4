"""Teleconsultation statistics: per hub or pool and day, and the live capacity of each pool.

Day boundaries are Asia/Kolkata days. A consult's wait runs from ``queued_at`` (kept through
lapsed offers, so a re-queued consult's wait includes the lapse) to ``accepted_at``.

"Doctors online vs needed": the live view counts doctors online now in each pool against the
load of the last ``WINDOW_S`` (DOMAIN §3: alarm when λh ≥ N; needed ⌈A⌉+1). The daily view
cannot know who was online hours ago (presence is not logged per second), so it reports the
doctors who served consults that day beside the doctors the day's busiest hour needed.
"""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import func, select

from seba.core.access import Principal, require
from seba.core.errors import ValidationFailed
from seba.core.runtime import Runtime
from seba.core.types import utcnow
from seba.places.models import Facility, Hub, Pool, PoolDistrict
from seba.telemedicine.consults import queueing
from seba.telemedicine.models import Consultation, DoctorPresence, DoctorSkill

KOLKATA = ZoneInfo("Asia/Kolkata")
WINDOW_S = 15 * 60
GROUPS = ("hub", "pool")


def today() -> date:
    return utcnow().astimezone(KOLKATA).date()


def percentile(values: list[float], p: float) -> float | None:
    """Nearest-rank percentile (p in 0..100); None for no values."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, math.ceil(p / 100 * len(ordered)))
    return ordered[rank - 1]


@dataclass(frozen=True)
class DayRow:
    group: str
    code: str
    requests: int
    completed: int
    no_shows: int
    cancelled: int
    waiting_now: int
    wait_p50_s: float | None
    wait_p90_s: float | None
    doctors_served: int
    doctors_needed_peak: int


def _day_bounds(day: date) -> tuple[datetime, datetime]:
    start = datetime.combine(day, time.min, KOLKATA)
    return start, start + timedelta(days=1)


async def _visible_codes(session, actor: Principal, group: str) -> set[str] | None:
    """None: everything (state scope). Else the hubs or pools of the actor's district."""
    if actor.scope_kind == "state":
        return None
    district = actor.scope_district or actor.scope_code
    if group == "hub":
        rows = await session.scalars(
            select(Hub.code)
            .join(Facility, Facility.id == Hub.facility_id)
            .where(Facility.district_code == district)
        )
    else:
        rows = await session.scalars(
            select(PoolDistrict.pool_code).where(PoolDistrict.district_code == district)
        )
    return set(rows)


async def daily(rt: Runtime, *, actor: Principal, day: date, group: str) -> list[DayRow]:
    """Requests, completed, no-shows, waits p50/p90 and doctors per hub or pool for one day."""
    require(actor, "telemedicine.stats")
    if group not in GROUPS:
        raise ValidationFailed("Group by hub or pool.", code="invalid_group", details={"by": group})
    start, end = _day_bounds(day)
    key = Hub.code if group == "hub" else Consultation.pool_code
    async with rt.db.read() as session:
        visible = await _visible_codes(session, actor, group)
        rows = (
            await session.execute(
                select(
                    key,
                    Consultation.status,
                    Consultation.queued_at,
                    Consultation.accepted_at,
                    Consultation.doctor_id,
                    Consultation.created_at,
                )
                .join(Hub, Hub.id == Consultation.hub_id)
                .where(Consultation.created_at >= start, Consultation.created_at < end)
            )
        ).all()
    acc: dict[str, dict] = defaultdict(
        lambda: {
            "requests": 0,
            "completed": 0,
            "no_show": 0,
            "cancelled": 0,
            "waiting": 0,
            "waits": [],
            "doctors": set(),
            "hours": defaultdict(int),
        }
    )
    for code, status, queued_at, accepted_at, doctor_id, created_at in rows:
        if visible is not None and code not in visible:
            continue
        a = acc[code]
        a["requests"] += 1
        a["hours"][created_at.astimezone(KOLKATA).hour] += 1
        if status == "completed":
            a["completed"] += 1
        elif status == "no_show":
            a["no_show"] += 1
        elif status == "cancelled":
            a["cancelled"] += 1
        elif status in ("queued", "offered"):
            a["waiting"] += 1
        if accepted_at is not None:
            a["waits"].append((accepted_at - queued_at).total_seconds())
        if doctor_id is not None and status in ("accepted", "in_progress", "completed"):
            a["doctors"].add(doctor_id)
    mean = rt.settings.consult_mean_s
    return [
        DayRow(
            group=group,
            code=code,
            requests=a["requests"],
            completed=a["completed"],
            no_shows=a["no_show"],
            cancelled=a["cancelled"],
            waiting_now=a["waiting"],
            wait_p50_s=percentile(a["waits"], 50),
            wait_p90_s=percentile(a["waits"], 90),
            doctors_served=len(a["doctors"]),
            doctors_needed_peak=queueing.doctors_needed(max(a["hours"].values()) * mean / 3600),
        )
        for code, a in sorted(acc.items())
    ]


@dataclass(frozen=True)
class PoolCapacity:
    pool: str
    name: str
    name_bn: str
    arrivals_per_hour: float
    load_erlangs: float
    doctors_online: int
    doctors_needed: int
    alarm: bool
    erlang_c_wait_s: float | None
    waiting: int
    oldest_wait_s: float | None


async def live_capacity(rt: Runtime, *, actor: Principal) -> list[PoolCapacity]:
    """Each pool now: arrival rate over the last 15 minutes, doctors online, the alarm."""
    require(actor, "telemedicine.stats")
    now = utcnow()
    since = now - timedelta(seconds=WINDOW_S)
    async with rt.db.read() as session:
        visible = await _visible_codes(session, actor, "pool")
        pools = (await session.execute(select(Pool.code, Pool.name, Pool.name_bn))).all()
        arrivals = dict(
            (
                await session.execute(
                    select(Consultation.pool_code, func.count())
                    .where(Consultation.created_at >= since)
                    .group_by(Consultation.pool_code)
                )
            ).all()
        )
        waiting = {
            code: (n, oldest)
            for code, n, oldest in await session.execute(
                select(Consultation.pool_code, func.count(), func.min(Consultation.queued_at))
                .where(Consultation.status.in_(("queued", "offered")))
                .group_by(Consultation.pool_code)
            )
        }
        online = dict(
            (
                await session.execute(
                    select(DoctorSkill.pool_code, func.count(func.distinct(DoctorSkill.doctor_id)))
                    .join(DoctorPresence, DoctorPresence.doctor_id == DoctorSkill.doctor_id)
                    .where(DoctorPresence.status.in_(("online", "busy")))
                    .group_by(DoctorSkill.pool_code)
                )
            ).all()
        )
    result = []
    for code, name, name_bn in sorted(pools):
        if visible is not None and code not in visible:
            continue
        rate = arrivals.get(code, 0) / WINDOW_S
        cap = queueing.capacity(rate, rt.settings.consult_mean_s, online.get(code, 0))
        n, oldest = waiting.get(code, (0, None))
        oldest_s = (now - oldest).total_seconds() if oldest is not None else None
        result.append(
            PoolCapacity(
                pool=code,
                name=name,
                name_bn=name_bn,
                arrivals_per_hour=rate * 3600,
                load_erlangs=cap.load_erlangs,
                doctors_online=cap.doctors_online,
                doctors_needed=cap.doctors_needed,
                alarm=cap.alarm,
                erlang_c_wait_s=cap.erlang_c_wait_s,
                waiting=n,
                oldest_wait_s=oldest_s,
            )
        )
    return result
