"""The whole bed ledger under random sequences of referral steps and censuses.

A hypothesis state machine keeps a plain-Python model of two facilities' pools, their referrals
and requests, and throws valid and invalid steps at the real services: censuses (current and
stale), reservations (new patients and waiting requests, some held for 0 s so that the next
step's sweep expires them), expiry and the worker's sweep, confirm, reject, cancel, admit,
discharge, transfer, moving a hold, walk-ins, and unknown ids. After every step: the database
agrees with the model, no pool breaks ``0 ≤ occupied + reserved ≤ total``, a refused step wrote
nothing at all, replaying the append-only ledger from zero gives exactly the ``bed_pool`` rows,
and every pool's ``reserved`` is the number of referrals holding a bed in it.
"""

from __future__ import annotations

import asyncio
import copy
import itertools
from collections import Counter
from dataclasses import dataclass, field
from datetime import timedelta

from hypothesis import HealthCheck
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)
from sqlalchemy import func, select, update

from seba.beds import service as bed_service
from seba.beds.ledger import POOL_SEXES
from seba.beds.models import BedEvent, BedPool
from seba.beds.schemas import CensusUpdate, PoolCensus
from seba.beds.service import PoolCounts
from seba.core.access import SYSTEM
from seba.core.audit import AuditEntry
from seba.core.db import transactional
from seba.core.errors import DomainError
from seba.core.idempotency import IdempotencyRecord
from seba.core.outbox import OutboxMessage
from seba.core.runtime import Runtime, build_runtime
from seba.core.types import utcnow
from seba.referrals import admissions as referral_admissions
from seba.referrals import service as referral_service
from seba.referrals.models import HOLDING, AdmissionRequest, Referral
from seba.referrals.schemas import (
    DischargeBody,
    MoveBody,
    Patient,
    ReferralCreate,
    TransferBody,
    WalkIn,
)
from seba.settings import Settings
from tests import factories

BED_TYPES = ("icu", "oxygen")
POOL_KEYS = [(b, s) for b in BED_TYPES for s in ("male", "female", "any")]
PATIENT_SEXES = ("male", "female", "other")
MISSING = 10**6
Key = tuple[int, str, str]  # (facility index, bed type, pool sex)

counts = st.integers(min_value=0, max_value=5)  # small: full pools are common
census_items = st.lists(
    st.tuples(st.sampled_from(POOL_KEYS), counts, counts),
    min_size=1,
    max_size=3,
    unique_by=lambda item: item[0],
)
_phones = itertools.count(1)


@dataclass
class Model:
    pools: dict[Key, PoolCounts] = field(default_factory=dict)
    versions: list[int] = field(default_factory=lambda: [0, 0])
    # referral id -> [pool key, status, request id, hold already run out]
    referrals: dict[int, list] = field(default_factory=dict)
    # request id -> [status, patient sex]
    requests: dict[int, list] = field(default_factory=dict)

    def swept(self) -> Model:
        """The model after a service's opening sweep of holds that ran out."""
        m = copy.deepcopy(self)
        for ref in m.referrals.values():
            key, status, request_id, due = ref
            if status in HOLDING and due:
                ref[1] = "expired"
                m.add(key, reserved=-1)
                m.requests[request_id][0] = "waiting"
        return m

    def add(self, key: Key, *, occupied: int = 0, reserved: int = 0) -> None:
        p = self.pools[key]
        self.pools[key] = PoolCounts(p.total, p.occupied + occupied, p.reserved + reserved)

    def free_pool(self, facility: int, bed_type: str, patient_sex: str) -> Key | None:
        """The pool a reservation or walk-in takes: the patient's own sex first, then mixed."""
        for sex in POOL_SEXES[patient_sex]:
            key = (facility, bed_type, sex)
            if key in self.pools and self.pools[key].available >= 1:
                return key
        return None


@dataclass(frozen=True)
class Snapshot:
    """Every row a step may write; a refused step must leave all of it as it was."""

    counts: tuple[int, ...]
    pools: dict[int, PoolCounts]
    referrals: dict[int, tuple]
    requests: dict[int, str]


