"""The public fast path: stored answers for exact URLs, never stale, never for refused input."""

from __future__ import annotations

import asyncio
import gzip
from contextlib import contextmanager

import httpx
import pytest
from sqlalchemy import event

from seba.app import create_app
from seba.beds import public
from seba.core.runtime import build_runtime
from seba.core.versions import LocalVersions, SharedReads, shared
from seba.settings import Settings
from tests import factories

AVAILABILITY = "/api/v1/beds/availability"


@pytest.fixture
def route_calls(monkeypatch: pytest.MonkeyPatch) -> dict[str, int]:
    """How often each public view entered its FastAPI route (a fast-path answer does not)."""
    calls = {"availability": 0, "facility": 0, "districts": 0}
    for name in calls:
        original = getattr(public, name)

        async def counted(*args, _name=name, _original=original, **kwargs):
            calls[_name] += 1
            return await _original(*args, **kwargs)

        monkeypatch.setattr(public, name, counted)
    return calls


async def _world(rt):
    await factories.districts(rt)
    alpha = await factories.facility(rt, code="alpha", name="Alpha Hospital")
    beta = await factories.facility(rt, code="beta", name="Beta Hospital", district_code="howrah")
    await factories.census(rt, alpha, [("icu", "male", 10, 4), ("oxygen", "female", 20, 5)])
    await factories.census(rt, beta, [("general", "any", 30, 29)])
    return alpha, beta


async def test_a_hit_answers_the_routes_bytes_and_headers(rt, client, route_calls):
    await _world(rt)
    first = await client.get(AVAILABILITY)
    assert first.status_code == 200
    assert route_calls["availability"] == 1

    again = await client.get(AVAILABILITY)
    assert route_calls["availability"] == 1  # answered in front of FastAPI
    assert again.status_code == 200
    assert again.content == first.content
    assert again.headers.raw == first.headers.raw


@pytest.mark.parametrize(
    "headers",
    [
        {"Accept-Encoding": "gzip"},
        {"Accept-Encoding": "identity"},
        {"If-None-Match": "*"},
        {"If-None-Match": 'W/"other", "other"'},
    ],
)
async def test_every_variant_matches_the_route(rt, client, route_calls, headers):
    await _world(rt)
    etag = (await client.get(AVAILABILITY)).headers["etag"]
    headers = {
        k: v.replace("other", etag.strip('"')) if k == "If-None-Match" else v
        for k, v in headers.items()
    }
    fast = await client.get(AVAILABILITY, headers=headers)
    assert route_calls["availability"] == 1
    # Another spelling of the same query is a new URL for the fast path: the route answers it,
    # from the same cache entry, and the two answers must be identical.
    routed = await client.get(AVAILABILITY + "?limit=50", headers=headers)
    assert route_calls["availability"] == 2
    assert fast.status_code == routed.status_code
    assert fast.content == routed.content
    assert fast.headers.raw == routed.headers.raw


async def test_gzip_when_asked(rt, client, route_calls):
    await _world(rt)
    # httpx asks for gzip unless told otherwise.
    plain = await client.get(AVAILABILITY, headers={"Accept-Encoding": "identity"})
    zipped = await client.get(AVAILABILITY, headers={"Accept-Encoding": "gzip"})
    assert route_calls["availability"] == 1
    assert zipped.headers["content-encoding"] == "gzip"
    assert zipped.headers["vary"] == "Accept-Encoding"
    assert zipped.content == plain.content  # httpx decoded it
    assert int(zipped.headers["content-length"]) < len(plain.content)
    assert "content-encoding" not in plain.headers


async def test_304_on_a_matching_etag(rt, client, route_calls):
    await _world(rt)
    etag = (await client.get(AVAILABILITY)).headers["etag"]
    for value in (etag, f'W/"nope", {etag}', "*"):
        r = await client.get(AVAILABILITY, headers={"If-None-Match": value})
        assert r.status_code == 304
        assert r.content == b""
        assert r.headers["etag"] == etag
    assert route_calls["availability"] == 1
    stale = await client.get(AVAILABILITY, headers={"If-None-Match": '"nope"'})
    assert stale.status_code == 200


