"""Between the database and the routing engine: load candidates, let ``routing`` choose,
write the offer with conditional updates, and take it back (a lapse, a decline, a no-show).

The engine decides (pure, property-tested); this module only narrows candidates in SQL the way
the engine would (specialty, language, pool reach) and then makes the choice stick under races:
an offer is two conditional UPDATEs (the consult must still be queued, the doctor still online
and free) in the caller's transaction, and UNIQUE(doctor_presence.consult_id) forbids one
consult held by two doctors whatever happens.

Lock order, the rule that keeps PostgreSQL free of deadlocks here: a write transaction locks at
most one consultation row and then at most one doctor_presence row, in that order (a CHO's new
consult is invisible to others until commit, so raising may try a few doctors in turn). Choices
are made in reads; a doctor's poll claims only for that doctor; the sweep makes each offer in a
transaction of its own.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import case, literal, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from seba.core.runtime import Runtime
from seba.core.types import UTCDateTime
from seba.places.models import Pool
from seba.telemedicine.consults import events, routing
from seba.telemedicine.models import Consultation, DoctorPresence, DoctorSkill

# How many candidates SQL hands to the engine per decision: the engine's choice is among the
# longest-idle few; more would only cost time.
CANDIDATES = 32
WAITING_WINDOW = 200
# Doctors idle longer than the polling one, considered for its poll. While consults wait, few
# doctors are idle (they would have been given one); this only bounds a pathological case.
AHEAD_LIMIT = 1000


def policy_for(rt: Runtime) -> routing.RoutingPolicy:
    s = rt.settings
    return routing.RoutingPolicy(
        neighbour_after_s=s.overflow_neighbour_after_s,
        state_after_s=s.overflow_state_after_s,
        follow_up_hold_s=s.follow_up_hold_s,
        offer_timeout_s=s.offer_timeout_s,
        join_timeout_s=s.join_timeout_s,
    )


def ts(value: datetime) -> float:
    return value.timestamp()


async def pool_neighbours(session: AsyncSession) -> dict[str, frozenset[str]]:
    rows = await session.execute(select(Pool.code, Pool.neighbours))
    return {code: frozenset(n or ()) for code, n in rows}


def waiting_consult(c, neighbours: dict[str, frozenset[str]]) -> routing.WaitingConsult:
    return routing.WaitingConsult(
        id=c.id,
        priority=c.priority,
        queued_at=ts(c.queued_at),
        specialty=c.specialty,
        language=c.language,
        pool=c.pool_code,
        neighbour_pools=neighbours.get(c.pool_code, frozenset()),
        preferred_doctor_id=c.preferred_doctor_id,
        declined_by=frozenset(c.declined_by or ()),
    )


async def doctor_skills(
    session: AsyncSession, doctor_ids: list[int]
) -> dict[int, routing.DoctorSkills]:
    """The engine's view of doctors, from the routing index (one query)."""
    if not doctor_ids:
        return {}
    rows = await session.execute(
        select(
            DoctorSkill.doctor_id,
            DoctorSkill.specialty,
            DoctorSkill.language,
            DoctorSkill.pool_code,
        ).where(DoctorSkill.doctor_id.in_(doctor_ids))
    )
    acc: dict[int, tuple[set, set, set]] = {}
    for d, sp, lang, pool in rows:
        s = acc.setdefault(d, (set(), set(), set()))
        s[0].add(sp)
        s[1].add(lang)
        s[2].add(pool)
    return {
        d: routing.DoctorSkills(
            id=d, specialties=frozenset(a), languages=frozenset(b), pools=frozenset(c)
        )
        for d, (a, b, c) in acc.items()
    }


@dataclass(frozen=True)
class Offer:
    consult_id: int
    doctor_id: int


