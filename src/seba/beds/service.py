"""State changes of the bed ledger.

Every change to a pool's counts goes through ``_write_pool``: a conditional UPDATE whose WHERE
re-checks the invariant (so a race can never overfill a pool, on either engine), plus one
immutable ``bed_event`` with the counts before and after. The CHECK constraints on ``bed_pool``
are the last line of defence.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from seba.beds.live import beds_changed
from seba.beds.models import BedEvent, BedPool
from seba.beds.queries import pool_order
from seba.beds.schemas import CensusUpdate
from seba.core import audit
from seba.core.access import Principal, require_on_facility
from seba.core.db import transactional
from seba.core.errors import Conflict, NotFound
from seba.core.runtime import Runtime
from seba.core.types import utcnow
from seba.places.models import Facility


@dataclass(frozen=True)
class PoolCounts:
    total: int
    occupied: int
    reserved: int

    @property
    def available(self) -> int:
        return self.total - self.occupied - self.reserved


@dataclass
class FacilityCensus:
    facility: Facility
    pools: list[BedPool]


def pool_dict(pool: BedPool) -> dict[str, int | str]:
    return {
        "bed_type": pool.bed_type,
        "sex": pool.sex,
        "total": pool.total,
        "occupied": pool.occupied,
        "reserved": pool.reserved,
        "available": pool.available,
    }


async def load_census(
    session: AsyncSession, facility: Facility, *, lock: bool = False
) -> FacilityCensus:
    query = select(BedPool).where(BedPool.facility_id == facility.id)
    if lock:
        query = query.with_for_update()
    pools = sorted(await session.scalars(query), key=pool_order)
    return FacilityCensus(facility=facility, pools=pools)


def census_state(census: FacilityCensus) -> dict[str, object]:
    """The census as answered to staff (and in a version conflict)."""
    f = census.facility
    return {
        "facility_id": f.id,
        "version": f.census_version,
        "updated_at": f.census_updated_at.isoformat() if f.census_updated_at else None,
        "pools": [pool_dict(p) for p in census.pools],
    }


def _ledger_event(
    pool: BedPool,
    before: PoolCounts,
    after: PoolCounts,
    *,
    kind: str,
    actor: Principal,
    reason: str,
    at: datetime,
) -> BedEvent:
    return BedEvent(
        pool_id=pool.id,
        facility_id=pool.facility_id,
        kind=kind,
        at=at,
        actor_id=actor.user_id,
        actor_name=actor.username,
        reason=reason,
        total_before=before.total,
        occupied_before=before.occupied,
        reserved_before=before.reserved,
        total_after=after.total,
        occupied_after=after.occupied,
        reserved_after=after.reserved,
    )


async def _write_pool(
    session: AsyncSession,
    *,
    pool: BedPool,
    after: PoolCounts,
    kind: str,
    actor: Principal,
    reason: str,
    at: datetime,
) -> bool:
    """Move one pool from its loaded counts to ``after`` if nobody changed it meanwhile.

    Returns False (and writes nothing) when the row no longer holds the loaded counts, or when
    ``after`` breaks the invariant (negative counts, occupied + reserved > total).
    """
    before = PoolCounts(pool.total, pool.occupied, pool.reserved)
    # The new counts must fit. (The row is pinned to ``before`` below, so checking ``after``
    # here is checking the row that would be written; the CHECKs stay the last line.)
    if min(after.total, after.occupied, after.reserved) < 0 or after.available < 0:
        return False
    result = await session.execute(
        update(BedPool)
        .where(
            BedPool.id == pool.id,
            BedPool.total == before.total,
            BedPool.occupied == before.occupied,
            BedPool.reserved == before.reserved,
        )
        .values(total=after.total, occupied=after.occupied, reserved=after.reserved)
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:
        return False
    session.add(_ledger_event(pool, before, after, kind=kind, actor=actor, reason=reason, at=at))
    pool.total, pool.occupied, pool.reserved = after.total, after.occupied, after.reserved
    return True


async def update_census(
    rt: Runtime,
    *,
    actor: Principal,
    facility_id: int,
    census: CensusUpdate,
    as_of: datetime | None = None,
) -> FacilityCensus:
    """Set ``total`` and ``occupied`` of any number of a facility's pools in one atomic submit.

    Preconditions: the actor may take ``census.update`` on this facility; ``census.version`` is
    the facility's current census version (optimistic concurrency: of two submits from the same
    version exactly one wins). Pools not named keep their counts; a new (bed type, sex) creates
    a pool. Side effects: bumps the census version and ``census_updated_at`` (even when no count
    changed: a confirmed census is a fresh one), one bed event per changed pool, one audit row,
    and after commit a ``beds`` event for live pages.
    Raises NotFound, PermissionDenied, Conflict ``version_conflict`` (with the current state in
    details) or ``reservations_exceed_free_beds`` (a pool would have fewer free beds than active
    reservations); on any error nothing is written. ``as_of`` is when the counts were taken
    (default now); the demo loader uses it to leave some censuses stale.
    """
    async with transactional(rt.db) as session:
        facility = await session.get(Facility, facility_id)
        if facility is None:
            raise NotFound("No such facility.", code="facility_not_found")
        require_on_facility(actor, "census.update", facility)
        now = as_of or utcnow()
        previous_updated_at = facility.census_updated_at
        # The conditional bump is the lock: on PostgreSQL a concurrent submit waits here and then
        # finds the version moved; on SQLite BEGIN IMMEDIATE already serialised us.
        bumped = await session.execute(
            update(Facility)
            .where(Facility.id == facility_id, Facility.census_version == census.version)
            .values(census_version=Facility.census_version + 1, census_updated_at=now)
            .execution_options(synchronize_session=False)
        )
        if bumped.rowcount != 1:
            await session.refresh(facility)
            current = await load_census(session, facility)
            raise Conflict(
                "Someone else updated this census first. "
                "Check the current numbers and submit again.",
                code="version_conflict",
                details={"current": census_state(current)},
            )
        await session.refresh(facility)
        current = await load_census(session, facility, lock=True)
        before = census_state(current) | {
            "version": census.version,
            "updated_at": previous_updated_at.isoformat() if previous_updated_at else None,
        }
        by_key = {(p.bed_type, p.sex): p for p in current.pools}
        short = [
            {
                "bed_type": item.bed_type,
                "sex": item.sex,
                "free_after": item.total - item.occupied,
                "reserved": by_key[(item.bed_type, item.sex)].reserved,
            }
            for item in census.pools
            if (item.bed_type, item.sex) in by_key
            and item.total - item.occupied < by_key[(item.bed_type, item.sex)].reserved
        ]
        if short:
            raise Conflict(
                "This census would leave fewer free beds than beds already reserved for "
                "incoming patients. Release or admit those reservations first.",
                code="reservations_exceed_free_beds",
                details={"pools": short},
            )
        new_pools: list[BedPool] = []
        for item in census.pools:
            pool = by_key.get((item.bed_type, item.sex))
            if pool is None:
                new_pools.append(
                    BedPool(
                        facility_id=facility.id,
                        bed_type=item.bed_type,
                        sex=item.sex,
                        total=item.total,
                        occupied=item.occupied,
                        reserved=0,
                    )
                )
                continue
            after = PoolCounts(item.total, item.occupied, pool.reserved)
            if after == PoolCounts(pool.total, pool.occupied, pool.reserved):
                continue
            if not await _write_pool(
                session,
                pool=pool,
                after=after,
                kind="census",
                actor=actor,
                reason=census.reason,
                at=now,
            ):
                # Only reachable if a reservation slipped in between our lock and write.
                raise Conflict("The beds changed while saving. Try again.", code="version_conflict")
        if new_pools:
            session.add_all(new_pools)
            await session.flush()  # one batched INSERT … RETURNING for the ids
            for pool in new_pools:
                after = PoolCounts(pool.total, pool.occupied, pool.reserved)
                session.add(
                    _ledger_event(
                        pool,
                        PoolCounts(0, 0, 0),
                        after,
                        kind="census",
                        actor=actor,
                        reason=census.reason,
                        at=now,
                    )
                )
            current.pools.extend(new_pools)
        current.pools.sort(key=pool_order)
        audit.record(
            session,
            actor=actor,
            action="census.update",
            entity_type="facility",
            entity_id=facility.id,
            before=before,
            after=census_state(current),
        )
        await beds_changed(
            rt, session, facility_id=facility.id, census_version=facility.census_version
        )
    return current


async def get_census(rt: Runtime, *, facility_id: int) -> FacilityCensus:
    async with rt.db.read() as session:
        facility = await session.get(Facility, facility_id)
        if facility is None:
            raise NotFound("No such facility.", code="facility_not_found")
        return await load_census(session, facility)


async def replay_ledger(session: AsyncSession) -> dict[int, PoolCounts]:
    """Fold every bed event from zero, checking each one starts where the last one ended.

    Returns the counts per pool; equal to ``bed_pool`` when the ledger is whole.
    Raises AssertionError-free ValueError on a broken chain.
    """
    state: dict[int, PoolCounts] = {}
    for event in await session.scalars(select(BedEvent).order_by(BedEvent.id)):
        before = state.get(event.pool_id, PoolCounts(0, 0, 0))
        claimed = PoolCounts(event.total_before, event.occupied_before, event.reserved_before)
        if claimed != before:
            raise ValueError(f"bed event {event.id} starts at {claimed}, ledger was at {before}")
        state[event.pool_id] = PoolCounts(
            event.total_after, event.occupied_after, event.reserved_after
        )
    return state
