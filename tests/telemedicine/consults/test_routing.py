"""The routing engine's rules, as properties over random queues and doctors, and as examples.

The random world: pools p1–p2–p3 in a line (p2 neighbours both) plus the state pool; two
specialties, three languages; some doctors idle, some online but busy (ids ≥ 100, so they can
be a follow-up's own doctor without being idle); a clock late enough that consults sit on
every side of the 120 s and 300 s thresholds.
"""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from seba.telemedicine.consults.routing import (
    PRIORITIES,
    STATE_POOL,
    DoctorSkills,
    IdleDoctor,
    RoutingPolicy,
    WaitingConsult,
    assign,
    eligible,
    is_held,
    is_own_doctor,
    may_take,
    next_overflow_at,
    pick_consult,
    pick_doctor,
    queue_key,
    queue_position,
    reach,
)

POLICY = RoutingPolicy()
NEIGHBOURS = {"p1": frozenset({"p2"}), "p2": frozenset({"p1", "p3"}), "p3": frozenset({"p2"})}
POOLS = ("p1", "p2", "p3", STATE_POOL)
SPECIALTIES = ("general_medicine", "paediatrics")
LANGUAGES = ("bn", "en", "ne")
BUSY_IDS = tuple(range(100, 106))
NOW = 1000.0


def subset(values, min_size: int = 1):
    return st.frozensets(st.sampled_from(values), min_size=min_size)


@st.composite
def idle_doctors(draw, max_size: int = 8) -> list[IdleDoctor]:
    ids = draw(st.lists(st.integers(1, 30), unique=True, max_size=max_size))
    return [
        IdleDoctor(
            doctor=DoctorSkills(
                id=doctor_id,
                specialties=draw(subset(SPECIALTIES)),
                languages=draw(subset(LANGUAGES)),
                pools=draw(subset(POOLS)),
            ),
            # Few distinct values: ties in idle time happen and must break by id.
            idle_since=float(draw(st.integers(0, 5))) * 100,
        )
        for doctor_id in ids
    ]


@st.composite
def waiting_consults(draw, doctor_ids: list[int], max_size: int = 10) -> list[WaitingConsult]:
    ids = draw(st.lists(st.integers(1, 60), unique=True, max_size=max_size))
    someone = st.sampled_from(doctor_ids + list(BUSY_IDS))
    consults = []
    for consult_id in ids:
        pool = draw(st.sampled_from(("p1", "p2", "p3")))
        consults.append(
            WaitingConsult(
                id=consult_id,
                priority=draw(st.sampled_from(PRIORITIES)),
                # Ages 0–700 s at NOW, on both sides of each threshold; ties in time happen.
                queued_at=NOW - float(draw(st.integers(0, 70))) * 10,
                specialty=draw(st.sampled_from(SPECIALTIES)),
                language=draw(st.sampled_from(LANGUAGES)),
                pool=pool,
                neighbour_pools=NEIGHBOURS[pool],
                preferred_doctor_id=draw(st.none() | someone),
                declined_by=draw(st.frozensets(someone, max_size=2)),
            )
        )
    return consults


@st.composite
def worlds(draw):
    idle = draw(idle_doctors())
    ids = [i.doctor.id for i in idle]
    waiting = draw(waiting_consults(ids))
    busy = draw(st.frozensets(st.sampled_from(BUSY_IDS)))
    return waiting, idle, frozenset(ids) | busy


def held_after(
    consult: WaitingConsult, idle: list[IdleDoctor], online, pairs: list[tuple[int, int]]
) -> bool:
    """Held once the batch is done: its doctor still online and, if given work, busy now."""
    taken = {d for _, d in pairs}
    free = {i.doctor.id for i in idle} - taken
    return is_held(consult, NOW, POLICY, free, set(online) | taken)


# --- Properties of assign ---


