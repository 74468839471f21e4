"""The public availability API: filters, paging, distance, staleness, caching, errors, language."""

from __future__ import annotations

import asyncio
import gzip
import json
import math
import re
import unicodedata
from datetime import datetime, timedelta
from urllib.parse import quote

import pytest
from sqlalchemy import select

from seba.beds import service as bed_service
from seba.beds.models import BedPool
from seba.beds.schemas import CensusUpdate, PoolCensus
from seba.core.access import SYSTEM
from seba.core.i18n import gettext
from seba.core.types import utcnow
from seba.places.models import Facility
from tests import factories

AVAILABILITY = "/api/v1/beds/availability"
BENGALI = re.compile(r"[\u0980-\u09FF]")


async def _census(rt, fac, pools, as_of=None):
    current = await bed_service.get_census(rt, facility_id=fac.id)
    await bed_service.update_census(
        rt,
        actor=SYSTEM,
        facility_id=fac.id,
        census=CensusUpdate(
            version=current.facility.census_version,
            pools=[PoolCensus(bed_type=b, sex=s, total=t, occupied=o) for b, s, t, o in pools],
        ),
        as_of=as_of,
    )


async def _world(rt) -> dict[str, Facility]:
    """Six facilities chosen so that every filter keeps a different subset.

    alpha: Kolkata, government, covid; icu male 10/4, icu any 4/4 (full), oxygen female 20/5
    beta: Howrah, private, non-covid; general female 30/30 (full), icu female 5/1
    gamma: Bankura, requisitioned private, covid; general male 8/2, paediatric any 6/6 (full)
    delta: Kolkata, government, covid; never sent a census, no coordinates
    epsilon: Darjeeling, private, non-covid; ventilator any 3/1, census a day old (stale)
    zeta: Nadia, government, non-covid; general any 5/5 (full)
    """
    await factories.districts(rt)
    f = {
        "alpha": await factories.facility(
            rt,
            code="alpha-mc",
            name="Alpha Medical College",
            name_bn="আলফা মেডিক্যাল কলেজ",
            district_code="kolkata",
            ownership="government",
            covid=True,
            lat=22.5727,
            lon=88.3639,
        ),
        "beta": await factories.facility(
            rt,
            code="beta-gh",
            name="Beta General Hospital",
            name_bn="বিটা জেনারেল হাসপাতাল",
            district_code="howrah",
            ownership="private",
            kind="private_hospital",
            covid=False,
            lat=22.5958,
            lon=88.2636,
        ),
        "gamma": await factories.facility(
            rt,
            code="gamma-rh",
            name="Gamma Rural Hospital",
            name_bn="বাঁকুড়া গামা গ্রামীণ হাসপাতাল",
            district_code="bankura",
            ownership="govt_requisitioned_private",
            kind="rural_hospital",
            covid=True,
            lat=23.25,
            lon=87.07,
        ),
        "delta": await factories.facility(
            rt,
            code="delta-sh",
            name="Delta Safe Home",
            name_bn="ডেল্টা সেফ হোম",
            district_code="kolkata",
            ownership="government",
            kind="safe_home",
            covid=True,
            lat=None,
            lon=None,
        ),
        "epsilon": await factories.facility(
            rt,
            code="epsilon-ph",
            name="Epsilon Hospital",
            name_bn="এপসাইলন হাসপাতাল",
            district_code="darjeeling",
            ownership="private",
            kind="private_hospital",
            covid=False,
            lat=27.04,
            lon=88.26,
        ),
        "zeta": await factories.facility(
            rt,
            code="zeta-fh",
            name="Zeta Full Hospital",
            name_bn="জেটা হাসপাতাল",
            district_code="nadia",
            ownership="government",
            covid=False,
            lat=23.4,
            lon=88.5,
        ),
    }
    await _census(
        rt, f["alpha"], [("icu", "male", 10, 4), ("icu", "any", 4, 4), ("oxygen", "female", 20, 5)]
    )
    await _census(rt, f["beta"], [("general", "female", 30, 30), ("icu", "female", 5, 1)])
    await _census(rt, f["gamma"], [("general", "male", 8, 2), ("paediatric", "any", 6, 6)])
    old = utcnow() - timedelta(seconds=rt.settings.stale_after_s + 3600)
    await _census(rt, f["epsilon"], [("ventilator", "any", 3, 1)], as_of=old)
    await _census(rt, f["zeta"], [("general", "any", 5, 5)])
    return f


