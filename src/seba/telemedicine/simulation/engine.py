"""A simulated day of teleconsultation, routed by the real engine (``seba simulate``).

A discrete-event simulation in simulated seconds (a heap of timed events) of one seed-scale day
at the spokes and hubs of West Bengal. Every routing decision is made by ``routing``:
``pick_doctor`` when a consult arrives or is re-queued, ``pick_consult`` when a doctor becomes
free, ``assign`` at the sweeps (a consult's reach widens or its follow-up hold ends, as
``next_overflow_at`` says; a doctor a follow-up was held for goes offline). Like the service's
SQL, the simulator only narrows the candidates it hands to those functions, through indexes by
(specialty, language, pool): idle doctors in idle order, waiting consults in queue order.

The same day (same requests, same doctors and shifts) is run under two policies:

- ``seba``: pools of districts, overflow to neighbouring pools after 120 s and state-wide after
  300 s, longest-idle doctor first, follow-ups held for their own doctor;
- ``strict``: each spoke's consults go to its own hub's doctors only (the hub of the spoke for
  general medicine, paediatrics and obstetrics, the pool's specialist hub or a state hub for the
  rest), first come first served by priority class, no overflow, no same-doctor routing.

Both match languages strictly (the engine's rule). ``docs/telemedicine-routing.md`` describes
the scenario and the numbers it gives.
"""

from __future__ import annotations

import bisect
import heapq
import math
import random
from collections import OrderedDict, defaultdict
from collections.abc import Callable, Iterable
from dataclasses import replace

from seba.telemedicine.consults import routing
from seba.telemedicine.consults.routing import (
    STATE_POOL,
    DoctorSkills,
    IdleDoctor,
    RoutingPolicy,
    WaitingConsult,
)
from seba.telemedicine.simulation.day import (
    ACCEPT_DELAY_S,
    AWAY_BACK_S,
    DRAIN_S,
    LEAD_S,
    Day,
)
from seba.telemedicine.simulation.online import OnlineSeconds

POLICIES = ("seba", "strict")
POLICY_DESCRIPTIONS = {
    "seba": "Seba routing: pools, overflow to neighbours (120 s) and the state (300 s)",
    "strict": "strict per-hub FIFO: own hub only, no overflow",
}

# --- The engine: one policy over one day ---

_ARRIVAL, _DOCTOR_ON, _DOCTOR_OFF, _OVERFLOW, _ACCEPT, _LAPSE, _END, _AWAY_BACK = range(8)
_OFFLINE, _IDLE, _OFFERED, _BUSY, _AWAY = range(5)
_NOT_YET, _QUEUED, _WITH_DOCTOR, _DONE = range(4)
_RANK = routing.PRIORITY_RANK


def policy_settings(policy: str) -> RoutingPolicy:
    """The routing thresholds of each simulated policy."""
    if policy == "seba":
        return RoutingPolicy()
    if policy == "strict":
        return RoutingPolicy(
            neighbour_after_s=math.inf, state_after_s=math.inf, follow_up_hold_s=0.0
        )
    raise ValueError(f"unknown policy {policy!r}; one of {POLICIES}")


class InvariantBroken(AssertionError):
    """The simulator found a state the routing rules forbid (tests run with checks on)."""


