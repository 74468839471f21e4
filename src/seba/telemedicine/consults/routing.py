"""The consult routing engine: which waiting consult goes to which idle doctor, and when.

Pure functions over plain frozen values, no database and no clock: the telemedicine service
loads candidates in SQL (narrowed the same way, see ``dispatch``), asks these functions to
choose, and makes the choice stick with conditional updates. ``seba simulate`` drives the very
same functions over a simulated day, and the property tests pin their rules down.

The rules (``docs/telemedicine-routing.md`` explains the numbers):

- **Eligibility**: the doctor has the consult's specialty *and* speaks its language, belongs to
  a pool the consult can reach now, and has not let an offer of this consult lapse before.
  Language is strict and never relaxed by overflow: a consult the patient cannot understand is
  not a consult (history, consent and advice all go through speech), so waiting longer for a
  doctor who speaks the language is the only safe answer. Overflow widens *pools*, never
  languages or specialties.
- **Reach**: the spoke's own pool plus the state-wide 24x7 hubs (``STATE_POOL``) at once; after
  ``neighbour_after_s`` also the neighbouring pools; after ``state_after_s`` every pool.
- **Order**: priority class first (emergency, urgent, routine, follow-up), first come first
  served within a class (``queue_key``).
- **Who gets it**: the eligible doctor idle the longest (ties: lower doctor id), so work is
  spread evenly and no doctor sits idle while another is never free.
- **Same doctor again**: a consult that names a preferred doctor (the doctor who saw the patient
  before) goes to that doctor when they are idle, whatever the pool (specialty, language and a
  lapsed offer still count). A *follow-up* also waits up to ``follow_up_hold_s`` for that doctor
  while they are online but busy; urgent and emergency consults never wait for one doctor.

Times are seconds on one clock (epoch seconds in the service, simulated seconds in the
simulator). Thresholds compare ``now >= queued_at + threshold`` so that an event scheduled at
``queued_at + threshold`` sees the widened reach exactly, without float drift.
"""

from __future__ import annotations

import math
from collections.abc import Collection, Iterable
from dataclasses import dataclass

PRIORITIES = ("emergency", "urgent", "routine", "follow_up")  # rank order, emergency first
PRIORITY_RANK = {name: rank for rank, name in enumerate(PRIORITIES)}
# Pseudo-pool of the state-wide 24x7 specialty hubs (stroke, cardiology): every consult reaches
# their doctors from the first second, because a district hospital is a spoke of them.
STATE_POOL = "state"


@dataclass(frozen=True)
class RoutingPolicy:
    """Tunable thresholds, in seconds. Raises ValueError on negative or zero-length windows."""

    neighbour_after_s: float = 120.0  # a waiting consult also reaches neighbouring pools
    state_after_s: float = 300.0  # ... and then every pool in the state
    follow_up_hold_s: float = 300.0  # a follow-up waits this long for its own online doctor
    offer_timeout_s: float = 60.0
    join_timeout_s: float = 120.0
    max_missed_offers: int = 2  # consecutive missed offers that set a doctor away

    def __post_init__(self) -> None:
        for name in ("neighbour_after_s", "state_after_s", "follow_up_hold_s"):
            value = getattr(self, name)
            if math.isnan(value) or value < 0:
                raise ValueError(f"{name} must be >= 0 (math.inf disables it), got {value!r}")
        for name in ("offer_timeout_s", "join_timeout_s"):
            value = getattr(self, name)
            if not (value > 0 and math.isfinite(value)):
                raise ValueError(f"{name} must be a positive number of seconds, got {value!r}")
        if self.max_missed_offers < 1:
            raise ValueError(f"max_missed_offers must be >= 1, got {self.max_missed_offers!r}")


@dataclass(frozen=True)
class WaitingConsult:
    """A queued consult as the engine sees it. Raises ValueError on an unknown priority."""

    id: int
    priority: str
    queued_at: float  # order key within a class; kept when an offer lapses and it is re-queued
    specialty: str
    language: str
    pool: str  # the spoke's pool
    neighbour_pools: frozenset[str] = frozenset()
    preferred_doctor_id: int | None = None  # the doctor who saw the patient before
    declined_by: frozenset[int] = frozenset()  # let an offer of it lapse: never offered again

    def __post_init__(self) -> None:
        if self.priority not in PRIORITY_RANK:
            raise ValueError(f"unknown priority {self.priority!r}; one of {PRIORITIES}")


@dataclass(frozen=True)
class DoctorSkills:
    id: int
    specialties: frozenset[str]
    languages: frozenset[str]
    pools: frozenset[str]  # pools of the doctor's hubs (may include STATE_POOL)