def _codes(response) -> set[str]:
    assert response.status_code == 200, response.text
    return {item["code"] for item in response.json()["facilities"]}


def _assert_error_shape(response) -> dict:
    body = response.json()
    assert set(body) == {"error"}, body
    assert set(body["error"]) == {"code", "message", "details"}, body
    assert isinstance(body["error"]["code"], str) and body["error"]["code"]
    assert isinstance(body["error"]["message"], str) and body["error"]["message"]
    return body["error"]


ALL = {"alpha-mc", "beta-gh", "gamma-rh", "delta-sh", "epsilon-ph", "zeta-fh"}

FILTER_CASES = [
    ("", ALL),
    ("district=kolkata", {"alpha-mc", "delta-sh"}),
    ("district=howrah", {"beta-gh"}),
    ("district=purulia", set()),
    ("ownership=private", {"beta-gh", "epsilon-ph"}),
    ("ownership=govt_requisitioned_private", {"gamma-rh"}),
    ("ownership=government", {"alpha-mc", "delta-sh", "zeta-fh"}),
    # A facility without any pool of the asked kind is left out, not listed with zero.
    ("bed_type=icu", {"alpha-mc", "beta-gh"}),
    ("bed_type=general", {"beta-gh", "gamma-rh", "zeta-fh"}),
    # A patient of one sex can also take a bed in a mixed ("any") pool.
    ("sex=male", {"alpha-mc", "gamma-rh", "epsilon-ph", "zeta-fh"}),
    ("sex=female", {"alpha-mc", "beta-gh", "gamma-rh", "epsilon-ph", "zeta-fh"}),
    ("sex=any", {"alpha-mc", "gamma-rh", "epsilon-ph", "zeta-fh"}),
    ("bed_type=icu&sex=male", {"alpha-mc"}),
    ("bed_type=icu&sex=female", {"alpha-mc", "beta-gh"}),
    ("bed_type=ventilator&sex=female", {"epsilon-ph"}),
    ("covid=true", {"alpha-mc", "gamma-rh", "delta-sh"}),
    ("covid=false", {"beta-gh", "epsilon-ph", "zeta-fh"}),
    ("available_only=true", {"alpha-mc", "beta-gh", "gamma-rh", "epsilon-ph"}),
    # available_only looks at the matching pools only: beta's free ICU beds don't count here.
    ("bed_type=general&available_only=true", {"gamma-rh"}),
    ("district=kolkata&covid=true&available_only=true", {"alpha-mc"}),
    ("q=alpha", {"alpha-mc"}),
    ("q=ALPHA%20MEDICAL", {"alpha-mc"}),
    ("q=%20%20aLpHa%20%20", {"alpha-mc"}),
    ("q=hospital", {"beta-gh", "gamma-rh", "epsilon-ph", "zeta-fh"}),
    ("q=zeta-fh", {"zeta-fh"}),
    (f"q={quote('হাসপাতাল')}", {"beta-gh", "gamma-rh", "epsilon-ph", "zeta-fh"}),
    (f"q={quote('মেডিক্যাল')}", {"alpha-mc"}),
    (f"q={quote('বাঁকুড়া')}", {"gamma-rh"}),
    ("q=hospital&ownership=private&covid=false", {"beta-gh", "epsilon-ph"}),
    ("q=nowhere-at-all", set()),
]


async def test_filters_select_the_right_facilities(rt, client):
    await _world(rt)
    for query, expected in FILTER_CASES:
        response = await client.get(f"{AVAILABILITY}?{query}")
        assert _codes(response) == expected, query
        assert response.json()["count"] == len(expected), query


