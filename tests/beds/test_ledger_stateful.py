"""The bed ledger under random sequences of censuses and bed events, and the database's own guards.

A hypothesis state machine keeps a plain-Python model of one facility's pools and its census
version, throws valid and invalid changes at the real services, and after every step checks
that the database agrees with the model, that no pool breaks the invariant, and that replaying
the append-only ``bed_event`` ledger from zero gives exactly the ``bed_pool`` rows.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, replace
from datetime import datetime

import pytest
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
from sqlalchemy import func, select, text
from sqlalchemy.exc import DBAPIError, IntegrityError

from seba.beds import service as bed_service
from seba.beds.models import BedEvent, BedPool
from seba.beds.schemas import CensusUpdate, PoolCensus
from seba.beds.service import PoolCounts
from seba.core.access import SYSTEM
from seba.core.audit import AuditEntry
from seba.core.db import transactional
from seba.core.errors import Conflict, DomainError
from seba.core.runtime import Runtime, build_runtime
from seba.core.types import utcnow
from seba.core.versions import DataVersion
from seba.places.models import Facility
from seba.settings import Settings
from tests import factories

# A few pools are enough to mix new pools, existing ones, and several pools in one submit.
KEYS = [("icu", "male"), ("icu", "any"), ("oxygen", "female"), ("general", "any")]
Key = tuple[str, str]

# Small counts make full pools (and so refused reservations) common.
counts = st.integers(min_value=0, max_value=8)
census_items = st.lists(
    st.tuples(st.sampled_from(KEYS), counts, counts),
    min_size=1,
    max_size=len(KEYS),
    unique_by=lambda item: item[0],
)


@dataclass(frozen=True)
class Snapshot:
    """Everything a change may write; a refused change must leave all of it as it was."""

    events: int
    audits: int
    pools: dict[Key, PoolCounts]
    census_version: int
    census_updated_at: datetime | None
    data_version: int


class LedgerMachine(RuleBasedStateMachine):
    def __init__(self, loop: asyncio.AbstractEventLoop, rt: Runtime) -> None:
        super().__init__()
        self.loop = loop
        self.rt = rt
        # A fresh facility per example: examples share the database, and the whole-table checks
        # below (invariant, ledger replay) then also cover every earlier example's pools.
        self.facility = self._run(factories.facility(rt))
        self.version = 0
        self.model: dict[Key, PoolCounts] = {}

    def _run(self, coro):
        return self.loop.run_until_complete(coro)

    async def _snapshot(self) -> Snapshot:
        async with self.rt.db.read() as s:
            events = await s.scalar(select(func.count()).select_from(BedEvent))
            audits = await s.scalar(select(func.count()).select_from(AuditEntry))
            pools = await s.scalars(select(BedPool).where(BedPool.facility_id == self.facility.id))
            facility = (
                await s.execute(
                    select(Facility.census_version, Facility.census_updated_at).where(
                        Facility.id == self.facility.id
                    )
                )
            ).one()
            data_version = await s.scalar(
                select(DataVersion.value).where(DataVersion.name == "beds")
            )
        return Snapshot(
            events=events,
            audits=audits,
            pools={(p.bed_type, p.sex): PoolCounts(p.total, p.occupied, p.reserved) for p in pools},
            census_version=facility.census_version,
            census_updated_at=facility.census_updated_at,
            data_version=data_version,
        )

    # --- censuses -------------------------------------------------------------------------

    @rule(items=census_items)
    def submit_census(self, items):
        """A schema-valid census from the current version (still refused if short of beds)."""
        self._census(items, self.version)

    @rule(items=census_items, shift=st.sampled_from([-1, 1, 5]))
    def submit_census_from_wrong_version(self, items, shift):
        """Someone else submitted meanwhile (or the client made a version up)."""
        version = self.version + shift
        if version < 0:  # the schema refuses negative versions; still a wrong one
            version = self.version + 1
        self._census(items, version)

    def _census(self, items, version):
        pools = [(key, max(a, b), min(a, b)) for key, a, b in items]
        if version != self.version:
            expected = "version_conflict"
        elif any(
            key in self.model and total - occupied < self.model[key].reserved
            for key, total, occupied in pools
        ):
            expected = "reservations_exceed_free_beds"
        else:
            expected = "ok"
        census = CensusUpdate(
            version=version,
            pools=[PoolCensus(bed_type=b, sex=s, total=t, occupied=o) for (b, s), t, o in pools],
        )
        before = self._run(self._snapshot())
        try:
            self._run(
                bed_service.update_census(
                    self.rt, actor=SYSTEM, facility_id=self.facility.id, census=census
                )
            )
            outcome = "ok"
        except Conflict as exc:
            outcome = exc.code
        assert outcome == expected
        after = self._run(self._snapshot())
        if expected != "ok":
            assert after == before
            return
        changed = 0
        for key, total, occupied in pools:
            old = self.model.get(key)
            new = PoolCounts(total, occupied, old.reserved if old else 0)
            # A new pool always gets a first event from zero (even an empty one), so the ledger
            # names every pool; an existing pool gets one only when its counts move.
            changed += old is None or new != old
            self.model[key] = new
        self.version += 1
        # One event per pool whose counts moved, one audit row, and the public version moves.
        assert after.events == before.events + changed
        assert after.audits == before.audits + 1
        assert after.census_version == self.version
        assert after.data_version == before.data_version + 1

    @rule(
        items=census_items,
        bad=st.sampled_from(["occupied_over_total", "negative_occupied", "negative_total"]),
        bad_index=st.integers(min_value=0),
    )
    def submit_impossible_census(self, items, bad, bad_index):
        """A census the schema would refuse, built around it: the layers below must refuse too.

        The other pools of the same submit are valid, so this also checks all-or-nothing.
        """
        pools = []
        target = bad_index % len(items)
        for i, (key, a, b) in enumerate(items):
            total, occupied = max(a, b), min(a, b)
            if i == target:
                total, occupied = {
                    "occupied_over_total": (total, total + 1),
                    "negative_occupied": (total, -1),
                    "negative_total": (-1, 0),
                }[bad]
            pools.append(
                PoolCensus.model_construct(
                    bed_type=key[0], sex=key[1], total=total, occupied=occupied
                )
            )
        census = CensusUpdate.model_construct(version=self.version, pools=pools, reason="")
        before = self._run(self._snapshot())
        with pytest.raises((DomainError, IntegrityError)):
            self._run(
                bed_service.update_census(
                    self.rt, actor=SYSTEM, facility_id=self.facility.id, census=census
                )
            )
        assert self._run(self._snapshot()) == before

    # --- bed events (reservations proper come later; the ledger helper is what they use) ----

    async def _move(self, key: Key, after: PoolCounts, kind: str, loaded: PoolCounts) -> bool:
        async with self.rt.db.read() as s:
            pool_id = await s.scalar(
                select(BedPool.id).where(
                    BedPool.facility_id == self.facility.id,
                    BedPool.bed_type == key[0],
                    BedPool.sex == key[1],
                )
            )
        # A detached pool carrying the counts the caller believes the row has: _write_pool must
        # act on those only if the row really holds them.
        pool = BedPool(
            id=pool_id,
            facility_id=self.facility.id,
            bed_type=key[0],
            sex=key[1],
            total=loaded.total,
            occupied=loaded.occupied,
            reserved=loaded.reserved,
        )
        # The transaction commits either way: a refused move must have written nothing itself.
        async with transactional(self.rt.db) as s:
            return await bed_service._write_pool(
                s, pool=pool, after=after, kind=kind, actor=SYSTEM, reason="stateful", at=utcnow()
            )

    def _bed_event(self, key: Key, after: PoolCounts, kind: str, loaded: PoolCounts, fits: bool):
        before = self._run(self._snapshot())
        written = self._run(self._move(key, after, kind, loaded))
        assert written == fits
        snapshot = self._run(self._snapshot())
        if not fits:
            assert snapshot == before
            return
        self.model[key] = after
        assert snapshot.events == before.events + 1
        # A bare ledger move is not a census: the census version and its time stay put.
        assert snapshot.census_version == before.census_version
        assert snapshot.census_updated_at == before.census_updated_at

    def _loaded(self, data) -> tuple[Key, PoolCounts, bool]:
        """A pool and what the writer believes it holds: mostly the truth, sometimes a read
        from before someone else's change (such a writer must change nothing)."""
        key = data.draw(st.sampled_from(sorted(self.model)))
        now = self.model[key]
        field = data.draw(st.sampled_from([None] * 6 + ["total", "occupied", "reserved"]))
        if field is None:
            return key, now, True
        return key, replace(now, **{field: getattr(now, field) + 1}), False

    @precondition(lambda self: self.model)
    @rule(data=st.data())
    def reserve(self, data):
        key, loaded, current = self._loaded(data)
        after = replace(loaded, reserved=loaded.reserved + 1)
        self._bed_event(key, after, "reserve", loaded, fits=current and after.available >= 0)

    @precondition(lambda self: self.model)
    @rule(data=st.data())
    def release(self, data):
        key, loaded, current = self._loaded(data)
        after = replace(loaded, reserved=loaded.reserved - 1)
        self._bed_event(key, after, "release", loaded, fits=current and after.reserved >= 0)

    # --- after every step -----------------------------------------------------------------

    @invariant()
    def database_matches_model_and_ledger(self):
        async def check():
            async with self.rt.db.read() as s:
                pools = list(await s.scalars(select(BedPool)))
                replayed = await bed_service.replay_ledger(s)
                version = await s.scalar(
                    select(Facility.census_version).where(Facility.id == self.facility.id)
                )
            return pools, replayed, version

        pools, replayed, version = self._run(check())
        for p in pools:
            assert p.occupied >= 0 and p.reserved >= 0, p.__dict__
            assert p.occupied + p.reserved <= p.total, p.__dict__
            assert p.available >= 0
        mine = {
            (p.bed_type, p.sex): PoolCounts(p.total, p.occupied, p.reserved)
            for p in pools
            if p.facility_id == self.facility.id
        }
        assert mine == self.model
        assert version == self.version
        # The one source of truth: folding the ledger from zero gives every pool row exactly.
        assert replayed == {p.id: PoolCounts(p.total, p.occupied, p.reserved) for p in pools}