@dataclass(frozen=True)
class IdleDoctor:
    doctor: DoctorSkills
    idle_since: float  # longest idle = smallest value; ties broken by doctor id


def reach(consult: WaitingConsult, now: float, policy: RoutingPolicy) -> frozenset[str] | None:
    """The pools whose doctors may serve the consult at ``now``; None means every pool."""
    if now >= consult.queued_at + policy.state_after_s:
        return None
    if now >= consult.queued_at + policy.neighbour_after_s:
        return frozenset((consult.pool, STATE_POOL)) | consult.neighbour_pools
    return frozenset((consult.pool, STATE_POOL))


def _has_skills(doctor: DoctorSkills, consult: WaitingConsult) -> bool:
    return consult.specialty in doctor.specialties and consult.language in doctor.languages


def eligible(
    doctor: DoctorSkills, consult: WaitingConsult, now: float, policy: RoutingPolicy
) -> bool:
    """Specialty, language (strict), pool reach at ``now``, and not in ``declined_by``."""
    if doctor.id in consult.declined_by or not _has_skills(doctor, consult):
        return False
    pools = reach(consult, now, policy)
    return pools is None or not doctor.pools.isdisjoint(pools)


def is_own_doctor(doctor: DoctorSkills, consult: WaitingConsult) -> bool:
    """The consult's preferred doctor, still able to take it (pool reach does not matter)."""
    return (
        consult.preferred_doctor_id == doctor.id
        and doctor.id not in consult.declined_by
        and _has_skills(doctor, consult)
    )


def may_take(
    doctor: DoctorSkills, consult: WaitingConsult, now: float, policy: RoutingPolicy
) -> bool:
    """Eligible, or the consult's own doctor. Holds are a separate question (``is_held``)."""
    return is_own_doctor(doctor, consult) or eligible(doctor, consult, now, policy)


def is_held(
    consult: WaitingConsult,
    now: float,
    policy: RoutingPolicy,
    idle_ids: Collection[int],
    online_ids: Collection[int],
) -> bool:
    """A follow-up kept for its own doctor, who is online but not idle, within the hold.

    ``idle_ids``: doctors idle now; ``online_ids``: doctors online (idle ones may be omitted).
    Only ``follow_up`` consults are held: a patient with an urgent problem never waits for one
    particular doctor. A doctor who let an offer of the consult lapse is not waited for.
    """
    doctor_id = consult.preferred_doctor_id
    return (
        doctor_id is not None
        and consult.priority == "follow_up"
        and now < consult.queued_at + policy.follow_up_hold_s
        and doctor_id not in consult.declined_by
        and doctor_id not in idle_ids
        and doctor_id in online_ids
    )


def queue_key(consult: WaitingConsult) -> tuple[int, float, int]:
    """Priority rank, then first come first served, then id (a total order)."""
    return (PRIORITY_RANK[consult.priority], consult.queued_at, consult.id)


def _idle_key(idle: IdleDoctor) -> tuple[float, int]:
    return (idle.idle_since, idle.doctor.id)


class _Either:
    """Membership in either of two collections, without copying a large one."""

    __slots__ = ("first", "second")

    def __init__(self, first: Collection[int], second: Collection[int]) -> None:
        self.first, self.second = first, second

    def __contains__(self, item: object) -> bool:
        return item in self.first or item in self.second


def pick_doctor(
    consult: WaitingConsult,
    idle: Iterable[IdleDoctor],
    now: float,
    policy: RoutingPolicy,
    online_ids: Collection[int] = (),
) -> int | None:
    """The doctor a new or re-queued consult is offered to now, or None to keep it waiting.

    Its own doctor if idle; else None while a follow-up is held for them (online, busy, within
    the hold); else the longest-idle eligible doctor. ``idle`` may contain duplicates and
    ineligible doctors; ``online_ids`` should name every online doctor (at least the
    preferred one) or the follow-up hold cannot apply.
    """
    candidates = list(idle)
    preferred = consult.preferred_doctor_id
    if preferred is not None:
        for candidate in candidates:
            if candidate.doctor.id == preferred and is_own_doctor(candidate.doctor, consult):
                return preferred
        idle_ids = {candidate.doctor.id for candidate in candidates}
        if is_held(consult, now, policy, idle_ids, online_ids):
            return None
    best: IdleDoctor | None = None
    for candidate in candidates:
        if (best is None or _idle_key(candidate) < _idle_key(best)) and eligible(
            candidate.doctor, consult, now, policy
        ):
            best = candidate
    return None if best is None else best.doctor.id