async def test_bengali_search_matches_either_unicode_form(rt, client):
    """Keyboards type ড়/য় either as one code point or as letter + nukta; both must find it."""
    await _world(rt)
    stored = "বাঁকুড়া"
    assert "\u09a1\u09bc" in stored  # the shipped data is NFC: ড + nukta
    typed = stored.replace("\u09a1\u09bc", "\u09dc")  # the single code point ড়
    assert typed != stored and unicodedata.normalize("NFC", typed) == stored
    assert _codes(await client.get(f"{AVAILABILITY}?q={quote(typed)}")) == {"gamma-rh"}


async def test_bed_type_and_sex_filters_count_only_matching_pools(rt, client):
    await _world(rt)
    body = (await client.get(f"{AVAILABILITY}?bed_type=icu&sex=male")).json()
    (alpha,) = body["facilities"]
    assert {(b["bed_type"], b["sex"]) for b in alpha["beds"]} == {("icu", "male"), ("icu", "any")}
    assert alpha["total"] == 10 + 4
    assert alpha["available"] == (10 - 4) + (4 - 4)
    unfiltered = (await client.get(f"{AVAILABILITY}?q=alpha")).json()["facilities"][0]
    assert unfiltered["total"] == 10 + 4 + 20
    assert unfiltered["available"] == 6 + 0 + 15
    # Whatever the filter, a facility's totals are the sums of the pools it lists.
    for query in ("", "bed_type=icu", "sex=female", "bed_type=general&sex=male", "sex=any"):
        for item in (await client.get(f"{AVAILABILITY}?{query}")).json()["facilities"]:
            assert item["total"] == sum(b["total"] for b in item["beds"]), query
            assert item["available"] == sum(b["available"] for b in item["beds"]), query
            for bed in item["beds"]:
                assert bed["available"] == bed["total"] - bed["occupied"] - bed["reserved"]


async def test_default_order_is_most_free_beds_first(rt, client):
    await _world(rt)
    items = (await client.get(AVAILABILITY)).json()["facilities"]
    keys = [(-i["available"], i["name"]) for i in items]
    assert keys == sorted(keys)
    assert items[0]["code"] == "alpha-mc"
    assert "distance_km" not in items[0]


async def test_count_is_before_paging_and_pages_cover_everything_once(rt, client):
    await factories.districts(rt)
    n = 57
    facilities = [await factories.facility(rt) for _ in range(n)]
    # Different free-bed counts, some equal, so ordering ties are broken by name.
    for i, fac in enumerate(facilities[:20]):
        await factories.census(rt, fac, [("general", "any", 10, i % 11)])

    default = (await client.get(AVAILABILITY)).json()
    assert default["count"] == n
    assert len(default["facilities"]) == 50

    everything = (await client.get(f"{AVAILABILITY}?limit=500")).json()
    assert everything["count"] == n
    full_order = [i["id"] for i in everything["facilities"]]
    assert sorted(full_order) == sorted(f.id for f in facilities)
    assert [i["id"] for i in default["facilities"]] == full_order[:50]

    paged = []
    for offset in range(0, n, 7):
        page = (await client.get(f"{AVAILABILITY}?limit=7&offset={offset}")).json()
        assert page["count"] == n  # the total, not the page size
        assert len(page["facilities"]) == max(0, min(7, n - offset))
        paged += [i["id"] for i in page["facilities"]]
    assert paged == full_order

    filtered = (await client.get(f"{AVAILABILITY}?available_only=true&limit=3")).json()
    # Only the censused ones have free beds, and the one with 10 of 10 occupied has none.
    assert filtered["count"] == sum(1 for i in range(20) if i % 11 < 10)
    assert len(filtered["facilities"]) == 3

    # Past the end: the last page, which says where it starts (not an empty page 50,000).
    beyond = (await client.get(f"{AVAILABILITY}?limit=7&offset=1000000")).json()
    last = (n - 1) // 7 * 7
    assert beyond["count"] == n and beyond["offset"] == last
    assert [i["id"] for i in beyond["facilities"]] == full_order[last:]
    assert (await client.get(f"{AVAILABILITY}?limit=7&offset=7")).json()["offset"] == 7

    for bad in ("limit=501", "limit=0", "limit=-1", "offset=-1", "offset=1000001"):
        response = await client.get(f"{AVAILABILITY}?{bad}")
        assert response.status_code == 422, bad
        assert _assert_error_shape(response)["code"] == "validation_failed"