async def test_a_census_change_is_seen_on_the_very_next_request(rt, client, route_calls):
    alpha, _ = await _world(rt)
    before = await client.get(AVAILABILITY)
    await client.get(AVAILABILITY)
    assert route_calls["availability"] == 1

    await factories.census(rt, alpha, [("icu", "male", 10, 10), ("oxygen", "female", 20, 20)])
    after = await client.get(AVAILABILITY)
    assert route_calls["availability"] == 2  # the version moved: the route rebuilt the view
    assert after.content != before.content
    row = next(f for f in after.json()["facilities"] if f["id"] == alpha.id)
    assert row["available"] == 0
    assert after.headers["etag"] != before.headers["etag"]

    # ... and the new bytes are what the fast path answers from then on, gzip too.
    again = await client.get(AVAILABILITY, headers={"Accept-Encoding": "gzip"})
    assert route_calls["availability"] == 2
    assert again.content == after.content
    # An ETag from before the change no longer matches.
    old = await client.get(AVAILABILITY, headers={"If-None-Match": before.headers["etag"]})
    assert old.status_code == 200
    assert old.content == after.content


async def test_after_a_change_fresh_answers_outlive_the_stale_ones(rt, client, route_calls):
    alpha, _ = await _world(rt)
    for url in (AVAILABILITY, f"{AVAILABILITY}?district=howrah"):
        await client.get(url)
    await factories.census(rt, alpha, [("icu", "male", 10, 9)])
    await client.get(AVAILABILITY)  # rebuilt and stored at the new version
    await client.get(f"{AVAILABILITY}?district=howrah")  # its stale answer is dropped here
    assert route_calls["availability"] == 4
    await client.get(AVAILABILITY)
    await client.get(f"{AVAILABILITY}?district=howrah")
    assert route_calls["availability"] == 4  # both answered by the fast path again


@pytest.mark.parametrize(
    "query",
    ["limit=0", "limit=abc", "district=Not%20A%20Code", "bed_type=sofa", "near=91,0", "near=x"],
)
async def test_bad_input_still_gets_the_routes_422(rt, client, route_calls, query):
    await _world(rt)
    assert (await client.get(AVAILABILITY)).status_code == 200
    for _ in range(3):
        r = await client.get(f"{AVAILABILITY}?{query}")
        assert r.status_code == 422, r.text
        assert r.json()["error"]["code"] in {"validation_failed", "invalid_near"}


async def test_each_raw_query_string_is_its_own_url(rt, client, route_calls):
    await _world(rt)
    howrah = await client.get(f"{AVAILABILITY}?district=howrah")
    everyone = await client.get(AVAILABILITY)
    assert route_calls["availability"] == 2
    assert howrah.json()["count"] == 1
    assert everyone.json()["count"] == 2
    assert (await client.get(f"{AVAILABILITY}?district=howrah")).content == howrah.content
    assert (await client.get(AVAILABILITY)).content == everyone.content
    assert route_calls["availability"] == 2


async def test_facility_and_districts_views(rt, client, route_calls):
    alpha, _ = await _world(rt)
    detail = await client.get(f"/api/v1/facilities/{alpha.id}")
    assert (await client.get(f"/api/v1/facilities/{alpha.id}")).content == detail.content
    districts = await client.get("/api/v1/districts")
    assert (await client.get("/api/v1/districts")).content == districts.content
    assert route_calls["facility"] == 1
    assert route_calls["districts"] == 1
    # A missing facility is never stored: the route answers 404 every time.
    for _ in range(2):
        assert (await client.get("/api/v1/facilities/999999")).status_code == 404
    assert route_calls["facility"] == 3


async def test_other_methods_go_to_the_app(rt, client, route_calls):
    await _world(rt)
    await client.get(AVAILABILITY)
    assert (await client.post(AVAILABILITY)).status_code == 405
    head = await client.head(AVAILABILITY)
    assert head.status_code in {200, 405}
    assert head.content == b""


