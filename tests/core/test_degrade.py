"""Degrade, don't fail: with Redis away the versions come from the database row (and Redis is
raised to it on its return), live events stay in-process, and a failing after-commit step
never turns a committed write into an error."""

from __future__ import annotations

import logging

from seba.core import db as core_db
from seba.core.db import after_commit, transactional
from seba.core.events import EventBus
from seba.core.versions import DbVersions, RedisVersions, ResilientVersions, bump_in_transaction


class FlakyRedis:
    """Enough of redis.asyncio for versions and events, with an off switch."""

    def __init__(self) -> None:
        self.values: dict[str, int] = {}
        self.down = False
        self.published: list[tuple[str, str]] = []

    def _check(self) -> None:
        if self.down:
            raise ConnectionError("Connection refused")

    async def get(self, key: str):
        self._check()
        return self.values.get(key)

    async def eval(self, script: str, _n: int, key: str, value: int):
        self._check()
        now = self.values.get(key, 0)
        if ("> now" in script and value > now) or ("now >" in script and now > value):
            self.values[key] = value

    async def publish(self, channel: str, data: str):
        self._check()
        self.published.append((channel, data))


async def _bump(rt) -> int:
    async with transactional(rt.db) as session:
        return await bump_in_transaction(session, "beds")


async def test_versions_fall_back_to_the_row_and_resync_redis_on_return(rt, caplog):
    redis = FlakyRedis()
    versions = ResilientVersions(RedisVersions(redis), DbVersions(rt.db), retry_after_s=0)
    await versions.reconcile("beds")
    first = await _bump(rt)
    await versions.committed("beds", first)
    assert await versions.current("beds") == first and not versions.degraded

    redis.down = True
    with caplog.at_level(logging.WARNING):
        second = await _bump(rt)
        await versions.committed("beds", second)  # never raises: the row has it
        assert await versions.current("beds") == second  # from the row
        assert await versions.current("beds") == second
    assert versions.degraded
    warnings = [r for r in caplog.records if "Redis unavailable" in r.getMessage()]
    assert len(warnings) == 1  # once per outage, not per request
    assert not any(r.exc_info for r in caplog.records)  # no tracebacks

    redis.down = False
    third = await _bump(rt)  # written while this worker still thinks Redis is away
    assert await versions.current("beds") == third
    assert not versions.degraded
    # Redis was raised to the row before it was trusted: no number from before the outage.
    assert redis.values["seba:version:beds"] == third


async def test_redis_ahead_of_the_row_is_lowered_at_start(rt):
    redis = FlakyRedis()
    redis.values["seba:version:beds"] = 999  # an old Redis beside a recreated database
    versions = ResilientVersions(RedisVersions(redis), DbVersions(rt.db))
    await versions.reconcile("beds")
    assert await versions.current("beds") == await DbVersions(rt.db).current("beds")


async def test_events_stay_in_process_while_redis_is_away(caplog):
    redis = FlakyRedis()
    bus = EventBus(redis)
    redis.down = True
    async with bus.subscribe("beds") as queue:
        with caplog.at_level(logging.WARNING):
            await bus.publish("beds", {"facility_id": 1})
            await bus.publish("beds", {"facility_id": 2})
        assert queue.get_nowait() == {"facility_id": 1}
        assert queue.get_nowait() == {"facility_id": 2}
    assert len([r for r in caplog.records if "live events" in r.getMessage()]) == 1


async def test_a_failing_after_commit_step_never_fails_the_committed_write(rt, caplog, monkeypatch):
    monkeypatch.setattr(core_db, "AFTER_COMMIT_RETRY_S", 0)
    calls = []

    async def flaky() -> None:
        calls.append(1)
        if len(calls) == 1:
            raise ConnectionError("Redis went away")

    with caplog.at_level(logging.WARNING):
        async with transactional(rt.db) as session:
            value = await bump_in_transaction(session, "beds")
            after_commit(session, flaky)
    # The write stands, and the answer was not an error.
    assert await DbVersions(rt.db).current("beds") == value
    assert any("after-commit step failed" in r.getMessage() for r in caplog.records)
    for task in list(core_db._retries):
        await task
    assert len(calls) == 2  # tried again in the background


async def test_redis_versions_only_ever_rise():
    redis = FlakyRedis()
    versions = RedisVersions(redis)
    await versions.committed("beds", 5)
    await versions.committed("beds", 4)  # a writer finishing late
    assert await versions.current("beds") == 5