def _approx_km(a: tuple[float, float], b: tuple[float, float]) -> float:
    """Equirectangular distance: independent of the app's haversine, within 0.5% at this scale."""
    mean_lat = math.radians((a[0] + b[0]) / 2)
    dx = math.radians(b[1] - a[1]) * math.cos(mean_lat)
    dy = math.radians(b[0] - a[0])
    return 6371.0 * math.hypot(dx, dy)


async def test_near_sorts_by_distance(rt, client):
    f = await _world(rt)
    here = (22.60, 88.30)  # between Kolkata and Howrah, nearer Howrah
    body = (await client.get(f"{AVAILABILITY}?near={here[0]},{here[1]}")).json()
    items = body["facilities"]
    assert body["count"] == len(ALL)
    located = [i for i in items if i["distance_km"] is not None]
    assert [i["distance_km"] for i in located] == sorted(i["distance_km"] for i in located)
    assert [i["code"] for i in located[:2]] == ["beta-gh", "alpha-mc"]
    assert located[-1]["code"] == "epsilon-ph"  # Darjeeling, far north
    # Without coordinates there is no distance: listed, but last.
    assert items[-1]["code"] == "delta-sh" and items[-1]["distance_km"] is None
    for item in located:
        fac = next(x for x in f.values() if x.id == item["id"])
        expected = _approx_km(here, (fac.lat, fac.lon))
        assert item["distance_km"] == pytest.approx(expected, rel=0.005, abs=0.02)

    # Filter, then order by distance, then page: the nearest facility with ICU pools.
    for point in ((23.3, 87.1), (22.5, 88.5)):
        url = f"{AVAILABILITY}?near={point[0]},{point[1]}&bed_type=icu&limit=1"
        near_icu = (await client.get(url)).json()
        assert near_icu["count"] == 2
        nearest = min(("alpha", "beta"), key=lambda k: _approx_km(point, (f[k].lat, f[k].lon)))
        assert [i["id"] for i in near_icu["facilities"]] == [f[nearest].id]
    at_alpha = (await client.get(f"{AVAILABILITY}?near=22.5727,88.3639&limit=1")).json()
    assert at_alpha["facilities"][0]["code"] == "alpha-mc"
    assert at_alpha["facilities"][0]["distance_km"] == 0.0


async def test_stale_marking(rt, client):
    f = await _world(rt)
    by_code = {i["code"]: i for i in (await client.get(AVAILABILITY)).json()["facilities"]}
    assert by_code["alpha-mc"]["stale"] is False
    assert by_code["epsilon-ph"]["stale"] is True  # census older than stale_after_s
    assert by_code["delta-sh"]["stale"] is True  # never reported
    assert by_code["delta-sh"]["updated_at"] is None
    assert (await client.get(f"/api/v1/facilities/{f['epsilon'].id}")).json()["stale"] is True
    # A fresh census clears the mark at once.
    await _census(rt, f["epsilon"], [("ventilator", "any", 3, 2)])
    fresh = (await client.get(f"/api/v1/facilities/{f['epsilon'].id}")).json()
    assert fresh["stale"] is False
    districts = {d["code"]: d for d in (await client.get("/api/v1/districts")).json()["districts"]}
    assert districts["kolkata"]["stale_facilities"] == 1  # delta
    assert districts["darjeeling"]["stale_facilities"] == 0


async def test_a_cached_view_turns_stale_when_time_passes(rt, client):
    """No write happens, yet the view must change when a census ages past the limit."""
    await factories.districts(rt)
    fac = await factories.facility(rt)
    rt.settings.stale_after_s = 3
    await factories.census(rt, fac, [("icu", "any", 4, 1)])
    url = f"/api/v1/facilities/{fac.id}"
    first = await client.get(url)
    listed = await client.get(AVAILABILITY)
    assert first.json()["stale"] is False
    assert listed.json()["facilities"][0]["stale"] is False
    # Wait until just past the census's stale time (measured from its own timestamp).
    stale_at = datetime.fromisoformat(first.json()["updated_at"]) + timedelta(seconds=3.3)
    await asyncio.sleep(max(0.0, (stale_at - utcnow()).total_seconds()))
    assert (await client.get(url)).json()["stale"] is True
    assert (await client.get(AVAILABILITY)).json()["facilities"][0]["stale"] is True
    # The old ETag no longer matches: the bytes changed without any write.
    revalidated = await client.get(url, headers={"If-None-Match": first.headers["etag"]})
    assert revalidated.status_code == 200