@given(worlds())
@settings(max_examples=200)
def test_assign_pairs_are_one_to_one_and_allowed(world) -> None:
    waiting, idle, online = world
    pairs = assign(waiting, idle, NOW, POLICY, online)
    consult_ids = [c for c, _ in pairs]
    doctor_ids = [d for _, d in pairs]
    assert len(set(consult_ids)) == len(consult_ids), "a consult went to two doctors"
    assert len(set(doctor_ids)) == len(doctor_ids), "a doctor got two consults"
    consults = {c.id: c for c in waiting}
    doctors = {i.doctor.id: i.doctor for i in idle}
    idle_ids = set(doctors)
    for consult_id, doctor_id in pairs:
        consult, doctor = consults[consult_id], doctors[doctor_id]
        assert may_take(doctor, consult, NOW, POLICY)
        if doctor_id != consult.preferred_doctor_id:
            # Anyone but its own doctor: fully eligible, and the consult was not being held.
            assert eligible(doctor, consult, NOW, POLICY)
            assert not is_held(consult, NOW, POLICY, idle_ids, online)


@given(worlds())
@settings(max_examples=200)
def test_assign_keeps_priority_order_and_fifo(world) -> None:
    waiting, idle, online = world
    pairs = assign(waiting, idle, NOW, POLICY, online)
    assigned = {c for c, _ in pairs}
    doctors = {i.doctor.id: i.doctor for i in idle}
    consults = {c.id: c for c in waiting}
    for consult_id, doctor_id in pairs:
        got = queue_key(consults[consult_id])
        for other in waiting:
            if other.id in assigned or queue_key(other) >= got:
                continue
            # An unassigned consult ahead that this doctor could have taken must be held.
            if may_take(doctors[doctor_id], other, NOW, POLICY):
                assert held_after(other, idle, online, pairs), (other, consult_id, doctor_id)


@given(worlds())
@settings(max_examples=200)
def test_assign_leaves_no_idle_doctor_beside_a_consult_they_could_take(world) -> None:
    waiting, idle, online = world
    pairs = assign(waiting, idle, NOW, POLICY, online)
    assigned = {c for c, _ in pairs}
    busy = {d for _, d in pairs}
    for consult in waiting:
        if consult.id in assigned:
            continue
        for free in idle:
            if free.doctor.id in busy:
                continue
            if may_take(free.doctor, consult, NOW, POLICY):
                assert held_after(consult, idle, online, pairs), (consult, free)


@given(worlds())
@settings(max_examples=200)
def test_assign_gives_each_consult_the_longest_idle_doctor_left(world) -> None:
    waiting, idle, online = world
    pairs = assign(waiting, idle, NOW, POLICY, online)
    consults = {c.id: c for c in waiting}
    owner = {d: c for c, d in pairs}
    for consult_id, doctor_id in pairs:
        consult = consults[consult_id]
        if doctor_id == consult.preferred_doctor_id:
            continue
        chosen = next(i for i in idle if i.doctor.id == doctor_id)
        for other in idle:
            if other.doctor.id == doctor_id or not eligible(other.doctor, consult, NOW, POLICY):
                continue
            # Still free when this consult's turn came: unassigned, or taken by a later one.
            later = other.doctor.id not in owner or queue_key(
                consults[owner[other.doctor.id]]
            ) > queue_key(consult)
            if later:
                assert (chosen.idle_since, doctor_id) < (other.idle_since, other.doctor.id)


@given(worlds())
@settings(max_examples=200)
def test_a_follow_up_goes_to_its_own_idle_doctor(world) -> None:
    waiting, idle, online = world
    pairs = assign(waiting, idle, NOW, POLICY, online)
    consults = {c.id: c for c in waiting}
    got = dict(pairs)
    owner = {d: c for c, d in pairs}
    for consult in waiting:
        own = next((i for i in idle if i.doctor.id == consult.preferred_doctor_id), None)
        if own is None or not is_own_doctor(own.doctor, consult):
            continue
        # Its own doctor, unless that doctor went to a consult ranked ahead of it.
        if got.get(consult.id) != own.doctor.id:
            ahead = owner.get(own.doctor.id)
            assert ahead is not None
            assert queue_key(consults[ahead]) < queue_key(consult)