async def offer(
    rt: Runtime, session: AsyncSession, *, consult_id: int, doctor_id: int, now: datetime
) -> bool:
    """Offer a queued consult to a free online doctor; False if either moved meanwhile.

    The consult row is claimed first: its conditional UPDATE row-locks it, so a concurrent
    claimant waits and then finds it no longer queued, instead of colliding on the doctor's
    UNIQUE(consult_id) later. After commit the doctor hears ``offer`` (``events``).
    """
    claimed = (
        await session.execute(
            update(Consultation)
            .where(Consultation.id == consult_id, Consultation.status == "queued")
            .values(
                status="offered",
                doctor_id=doctor_id,
                offered_at=now,
                offer_expires_at=now + timedelta(seconds=rt.settings.offer_timeout_s),
                updated_at=now,
            )
            .returning(Consultation.pool_code, Consultation.specialty, Consultation.language)
        )
    ).first()
    if claimed is None:
        return False
    taken = await session.execute(
        update(DoctorPresence)
        .where(
            DoctorPresence.doctor_id == doctor_id,
            DoctorPresence.status == "online",
            DoctorPresence.consult_id.is_(None),
        )
        .values(status="busy", consult_id=consult_id, updated_at=now)
    )
    if taken.rowcount != 1:
        # The doctor is no longer free: the consult goes back exactly as it was.
        await session.execute(
            update(Consultation)
            .where(Consultation.id == consult_id, Consultation.doctor_id == doctor_id)
            .values(status="queued", doctor_id=None, offered_at=None, offer_expires_at=None)
        )
        return False
    events.offered(rt, session, consult_id=consult_id, doctor_id=doctor_id, queue=tuple(claimed))
    return True


async def idle_candidates(
    session: AsyncSession, consult: routing.WaitingConsult, now: float, policy
) -> list[routing.IdleDoctor]:
    """The longest-idle online doctors who could take this consult now (SQL prefilter)."""
    reach = routing.reach(consult, now, policy)
    skill = select(DoctorSkill.doctor_id).where(
        DoctorSkill.specialty == consult.specialty, DoctorSkill.language == consult.language
    )
    if reach is not None:
        skill = skill.where(DoctorSkill.pool_code.in_(sorted(reach)))
    query = (
        select(DoctorPresence.doctor_id, DoctorPresence.idle_since)
        .where(
            DoctorPresence.status == "online",
            DoctorPresence.consult_id.is_(None),
            DoctorPresence.doctor_id.in_(skill),
        )
        .order_by(DoctorPresence.idle_since, DoctorPresence.doctor_id)
        .limit(CANDIDATES)
    )
    rows = (await session.execute(query)).all()
    ids = [d for d, _ in rows]
    if consult.preferred_doctor_id is not None and consult.preferred_doctor_id not in ids:
        pref = await session.execute(
            select(DoctorPresence.doctor_id, DoctorPresence.idle_since).where(
                DoctorPresence.doctor_id == consult.preferred_doctor_id,
                DoctorPresence.status == "online",
                DoctorPresence.consult_id.is_(None),
            )
        )
        rows += pref.all()
    skills = await doctor_skills(session, [d for d, _ in rows])
    return [
        routing.IdleDoctor(doctor=skills[d], idle_since=ts(idle or _EPOCH))
        for d, idle in rows
        if d in skills
    ]


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


async def online_ids(session: AsyncSession, doctor_ids: list[int]) -> frozenset[int]:
    if not doctor_ids:
        return frozenset()
    rows = await session.scalars(
        select(DoctorPresence.doctor_id).where(
            DoctorPresence.doctor_id.in_(doctor_ids),
            DoctorPresence.status.in_(("online", "busy")),
        )
    )
    return frozenset(rows)


async def route_new_consult(
    session: AsyncSession, rt: Runtime, consult: Consultation, now: datetime
) -> int | None:
    """Right after a consult is queued: offer it to the engine's choice of idle doctor."""
    policy = policy_for(rt)
    neighbours = await pool_neighbours(session)
    wc = waiting_consult(consult, neighbours)
    idle = await idle_candidates(session, wc, ts(now), policy)
    online = await online_ids(session, [wc.preferred_doctor_id] if wc.preferred_doctor_id else [])
    for _ in range(3):
        doctor_id = routing.pick_doctor(wc, idle, ts(now), policy, online)
        if doctor_id is None:
            return None
        if await offer(rt, session, consult_id=consult.id, doctor_id=doctor_id, now=now):
            return doctor_id
        idle = [i for i in idle if i.doctor.id != doctor_id]
    return None


