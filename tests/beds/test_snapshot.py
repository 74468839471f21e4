"""The in-memory availability against a straightforward reference query, on both databases.

Hypothesis picks filters, pages and locations; the reference reads facilities and pools with
plain SQL and filters, sums, orders (haversine in ``math``) and pages in Python the obvious
way. The fast path's answers are held to the route's for the same request, and bad ``near=``
values to the error shape.
"""

from __future__ import annotations

import asyncio
import json
import math
import random
import re

import httpx
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from sqlalchemy import text

from seba.app import create_app
from seba.beds import public
from seba.beds.models import BED_TYPES, SEXES
from seba.beds.queries import AvailabilityFilter
from seba.beds.refresh import keeper
from seba.core.runtime import build_runtime
from seba.places.models import OWNERSHIPS
from tests import factories

DISTRICTS = ("kolkata", "howrah", "bankura", "darjeeling", "nadia", "purulia")
EXAMPLES = hypothesis_settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)


async def _world(rt) -> None:
    """Forty facilities with random pools: some without coordinates, some never censused, two
    at the very same place (equal distances), names that tie."""
    await factories.districts(rt)
    rng = random.Random(16)
    for n in range(40):
        located = n % 9 != 4
        fac = await factories.facility(
            rt,
            code=f"f{n:02d}",
            name=f"Hospital {n % 13}",
            name_bn=f"হাসপাতাল {n}",
            district_code=DISTRICTS[n % len(DISTRICTS)],
            ownership=OWNERSHIPS[n % 3],
            covid=n % 2 == 0,
            lat=(22.5 if n in (7, 8) else rng.uniform(21.8, 27.0)) if located else None,
            lon=(88.3 if n in (7, 8) else rng.uniform(86.0, 89.5)) if located else None,
        )
        if n % 11 == 10:
            continue  # never reported
        kinds = rng.sample([(b, s) for b in BED_TYPES for s in SEXES], rng.randint(1, 5))
        pools = []
        for bed_type, sex in kinds:
            total = rng.randint(0, 30)
            pools.append((bed_type, sex, total, rng.randint(0, total)))
        await factories.census(rt, fac, pools)


def _haversine(a: tuple[float, float], b: tuple[float, float]) -> float:
    lat1, lon1, lat2, lon2 = map(math.radians, (*a, *b))
    h = (
        math.sin((lat2 - lat1) / 2) ** 2
        + math.cos(lat1) * math.cos(lat2) * math.sin((lon2 - lon1) / 2) ** 2
    )
    return 6371.0088 * 2 * math.asin(math.sqrt(h))


