"""Several real server processes on one database.

Each process keeps its own response cache, so these tests catch any cache that outlives a write
made elsewhere: with Redis (versions and live events shared through it) and, without Redis,
with ``seba serve --workers 2`` reading the data version from the database. The last test races
two census submits through two processes, where no in-process lock can help.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import threading
import time
from collections.abc import AsyncIterator
from urllib.parse import urlsplit

import httpx
import pytest
import redis
from sqlalchemy import func, select

from seba.beds import service as bed_service
from seba.beds.models import BedPool
from seba.beds.service import PoolCounts
from seba.core.audit import AuditEntry
from seba.core.versions import DataVersion
from seba.places.models import Facility
from tests import factories
from tests.outage import proxy
from tests.servers import servers

pytestmark = pytest.mark.server

AVAILABILITY = "/api/v1/beds/availability"


async def _seed(rt) -> tuple[Facility, str]:
    """A facility with an ICU pool at census version 3 and a hospital staff account for it.

    Redis pub/sub channels are shared by every database number on a Redis server, so other test
    runs' events may reach our streams; a few extra facilities and censuses give ours an id and
    census version that theirs are unlikely to match.
    """
    await factories.districts(rt)
    for _ in range(4):
        await factories.facility(rt)
    fac = await factories.facility(rt)
    for occupied in (1, 2, 3):
        await factories.census(rt, fac, [("icu", "any", 10, occupied)])
    user = await factories.user(rt, "hospital_staff", f"facility:{fac.code}")
    return fac, user.username


def _census(version: int, occupied: int) -> dict:
    return {
        "version": version,
        "pools": [{"bed_type": "icu", "sex": "any", "total": 10, "occupied": occupied}],
    }


def _icu(facility_body: dict) -> dict:
    (icu,) = [b for b in facility_body["beds"] if b["bed_type"] == "icu"]
    return icu


async def _warm(client: httpx.AsyncClient, fac: Facility) -> None:
    for url in (f"/api/v1/facilities/{fac.id}", AVAILABILITY, "/api/v1/districts"):
        assert (await client.get(url)).status_code == 200


async def _next_event(lines: AsyncIterator[str]) -> tuple[str, dict]:
    """The next named SSE event as (name, data); the preamble and heartbeats are skipped."""
    name, data = None, {}
    async for line in lines:
        if line.startswith("event: "):
            name = line.removeprefix("event: ")
        elif line.startswith("data: "):
            data = json.loads(line.removeprefix("data: "))
        elif line == "" and name is not None:
            return name, data
    raise AssertionError("the event stream ended")


async def _open_stream(
    stack: contextlib.AsyncExitStack, client: httpx.AsyncClient
) -> AsyncIterator[str]:
    """Open the live bed stream; returns its lines once the server has subscribed it."""
    stream = await stack.enter_async_context(client.stream("GET", "/api/v1/beds/events"))
    assert stream.status_code == 200
    assert stream.headers["content-type"].startswith("text/event-stream")
    lines = stream.aiter_lines()
    # The preamble is sent after the stream subscribes to the bus: from here nothing is lost.
    assert await anext(lines) == "retry: 3000"
    return lines


@pytest.fixture
def flushed_redis(redis_url: str) -> str:
    # Versions left by an earlier run would otherwise be this run's starting point.
    redis.Redis.from_url(redis_url).flushdb()
    return redis_url


async def test_two_servers_with_redis_read_each_others_writes(db_url, rt, flushed_redis, tmp_path):
    fac, username = await _seed(rt)
    fac_url = f"/api/v1/facilities/{fac.id}"
    with servers(2, db_url, tmp_path, redis_url=flushed_redis) as (one, two):
        async with (
            httpx.AsyncClient(base_url=one.url, timeout=30) as c1,
            httpx.AsyncClient(base_url=two.url, timeout=30) as c2,
            contextlib.AsyncExitStack() as stack,
        ):
            auth = {"Authorization": f"Bearer {await factories.token(c1, username)}"}
            live = await _open_stream(stack, c2)
            for occupied in (7, 0, 9, 4, 4):
                await _warm(c1, fac)
                await _warm(c2, fac)
                cached = await c2.get(fac_url)
                version = cached.json()["version"]
                put = await c1.put(f"{fac_url}/beds", json=_census(version, occupied), headers=auth)
                assert put.status_code == 200, put.text
                # The very next read through the other process shows the write.
                seen = await c2.get(fac_url, headers={"If-None-Match": cached.headers["etag"]})
                assert seen.status_code == 200
                assert seen.json()["version"] == version + 1
                assert _icu(seen.json())["occupied"] == occupied
                listed = (await c2.get(AVAILABILITY)).json()["facilities"]
                mine = next(i for i in listed if i["id"] == fac.id)
                assert mine["available"] == 10 - occupied
                districts = (await c2.get("/api/v1/districts")).json()["districts"]
                district = next(d for d in districts if d["code"] == fac.district_code)
                assert district["available"] == 10 - occupied  # the only pool in the district
                # The live stream on the other server hears of it too.
                wanted = ("beds", {"facility_id": fac.id, "census_version": version + 1})
                async with asyncio.timeout(15):
                    while await _next_event(live) != wanted:
                        pass  # another test run's event (see _seed)
        # The shared version in Redis is the row's: one bump per census, whichever server
        # took it, and the same number the database holds.
        async with rt.db.read() as session:
            row = await session.scalar(select(DataVersion.value).where(DataVersion.name == "beds"))
        assert int(redis.Redis.from_url(flushed_redis).get("seba:version:beds")) == row
        assert row >= 5


async def test_workers_without_redis_read_versions_from_the_database(db_url, rt, tmp_path):
    """``--workers 2`` without Redis: whichever worker answers, a write is seen at once."""
    fac, username = await _seed(rt)
    fac_url = f"/api/v1/facilities/{fac.id}"
    with servers(1, db_url, tmp_path, workers=2) as (server,):
        # No keep-alive: every request is a new connection, so the two workers share them.
        fresh = httpx.Limits(max_keepalive_connections=0)
        async with (
            httpx.AsyncClient(base_url=server.url, timeout=30, limits=fresh) as client,
            contextlib.AsyncExitStack() as stack,
        ):
            auth = {"Authorization": f"Bearer {await factories.token(client, username)}"}
            # Several live streams on separate connections, so (very likely) on both workers.
            streams = [await _open_stream(stack, client) for _ in range(6)]

            async def many(url: str, n: int = 16) -> list[httpx.Response]:
                # Concurrent, so several connections are open at once and both workers accept.
                return await asyncio.gather(*(client.get(url) for _ in range(n)))

            for occupied in (5, 8, 2):
                warmed = await many(fac_url)
                version = warmed[0].json()["version"]
                assert {r.json()["version"] for r in warmed} == {version}
                await many(AVAILABILITY)
                put = await client.put(
                    f"{fac_url}/beds", json=_census(version, occupied), headers=auth
                )
                assert put.status_code == 200, put.text
                for response in await many(fac_url):
                    assert response.json()["version"] == version + 1
                    assert _icu(response.json())["occupied"] == occupied
                for response in await many(AVAILABILITY):
                    mine = next(i for i in response.json()["facilities"] if i["id"] == fac.id)
                    assert mine["available"] == 10 - occupied
                # Each worker polls the version row, so every open stream hears of the census.
                async with asyncio.timeout(15):
                    events = await asyncio.gather(*(_next_event(lines) for lines in streams))
                assert {name for name, _ in events} == {"beds"}


async def test_two_servers_race_one_census(db_url, rt, tmp_path):
    """Two processes, two clients, one version: exactly one submit wins, the other gets 409."""
    fac, username = await _seed(rt)
    path = f"/api/v1/facilities/{fac.id}/beds"
    rounds = 8
    overlapped = 0
    with servers(2, db_url, tmp_path) as (one, two):
        async with httpx.AsyncClient(base_url=one.url, timeout=30) as client:
            auth = {"Authorization": f"Bearer {await factories.token(client, username)}"}
        for round_ in range(rounds):
            version = 3 + round_
            start_line = threading.Barrier(2)

            def submit(base_url: str, occupied: int, version=version, start_line=start_line):
                with httpx.Client(base_url=base_url, timeout=30, headers=auth) as c:
                    c.get("/healthz")  # connect first: the race is the PUTs, not the handshakes
                    start_line.wait()
                    began = time.monotonic()
                    response = c.put(path, json=_census(version, occupied))
                    return response, began, time.monotonic()

            (a, a0, a1), (b, b0, b1) = await asyncio.gather(
                asyncio.to_thread(submit, one.url, round_ % 5),
                asyncio.to_thread(submit, two.url, 5 + round_ % 5),
            )
            overlapped += max(a0, b0) < min(a1, b1)
            assert sorted([a.status_code, b.status_code]) == [200, 409], (a.text, b.text)
            winner, loser = (a, b) if a.status_code == 200 else (b, a)
            assert winner.json()["version"] == version + 1
            error = loser.json()["error"]
            assert error["code"] == "version_conflict"
            # The loser is shown the winner's census, to check and submit again.
            assert error["details"]["current"]["version"] == version + 1
            assert error["details"]["current"]["pools"] == winner.json()["pools"]
            async with rt.db.read() as s:
                stored = await s.scalar(
                    select(Facility.census_version).where(Facility.id == fac.id)
                )
                icu = await s.scalar(select(BedPool).where(BedPool.facility_id == fac.id))
            assert stored == version + 1
            assert icu.occupied == _icu({"beds": winner.json()["pools"]})["occupied"]
    # Each round's requests were in flight together at least most of the time, or this test
    # raced nothing.
    assert overlapped >= rounds // 2, overlapped
    async with rt.db.read() as s:
        audits = await s.scalar(
            select(func.count()).select_from(AuditEntry).where(AuditEntry.action == "census.update")
        )
        pools = list(await s.scalars(select(BedPool)))
        replayed = await bed_service.replay_ledger(s)
    assert audits == 3 + rounds  # _seed's three, then one per round: the losers wrote nothing
    assert replayed == {p.id: PoolCounts(p.total, p.occupied, p.reserved) for p in pools}


async def test_redis_killed_mid_run_two_servers_answer_from_the_database(
    db_url, rt, flushed_redis, tmp_path
):
    """Redis goes away under two server processes: pages and the API keep answering, every
    write answers 2xx exactly because it committed, the other server still sees it on its next
    read (versions from the row) and its live page still hears of it (the row polled); when
    Redis is back, it is raised to the row's version and used again."""
    fac, username = await _seed(rt)
    fac_url = f"/api/v1/facilities/{fac.id}"
    parts = urlsplit(flushed_redis)
    with proxy(parts.hostname or "127.0.0.1", parts.port or 6379) as gateway:
        proxied = f"redis://127.0.0.1:{gateway.port}{parts.path}"
        with servers(2, db_url, tmp_path, redis_url=proxied) as (one, two):
            async with (
                httpx.AsyncClient(base_url=one.url, timeout=30) as c1,
                httpx.AsyncClient(base_url=two.url, timeout=30) as c2,
                contextlib.AsyncExitStack() as stack,
            ):
                auth = {"Authorization": f"Bearer {await factories.token(c1, username)}"}

                async def write_on_one_seen_on_two(occupied: int) -> None:
                    await _warm(c1, fac)
                    await _warm(c2, fac)
                    version = (await c2.get(fac_url)).json()["version"]
                    put = await c1.put(
                        f"{fac_url}/beds", json=_census(version, occupied), headers=auth
                    )
                    assert put.status_code == 200, put.text
                    seen = (await c2.get(fac_url)).json()
                    assert seen["version"] == version + 1
                    assert _icu(seen)["occupied"] == occupied

                await write_on_one_seen_on_two(5)
                gateway.cut()
                live = await _open_stream(stack, c2)
                for occupied in (6, 7):
                    await write_on_one_seen_on_two(occupied)
                    for client in (c1, c2):
                        assert (await client.get("/")).status_code == 200
                async with asyncio.timeout(15):
                    name, _ = await _next_event(live)
                assert name == "beds"
                gateway.restore()
                # Each server tries Redis again within a few seconds, raising it to the row.
                await asyncio.sleep(6)
                await write_on_one_seen_on_two(8)
            for server in (one, two):
                assert "Traceback" not in server.log(), server.log()[-2000:]
    async with rt.db.read() as session:
        row = await session.scalar(select(DataVersion.value).where(DataVersion.name == "beds"))
    assert int(redis.Redis.from_url(flushed_redis).get("seba:version:beds")) == row