async def test_etag_and_not_modified(rt, client):
    f = await _world(rt)
    staff = await factories.staff(client, rt, "hospital_staff", "facility:alpha-mc")
    urls = [AVAILABILITY, f"{AVAILABILITY}?district=kolkata", f"/api/v1/facilities/{f['alpha'].id}"]
    urls.append("/api/v1/districts")
    etags = {}
    for url in urls:
        first = await client.get(url)
        etag = first.headers["etag"]
        assert re.fullmatch(r'"[0-9a-f]+"', etag), etag
        assert first.headers["cache-control"] == "no-cache"
        again = await client.get(url, headers={"If-None-Match": etag})
        assert again.status_code == 304, url
        assert again.content == b""
        assert again.headers["etag"] == etag
        listed = await client.get(url, headers={"If-None-Match": f'"nope", {etag}'})
        assert listed.status_code == 304
        other = await client.get(url, headers={"If-None-Match": '"nope"'})
        assert other.status_code == 200 and other.content == first.content
        etags[url] = etag
    assert len(set(etags.values())) == len(urls)  # different views, different tags

    body = {"version": 1, "pools": [{"bed_type": "icu", "sex": "male", "total": 10, "occupied": 9}]}
    put = await client.put(f"/api/v1/facilities/{f['alpha'].id}/beds", json=body, headers=staff)
    assert put.status_code == 200, put.text
    for url in urls:
        changed = await client.get(url, headers={"If-None-Match": etags[url]})
        assert changed.status_code == 200, url
        assert changed.headers["etag"] != etags[url], url
        assert (
            await client.get(url, headers={"If-None-Match": changed.headers["etag"]})
        ).status_code == 304


async def test_gzip_when_asked(rt, client):
    f = await _world(rt)
    for url in (AVAILABILITY, f"/api/v1/facilities/{f['alpha'].id}", "/api/v1/districts"):
        plain = await client.get(url, headers={"Accept-Encoding": "identity"})
        assert "content-encoding" not in plain.headers
        assert plain.headers["vary"] == "Accept-Encoding"
        document = json.loads(plain.content)
        async with client.stream("GET", url, headers={"Accept-Encoding": "gzip"}) as zipped:
            assert zipped.headers["content-encoding"] == "gzip"
            assert zipped.headers["vary"] == "Accept-Encoding"
            raw = b"".join([chunk async for chunk in zipped.aiter_raw()])
        assert raw[:2] == b"\x1f\x8b"
        # Same document (as_of may differ only if the view was rebuilt; it was not).
        assert json.loads(gzip.decompress(raw)) == document


async def test_read_your_writes_through_the_api(rt, client):
    f = await _world(rt)
    staff = await factories.staff(client, rt, "hospital_staff", "facility:alpha-mc")
    fac_url = f"/api/v1/facilities/{f['alpha'].id}"
    for occupied in (9, 2, 7, 7):
        # Warm every view first, so a stale cache would be caught.
        before = (await client.get(fac_url)).json()
        await client.get(AVAILABILITY)
        await client.get(f"{AVAILABILITY}?bed_type=icu&sex=male")
        body = {
            "version": before["version"],
            "pools": [{"bed_type": "icu", "sex": "male", "total": 10, "occupied": occupied}],
        }
        put = await client.put(f"{fac_url}/beds", json=body, headers=staff)
        assert put.status_code == 200, put.text
        after = (await client.get(fac_url)).json()
        assert after["version"] == before["version"] + 1 == put.json()["version"]
        icu = {(b["bed_type"], b["sex"]): b for b in after["beds"]}[("icu", "male")]
        assert icu["occupied"] == occupied and icu["available"] == 10 - occupied
        listed = (await client.get(f"{AVAILABILITY}?bed_type=icu&sex=male")).json()["facilities"]
        assert listed[0]["available"] == (10 - occupied) + 0
        everything = (await client.get(AVAILABILITY)).json()["facilities"]
        alpha = next(i for i in everything if i["code"] == "alpha-mc")
        assert alpha["available"] == (10 - occupied) + 0 + 15