class ReferralLedgerMachine(RuleBasedStateMachine):
    def __init__(self, loop: asyncio.AbstractEventLoop, rt: Runtime) -> None:
        super().__init__()
        self.loop = loop
        self.rt = rt
        # Fresh facilities per example: examples share the database, and the whole-table checks
        # (ledger replay, holds per pool) then also cover every earlier example's rows.
        self.facilities = [self._run(factories.facility(rt)) for _ in range(2)]
        # Sweeps are global: release what earlier examples left running out, so that this
        # example's sweeps release only its own holds (and a replay of it finds the same state).
        self._run(referral_service.release_expired(rt))
        self.model = Model()
        self._census(
            0,
            [(("icu", "any"), 3, 0), (("oxygen", "female"), 4, 1), (("oxygen", "male"), 2, 0)],
            expect="ok",
        )
        self._census(1, [(("icu", "male"), 2, 0), (("oxygen", "any"), 3, 0)], expect="ok")

    def _run(self, coro):
        return self.loop.run_until_complete(coro)

    def _index(self, facility_id: int) -> int:
        return [f.id for f in self.facilities].index(facility_id)

    def _pick(self, data, rows: dict[int, list], fits, *, unknown: bool = True) -> int:
        """Mostly a row the step can succeed on (by the model before its sweep, so a hold that
        ran out is tried too); otherwise any row, or an unknown id: those must be refused."""
        fitting = sorted(i for i, row in rows.items() if fits(row))
        if fitting and data.draw(st.integers(0, 3), label="fitting") > 0:
            return data.draw(st.sampled_from(fitting), label="id")
        anything = [*sorted(rows), MISSING] if unknown else sorted(rows)
        return data.draw(st.sampled_from(anything), label="any id")

    def _pick_referral(self, data, statuses, *, unknown: bool = True) -> int:
        return self._pick(
            data, self.model.referrals, lambda ref: ref[1] in statuses, unknown=unknown
        )

    async def _snapshot(self) -> Snapshot:
        async with self.rt.db.read() as s:
            counts = tuple(
                [
                    await s.scalar(select(func.count()).select_from(model))
                    for model in (
                        BedEvent,
                        AuditEntry,
                        OutboxMessage,
                        Referral,
                        AdmissionRequest,
                        IdempotencyRecord,
                    )
                ]
            )
            pools = {
                p.id: PoolCounts(p.total, p.occupied, p.reserved)
                for p in await s.scalars(select(BedPool))
            }
            referrals = {
                r.id: (r.status, r.pool_id, r.expires_at) for r in await s.scalars(select(Referral))
            }
            requests = dict(
                (await s.execute(select(AdmissionRequest.id, AdmissionRequest.status))).all()
            )
        return Snapshot(counts, pools, referrals, requests)

    def _step(self, call, expect: str, model: Model | None = None):
        """Run one service call; it must end as ``expect`` ("ok" or an error code). A refusal
        must have written nothing; on success ``model`` (the prediction) becomes the model."""
        before = self._run(self._snapshot())
        try:
            result = self._run(call())
            outcome = "ok"
        except DomainError as exc:
            result, outcome = None, exc.code
        assert outcome == expect, (outcome, expect)
        if outcome != "ok":
            assert self._run(self._snapshot()) == before
        elif model is not None:
            self.model = model
        return result

    # --- censuses ---------------------------------------------------------------------------

    def _census(self, f: int, items, *, expect: str, version: int | None = None) -> None:
        census = CensusUpdate(
            version=self.model.versions[f] if version is None else version,
            pools=[PoolCensus(bed_type=b, sex=s, total=t, occupied=o) for (b, s), t, o in items],
        )
        predicted = copy.deepcopy(self.model)
        for (b, s), total, occupied in items:
            old = predicted.pools.get((f, b, s))
            predicted.pools[(f, b, s)] = PoolCounts(total, occupied, old.reserved if old else 0)
        predicted.versions[f] += 1
        self._step(
            lambda: bed_service.update_census(
                self.rt, actor=SYSTEM, facility_id=self.facilities[f].id, census=census
            ),
            expect,
            predicted,
        )

    @rule(f=st.integers(0, 1), items=census_items, stale=st.sampled_from([False, False, True]))
    def census(self, f, items, stale):
        # A census does not sweep expired holds: they still count as reserved here.
        items = [(key, max(a, b), min(a, b)) for key, a, b in items]
        if stale:
            expect = "version_conflict"
        elif any(
            (f, *key) in self.model.pools
            and total - occupied < self.model.pools[(f, *key)].reserved
            for key, total, occupied in items
        ):
            expect = "reservations_exceed_free_beds"
        else:
            expect = "ok"
        version = self.model.versions[f] - 1 if stale else None
        self._census(f, items, expect=expect, version=version)

    @precondition(lambda self: any(p.reserved for p in self.model.pools.values()))
    @rule(data=st.data())
    def census_below_reservations(self, data):
        """A census that would leave fewer free beds than the pool's holds: refused."""
        key = data.draw(
            st.sampled_from(sorted(k for k, p in self.model.pools.items() if p.reserved))
        )
        pool = self.model.pools[key]
        free = data.draw(st.integers(0, pool.reserved - 1))
        self._census(
            key[0],
            [((key[1], key[2]), pool.occupied + free, pool.occupied)],
            expect="reservations_exceed_free_beds",
        )

    @precondition(lambda self: any(r[1] == "admitted" for r in self.model.referrals.values()))
    @rule(data=st.data())
    def census_counts_no_one_in_bed(self, data):
        """The hospital's own count says nobody occupies a pool that has admissions in Seba (a
        discharge entered only on paper): the census wins, and a later discharge must not push
        ``occupied`` below zero."""
        admitted = sorted({r[0] for r in self.model.referrals.values() if r[1] == "admitted"})
        key = data.draw(st.sampled_from(admitted))
        self._census(key[0], [((key[1], key[2]), self.model.pools[key].total, 0)], expect="ok")

    # --- reservations -----------------------------------------------------------------------

    def _new_hold(self, m: Model, result: dict, request_id: int, due: bool) -> None:
        key = (self._index(result["facility_id"]), result["bed_type"], result["sex"])
        m.referrals[result["id"]] = [key, "reserved", request_id, due]

    @rule(
        f=st.sampled_from([0, 1, 0, 1, 0, 1, MISSING]),
        bed_type=st.sampled_from(BED_TYPES),
        sex=st.sampled_from(PATIENT_SEXES),
        run_out=st.sampled_from([False, False, True]),
    )
    def reserve_for_new_patient(self, f, bed_type, sex, run_out):
        """``run_out``: the hold lasts 0 s, so the next sweeping step expires it."""
        m = self.model.swept()
        if f == MISSING:
            key, expect = None, "facility_not_found"
        else:
            key = m.free_pool(f, bed_type, sex)
            expect = "ok" if key else "no_bed_available"
        data = ReferralCreate(
            facility_id=MISSING if f == MISSING else self.facilities[f].id,
            bed_type=bed_type,
            patient=Patient(name="Stateful", age=50, sex=sex, phone=f"9{next(_phones):09d}"),
        )
        hold_s = self.rt.settings.reservation_hold_s
        self.rt.settings.reservation_hold_s = 0 if run_out else hold_s
        try:
            result = self._step(
                lambda: referral_service.create_referral(self.rt, actor=SYSTEM, data=data), expect
            )
        finally:
            self.rt.settings.reservation_hold_s = hold_s
        if result is not None:
            referral, _ = result
            m.add(key, reserved=1)
            m.requests[referral["request_id"]] = ["reserved", sex]
            self._new_hold(m, referral, referral["request_id"], run_out)
            assert referral["sex"] == key[2]
            self.model = m

    @precondition(lambda self: self.model.requests)
    @rule(data=st.data(), f=st.integers(0, 1), bed_type=st.sampled_from(BED_TYPES))
    def reserve_for_request(self, data, f, bed_type):
        request_id = self._pick(data, self.model.requests, lambda req: req[0] == "waiting")
        m = self.model.swept()
        if request_id == MISSING:
            expect, key = "request_not_found", None
        else:
            status, sex = m.requests[request_id]
            key = m.free_pool(f, bed_type, sex)
            if status != "waiting":
                expect = "request_not_waiting"
            else:
                expect = "ok" if key else "no_bed_available"
        data_in = ReferralCreate(
            request_id=request_id, facility_id=self.facilities[f].id, bed_type=bed_type
        )
        result = self._step(
            lambda: referral_service.create_referral(self.rt, actor=SYSTEM, data=data_in), expect
        )
        if result is not None:
            m.add(key, reserved=1)
            m.requests[request_id][0] = "reserved"
            self._new_hold(m, result[0], request_id, False)
            self.model = m

    # --- time ---------------------------------------------------------------------------

    @precondition(lambda self: self.model.referrals)
    @rule(data=st.data(), sweep_now=st.booleans())
    def hold_runs_out(self, data, sweep_now):
        """Move one referral's expiry into the past (a plain UPDATE: the test's clock), then let
        the worker sweep, or leave it to the next step's own sweep."""
        referral_id = self._pick_referral(data, HOLDING, unknown=False)

        async def expire():
            async with transactional(self.rt.db) as s:
                await s.execute(
                    update(Referral)
                    .where(Referral.id == referral_id)
                    .values(expires_at=utcnow() - timedelta(seconds=1))
                )

        self._run(expire())
        ref = self.model.referrals[referral_id]
        if ref[1] in HOLDING:
            ref[3] = True
        if sweep_now:
            self._worker_sweeps()

    def _worker_sweeps(self):
        m = self.model.swept()
        due = sum(
            1
            for ref_id, ref in self.model.referrals.items()
            if ref[1] in HOLDING and m.referrals[ref_id][1] == "expired"
        )
        released = self._step(lambda: referral_service.release_expired(self.rt), "ok", m)
        assert released == due

    # --- answers on one referral ----------------------------------------------------------

    def _on_referral(self, data, allowed, to, call, apply=None) -> None:
        """A step on one referral (or an unknown id): predicted from the swept model."""
        referral_id = self._pick_referral(data, allowed)
        m = self.model.swept()
        if referral_id == MISSING:
            expect = "referral_not_found"
        else:
            key, status, request_id, _ = m.referrals[referral_id]
            if status in allowed:
                expect = "ok"
            elif status == "expired":
                expect = "reservation_expired"
            else:
                expect = "invalid_referral_state"
        result = self._step(lambda: call(referral_id), expect)
        if result is None:
            return
        m.referrals[referral_id][1] = to
        if apply is not None:
            apply(m, key, request_id, result[0] if isinstance(result, tuple) else result)
        self.model = m

    @precondition(lambda self: self.model.referrals)
    @rule(data=st.data())
    def confirm(self, data):
        self._on_referral(
            data,
            ("reserved",),
            "confirmed",
            lambda i: referral_service.confirm_referral(self.rt, actor=SYSTEM, referral_id=i),
        )

    @precondition(lambda self: self.model.referrals)
    @rule(data=st.data())
    def reject(self, data):
        def apply(m, key, request_id, _):
            m.add(key, reserved=-1)
            m.requests[request_id][0] = "waiting"

        self._on_referral(
            data,
            HOLDING,
            "rejected",
            lambda i: referral_service.reject_referral(
                self.rt, actor=SYSTEM, referral_id=i, reason="no oxygen"
            ),
            apply,
        )

    @precondition(lambda self: self.model.referrals)
    @rule(data=st.data(), close=st.booleans())
    def cancel(self, data, close):
        def apply(m, key, request_id, _):
            m.add(key, reserved=-1)
            m.requests[request_id][0] = "closed" if close else "waiting"

        self._on_referral(
            data,
            HOLDING,
            "cancelled",
            lambda i: referral_service.cancel_referral(
                self.rt, actor=SYSTEM, referral_id=i, close_request=close
            ),
            apply,
        )

    @precondition(lambda self: self.model.referrals)
    @rule(data=st.data())
    def admit(self, data):
        def apply(m, key, request_id, _):
            m.add(key, occupied=1, reserved=-1)
            m.requests[request_id][0] = "admitted"

        self._on_referral(
            data,
            HOLDING,
            "admitted",
            lambda i: referral_admissions.admit_referral(self.rt, actor=SYSTEM, referral_id=i),
            apply,
        )

    def _vacate(self, m: Model, key: Key) -> None:
        # A census may have counted fewer occupied beds than there are admissions: the bed
        # count never goes below zero (the census is the hospital's own count).
        if m.pools[key].occupied >= 1:
            m.add(key, occupied=-1)

    @precondition(lambda self: self.model.referrals)
    @rule(data=st.data(), outcome=st.sampled_from(["discharged", "died"]))
    def discharge(self, data, outcome):
        def apply(m, key, request_id, _):
            self._vacate(m, key)
            m.requests[request_id][0] = "closed"

        self._on_referral(
            data,
            ("admitted",),
            outcome,
            lambda i: referral_admissions.discharge_admission(
                self.rt, actor=SYSTEM, admission_id=i, data=DischargeBody(outcome=outcome)
            ),
            apply,
        )

    @precondition(lambda self: self.model.referrals)
    @rule(data=st.data(), need=st.sampled_from(BED_TYPES))
    def transfer(self, data, need):
        def apply(m, key, request_id, result):
            self._vacate(m, key)
            sex = m.requests[request_id][1]
            m.requests[request_id][0] = "closed"
            m.requests[result["transfer_request_id"]] = ["waiting", sex]

        self._on_referral(
            data,
            ("admitted",),
            "transferred",
            lambda i: referral_admissions.transfer_admission(
                self.rt, actor=SYSTEM, admission_id=i, data=TransferBody(need=need)
            ),
            apply,
        )

    @precondition(lambda self: self.model.referrals)
    @rule(data=st.data(), f=st.integers(0, 1), bed_type=st.sampled_from(BED_TYPES))
    def move(self, data, f, bed_type):
        """Release the hold, then take a bed at ``f`` (perhaps the one just released), or change
        nothing at all."""
        referral_id = self._pick_referral(data, HOLDING)
        m = self.model.swept()
        key = None
        if referral_id == MISSING:
            expect = "referral_not_found"
        else:
            old_key, status, request_id, _ = m.referrals[referral_id]
            if status in HOLDING:
                m.referrals[referral_id][1] = "cancelled"
                m.add(old_key, reserved=-1)
                key = m.free_pool(f, bed_type, m.requests[request_id][1])
                expect = "ok" if key else "no_bed_available"
            else:
                expect = "reservation_expired" if status == "expired" else "invalid_referral_state"
        body = MoveBody(facility_id=self.facilities[f].id, bed_type=bed_type)
        result = self._step(
            lambda: referral_service.move_referral(
                self.rt, actor=SYSTEM, referral_id=referral_id, data=body
            ),
            expect,
        )
        if result is not None:
            m.add(key, reserved=1)
            self._new_hold(m, result, request_id, False)
            self.model = m

    # --- walk-ins -----------------------------------------------------------------------

    @rule(
        f=st.integers(0, 1),
        bed_type=st.sampled_from(BED_TYPES),
        sex=st.sampled_from(PATIENT_SEXES),
    )
    def walk_in(self, f, bed_type, sex):
        m = self.model.swept()
        key = m.free_pool(f, bed_type, sex)
        data = WalkIn(
            patient=Patient(name="At the door", age=70, sex=sex, phone=f"8{next(_phones):09d}"),
            bed_type=bed_type,
        )
        result = self._step(
            lambda: referral_admissions.admit_walk_in(
                self.rt, actor=SYSTEM, facility_id=self.facilities[f].id, data=data
            ),
            "ok" if key else "no_bed_available",
        )
        if result is not None:
            referral, _ = result
            m.add(key, occupied=1)
            m.requests[referral["request_id"]] = ["admitted", sex]
            m.referrals[referral["id"]] = [key, "admitted", referral["request_id"], False]
            self.model = m

    # --- after every step -----------------------------------------------------------------

    @invariant()
    def ledger_is_whole_and_matches_the_model(self):
        async def load():
            async with self.rt.db.read() as s:
                pools = list(await s.scalars(select(BedPool)))
                replayed = await bed_service.replay_ledger(s)
                referrals = list(await s.scalars(select(Referral)))
                requests = dict(
                    (await s.execute(select(AdmissionRequest.id, AdmissionRequest.status))).all()
                )
            return pools, replayed, referrals, requests

        pools, replayed, referrals, requests = self._run(load())
        for p in pools:
            assert min(p.total, p.occupied, p.reserved) >= 0, p.__dict__
            assert p.occupied + p.reserved <= p.total, p.__dict__
        rows = {p.id: PoolCounts(p.total, p.occupied, p.reserved) for p in pools}
        # The one source of truth: folding the ledger from zero gives every pool row exactly.
        assert replayed == rows
        # Every reserved bed is held by exactly one referral (a census never lowers
        # ``reserved``, so this holds after any sequence of steps).
        holding = Counter(r.pool_id for r in referrals if r.status in HOLDING)
        assert {pool_id: c.reserved for pool_id, c in rows.items() if c.reserved} == holding

        mine = {p.facility_id for p in pools} & {f.id for f in self.facilities}
        by_key = {
            (self._index(p.facility_id), p.bed_type, p.sex): rows[p.id]
            for p in pools
            if p.facility_id in mine
        }
        assert by_key == self.model.pools
        statuses = {r.id: r.status for r in referrals if r.id in self.model.referrals}
        assert statuses == {i: ref[1] for i, ref in self.model.referrals.items()}
        assert {i: requests[i] for i in self.model.requests} == {
            i: req[0] for i, req in self.model.requests.items()
        }


# Modest sizes: each engine finishes in well under a minute, and a failing sequence still
# shrinks quickly.
MACHINE_SETTINGS = hypothesis_settings(
    max_examples=10,
    stateful_step_count=30,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)


def test_referral_ledger_state_machine(settings: Settings):
    # Hypothesis drives synchronous steps; each step runs its coroutines on this one loop, which
    # also owns the runtime's connection pools (asyncpg connections belong to one loop).
    loop = asyncio.new_event_loop()
    rt = build_runtime(settings)
    try:
        loop.run_until_complete(rt.start())
        loop.run_until_complete(factories.districts(rt))
        run_state_machine_as_test(
            lambda: ReferralLedgerMachine(loop, rt), settings=MACHINE_SETTINGS
        )
    finally:
        loop.run_until_complete(rt.close())
        loop.close()