# Modest sizes: both engines finish in seconds, and a failing sequence still shrinks quickly.
MACHINE_SETTINGS = hypothesis_settings(
    max_examples=12,
    stateful_step_count=20,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)


def test_ledger_state_machine(settings: Settings):
    # Hypothesis drives synchronous steps; each step runs its coroutines on this one loop, which
    # also owns the runtime's connection pools (asyncpg connections belong to one loop).
    loop = asyncio.new_event_loop()
    rt = build_runtime(settings)
    try:
        loop.run_until_complete(rt.start())
        loop.run_until_complete(factories.districts(rt))
        run_state_machine_as_test(
            lambda: LedgerMachine(loop, rt),
            settings=MACHINE_SETTINGS,
        )
    finally:
        loop.run_until_complete(rt.close())
        loop.close()


# --- the database's own guards ------------------------------------------------------------------


async def _reserved_pool(rt: Runtime) -> int:
    """An ICU pool 10 total, 4 occupied, 2 reserved; returns its id."""
    await factories.districts(rt)
    fac = await factories.facility(rt)
    await factories.census(rt, fac, [("icu", "male", 10, 4)])
    async with transactional(rt.db) as s:
        pool = await s.scalar(select(BedPool).where(BedPool.facility_id == fac.id))
        assert await bed_service._write_pool(
            s,
            pool=pool,
            after=PoolCounts(10, 4, 2),
            kind="reserve",
            actor=SYSTEM,
            reason="test",
            at=utcnow(),
        )
        return pool.id