async def test_district_totals_equal_the_sum_of_pools(rt, client):
    await _world(rt)
    body = (await client.get("/api/v1/districts")).json()
    async with rt.db.read() as s:
        facilities = list(await s.scalars(select(Facility)))
        pools = list(await s.scalars(select(BedPool)))
    district_of = {fac.id: fac.district_code for fac in facilities}
    by_code = {d["code"]: d for d in body["districts"]}
    assert len(by_code) == 23  # every district of the state, even those with no facility
    for code, entry in by_code.items():
        mine = [p for p in pools if district_of[p.facility_id] == code]
        assert entry["facilities"] == sum(1 for fac in facilities if fac.district_code == code)
        assert entry["total"] == sum(p.total for p in mine), code
        assert entry["available"] == sum(p.total - p.occupied - p.reserved for p in mine), code
        for bed_type, sums in entry["by_bed_type"].items():
            typed = [p for p in mine if p.bed_type == bed_type]
            assert sums["total"] == sum(p.total for p in typed), (code, bed_type)
            assert sums["available"] == sum(p.available for p in typed), (code, bed_type)
    assert sum(d["total"] for d in body["districts"]) == sum(p.total for p in pools)
    assert by_code["kolkata"]["available"] == 6 + 0 + 15  # alpha; delta has no pools
    assert by_code["kolkata"]["name_bn"] == "কলকাতা"


async def test_facility_detail_has_version_and_its_beds(rt, client):
    f = await _world(rt)
    alpha = (await client.get(f"/api/v1/facilities/{f['alpha'].id}")).json()
    assert alpha["version"] == 1
    assert alpha["code"] == "alpha-mc" and alpha["district_name_bn"] == "কলকাতা"
    assert [(b["bed_type"], b["sex"]) for b in alpha["beds"]] == [
        ("oxygen", "female"),
        ("icu", "male"),
        ("icu", "any"),
    ]
    delta = (await client.get(f"/api/v1/facilities/{f['delta'].id}")).json()
    assert delta["version"] == 0 and delta["beds"] == [] and delta["total"] == 0


async def test_unknown_facility_is_404_in_bengali_then_english(rt, client):
    await _world(rt)
    missing = await client.get("/api/v1/facilities/999999")
    assert missing.status_code == 404
    error = _assert_error_shape(missing)
    assert error["code"] == "facility_not_found"
    assert BENGALI.search(error["message"]), error["message"]
    assert error["message"] == gettext("bn", "No such facility.") != "No such facility."
    english = await client.get("/api/v1/facilities/999999", headers={"Accept-Language": "en"})
    assert _assert_error_shape(english)["message"] == "No such facility."
    by_query = await client.get("/api/v1/facilities/999999?lang=en")
    assert _assert_error_shape(by_query)["message"] == "No such facility."