@given(worlds())
@settings(max_examples=200)
def test_a_follow_up_is_held_for_its_busy_doctor_within_the_hold_only(world) -> None:
    waiting, idle, online = world
    idle_ids = {i.doctor.id for i in idle}
    pairs = assign(waiting, idle, NOW, POLICY, online)
    got = dict(pairs)
    owner = {d: c for c, d in pairs}
    consults = {c.id: c for c in waiting}
    for consult in waiting:
        doctor = consult.preferred_doctor_id
        waiting_for_busy_doctor = (
            consult.priority == "follow_up"
            and doctor is not None
            and doctor in online
            and doctor not in idle_ids
            and doctor not in consult.declined_by
        )
        if not waiting_for_busy_doctor:
            continue
        hold_ends = consult.queued_at + POLICY.follow_up_hold_s
        if hold_ends > NOW:
            assert consult.id not in got
        elif consult.id not in got:
            # Released: like any consult, it only waits if every doctor who could take it
            # went to a consult ranked ahead.
            for free in idle:
                if eligible(free.doctor, consult, NOW, POLICY):
                    ahead = owner.get(free.doctor.id)
                    assert ahead is not None
                    assert queue_key(consults[ahead]) < queue_key(consult)


@given(worlds())
@settings(max_examples=200)
def test_pick_doctor_agrees_with_assign_for_one_consult(world) -> None:
    waiting, idle, online = world
    for consult in waiting:
        chosen = pick_doctor(consult, idle, NOW, POLICY, online)
        expected = [] if chosen is None else [(consult.id, chosen)]
        assert assign([consult], idle, NOW, POLICY, online) == expected


@given(worlds())
@settings(max_examples=200)
def test_pick_consult_agrees_with_assign_for_one_doctor(world) -> None:
    waiting, idle, online = world
    for doctor in idle:
        chosen = pick_consult(doctor, waiting, NOW, POLICY, online)
        expected = [] if chosen is None else [(chosen, doctor.doctor.id)]
        assert assign(waiting, [doctor], NOW, POLICY, online) == expected


@given(worlds())
def test_assign_ignores_input_order_and_duplicates(world) -> None:
    waiting, idle, online = world
    pairs = assign(waiting, idle, NOW, POLICY, online)
    assert assign(list(reversed(waiting)) * 2, list(reversed(idle)) * 2, NOW, POLICY, online) == (
        pairs
    )


# --- Overflow: the exact thresholds ---


@given(
    age=st.floats(0, 1000, allow_nan=False),
    queued_at=st.floats(0, 2e9, allow_nan=False),
    specialty=st.sampled_from(SPECIALTIES),
    language=st.sampled_from(LANGUAGES),
)
def test_overflow_happens_at_the_threshold_and_not_before(
    age: float, queued_at: float, specialty: str, language: str
) -> None:
    consult = WaitingConsult(1, "routine", queued_at, specialty, language, "p1", NEIGHBOURS["p1"])
    own = DoctorSkills(1, frozenset({specialty}), frozenset({language}), frozenset({"p1"}))
    state = DoctorSkills(2, frozenset({specialty}), frozenset({language}), frozenset({STATE_POOL}))
    neighbour = DoctorSkills(3, frozenset({specialty}), frozenset({language}), frozenset({"p2"}))
    far = DoctorSkills(4, frozenset({specialty}), frozenset({language}), frozenset({"p3"}))
    now = queued_at + age
    assert eligible(own, consult, now, POLICY)
    assert eligible(state, consult, now, POLICY)  # the 24x7 hubs from the first second
    assert eligible(neighbour, consult, now, POLICY) == (now >= queued_at + 120)
    assert eligible(far, consult, now, POLICY) == (now >= queued_at + 300)