class PolicyRun:
    """The mutable state of one policy's day. Doctor ids are shift ids; consult ids request ids."""

    def __init__(
        self,
        day: Day,
        policy: str,
        progress: Callable[[int], None] | None,
        check_invariants: bool,
    ) -> None:
        self.day = day
        self.policy = policy_settings(policy)
        self.policy_name = policy
        self.description = POLICY_DESCRIPTIONS[policy]
        self.rng = random.Random(f"{day.config.seed}:{policy}")
        self.progress = progress
        self.check_invariants = check_invariants
        net = day.network
        hub_pool = {h.code: h.pool for h in net.hubs}
        neighbours = {p.code: p.neighbours for p in net.pools}
        self.hub_pool = hub_pool
        seba = policy == "seba"
        # What the engine sees of each doctor under this policy.
        self.skills = [
            DoctorSkills(
                id=s.id,
                specialties=s.specialties,
                languages=s.languages,
                pools=frozenset((hub_pool[s.hub] if seba else s.hub,)),
            )
            for s in day.shifts
        ]
        self.idle_keys = [
            [(sp, lang, pool) for sp in d.specialties for lang in d.languages for pool in d.pools]
            for d in self.skills
        ]
        consult_pools = (
            sorted(set(hub_pool.values()) - {STATE_POOL})
            if seba
            else sorted({r.hub for r in day.requests})
        )
        self.all_pools = [*consult_pools, STATE_POOL]
        # For each doctor: the consult pools they may serve and from how long a wait on.
        self.scan: list[list[tuple[str, str, str, float]]] = []
        for d in self.skills:
            entries = []
            for pool in consult_pools:
                if pool in d.pools or STATE_POOL in d.pools:
                    after = 0.0
                elif seba and not d.pools.isdisjoint(neighbours.get(pool, ())):
                    after = self.policy.neighbour_after_s
                else:
                    after = self.policy.state_after_s
                if math.isfinite(after):
                    entries += [
                        (sp, lang, pool, after) for sp in d.specialties for lang in d.languages
                    ]
            self.scan.append(entries)
        self.consults: list[WaitingConsult] = [
            WaitingConsult(
                id=r.id,
                priority=r.priority,
                queued_at=r.at,
                specialty=r.specialty,
                language=r.language,
                pool=net.district_pool[r.district] if seba else r.hub,
                neighbour_pools=neighbours[net.district_pool[r.district]] if seba else frozenset(),
                preferred_doctor_id=r.preferred_doctor if seba else None,
            )
            for r in day.requests
        ]
        n_doctors, n_consults = len(day.shifts), len(day.requests)
        self.state = [_OFFLINE] * n_doctors
        self.idle: list[IdleDoctor | None] = [None] * n_doctors
        self.misses = [0] * n_doctors
        self.shift_over = [False] * n_doctors
        self.holding: list[int | None] = [None] * n_doctors
        self.offer_at = [0.0] * n_doctors
        self.online: set[int] = set()
        self.idle_index: dict[tuple[str, str, str], OrderedDict[int, IdleDoctor]] = defaultdict(
            OrderedDict
        )
        self.status = [_NOT_YET] * n_consults
        self.waiting: dict[tuple[str, str, str], list[list[tuple[float, int]]]] = {}
        self.waiting_count = 0
        self.held_for: dict[int, set[int]] = defaultdict(set)
        self.overflow_at: list[float | None] = [None] * n_consults
        self.offered_at = [0.0] * n_consults
        self.wait: list[float | None] = [None] * n_consults
        self.served_by: list[int | None] = [None] * n_consults
        self.events: list[tuple[float, int, int, int, int]] = []
        self.seq = 0
        self.counts = defaultdict(int)
        self.busy_s = 0.0
        self.done = 0
        self.online_acc = OnlineSeconds(day.window_s)
        self.hub_of = [s.hub for s in day.shifts]
        # The report's rows: the doctor's pool, or STATE_POOL for the state hubs.
        self.row_of_doctor = [hub_pool[s.hub] for s in day.shifts]

    # -- events --

    def push(self, at: float, kind: int, a: int, b: int = -1) -> None:
        self.seq += 1
        heapq.heappush(self.events, (at, self.seq, kind, a, b))

    def run(self) -> None:
        for r in self.day.requests:
            self.push(r.at, _ARRIVAL, r.id)
        for s in self.day.shifts:
            self.push(s.on_at, _DOCTOR_ON, s.id)
            self.push(s.off_at, _DOCTOR_OFF, s.id)
        handlers = {
            _ARRIVAL: self.on_arrival,
            _DOCTOR_ON: self.on_doctor_on,
            _DOCTOR_OFF: self.on_doctor_off,
            _OVERFLOW: self.on_overflow,
            _ACCEPT: self.on_accept,
            _LAPSE: self.on_lapse,
            _END: self.on_end,
            _AWAY_BACK: self.on_away_back,
        }
        events = self.events
        while events:
            now, _, kind, a, b = heapq.heappop(events)
            handlers[kind](now, a, b)
            if self.check_invariants:
                self.verify(now)
        self.online_acc.close(self.day.window_s + DRAIN_S + LEAD_S)

    def on_arrival(self, now: float, cid: int, _: int) -> None:
        self.route_consult(cid, now)

    def on_doctor_on(self, now: float, did: int, _: int) -> None:
        self.come_online(did, now)

    def on_doctor_off(self, now: float, did: int, _: int) -> None:
        self.shift_over[did] = True
        if self.state[did] == _IDLE:
            self.go_offline(did, now)
        elif self.state[did] == _AWAY:
            self.state[did] = _OFFLINE
        # Offered or busy: they finish this consult, then log off (see free_doctor).

    def on_away_back(self, now: float, did: int, _: int) -> None:
        if self.state[did] == _AWAY and not self.shift_over[did]:
            self.misses[did] = 0
            self.come_online(did, now)

    def on_overflow(self, now: float, cid: int, _: int) -> None:
        if self.status[cid] == _QUEUED and self.overflow_at[cid] == now:
            self.overflow_at[cid] = None
            self.sweep([cid], now)

    def on_accept(self, now: float, did: int, cid: int) -> None:
        self.misses[did] = 0
        self.state[did] = _BUSY
        self.wait[cid] = self.offered_at[cid] - self.consults[cid].queued_at
        self.served_by[cid] = did
        self.done += 1
        if self.progress is not None and self.done % 1000 == 0:
            self.progress(1000)
        request = self.day.requests[cid]
        if request.join_s is None:
            self.counts["no_shows"] += 1
            self.push(now + self.policy.join_timeout_s, _END, did, cid)
        else:
            self.push(now + request.join_s + request.talk_s, _END, did, cid)

    def on_lapse(self, now: float, did: int, cid: int) -> None:
        # The offer ran out: never offer this consult to this doctor again; the consult keeps
        # its place (queued_at) and is routed at once to someone else.
        self.counts["missed_offers"] += 1
        self.busy_s += now - self.offer_at[did]
        self.holding[did] = None
        consult = self.consults[cid]
        self.consults[cid] = replace(consult, declined_by=consult.declined_by | {did})
        self.status[cid] = _QUEUED
        self.state[did] = _OFFERED  # not idle while the consult looks for a doctor
        self.route_consult(cid, now)
        self.misses[did] += 1
        if self.misses[did] >= self.policy.max_missed_offers:
            self.counts["doctors_set_away"] += 1
            self.leave(did, now, _AWAY)
            back = now + self.rng.uniform(*AWAY_BACK_S)
            if back < self.day.shifts[did].off_at:
                self.push(back, _AWAY_BACK, did)
        else:
            self.free_doctor(did, now)

    def on_end(self, now: float, did: int, cid: int) -> None:
        self.busy_s += now - self.offer_at[did]
        self.holding[did] = None
        self.status[cid] = _DONE
        self.free_doctor(did, now)

    # -- routing, through the real engine --

    def route_consult(self, cid: int, now: float) -> None:
        consult = self.consults[cid]
        doctor = routing.pick_doctor(
            consult, self.idle_candidates(consult, now), now, self.policy, self.online
        )
        if doctor is None:
            self.enqueue(cid, now)
        else:
            self.offer(cid, doctor, now)

    def sweep(self, cids: Iterable[int], now: float) -> None:
        waiting = [self.consults[c] for c in cids if self.status[c] == _QUEUED]
        candidates: dict[int, IdleDoctor] = {}
        for consult in waiting:
            for idle in self.idle_candidates(consult, now):
                candidates[idle.doctor.id] = idle
        for cid, did in routing.assign(waiting, candidates.values(), now, self.policy, self.online):
            self.offer(cid, did, now)
        for consult in waiting:
            if self.status[consult.id] == _QUEUED:
                self.schedule_overflow(consult.id, now)

    def free_doctor(self, did: int, now: float) -> None:
        if self.shift_over[did]:
            self.leave(did, now, _OFFLINE)
            return
        me = IdleDoctor(self.skills[did], now)
        cid = routing.pick_consult(
            me, self.waiting_candidates(did, now), now, self.policy, self.online
        )
        if cid is None:
            self.state[did] = _IDLE
            self.idle[did] = me
            for key in self.idle_keys[did]:
                self.idle_index[key][did] = me
        else:
            self.offer(cid, did, now)

    def offer(self, cid: int, did: int, now: float) -> None:
        self.overflow_at[cid] = None  # a pending overflow event for it is now stale
        self.dequeue(cid)
        if self.state[did] == _IDLE:
            self.unidle(did)
        self.status[cid] = _WITH_DOCTOR
        self.state[did] = _OFFERED
        self.holding[did] = cid
        self.offer_at[did] = now
        self.offered_at[cid] = now
        self.counts["offers"] += 1
        if self.rng.random() < self.day.shifts[did].miss_rate:
            self.push(now + self.policy.offer_timeout_s, _LAPSE, did, cid)
        else:
            self.push(now + self.rng.uniform(*ACCEPT_DELAY_S), _ACCEPT, did, cid)

    def come_online(self, did: int, now: float) -> None:
        self.online.add(did)
        self.online_acc.change(self.row_of_doctor[did], self.hub_of[did], +1, now)
        self.free_doctor(did, now)

    def leave(self, did: int, now: float, state: int) -> None:
        if self.state[did] == _IDLE:
            self.unidle(did)
        self.state[did] = state
        if did in self.online:
            self.online.discard(did)
            self.online_acc.change(self.row_of_doctor[did], self.hub_of[did], -1, now)
        held = sorted(self.held_for.get(did, ()))
        if held:  # follow-ups kept for this doctor are free to go to anyone now
            self.sweep(held, now)

    def go_offline(self, did: int, now: float) -> None:
        self.leave(did, now, _OFFLINE)

    def unidle(self, did: int) -> None:
        for key in self.idle_keys[did]:
            del self.idle_index[key][did]
        self.idle[did] = None

    # -- the indexes: what SQL would hand the engine --

    def enqueue(self, cid: int, now: float) -> None:
        consult = self.consults[cid]
        key = (consult.specialty, consult.language, consult.pool)
        lists = self.waiting.get(key)
        if lists is None:
            lists = self.waiting[key] = [[], [], [], []]
        bisect.insort(lists[_RANK[consult.priority]], (consult.queued_at, cid))
        self.waiting_count += 1
        if consult.preferred_doctor_id is not None:
            self.held_for[consult.preferred_doctor_id].add(cid)
        self.status[cid] = _QUEUED
        self.schedule_overflow(cid, now)

    def dequeue(self, cid: int) -> None:
        consult = self.consults[cid]
        lists = self.waiting.get((consult.specialty, consult.language, consult.pool))
        if lists is None:
            return
        line = lists[_RANK[consult.priority]]
        i = bisect.bisect_left(line, (consult.queued_at, cid))
        if i < len(line) and line[i][1] == cid:
            del line[i]
            self.waiting_count -= 1
            if consult.preferred_doctor_id is not None:
                self.held_for[consult.preferred_doctor_id].discard(cid)

    def schedule_overflow(self, cid: int, now: float) -> None:
        at = routing.next_overflow_at(self.consults[cid], self.policy, now)
        if at is not None and at != self.overflow_at[cid]:
            self.overflow_at[cid] = at
            self.push(at, _OVERFLOW, cid)

    def idle_candidates(self, consult: WaitingConsult, now: float) -> list[IdleDoctor]:
        """The longest-idle doctors per (specialty, language, pool) the consult reaches, not
        declined; and its own doctor if idle. The engine makes the choice among them."""
        pools = routing.reach(consult, now, self.policy)
        out: list[IdleDoctor] = []
        declined = consult.declined_by
        for pool in self.all_pools if pools is None else pools:
            line = self.idle_index.get((consult.specialty, consult.language, pool))
            if not line:
                continue
            first: float | None = None
            for did, idle in line.items():
                if did in declined:
                    continue
                if first is not None and idle.idle_since > first:
                    break
                first = idle.idle_since
                out.append(idle)
        preferred = consult.preferred_doctor_id
        if preferred is not None and self.idle[preferred] is not None:
            out.append(self.idle[preferred])  # type: ignore[arg-type]
        return out

    def waiting_candidates(self, did: int, now: float) -> list[WaitingConsult]:
        """Per line this doctor may serve: the first consult (in queue order, per priority
        class) the doctor may take now and that is not held for someone else; plus the
        doctor's own follow-ups. The engine picks among them."""
        skills = self.skills[did]
        consults = self.consults
        policy = self.policy
        idle_ids = (did,)
        out: list[WaitingConsult] = []
        for specialty, language, pool, after in self.scan[did]:
            lists = self.waiting.get((specialty, language, pool))
            if lists is None:
                continue
            for line in lists:
                for queued_at, cid in line:
                    if now < queued_at + after:
                        break  # younger consults are out of this doctor's reach as well
                    consult = consults[cid]
                    if routing.may_take(skills, consult, now, policy) and not routing.is_held(
                        consult, now, policy, idle_ids, self.online
                    ):
                        out.append(consult)
                        break
        for cid in self.held_for.get(did, ()):
            out.append(consults[cid])
        return out

    def verify(self, now: float) -> None:
        waiting = [self.consults[c] for c, s in enumerate(self.status) if s == _QUEUED]
        idle = [i for i in self.idle if i is not None]
        missed = routing.assign(waiting, idle, now, self.policy, self.online)
        if missed:
            raise InvariantBroken(f"at {now:.3f}s an idle doctor could take a consult: {missed}")
        holders = [c for c in self.holding if c is not None]
        if len(holders) != len(set(holders)):
            raise InvariantBroken(f"at {now:.3f}s a consult is held by two doctors")
        if self.waiting_count != len(waiting):
            raise InvariantBroken(f"at {now:.3f}s the waiting index lost a consult")
