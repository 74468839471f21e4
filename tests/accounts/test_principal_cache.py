"""The principal cache (``accounts/principals.py``): a checked token costs no statement, and
logout, account changes and expiry still end access at once, on every app instance."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from urllib.parse import urlsplit

import httpx
import pytest
import redis
from sqlalchemy import event, select, update

from seba.accounts import principals
from seba.accounts import service as account_service
from seba.accounts.models import ApiToken, StaffUser
from seba.app import create_app
from seba.core.access import Principal
from seba.core.errors import NotAuthenticated
from seba.core.runtime import build_runtime
from seba.core.types import utcnow
from seba.settings import Settings
from tests import factories
from tests.outage import TcpProxy

ME = "/api/v1/auth/me"


def bearer(token: str) -> dict:
    return {"Authorization": f"Bearer {token}"}


@contextlib.contextmanager
def statements(rt):
    seen: list[str] = []

    def count(_conn, _cursor, statement, *_args):
        if statement.strip().upper() not in ("BEGIN", "COMMIT", "ROLLBACK"):  # SQLite's own
            seen.append(statement)

    engines = {rt.db.read_engine.sync_engine, rt.db.write_engine.sync_engine}
    for engine in engines:
        event.listen(engine, "before_cursor_execute", count)
    try:
        yield seen
    finally:
        for engine in engines:
            event.remove(engine, "before_cursor_execute", count)


@contextlib.asynccontextmanager
async def instance(
    settings: Settings, **changes
) -> AsyncIterator[tuple[object, httpx.AsyncClient]]:
    """One more app instance (its own runtime, bus and cache) on the same database."""
    rt = build_runtime(settings.model_copy(update=changes))
    await rt.start()
    app = create_app(rt.settings, runtime=rt)
    try:
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://testserver"
        ) as client:
            yield rt, client
    finally:
        await rt.close()


async def refused_soon(client: httpx.AsyncClient, token: str) -> int:
    """Requests until ``token`` is refused (the bus's event travels through Redis: a few ms)."""
    for attempt in range(1, 201):
        r = await client.get(ME, headers=bearer(token))
        if r.status_code == 401:
            assert r.json()["error"]["code"] == "invalid_token"
            return attempt
        await asyncio.sleep(0.005)
    raise AssertionError("the token still works on the other instance")


async def test_a_checked_token_costs_no_statement(rt, client):
    user = await factories.user(rt, "viewer")
    token = await factories.token(client, user.username)
    with statements(rt) as first:
        assert (await client.get(ME, headers=bearer(token))).status_code == 200
    assert len(first) == 1
    with statements(rt) as later:
        for _ in range(3):
            assert (await client.get(ME, headers=bearer(token))).status_code == 200
    assert later == []
    # An unknown token is never kept: each try asks the database.
    with statements(rt) as unknown:
        for _ in range(2):
            assert (await client.get(ME, headers=bearer("nope"))).status_code == 401
    assert len(unknown) == 2


async def test_logout_and_account_changes_reach_another_instance_at_once(settings, rt, redis_url):
    redis.Redis.from_url(redis_url).flushdb()
    user = await factories.user(rt, "viewer")
    async with (
        instance(settings, redis_url=redis_url) as (rt_a, a),
        instance(settings, redis_url=redis_url) as (rt_b, b),
    ):
        first = await factories.token(a, user.username)
        second = await factories.token(a, user.username)
        for token in (first, second):
            for client in (a, b):
                assert (await client.get(ME, headers=bearer(token))).status_code == 200
        with statements(rt_b) as cached:
            assert (await b.get(ME, headers=bearer(first))).status_code == 200
        assert cached == []

        # Logout on A: refused on A at once, and on B as soon as the event arrives.
        assert (await a.post("/api/v1/auth/logout", headers=bearer(first))).status_code == 204
        assert (await a.get(ME, headers=bearer(first))).status_code == 401
        assert await refused_soon(b, first) <= 20  # ~100 ms at most; usually the first
        assert (await b.get(ME, headers=bearer(second))).status_code == 200

        # A role change, committed by a service that then says so (``user_changed``).
        async with rt.db.write_session() as s, s.begin():
            await s.execute(update(StaffUser).values(role="control_room"))
        await account_service.user_changed(rt_a, user.id)
        for _ in range(200):
            if (await b.get(ME, headers=bearer(second))).json()["role"] == "control_room":
                break
            await asyncio.sleep(0.005)
        else:
            raise AssertionError("B still has the old role")

        # Deactivation.
        async with rt.db.write_session() as s, s.begin():
            await s.execute(update(StaffUser).values(active=False))
        await account_service.user_changed(rt_a, user.id)
        assert (await a.get(ME, headers=bearer(second))).status_code == 401
        assert await refused_soon(b, second) <= 20


async def test_with_redis_away_every_request_asks_the_database(settings, rt, redis_url):
    parts = urlsplit(redis_url)
    user = await factories.user(rt, "viewer")
    with TcpProxy(parts.hostname or "127.0.0.1", parts.port or 6379) as proxy:
        proxied = parts._replace(netloc=f"127.0.0.1:{proxy.port}").geturl()
        async with (
            instance(settings, redis_url=proxied) as (_rt_a, a),
            instance(settings, redis_url=proxied) as (rt_b, b),
        ):
            token = await factories.token(a, user.username)
            assert (await b.get(ME, headers=bearer(token))).status_code == 200
            assert len(principals.cache_of(rt_b)) == 1
            proxy.cut()
            for _ in range(200):  # the listener notices the reset connection
                if not rt_b.bus.everywhere:
                    break
                await asyncio.sleep(0.01)
            assert not rt_b.bus.everywhere
            # B may miss A's events now: it asks the database on every request.
            with statements(rt_b) as asked:
                assert (await b.get(ME, headers=bearer(token))).status_code == 200
            assert len(asked) == 1
            # A's logout cannot be published, yet B refuses the token at once.
            assert (await a.post("/api/v1/auth/logout", headers=bearer(token))).status_code == 204
            assert (await b.get(ME, headers=bearer(token))).status_code == 401
            proxy.restore()
            for _ in range(500):
                if rt_b.bus.everywhere:
                    break
                await asyncio.sleep(0.01)
            assert rt_b.bus.everywhere
            # Back: the cache starts empty (it may have missed events) and fills again.
            other = await factories.token(a, user.username)
            assert (await b.get(ME, headers=bearer(other))).status_code == 200
            assert len(principals.cache_of(rt_b)) == 1
            assert (await b.get(ME, headers=bearer(token))).status_code == 401


async def test_several_workers_without_redis_do_not_cache(settings):
    async with instance(settings, workers=2) as (rt2, client):
        user = await factories.user(rt2, "viewer")
        token = await factories.token(client, user.username)
        for _ in range(2):
            with statements(rt2) as asked:
                assert (await client.get(ME, headers=bearer(token))).status_code == 200
            assert len(asked) == 1


async def test_a_call_tickets_user_is_cached_and_forgotten(rt):
    user = await factories.user(rt, "viewer")
    assert (await account_service.principal_for_user(rt, user.id)).role == "viewer"
    with statements(rt) as asked:
        await account_service.principal_for_user(rt, user.id)
    assert asked == []
    async with rt.db.write_session() as s, s.begin():
        await s.execute(update(StaffUser).values(active=False))
    await account_service.user_changed(rt, user.id)
    with pytest.raises(NotAuthenticated):
        await account_service.principal_for_user(rt, user.id)


async def test_expiry_is_exact_from_the_cache(rt, client, monkeypatch):
    user = await factories.user(rt, "viewer")
    token = await factories.token(client, user.username)
    assert (await client.get(ME, headers=bearer(token))).status_code == 200
    async with rt.db.read() as s:
        expires_at = await s.scalar(select(ApiToken.expires_at))
    just_before = expires_at - (expires_at - utcnow()) / 10**9
    monkeypatch.setattr(account_service, "utcnow", lambda: just_before)
    with statements(rt) as asked:
        assert (await client.get(ME, headers=bearer(token))).status_code == 200
    assert asked == []
    monkeypatch.setattr(account_service, "utcnow", lambda: expires_at)
    assert (await client.get(ME, headers=bearer(token))).status_code == 401


# --- the cache alone -----------------------------------------------------------------------

VIEWER = Principal(user_id=1, username="v", role="viewer", scope_kind="state")
OTHER = Principal(user_id=2, username="w", role="viewer", scope_kind="state")


class Clock:
    now = 100.0

    def __call__(self) -> float:
        return self.now


def test_a_read_that_raced_an_invalidation_is_not_kept():
    cache = principals.PrincipalCache(ttl_s=30)
    epoch = cache.epoch  # a request starts its database read ...
    cache.forget_token("t1")  # ... a logout lands meanwhile ...
    cache.put("t1", VIEWER, expires_at=None, epoch=epoch)  # ... and its answer is dropped
    assert cache.get("t1") is None
    cache.put("t1", VIEWER, expires_at=None, epoch=cache.epoch)
    assert cache.get("t1") == VIEWER


def test_the_cache_is_bounded_lives_briefly_and_forgets_by_user():
    clock = Clock()
    cache = principals.PrincipalCache(ttl_s=30, max_entries=2, clock=clock)
    for key, who in (("a", VIEWER), ("b", VIEWER), ("c", OTHER)):
        cache.put(key, who, expires_at=None, epoch=cache.epoch)
    assert len(cache) == 2 and cache.get("a") is None  # the oldest went
    cache.handle({"user": 1})
    assert cache.get("b") is None and cache.get("c") == OTHER
    clock.now += 30
    assert cache.get("c") is None  # lived its 30 s
    cache.put("d", OTHER, expires_at=None, epoch=cache.epoch)
    cache.handle({"token": "d"})
    assert cache.get("d") is None


def test_the_cache_steps_aside_when_events_may_be_missed():
    usable, generation = [True], [1]
    cache = principals.PrincipalCache(
        ttl_s=30, usable=lambda: usable[0], generation=lambda: generation[0]
    )
    cache.put("a", VIEWER, expires_at=None, epoch=cache.epoch)
    usable[0] = False
    assert cache.get("a") is None
    usable[0], generation[0] = True, 2  # subscribed again: what it held may be stale
    assert cache.get("a") is None and len(cache) == 0
    assert principals.PrincipalCache(ttl_s=0).enabled is False