@pytest.mark.parametrize("queued_at", [0.0, 1_700_000_123.456, 37.1])
def test_overflow_boundaries_are_exact(queued_at: float) -> None:
    consult = WaitingConsult(
        1, "urgent", queued_at, "general_medicine", "bn", "p1", NEIGHBOURS["p1"]
    )
    neighbour = DoctorSkills(
        3, frozenset({"general_medicine"}), frozenset({"bn"}), frozenset({"p2"})
    )
    far = DoctorSkills(4, frozenset({"general_medicine"}), frozenset({"bn"}), frozenset({"p3"}))
    at_neighbour, at_state = queued_at + 120.0, queued_at + 300.0
    assert not eligible(neighbour, consult, math.nextafter(at_neighbour, -math.inf), POLICY)
    assert eligible(neighbour, consult, at_neighbour, POLICY)
    assert not eligible(far, consult, math.nextafter(at_state, -math.inf), POLICY)
    assert eligible(far, consult, at_state, POLICY)
    idle = [IdleDoctor(neighbour, 0.0), IdleDoctor(far, 0.0)]
    assert pick_doctor(consult, idle, math.nextafter(at_neighbour, -math.inf), POLICY) is None
    assert pick_doctor(consult, idle, at_neighbour, POLICY) == 3
    assert assign([consult], [IdleDoctor(far, 0.0)], at_state, POLICY) == [(1, 4)]
    assert next_overflow_at(consult, POLICY) == at_neighbour
    assert next_overflow_at(consult, POLICY, at_neighbour) == at_state
    assert next_overflow_at(consult, POLICY, at_state) is None


@given(worlds(), st.floats(0, 800, allow_nan=False))
def test_reach_changes_only_at_next_overflow_at(world, dt: float) -> None:
    waiting, _, _ = world
    for consult in waiting:
        now = NOW + dt
        change = next_overflow_at(consult, POLICY, now)
        if change is None:
            assert reach(consult, now + 10_000, POLICY) == reach(consult, now, POLICY)
            continue
        assert change > now
        before = math.nextafter(change, -math.inf)
        assert reach(consult, before, POLICY) == reach(consult, now, POLICY)


# --- Examples, one rule each ---

GM, BN = "general_medicine", "bn"


def doctor(
    doctor_id: int,
    pools=("p1",),
    specialties=(GM,),
    languages=(BN,),
) -> DoctorSkills:
    return DoctorSkills(doctor_id, frozenset(specialties), frozenset(languages), frozenset(pools))


def consult(consult_id: int = 1, priority: str = "routine", queued_at: float = 0.0, **kw):
    kw.setdefault("specialty", GM)
    kw.setdefault("language", BN)
    kw.setdefault("pool", "p1")
    kw.setdefault("neighbour_pools", NEIGHBOURS[kw["pool"]])
    return WaitingConsult(id=consult_id, priority=priority, queued_at=queued_at, **kw)


def test_language_is_strict_even_state_wide() -> None:
    nepali = consult(language="ne")
    bengali_only = doctor(1, pools=("p1", STATE_POOL))
    assert not eligible(bengali_only, nepali, 10_000.0, POLICY)
    assert reach(nepali, 10_000.0, POLICY) is None  # the pools widened, the language did not
    assert eligible(doctor(2, pools=("p3",), languages=("ne", "en")), nepali, 10_000.0, POLICY)


def test_specialty_must_match() -> None:
    child = consult(specialty="paediatrics")
    assert not eligible(doctor(1), child, 0.0, POLICY)
    assert eligible(doctor(1, specialties=("paediatrics",)), child, 0.0, POLICY)


def test_a_doctor_who_let_an_offer_lapse_is_never_offered_it_again() -> None:
    lapsed = consult(declined_by=frozenset({1}))
    assert not eligible(doctor(1), lapsed, 10_000.0, POLICY)
    assert pick_doctor(lapsed, [IdleDoctor(doctor(1), 0.0)], 10_000.0, POLICY) is None
    assert (
        pick_doctor(lapsed, [IdleDoctor(doctor(1), 0.0), IdleDoctor(doctor(2), 5.0)], 1, POLICY)
        == 2
    )