async def pick_for_doctor(
    session: AsyncSession, rt: Runtime, presence: DoctorPresence, now: datetime
) -> int | None:
    """A free doctor asks for work (a read): the consult the engine's batch assignment gives
    *this* doctor now, or None.

    Consults go in queue order to the longest-idle eligible doctor (``routing.assign``), so
    only doctors idle at least as long as this one, and the doctors follow-ups wait for, can
    come first; the assignment is run over them and the waiting consults this doctor could
    take. Every idle doctor polling at once thus finds their own consult (not all the same
    one), and none takes a consult from a doctor who has waited longer.
    """
    if presence.status != "online" or presence.consult_id is not None:
        return None
    me = presence.doctor_id
    policy = policy_for(rt)
    skills = (await doctor_skills(session, [me])).get(me)
    if skills is None:
        return None
    rows = (
        await session.execute(
            select(*_WAITING_COLUMNS)
            .where(
                Consultation.status == "queued",
                Consultation.specialty.in_(sorted(skills.specialties)),
                Consultation.language.in_(sorted(skills.languages)),
            )
            .order_by(Consultation.priority_rank, Consultation.queued_at, Consultation.id)
            .limit(WAITING_WINDOW)
        )
    ).all()
    if not rows:
        return None
    neighbours = await pool_neighbours(session)
    waiting = [waiting_consult(c, neighbours) for c in rows]
    preferred = sorted({w.preferred_doctor_id for w in waiting if w.preferred_doctor_id})
    my_idle = presence.idle_since or now
    ahead = (
        await session.execute(
            select(DoctorPresence.doctor_id, DoctorPresence.idle_since)
            .where(
                DoctorPresence.status == "online",
                DoctorPresence.consult_id.is_(None),
                DoctorPresence.doctor_id.in_(
                    select(DoctorSkill.doctor_id).where(
                        DoctorSkill.specialty.in_(sorted({w.specialty for w in waiting})),
                        DoctorSkill.language.in_(sorted({w.language for w in waiting})),
                    )
                ),
                or_(
                    DoctorPresence.idle_since <= my_idle,
                    DoctorPresence.idle_since.is_(None),
                    DoctorPresence.doctor_id.in_(preferred),
                ),
            )
            .order_by(DoctorPresence.idle_since, DoctorPresence.doctor_id)
            .limit(AHEAD_LIMIT)
        )
    ).all()
    idle_since = {d: t for d, t in ahead}
    idle_since[me] = my_idle
    all_skills = await doctor_skills(session, list(idle_since))
    idle = [
        routing.IdleDoctor(doctor=all_skills[d], idle_since=ts(t or _EPOCH))
        for d, t in idle_since.items()
        if d in all_skills
    ]
    online = await online_ids(session, preferred)
    for consult_id, doctor_id in routing.assign(waiting, idle, ts(now), policy, online):
        if doctor_id == me:
            return consult_id
    return None


# What the engine needs of a waiting consult: plain columns, no ORM objects to build.
_WAITING_COLUMNS = (
    Consultation.id,
    Consultation.priority,
    Consultation.queued_at,
    Consultation.specialty,
    Consultation.language,
    Consultation.pool_code,
    Consultation.preferred_doctor_id,
    Consultation.declined_by,
)