def pick_consult(
    doctor: IdleDoctor,
    waiting: Iterable[WaitingConsult],
    now: float,
    policy: RoutingPolicy,
    online_ids: Collection[int] = (),
) -> int | None:
    """The consult a doctor who just became idle is offered, or None.

    The first consult in ``queue_key`` order this doctor may take (eligible, or its own
    doctor), skipping follow-ups held for another online doctor. Assumes the queue was settled
    before (no other idle doctor could take any of ``waiting``), which the service and the
    simulator keep true by routing on every arrival, release and threshold.
    """
    idle_ids = (doctor.doctor.id,)
    best: WaitingConsult | None = None
    best_key: tuple[int, float, int] | None = None
    for consult in waiting:
        key = queue_key(consult)
        if best_key is not None and key >= best_key:
            continue
        if may_take(doctor.doctor, consult, now, policy) and not is_held(
            consult, now, policy, idle_ids, online_ids
        ):
            best, best_key = consult, key
    return None if best is None else best.id


def assign(
    waiting: Iterable[WaitingConsult],
    idle: Iterable[IdleDoctor],
    now: float,
    policy: RoutingPolicy,
    online_ids: Collection[int] = (),
) -> list[tuple[int, int]]:
    """Batch routing: ``(consult id, doctor id)`` pairs, consults in ``queue_key`` order.

    Each consult in turn gets ``pick_doctor`` among the doctors still idle (greedy), so a
    higher-ranked consult is never passed over for a lower one, no doctor or consult appears
    twice, and no idle doctor is left beside a consult they may take that is not held. Doctors
    given a consult earlier in the batch count as online (and busy) for later follow-up holds.
    """
    free = {candidate.doctor.id: candidate for candidate in idle}
    consults = {consult.id: consult for consult in waiting}
    taken: set[int] = set()
    online = _Either(online_ids, taken)
    pairs: list[tuple[int, int]] = []
    for consult in sorted(consults.values(), key=queue_key):
        if not free:
            break
        doctor_id = pick_doctor(consult, free.values(), now, policy, online)
        if doctor_id is not None:
            pairs.append((consult.id, doctor_id))
            del free[doctor_id]
            taken.add(doctor_id)
    return pairs


def next_overflow_at(
    consult: WaitingConsult, policy: RoutingPolicy, now: float | None = None
) -> float | None:
    """The next time after ``now`` (default: its queue time) that routing may place the consult
    differently: its reach widens (neighbours, then the state) or its follow-up hold ends.

    None when nothing more will change. The sweep (service worker, simulator) runs ``assign``
    at these times; between them only arrivals and doctors becoming free change anything.
    """
    after = consult.queued_at if now is None else now
    times: list[float] = []
    if consult.neighbour_pools and policy.neighbour_after_s < policy.state_after_s:
        times.append(consult.queued_at + policy.neighbour_after_s)
    times.append(consult.queued_at + policy.state_after_s)
    if consult.priority == "follow_up" and consult.preferred_doctor_id is not None:
        times.append(consult.queued_at + policy.follow_up_hold_s)
    later = [t for t in times if t > after and math.isfinite(t)]
    return min(later) if later else None


def queue_position(
    consult: WaitingConsult,
    waiting: Iterable[WaitingConsult],
    now: float,
    policy: RoutingPolicy,
    serving_pools: Collection[str] | None = None,
) -> int:
    """1-based place in the line for the same doctors: the consults ahead by ``queue_key`` with
    the same specialty and language whose reach shares a serving pool with this one's, plus one.

    ``serving_pools``: pools that have doctors for this specialty and language; by default
    every pool except ``STATE_POOL`` (whose hubs serve stroke and cardiology). Pass
    ``{STATE_POOL}`` for a specialty only the state hubs offer: then every consult of it in the
    state is in the same line, as it is in reality.
    """
    key = queue_key(consult)
    mine = reach(consult, now, policy)
    ahead = 0
    for other in waiting:
        if (
            other.id == consult.id
            or other.specialty != consult.specialty
            or other.language != consult.language
            or queue_key(other) >= key
        ):
            continue
        if _share_serving_pool(mine, reach(other, now, policy), serving_pools):
            ahead += 1
    return ahead + 1


def _share_serving_pool(
    a: frozenset[str] | None, b: frozenset[str] | None, serving: Collection[str] | None
) -> bool:
    if a is None and b is None:
        return serving is None or len(serving) > 0
    if a is None or b is None:
        pools = b if a is None else a
        assert pools is not None
        return any(_serves(p, serving) for p in pools)
    return any(_serves(p, serving) for p in a & b)


def _serves(pool: str, serving: Collection[str] | None) -> bool:
    return pool != STATE_POOL if serving is None else pool in serving