def test_priority_first_then_first_come_first_served() -> None:
    waiting = [
        consult(1, "routine", queued_at=0.0),
        consult(2, "emergency", queued_at=50.0),
        consult(3, "routine", queued_at=-10.0),
        consult(4, "follow_up", queued_at=-100.0),
        consult(5, "urgent", queued_at=60.0),
    ]
    order = [c.id for c in sorted(waiting, key=queue_key)]
    assert order == [2, 5, 3, 1, 4]
    idle = [IdleDoctor(doctor(i), float(i)) for i in (10, 11, 12)]
    assert assign(waiting, idle, 100.0, POLICY) == [(2, 10), (5, 11), (3, 12)]
    assert pick_consult(IdleDoctor(doctor(10), 0.0), waiting, 100.0, POLICY) == 2


def test_same_time_ties_break_by_id() -> None:
    assert queue_key(consult(7, queued_at=5.0)) < queue_key(consult(8, queued_at=5.0))


def test_the_longest_idle_doctor_wins_and_ties_break_by_id() -> None:
    idle = [IdleDoctor(doctor(5), 30.0), IdleDoctor(doctor(3), 10.0), IdleDoctor(doctor(2), 10.0)]
    assert pick_doctor(consult(), idle, 100.0, POLICY) == 2
    assert pick_doctor(consult(), idle[:2], 100.0, POLICY) == 3


def test_a_state_hub_doctor_is_eligible_from_the_first_second() -> None:
    stroke = consult(specialty="stroke", pool="p3")
    neurologist = doctor(9, pools=(STATE_POOL,), specialties=("stroke",))
    assert pick_doctor(stroke, [IdleDoctor(neurologist, 0.0)], stroke.queued_at, POLICY) == 9


def test_a_follow_up_waits_for_its_busy_doctor_then_goes_to_anyone() -> None:
    follow_up = consult(1, "follow_up", queued_at=0.0, preferred_doctor_id=7)
    other = IdleDoctor(doctor(2), 0.0)
    assert pick_doctor(follow_up, [other], 299.0, POLICY, online_ids={7}) is None
    assert assign([follow_up], [other], 299.0, POLICY, online_ids={7}) == []
    assert pick_consult(other, [follow_up], 299.0, POLICY, online_ids={7}) is None
    assert pick_doctor(follow_up, [other], 300.0, POLICY, online_ids={7}) == 2
    assert next_overflow_at(follow_up, POLICY, 200.0) == 300.0
    # Its doctor offline: no point waiting.
    assert pick_doctor(follow_up, [other], 10.0, POLICY, online_ids=set()) == 2


def test_a_follow_up_goes_to_its_own_doctor_in_another_pool() -> None:
    follow_up = consult(1, "follow_up", queued_at=0.0, pool="p1", preferred_doctor_id=7)
    own = IdleDoctor(doctor(7, pools=("p3",)), 50.0)
    longer_idle = IdleDoctor(doctor(2), 0.0)
    assert pick_doctor(follow_up, [longer_idle, own], 1.0, POLICY, {7, 2}) == 7
    assert pick_consult(own, [follow_up], 1.0, POLICY, {7}) == 1
    # Not a doctor it may go to otherwise: a far pool before the state-wide threshold.
    assert not eligible(own.doctor, follow_up, 1.0, POLICY)


def test_the_own_doctor_must_still_have_the_skills_and_not_have_lapsed() -> None:
    follow_up = consult(1, "follow_up", language="ne", preferred_doctor_id=7)
    assert not is_own_doctor(doctor(7, languages=("bn",)), follow_up)
    lapsed = consult(1, "follow_up", preferred_doctor_id=7, declined_by=frozenset({7}))
    assert not is_own_doctor(doctor(7), lapsed)
    # Nobody waits for a doctor who let its offer lapse.
    assert pick_doctor(lapsed, [IdleDoctor(doctor(2), 0.0)], 1.0, POLICY, {7}) == 2