async def _reference(rt, f: AvailabilityFilter) -> tuple[int, list[dict], dict[int, float]]:
    """(count, page, distance of every located facility) the obvious way: SQL for the rows,
    Python for the rest."""
    async with rt.db.read() as s:
        facilities = (
            await s.execute(
                text(
                    "SELECT id, code, name, name_bn, district_code, ownership, covid, lat, lon "
                    "FROM facility ORDER BY id"
                )
            )
        ).all()
        pools = (
            await s.execute(
                text("SELECT facility_id, bed_type, sex, total, occupied, reserved FROM bed_pool")
            )
        ).all()
    items = []
    for fac in facilities:
        if f.district and fac.district_code != f.district:
            continue
        if f.ownership and fac.ownership != f.ownership:
            continue
        if f.covid is not None and bool(fac.covid) != f.covid:
            continue
        if f.q and not any(f.q.casefold() in (v or "").casefold() for v in fac[1:4]):
            continue
        mine = [
            p
            for p in pools
            if p.facility_id == fac.id
            and (f.bed_type is None or p.bed_type == f.bed_type)
            and (f.sex is None or p.sex in (f.sex, "any"))
        ]
        if (f.bed_type or f.sex) and not mine:
            continue
        free = sum(p.total - p.occupied - p.reserved for p in mine)
        if f.available_only and free <= 0:
            continue
        distance = None
        if f.near is not None and fac.lat is not None:
            distance = _haversine(f.near, (fac.lat, fac.lon))
        items.append(
            {
                "id": fac.id,
                "name": fac.name,
                "total": sum(p.total for p in mine),
                "available": free,
                "pools": sorted((p.bed_type, p.sex) for p in mine),
                "distance": distance,
            }
        )
    if f.near is not None:
        items.sort(key=lambda i: (i["distance"] is None, i["distance"] or 0.0, i["id"]))
    else:
        items.sort(key=lambda i: (-i["available"], i["name"], i["id"]))
    everywhere = {
        fac.id: _haversine(f.near, (fac.lat, fac.lon))
        for fac in facilities
        if f.near is not None and fac.lat is not None
    }
    # Past the end, the last page (``snapshot.page_offset``).
    offset = f.offset if f.offset < len(items) else max(0, (len(items) - 1) // f.limit * f.limit)
    return len(items), items[offset : offset + f.limit], everywhere


filters = st.builds(
    AvailabilityFilter,
    district=st.none() | st.sampled_from((*DISTRICTS, "malda")),
    ownership=st.none() | st.sampled_from(OWNERSHIPS),
    bed_type=st.none() | st.sampled_from(BED_TYPES),
    sex=st.none() | st.sampled_from(SEXES),
    covid=st.none() | st.booleans(),
    available_only=st.booleans(),
    q=st.none() | st.sampled_from(("hospital 1", "HOSPITAL 12", "হাসপাতাল ৩", "f0", "zzz")),
    near=st.none()
    | st.tuples(st.floats(21.0, 27.5), st.floats(85.5, 90.0))
    | st.just((22.5, 88.3)),
    limit=st.integers(1, 45),
    offset=st.integers(0, 45),
)


def _on_one_loop(settings, check) -> None:
    """Hypothesis drives synchronous examples; each runs on this one loop, which owns the
    runtime's connection pools (asyncpg connections belong to one loop)."""
    loop = asyncio.new_event_loop()
    rt = build_runtime(settings)
    try:
        loop.run_until_complete(rt.start())
        loop.run_until_complete(_world(rt))
        check(loop, rt)
    finally:
        loop.run_until_complete(rt.close())
        loop.close()


def test_every_filter_page_and_near_matches_the_reference_query(settings):
    def check(loop, rt):
        @EXAMPLES
        @given(f=filters)
        def one(f: AvailabilityFilter) -> None:
            body = json.loads(loop.run_until_complete(public.availability(rt, f)).body)
            count, page, distance = loop.run_until_complete(_reference(rt, f))
            assert body["count"] == count, f
            got = body["facilities"]
            assert len(got) == len(page), f
            for item, want in zip(got, page, strict=True):
                if f.near is not None:
                    # Equal distances may come in either order only if they are equal.
                    if want["distance"] is None:
                        assert item["distance_km"] is None and item["id"] == want["id"], f
                    else:
                        mine = distance[item["id"]]
                        assert math.isclose(mine, want["distance"], abs_tol=1e-6), f
                        assert math.isclose(item["distance_km"], mine, abs_tol=0.0051), f
                    if item["id"] != want["id"]:
                        continue  # two facilities at one distance: either order

                assert item["id"] == want["id"], f
                assert (item["total"], item["available"]) == (want["total"], want["available"])
                assert sorted((b["bed_type"], b["sex"]) for b in item["beds"]) == want["pools"]

        one()

    _on_one_loop(settings, check)


def _queries() -> st.SearchStrategy[str]:
    value = st.sampled_from(
        ["", "kolkata", "howrah", "malda", "Kolkata", "true", "false", "yes", "1", "0", "20",
         "500", "501", "-1", "abc", "%20", "a+b", "%00", "হাসপাতাল", "22.5,88.3", "91,88",
         "nan,nan", "22.5", "22.57,88.36", "27.0,88.2", "1e999,0", "icu", "male", "any",
         "government", "private", "bn", "en"]
    )  # fmt: skip
    name = st.sampled_from(
        ["district", "ownership", "bed_type", "sex", "covid", "available_only", "q", "near",
         "limit", "offset", "lang", "other"]
    )  # fmt: skip
    pair = st.tuples(name, value).map(lambda p: f"{p[0]}={p[1]}")
    return st.lists(pair, max_size=4).map("&".join)


AS_OF = re.compile(r'"as_of":"[^"]*"|<span class="muted">[^<]*</span>')


def _same(fast: httpx.Response, routed: httpx.Response) -> None:
    assert fast.status_code == routed.status_code, (fast.text[:300], routed.text[:300])
    assert AS_OF.sub("", fast.text) == AS_OF.sub("", routed.text)
    for header in ("content-type", "vary", "cache-control", "content-security-policy"):
        assert fast.headers.get(header) == routed.headers.get(header), header


def test_fast_answers_equal_the_routes(settings):
    """Whatever the query, the fast path answers as the route would (or leaves it to it)."""

    def check(loop, rt):
        fast_app = create_app(settings, runtime=rt)
        route_app = create_app(settings, runtime=rt)
        route_app.fast_path = None

        async def both(url: str) -> tuple[httpx.Response, httpx.Response]:
            answers = []
            for app in (fast_app, route_app):
                transport = httpx.ASGITransport(app=app)
                async with httpx.AsyncClient(transport=transport, base_url="http://t") as c:
                    answers.append(await c.get(url, headers={"Cookie": "seba_lang=en"}))
            return answers[0], answers[1]

        @EXAMPLES
        @given(path=st.sampled_from(["/api/v1/beds/availability", "/", "/beds/list"]), q=_queries())
        def one(path: str, q: str) -> None:
            fast, routed = loop.run_until_complete(both(f"{path}?{q}"))
            _same(fast, routed)
            if fast.status_code >= 400 and path.startswith("/api/"):
                assert set(fast.json()["error"]) == {"code", "message", "details"}

        one()

    _on_one_loop(settings, check)


async def test_bad_near_values_get_the_error_shape(client):
    for near in ("abc", "22.5", "22.5,88.3,1", "91,88", "22,181", "nan,nan", "inf,0", ",", "1,"):
        r = await client.get("/api/v1/beds/availability", params={"near": near})
        assert r.status_code == 422, near
        error = r.json()["error"]
        assert error["code"] == "invalid_near" and error["details"] == {"near": near}


async def test_a_census_changes_one_row_in_place(rt, client):
    await factories.districts(rt)
    facilities = [await factories.facility(rt) for _ in range(3)]
    for fac in facilities:
        await factories.census(rt, fac, [("icu", "any", 10, 2)])
    assert (await client.get("/api/v1/beds/availability?near=22.5,88.3")).status_code == 200
    kept = keeper(rt)
    built = kept.full_builds
    await factories.census(rt, facilities[1], [("icu", "any", 10, 9)])
    new = await factories.facility(rt, name="Aaa First By Name")
    await factories.census(rt, new, [("general", "male", 5, 0)])
    body = (await client.get("/api/v1/beds/availability?near=22.5,88.3")).json()
    assert body["count"] == 4
    by_id = {i["id"]: i for i in body["facilities"]}
    assert by_id[facilities[1].id]["available"] == 1 and by_id[new.id]["available"] == 5
    assert kept.full_builds == built and kept.in_place >= 1  # no rebuild for a census
    listed = (await client.get("/api/v1/beds/availability")).json()["facilities"]
    keys = [(-i["available"], i["name"], i["id"]) for i in listed]
    assert keys == sorted(keys) and len(keys) == 4


async def test_a_request_waits_for_a_snapshot_as_new_as_its_version(rt, client):
    """The snapshot is behind the version a request sees (a write it was not told about):
    the request waits for the refresh, it is never answered from the older snapshot."""
    await factories.districts(rt)
    fac = await factories.facility(rt)
    await factories.census(rt, fac, [("icu", "any", 10, 2)])
    assert (await client.get(f"/api/v1/facilities/{fac.id}")).json()["beds"][0]["occupied"] == 2
    kept = keeper(rt)
    await kept.close()  # no background refresh: only the request's own wait can catch up
    await factories.census(rt, fac, [("icu", "any", 10, 7)])
    url = f"/api/v1/beds/availability?near=22.5,88.3&q={fac.code}"
    assert (await client.get(url)).json()["facilities"][0]["available"] == 3
    assert (await client.get(f"/api/v1/facilities/{fac.id}")).json()["beds"][0]["occupied"] == 7