async def test_a_failing_version_check_falls_through_to_the_route(rt, client, route_calls):
    await _world(rt)
    await client.get(AVAILABILITY)
    current = rt.versions.current

    async def broken(name: str) -> int:
        raise ConnectionError("version store down")

    rt.versions.current = broken  # type: ignore[method-assign]
    try:
        # The route ran and answered its usual way for a store it cannot reach (503, try
        # again), rather than the fast path answering bytes it could not check.
        r = await client.get(AVAILABILITY)
        assert r.status_code == 503 and r.json()["error"]["code"] == "try_again"
    finally:
        rt.versions.current = current  # type: ignore[method-assign]
    assert route_calls["availability"] == 2
    assert (await client.get(AVAILABILITY)).status_code == 200


@contextmanager
def _counting_queries(rt):
    statements: list[str] = []

    def count(_conn, _cursor, statement, *_args):
        statements.append(statement)

    engines = {rt.db.read_engine.sync_engine, rt.db.write_engine.sync_engine}
    for engine in engines:
        event.listen(engine, "before_cursor_execute", count)
    try:
        yield statements
    finally:
        for engine in engines:
            event.remove(engine, "before_cursor_execute", count)


async def test_a_miss_costs_the_same_few_queries_however_many_facilities(rt, client):
    await factories.districts(rt)
    selects = []
    for batch in (2, 10):
        for i in range(batch):
            fac = await factories.facility(rt, code=f"q{len(selects)}-{i}")
            await factories.census(rt, fac, [("icu", "male", 5, 1), ("general", "any", 9, 3)])
        # The censuses moved the data version: this request rebuilds the view.
        with _counting_queries(rt) as statements:
            r = await client.get(AVAILABILITY)
        assert r.status_code == 200
        assert r.json()["count"] == (2 if batch == 2 else 12)
        selects.append([s for s in statements if s.lstrip().upper().startswith("SELECT")])
    # Facilities with their districts, then their pools: no query per facility (no N+1).
    assert len(selects[0]) == len(selects[1]) <= 3
    with _counting_queries(rt) as statements:
        await client.get(AVAILABILITY)
    assert statements == []  # a hit costs none


def test_gzip_copy_is_the_same_json():
    from seba.core.response_cache import make_cached

    entry = make_cached(b'{"a":1}', 10.0, source="beds", version=3)
    assert gzip.decompress(entry.gzip_body) == entry.body
    assert (entry.source, entry.version) == ("beds", 3)
    # A one-off answer is compressed by ISA-L: any gzip reader (here zlib's) must read it.
    body = b'{"facilities":[' + b",".join(b'{"id":%d,"name":"x"}' % i for i in range(500)) + b"]}"
    one_off = make_cached(body, 10.0, one_off=True)
    assert one_off.gzip_body[:2] == b"\x1f\x8b" and len(one_off.gzip_body) < len(body) // 4
    assert gzip.decompress(one_off.gzip_body) == body


async def test_a_kept_answers_gzip_copy_is_made_off_the_event_loop():
    from seba.core.response_cache import compressed, make_cached

    # A few MB of JSON: zlib level 6 takes tens of milliseconds over it.
    body = b"[" + b",".join(b'{"id":%d,"free":%d}' % (i, i * 7919 % 97) for i in range(200_000))
    entry = make_cached(body + b"]", 10.0, source="beds", version=1)
    ticks = 0
    done = asyncio.Event()

    async def ticking() -> None:
        nonlocal ticks
        while not done.is_set():
            ticks += 1
            await asyncio.sleep(0)

    ticker = asyncio.create_task(ticking())
    await asyncio.sleep(0)
    kept = await compressed(entry)
    done.set()
    await ticker
    assert kept is entry and gzip.decompress(entry.__dict__["gzip_body"]) == entry.body
    assert ticks > 10  # the loop went on turning while zlib worked
    # A one-off answer is left to its fast copy on first use.
    one_off = make_cached(b'{"a":1}', 10.0, one_off=True)
    assert "gzip_body" not in (await compressed(one_off)).__dict__