async def _pool_row(rt: Runtime, pool_id: int) -> tuple:
    async with rt.db.read() as s:
        row = (
            await s.execute(
                text("SELECT total, occupied, reserved, bed_type, sex FROM bed_pool WHERE id = :i"),
                {"i": pool_id},
            )
        ).one()
    return tuple(row)


@pytest.mark.parametrize(
    "assignment",
    [
        "occupied = total + 1",
        # Each count alone fits; together with the reservations they do not.
        "occupied = total - reserved + 1",
        "reserved = total - occupied + 1",
        "total = occupied + reserved - 1",
        "occupied = -1",
        "reserved = -1",
        "total = -1",
        "bed_type = 'sofa'",
        "sex = 'other'",
    ],
)
async def test_database_refuses_a_pool_that_breaks_the_invariant(rt, assignment):
    pool_id = await _reserved_pool(rt)
    before = await _pool_row(rt, pool_id)
    # Straight SQL, past every check in the code: only the CHECK constraints stand in the way.
    with pytest.raises(IntegrityError):
        async with rt.db.write_engine.begin() as conn:
            await conn.execute(
                text(f"UPDATE bed_pool SET {assignment} WHERE id = :id"), {"id": pool_id}
            )
    assert await _pool_row(rt, pool_id) == before


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE bed_event SET occupied_after = occupied_after + 1",
        "UPDATE bed_event SET reason = 'rewritten'",
        "DELETE FROM bed_event",
        "UPDATE audit_entry SET actor_name = 'someone else'",
        "DELETE FROM audit_entry",
    ],
)
async def test_ledger_and_audit_log_are_append_only(rt, statement):
    pool_id = await _reserved_pool(rt)

    async def rows():
        async with rt.db.read() as s:
            events = (await s.execute(text("SELECT * FROM bed_event ORDER BY id"))).all()
            audits = (await s.execute(text("SELECT * FROM audit_entry ORDER BY id"))).all()
        return events, audits

    before = await rows()
    assert before[0] and before[1]  # there is something to tamper with
    with pytest.raises(DBAPIError, match="append-only"):
        async with rt.db.write_engine.begin() as conn:
            await conn.execute(text(statement))
    assert await rows() == before
    # Appending still works: the ledger takes the next census.
    async with rt.db.read() as s:
        fac = await s.scalar(select(BedPool.facility_id).where(BedPool.id == pool_id))
        version = await s.scalar(select(Facility.census_version).where(Facility.id == fac))
    await bed_service.update_census(
        rt,
        actor=SYSTEM,
        facility_id=fac,
        census=CensusUpdate(
            version=version,
            pools=[PoolCensus(bed_type="icu", sex="male", total=12, occupied=4)],
        ),
    )
    after = await rows()
    assert len(after[0]) == len(before[0]) + 1
    assert len(after[1]) == len(before[1]) + 1