def test_an_urgent_consult_never_waits_for_one_doctor() -> None:
    urgent = consult(1, "urgent", queued_at=0.0, preferred_doctor_id=7)
    assert pick_doctor(urgent, [IdleDoctor(doctor(2), 0.0)], 1.0, POLICY, online_ids={7}) == 2
    # But it does go to that doctor when they are free.
    both = [IdleDoctor(doctor(2), 0.0), IdleDoctor(doctor(7), 50.0)]
    assert pick_doctor(urgent, both, 1.0, POLICY, online_ids={7, 2}) == 7


def test_a_doctor_given_work_in_the_batch_is_waited_for_by_their_follow_up() -> None:
    emergency = consult(1, "emergency", queued_at=10.0)
    follow_up = consult(2, "follow_up", queued_at=0.0, preferred_doctor_id=7)
    idle = [IdleDoctor(doctor(7), 0.0), IdleDoctor(doctor(8), 5.0)]
    # Doctor 7 (longest idle) takes the emergency; the follow-up then waits for 7, not 8,
    # even though the caller did not list 7 as online.
    assert assign([follow_up, emergency], idle, 20.0, POLICY) == [(1, 7)]


def test_queue_position_counts_the_same_line_only() -> None:
    me = consult(10, "routine", queued_at=100.0)
    waiting = [
        me,
        consult(1, "routine", queued_at=50.0),  # ahead, same line
        consult(2, "emergency", queued_at=150.0),  # ahead by priority
        consult(3, "routine", queued_at=150.0),  # behind
        consult(4, "routine", queued_at=10.0, language="en"),  # other language
        consult(5, "routine", queued_at=10.0, specialty="paediatrics"),  # other specialty
        consult(6, "routine", queued_at=90.0, pool="p3"),  # far pool, young: not my doctors
        consult(7, "routine", queued_at=-500.0, pool="p3"),  # far pool, state-wide by now
    ]
    assert queue_position(me, waiting, 160.0, POLICY) == 4
    assert queue_position(waiting[1], waiting, 160.0, POLICY) == 3  # the emergency, no. 7
    # A specialty only the state hubs serve: every consult of it is in one line.
    assert queue_position(me, waiting, 160.0, POLICY, serving_pools={STATE_POOL}) == 5


@given(worlds())
def test_queue_position_is_at_least_one_and_at_most_the_line(world) -> None:
    waiting, _, _ = world
    for c in waiting:
        position = queue_position(c, waiting, NOW, POLICY)
        same_line_ahead = [
            o
            for o in waiting
            if (o.specialty, o.language) == (c.specialty, c.language)
            and queue_key(o) < queue_key(c)
        ]
        assert 1 <= position <= len(same_line_ahead) + 1


def test_thresholds_can_be_switched_off() -> None:
    strict = RoutingPolicy(neighbour_after_s=math.inf, state_after_s=math.inf)
    c = consult(queued_at=0.0)
    assert reach(c, 1e9, strict) == frozenset({"p1", STATE_POOL})
    assert next_overflow_at(c, strict) is None


@pytest.mark.parametrize(
    "changes",
    [
        {"neighbour_after_s": -1.0},
        {"state_after_s": math.nan},
        {"offer_timeout_s": 0.0},
        {"join_timeout_s": math.inf},
        {"max_missed_offers": 0},
    ],
)
def test_a_bad_policy_is_refused(changes) -> None:
    with pytest.raises(ValueError):
        RoutingPolicy(**changes)


def test_an_unknown_priority_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown priority"):
        consult(priority="asap")


def test_nothing_to_do_gives_nothing() -> None:
    assert assign([], [IdleDoctor(doctor(1), 0.0)], 0.0, POLICY) == []
    assert assign([consult()], [], 0.0, POLICY) == []
    assert pick_doctor(consult(), [], 0.0, POLICY) is None
    assert pick_consult(IdleDoctor(doctor(1), 0.0), [], 0.0, POLICY) is None