class _RemoteVersions:
    """A version store across the network: a read sees the value as it was when it was sent."""

    def __init__(self) -> None:
        self.value = 0
        self.reads = 0
        self.gate = asyncio.Event()
        self.gate.set()
        self.error: Exception | None = None

    async def current(self, name: str) -> int:
        self.reads += 1
        value = self.value
        await self.gate.wait()
        if self.error is not None:
            raise self.error
        return value

    async def committed(self, name: str) -> None:
        self.value += 1


async def _until_sent(source: _RemoteVersions, reads: int) -> None:
    for _ in range(100):
        if source.reads >= reads:
            return
        await asyncio.sleep(0)
    raise AssertionError("the read was never sent")


async def test_requests_of_one_loop_turn_share_one_version_read():
    source = _RemoteVersions()
    reads = SharedReads(source)
    assert await asyncio.gather(*(reads.current("beds") for _ in range(20))) == [0] * 20
    assert source.reads == 1
    assert await reads.current("beds") == 0
    assert source.reads == 2


async def test_a_request_never_joins_a_read_already_sent():
    source = _RemoteVersions()
    reads = SharedReads(source)
    source.gate.clear()
    early = asyncio.ensure_future(reads.current("beds"))
    await _until_sent(source, 1)
    await source.committed("beds")  # a census commits while the first read is on its way
    late = asyncio.ensure_future(reads.current("beds"))
    await _until_sent(source, 2)
    source.gate.set()
    assert await early == 0
    assert await late == 1  # its own read, sent after it arrived: it sees the change


async def test_a_request_that_goes_away_does_not_cancel_the_shared_read():
    source = _RemoteVersions()
    reads = SharedReads(source)
    source.gate.clear()
    gone = asyncio.ensure_future(reads.current("beds"))
    waiting = asyncio.ensure_future(reads.current("beds"))
    await _until_sent(source, 1)
    gone.cancel()
    source.gate.set()
    assert await waiting == 0
    with pytest.raises(asyncio.CancelledError):
        await gone


async def test_a_failed_read_fails_every_request_that_shared_it():
    source = _RemoteVersions()
    source.error = ConnectionError("redis down")
    reads = SharedReads(source)
    results = await asyncio.gather(
        reads.current("beds"), reads.current("beds"), return_exceptions=True
    )
    assert all(isinstance(r, ConnectionError) for r in results)
    source.error = None
    assert await reads.current("beds") == 0


def test_in_process_versions_are_not_wrapped():
    local = LocalVersions()
    assert shared(local) is local
    assert isinstance(shared(_RemoteVersions()), SharedReads)


async def test_with_redis_a_change_made_by_another_worker_is_seen_next(
    settings, redis_url, route_calls
):
    """Two workers (runtimes) on one database and one Redis: the fast path of the one that did
    not write answers the new bytes on its very next request."""
    shared_settings = Settings(
        database_url=settings.database_url, env="test", redis_url=redis_url, secret_key="t"
    )
    writer, reader = build_runtime(shared_settings), build_runtime(shared_settings)
    await writer.start()
    await reader.start()
    try:
        alpha, _ = await _world(writer)
        app = create_app(shared_settings, runtime=reader)
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
            before = await c.get(AVAILABILITY)
            assert (await c.get(AVAILABILITY)).content == before.content
            assert route_calls["availability"] == 1  # the second was a fast-path hit
            full = [("icu", "male", 10, 10), ("oxygen", "female", 20, 20)]
            await factories.census(writer, alpha, full)
            after = await c.get(AVAILABILITY)
        assert route_calls["availability"] == 2
        assert after.content != before.content
        row = next(f for f in after.json()["facilities"] if f["id"] == alpha.id)
        assert row["available"] == 0
    finally:
        await reader.close()
        await writer.close()
