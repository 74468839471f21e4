"""The database-enforced rate limit: windows, keys, retry-after, give-back, sweep and races."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from seba.core import ratelimit
from seba.core.db import transactional
from seba.core.ratelimit import RateLimit, Verdict

T0 = datetime(2026, 12, 3, 9, 0, tzinfo=UTC)


async def _take(
    rt, key: str = "a", *, kind: str = "test", limit: int = 3, window_s: int = 60, at: float = 0
) -> Verdict:
    async with transactional(rt.db) as session:
        return await ratelimit.take(
            session,
            kind=kind,
            key=key,
            limit=limit,
            window_s=window_s,
            now=T0 + timedelta(seconds=at),
        )


async def _rows(rt) -> dict[tuple[str, str], RateLimit]:
    async with rt.db.read() as s:
        return {(r.kind, r.key): r for r in await s.scalars(select(RateLimit))}


async def test_counts_up_to_the_limit_then_refuses_until_the_window_ends(rt):
    verdicts = [await _take(rt, at=t) for t in (0, 10, 20)]
    assert [(v.allowed, v.hits, v.retry_after_s) for v in verdicts] == [
        (True, 1, 0),
        (True, 2, 0),
        (True, 3, 0),
    ]
    refused = await _take(rt, at=30.2)
    # Refused with the time left in the window that opened at the first hit, rounded up.
    assert (refused.allowed, refused.hits, refused.retry_after_s) == (False, 3, 30)
    assert (await _take(rt, at=59.5)).retry_after_s == 1
    (row,) = (await _rows(rt)).values()
    assert (row.hits, row.started_at, row.ends_at) == (3, T0, T0 + timedelta(seconds=60))

    # At the window's end a new one opens in the same row, counting from one.
    rolled = await _take(rt, at=60)
    assert (rolled.allowed, rolled.hits) == (True, 1)
    (row,) = (await _rows(rt)).values()
    assert (row.hits, row.started_at) == (1, T0 + timedelta(seconds=60))
    assert (await _take(rt, at=61)).hits == 2


async def test_a_refused_hit_counts_nothing(rt):
    for t in range(3):
        await _take(rt, at=t)
    for t in range(3, 10):
        assert not (await _take(rt, at=t)).allowed
    (row,) = (await _rows(rt)).values()
    assert row.hits == 3


async def test_keys_and_kinds_are_separate(rt):
    for _ in range(3):
        assert (await _take(rt, "a")).allowed
    assert not (await _take(rt, "a")).allowed
    assert (await _take(rt, "b")).allowed
    assert (await _take(rt, "a", kind="other")).allowed
    hits = {k: r.hits for k, r in (await _rows(rt)).items()}
    assert hits == {("test", "a"): 3, ("test", "b"): 1, ("other", "a"): 1}


async def test_one_hit_per_window_is_a_resend_delay(rt):
    assert (await _take(rt, limit=1, window_s=30)).allowed
    assert (await _take(rt, limit=1, window_s=30, at=12)).retry_after_s == 18
    assert (await _take(rt, limit=1, window_s=30, at=30)).allowed
    assert (await _take(rt, limit=1, window_s=30, at=31)).retry_after_s == 29


async def test_the_callers_rollback_uncounts_the_hit(rt):
    with pytest.raises(RuntimeError):
        async with transactional(rt.db) as session:
            verdict = await ratelimit.take(session, kind="test", key="a", limit=3, window_s=60)
            assert verdict.allowed
            raise RuntimeError("the request was refused for another reason")
    assert await _rows(rt) == {}


async def test_give_back_uncounts_only_in_the_same_window(rt):
    first = await _take(rt, at=0)
    second = await _take(rt, at=1)
    async with transactional(rt.db) as session:
        await ratelimit.give_back(session, second)
    assert (await _rows(rt))[("test", "a")].hits == 1
    # After a rollover the old window's hit is not taken from the new one.
    await _take(rt, at=70)
    async with transactional(rt.db) as session:
        await ratelimit.give_back(session, first)
        await ratelimit.give_back(
            session, await ratelimit.take(session, kind="test", key="a", limit=0, window_s=60)
        )  # a refused verdict: nothing to give back
    assert (await _rows(rt))[("test", "a")].hits == 1


async def test_edge_limits_and_keys(rt):
    # No window: no limit, nothing written. A limit below one: nothing allowed.
    assert (await _take(rt, window_s=0)).allowed
    refused = await _take(rt, limit=0, window_s=45)
    assert (refused.allowed, refused.retry_after_s) == (False, 45)
    assert await _rows(rt) == {}
    # Long keys are hashed, not cut: two keys sharing their first 128 characters stay apart.
    long_a, long_b = "x" * 200 + "a", "x" * 200 + "b"
    assert (await _take(rt, long_a, limit=1)).allowed
    assert (await _take(rt, long_b, limit=1)).allowed
    assert not (await _take(rt, long_a, limit=1)).allowed
    assert (await _take(rt, "nul\x00key", limit=1)).allowed
    assert all(len(key) <= ratelimit.MAX_KEY for _, key in await _rows(rt))
    with pytest.raises(ValueError):
        await _take(rt, kind="k" * 41)


async def test_sweep_deletes_only_ended_windows(rt):
    await _take(rt, "old", window_s=60)
    await _take(rt, "current", window_s=3600)
    assert await ratelimit.sweep(rt.db, now=T0 + timedelta(seconds=59)) == 0
    assert await ratelimit.sweep(rt.db, now=T0 + timedelta(seconds=60), batch=1) == 1
    assert set(await _rows(rt)) == {("test", "current")}
    for n in range(5):
        await _take(rt, f"k{n}", window_s=10)
    # In batches, until none is left.
    assert await ratelimit.sweep(rt.db, now=T0 + timedelta(seconds=10), batch=2) == 5
    assert set(await _rows(rt)) == {("test", "current")}


async def test_parallel_hits_cannot_pass_the_limit(rt):
    # Each hit is its own transaction; on PostgreSQL they truly run at once.
    async def hit() -> bool:
        async with transactional(rt.db) as session:
            verdict = await ratelimit.take(session, kind="test", key="race", limit=7, window_s=60)
            await asyncio.sleep(0.01)  # hold the transaction open a moment, as a service would
            return verdict.allowed

    results = await asyncio.gather(*(hit() for _ in range(50)))
    assert results.count(True) == 7
    async with rt.db.read() as s:
        assert await s.scalar(select(func.sum(RateLimit.hits))) == 7