async def sweep_plan(session: AsyncSession, rt: Runtime, now: datetime) -> list[Offer]:
    """Batch assignment over the whole queue (a read): which consult to offer to which idle
    doctor now (overflow thresholds crossed, offers lapsed, doctors freed)."""
    policy = policy_for(rt)
    rows = (
        await session.execute(
            select(*_WAITING_COLUMNS)
            .where(Consultation.status == "queued")
            .order_by(Consultation.priority_rank, Consultation.queued_at, Consultation.id)
            .limit(2000)
        )
    ).all()
    if not rows:
        return []
    idle_rows = (
        await session.execute(
            select(DoctorPresence.doctor_id, DoctorPresence.idle_since).where(
                DoctorPresence.status == "online", DoctorPresence.consult_id.is_(None)
            )
        )
    ).all()
    if not idle_rows:
        return []
    skills = await doctor_skills(session, [d for d, _ in idle_rows])
    idle = [
        routing.IdleDoctor(doctor=skills[d], idle_since=ts(t or _EPOCH))
        for d, t in idle_rows
        if d in skills
    ]
    neighbours = await pool_neighbours(session)
    waiting = [waiting_consult(c, neighbours) for c in rows]
    preferred = [w.preferred_doctor_id for w in waiting if w.preferred_doctor_id]
    online = await online_ids(session, preferred)
    return [Offer(c, d) for c, d in routing.assign(waiting, idle, ts(now), policy, online)]


# --- taking an offer back -------------------------------------------------------------


async def return_offer(
    rt: Runtime,
    session: AsyncSession,
    consult: Consultation,
    doctor_id: int,
    now: datetime,
    *,
    missed: bool,
    max_missed: int = 2,
) -> None:
    """Put an offered consult back in the queue (same place) and free the doctor.

    The consult row first, then the presence row (the lock order of ``dispatch``). After
    commit the doctor hears ``consult`` (queued: no longer theirs) and the queue its waiters'
    nudge.
    """
    declined = sorted({*consult.declined_by, doctor_id}) if missed else consult.declined_by
    moved = await session.execute(
        update(Consultation)
        .where(
            Consultation.id == consult.id,
            Consultation.status == "offered",
            Consultation.doctor_id == doctor_id,
        )
        .values(
            status="queued",
            doctor_id=None,
            offered_at=None,
            offer_expires_at=None,
            declined_by=declined,
            updated_at=now,
        )
        .execution_options(synchronize_session=False)
    )
    if moved.rowcount != 1:
        return  # someone else (the sweep, the doctor's own poll) returned it already
    events.changed(
        rt,
        session,
        consult_id=consult.id,
        status="queued",
        doctor_id=doctor_id,
        queue=events.queue_of(consult),
    )
    free: dict[str, Any] = {"consult_id": None, "updated_at": now}
    if missed:
        # Two missed offers in a row: the doctor is probably not at the desk.
        away = DoctorPresence.missed_offers + 1 >= max_missed
        free.update(
            missed_offers=DoctorPresence.missed_offers + 1,
            status=case((away, "away"), else_="online"),
            idle_since=case((away, None), else_=literal(now, UTCDateTime())),
        )
    else:
        free.update(status="online", idle_since=now)
    await session.execute(
        update(DoctorPresence)
        .where(DoctorPresence.doctor_id == doctor_id, DoctorPresence.consult_id == consult.id)
        .values(**free)
        .execution_options(synchronize_session=False)
    )


async def close_no_show(
    rt: Runtime, session: AsyncSession, consult: Consultation, now: datetime
) -> None:
    """The CHO did not join within the join window: the consult closes, the doctor is free."""
    consult.status = "no_show"
    consult.closed_reason = "The CHO did not join within the join window."
    consult.completed_at = now
    consult.updated_at = now
    await free_doctor(session, consult.doctor_id, consult.id, now)
    events.changed(
        rt, session, consult_id=consult.id, status="no_show", doctor_id=consult.doctor_id
    )


async def free_doctor(
    session: AsyncSession, doctor_id: int, consult_id: int, now: datetime
) -> None:
    """The doctor holding ``consult_id`` is online and idle again (no-op if they are not)."""
    await session.execute(
        update(DoctorPresence)
        .where(DoctorPresence.doctor_id == doctor_id, DoctorPresence.consult_id == consult_id)
        .values(status="online", consult_id=None, idle_since=now, updated_at=now)
    )
