"""Bed movements for referrals and admissions: reserve, release, admit, discharge.

Each is one conditional ``UPDATE … SET reserved = reserved + 1 WHERE … AND total - occupied -
reserved >= 1 RETURNING …`` — never a read-then-write — so two operators racing for the last
bed cannot both get it, on SQLite or PostgreSQL. Each movement appends its bed event with the
counts before and after (derived from the returned row and the delta, which the single
statement makes exact). Helpers take the caller's session and never commit.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession

from seba.beds.models import BedEvent, BedPool
from seba.core.access import Principal

# A patient of one sex may take their own sex's pool, then a mixed one; "other" only mixed.
POOL_SEXES = {"male": ("male", "any"), "female": ("female", "any"), "other": ("any",)}


@dataclass(frozen=True)
class Movement:
    pool_id: int
    facility_id: int
    bed_type: str
    sex: str


async def _move(
    session: AsyncSession,
    where: list,
    *,
    d_occupied: int,
    d_reserved: int,
    kind: str,
    actor: Principal,
    reason: str,
    at: datetime,
) -> Movement | None:
    result = await session.execute(
        update(BedPool)
        .where(*where)
        .values(occupied=BedPool.occupied + d_occupied, reserved=BedPool.reserved + d_reserved)
        .returning(
            BedPool.id,
            BedPool.facility_id,
            BedPool.bed_type,
            BedPool.sex,
            BedPool.total,
            BedPool.occupied,
            BedPool.reserved,
        )
        .execution_options(synchronize_session=False)
    )
    row = result.first()
    if row is None:
        return None
    pool_id, facility_id, bed_type, sex, total, occupied, reserved = row
    session.add(
        BedEvent(
            pool_id=pool_id,
            facility_id=facility_id,
            kind=kind,
            at=at,
            actor_id=actor.user_id,
            actor_name=actor.username,
            reason=reason[:400],
            total_before=total,
            occupied_before=occupied - d_occupied,
            reserved_before=reserved - d_reserved,
            total_after=total,
            occupied_after=occupied,
            reserved_after=reserved,
        )
    )
    return Movement(pool_id, facility_id, bed_type, sex)


def _has_free_bed():
    return BedPool.total - BedPool.occupied - BedPool.reserved >= 1


async def _take_free_bed(
    session: AsyncSession,
    *,
    facility_id: int,
    bed_type: str,
    patient_sex: str,
    d_occupied: int,
    d_reserved: int,
    kind: str,
    actor: Principal,
    reason: str,
    at: datetime,
) -> Movement | None:
    """Take one free bed of ``bed_type`` from the patient's own-sex pool, else a mixed one."""
    for sex in POOL_SEXES[patient_sex]:
        moved = await _move(
            session,
            [
                BedPool.facility_id == facility_id,
                BedPool.bed_type == bed_type,
                BedPool.sex == sex,
                _has_free_bed(),
            ],
            d_occupied=d_occupied,
            d_reserved=d_reserved,
            kind=kind,
            actor=actor,
            reason=reason,
            at=at,
        )
        if moved is not None:
            return moved
    return None


async def reserve(
    session: AsyncSession,
    *,
    facility_id: int,
    bed_type: str,
    patient_sex: str,
    actor: Principal,
    reason: str,
    at: datetime,
) -> Movement | None:
    """Hold one free bed of ``bed_type`` for a patient; None when none is free."""
    return await _take_free_bed(
        session,
        facility_id=facility_id,
        bed_type=bed_type,
        patient_sex=patient_sex,
        d_occupied=0,
        d_reserved=1,
        kind="reserve",
        actor=actor,
        reason=reason,
        at=at,
    )


async def release(
    session: AsyncSession, *, pool_id: int, actor: Principal, reason: str, at: datetime
) -> Movement:
    """Give a held bed back (rejected, cancelled, expired)."""
    moved = await _move(
        session,
        [BedPool.id == pool_id, BedPool.reserved >= 1],
        d_occupied=0,
        d_reserved=-1,
        kind="release",
        actor=actor,
        reason=reason,
        at=at,
    )
    if moved is None:  # a referral that holds a bed always finds it reserved
        raise RuntimeError(f"bed pool {pool_id} has no reserved bed to release")
    return moved


async def admit_reserved(
    session: AsyncSession, *, pool_id: int, actor: Principal, reason: str, at: datetime
) -> Movement:
    """The held bed becomes occupied (reserved → occupied)."""
    moved = await _move(
        session,
        [BedPool.id == pool_id, BedPool.reserved >= 1],
        d_occupied=1,
        d_reserved=-1,
        kind="admit",
        actor=actor,
        reason=reason,
        at=at,
    )
    if moved is None:
        raise RuntimeError(f"bed pool {pool_id} has no reserved bed to admit into")
    return moved


async def admit_walk_in(
    session: AsyncSession,
    *,
    facility_id: int,
    bed_type: str,
    patient_sex: str,
    actor: Principal,
    reason: str,
    at: datetime,
) -> Movement | None:
    """Occupy a free bed directly (a patient who came to the door); None when none is free."""
    return await _take_free_bed(
        session,
        facility_id=facility_id,
        bed_type=bed_type,
        patient_sex=patient_sex,
        d_occupied=1,
        d_reserved=0,
        kind="admit",
        actor=actor,
        reason=reason,
        at=at,
    )


async def vacate(
    session: AsyncSession, *, pool_id: int, actor: Principal, reason: str, at: datetime
) -> Movement | None:
    """An occupied bed is freed (discharge, death, transfer out).

    None (and no bed event) when the pool shows no occupied bed: a census is the hospital's word
    on its counts and may already have counted this patient out; the ledger never goes negative.
    """
    moved = await _move(
        session,
        [BedPool.id == pool_id, BedPool.occupied >= 1],
        d_occupied=-1,
        d_reserved=0,
        kind="discharge",
        actor=actor,
        reason=reason,
        at=at,
    )
    return moved