@pytest.mark.parametrize(
    ("path", "status", "code"),
    [
        (f"{AVAILABILITY}?near=abc", 422, "invalid_near"),
        (f"{AVAILABILITY}?near=22.5", 422, "invalid_near"),
        (f"{AVAILABILITY}?near=22.5,88.3,1", 422, "invalid_near"),
        (f"{AVAILABILITY}?near=91,88", 422, "invalid_near"),
        (f"{AVAILABILITY}?near=22,181", 422, "invalid_near"),
        (f"{AVAILABILITY}?near=nan,nan", 422, "invalid_near"),
        (f"{AVAILABILITY}?near=inf,0", 422, "invalid_near"),
        (f"{AVAILABILITY}?near=1e999,0", 422, "invalid_near"),
        (f"{AVAILABILITY}?near=22%00,88", 422, "invalid_near"),
        (f"{AVAILABILITY}?near={'9' * 61}", 422, "validation_failed"),
        (f"{AVAILABILITY}?bed_type=sofa", 422, "validation_failed"),
        (f"{AVAILABILITY}?sex=other", 422, "validation_failed"),
        (f"{AVAILABILITY}?ownership=nobody", 422, "validation_failed"),
        (f"{AVAILABILITY}?district=Kolkata", 422, "validation_failed"),
        (f"{AVAILABILITY}?district=a'%20OR%201=1", 422, "validation_failed"),
        (f"{AVAILABILITY}?offset=-1", 422, "validation_failed"),
        (f"{AVAILABILITY}?offset=ten", 422, "validation_failed"),
        (f"{AVAILABILITY}?limit=ten", 422, "validation_failed"),
        (f"{AVAILABILITY}?limit=1.5", 422, "validation_failed"),
        (f"{AVAILABILITY}?limit={10**30}", 422, "validation_failed"),
        (f"{AVAILABILITY}?q={'x' * 101}", 422, "validation_failed"),
        (f"{AVAILABILITY}?q={'হ' * 5000}", 422, "validation_failed"),
        (f"{AVAILABILITY}?covid=maybe", 422, "validation_failed"),
        (f"{AVAILABILITY}?available_only=perhaps", 422, "validation_failed"),
        ("/api/v1/facilities/0", 422, "validation_failed"),
        ("/api/v1/facilities/-1", 422, "validation_failed"),
        (f"/api/v1/facilities/{2**40}", 422, "validation_failed"),
        (f"/api/v1/facilities/{2**31}", 422, "validation_failed"),
        ("/api/v1/facilities/abc", 422, "validation_failed"),
        ("/api/v1/facilities/1.5", 422, "validation_failed"),
        ("/api/v1/facilities/999999", 404, "facility_not_found"),
        ("/api/v1/no-such-thing", 404, "not_found"),
    ],
)
async def test_bad_input_is_a_4xx_with_the_error_shape(client, path, status, code):
    response = await client.get(path)
    assert response.status_code == status, response.text
    error = _assert_error_shape(response)
    assert error["code"] == code
    assert BENGALI.search(error["message"]), error["message"]  # Bengali by default
    english = await client.get(path, headers={"Accept-Language": "en"})
    assert english.status_code == status
    assert not BENGALI.search(_assert_error_shape(english)["message"])


async def test_validation_messages_in_both_languages(rt, client):
    bn = _assert_error_shape(await client.get(f"{AVAILABILITY}?near=abc"))
    en = _assert_error_shape(
        await client.get(f"{AVAILABILITY}?near=abc", headers={"Accept-Language": "en-IN,en;q=0.9"})
    )
    assert en["message"] == "near must be LAT,LON, e.g. 22.57,88.36."
    assert bn["message"] == gettext("bn", "near must be LAT,LON, e.g. 22.57,88.36.")
    assert bn["message"] != en["message"]
    assert bn["details"] == en["details"] == {"near": "abc"}
    bad_limit = await client.get(f"{AVAILABILITY}?limit=501", headers={"Accept-Language": "en"})
    error = _assert_error_shape(bad_limit)
    assert error["message"] == "Some fields are not valid."
    assert [d["field"] for d in error["details"]] == ["limit"]


async def test_near_answer_in_gzip_is_the_same_document(rt, client):
    # A "near" answer is compressed for its one client by ISA-L, not zlib: a phone that takes
    # gzip must read exactly the document a client without gzip reads.
    await _world(rt)
    url = f"{AVAILABILITY}?near=22.60,88.30"
    zipped = await client.get(url, headers={"Accept-Encoding": "gzip"})
    plain = await client.get(url, headers={"Accept-Encoding": "identity"})
    assert zipped.headers["content-encoding"] == "gzip"
    assert "content-encoding" not in plain.headers
    strip = lambda doc: {k: v for k, v in doc.items() if k != "as_of"}  # noqa: E731
    assert strip(zipped.json()) == strip(plain.json())
