"""The public bed availability page: Bengali first, every filter as a plain form, errors as HTML."""

from __future__ import annotations

import math
import re
from datetime import timedelta
from html import unescape

import jinja2
import pytest
from starlette.requests import Request

from seba.beds import pages, public, results_pages
from seba.beds import service as bed_service
from seba.beds.models import BED_TYPES, SEXES
from seba.beds.queries import MAX_LIMIT
from seba.beds.schemas import CensusUpdate, PoolCensus
from seba.core.access import SYSTEM
from seba.core.http import request_language
from seba.core.i18n import bn_digits, gettext
from seba.core.types import utcnow
from seba.helpline import queries as helpline_queries
from seba.helpline.queries import FooterLine
from seba.places.models import FACILITY_KINDS, OWNERSHIPS
from tests import factories
from tests.pages import bn

AS_OF = re.compile(r'<span class="muted">[^<]*</span>')
CARD = re.compile(r'<li class="hosp ([^"]*)" id="f-(\d+)">(.*?)</li>', re.S)


def cards(html: str) -> dict[int, tuple[str, str]]:
    """Facility id -> (card classes, card HTML), in page order."""
    return {int(m.group(2)): (m.group(1), m.group(3)) for m in CARD.finditer(html)}


def bed_table(card_html: str) -> tuple[list[str], dict[str, list[str]]]:
    """(column headers, {row header: cell texts}) of a card's bed table."""
    head = [unescape(h) for h in re.findall(r'<th scope="col">([^<]*)</th>', card_html)]
    rows = {}
    for row in re.findall(r"<tr><th scope=\"row\">(.*?)</tr>", card_html, re.S):
        label, _, rest = row.partition("</th>")
        cells = re.findall(r"<td[^>]*>(.*?)</td>", rest, re.S)
        rows[unescape(label)] = [re.sub(r"<[^>]+>", "", c) for c in cells]
    return head, rows


async def _two_districts(rt):
    await factories.districts(rt)
    kol = await factories.facility(
        rt, code="kol-a", name="Kolkata Alpha Hospital", name_bn="কলকাতা আলফা হাসপাতাল"
    )
    await factories.census(rt, kol, [("icu", "male", 10, 4), ("oxygen", "female", 30, 5)])
    dar = await factories.facility(
        rt,
        code="dar-b",
        name="Darjeeling Beta Hospital",
        name_bn="দার্জিলিং বিটা হাসপাতাল",
        district_code="darjeeling",
        ownership="private",
        kind="private_hospital",
        phones=["0354 225 4218"],
        lat=27.04,
        lon=88.26,
    )
    await factories.census(rt, dar, [("general", "any", 8, 8)])
    return kol, dar


async def test_bengali_by_default(rt, client):
    kol, _ = await _two_districts(rt)
    r = await client.get("/")
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/html")
    assert '<html lang="bn">' in r.text
    assert "<h1>হাসপাতালে খালি শয্যা</h1>" in r.text
    assert "কলকাতা আলফা হাসপাতাল" in r.text and "Kolkata Alpha Hospital" not in r.text
    card = cards(r.text)[kol.id][1]
    assert "সরকারি" in card and "কলকাতা" in card  # ownership and district in Bengali
    assert '<span class="n">৩১</span>' in card  # 6 + 25 free, in Bengali digits
    assert r.headers["cache-control"] == "no-cache"


async def test_english_one_click_away_and_remembered(rt, client):
    await _two_districts(rt)
    bn = await client.get("/?district=kolkata")
    assert 'href="/?district=kolkata&amp;lang=en"' in bn.text
    r = await client.get("/?district=kolkata&lang=en")
    assert '<html lang="en">' in r.text
    assert "<h1>Hospital bed availability</h1>" in r.text
    assert "Kolkata Alpha Hospital" in r.text
    assert "seba_lang=en" in r.headers["set-cookie"]
    again = await client.get("/")  # the client keeps the cookie, like a browser
    assert '<html lang="en">' in again.text
    back = await client.get("/?lang=bn")
    assert '<html lang="bn">' in back.text
    assert '<html lang="bn">' in (await client.get("/")).text


async def test_district_filter_shows_only_that_district(rt, client):
    kol, dar = await _two_districts(rt)
    r = await client.get("/?district=darjeeling")
    assert list(cards(r.text)) == [dar.id]
    assert '<option value="darjeeling" selected>দার্জিলিং</option>' in r.text
    r = await client.get("/?district=kolkata")
    assert list(cards(r.text)) == [kol.id]


async def test_empty_form_fields_mean_any(rt, client):
    kol, dar = await _two_districts(rt)
    r = await client.get("/?district=&ownership=&bed_type=&sex=&covid=&q=&near=&limit=")
    assert r.status_code == 200
    assert set(cards(r.text)) == {kol.id, dar.id}


async def test_bed_type_and_sex_filters_narrow_the_bed_rows(rt, client):
    kol, dar = await _two_districts(rt)
    head, rows = bed_table(cards((await client.get("/?lang=en")).text)[kol.id][1])
    assert head == ["Bed type", "Men", "Women"]
    assert rows == {"With oxygen": ["–", "25/30"], "ICU": ["6/10", "–"]}

    r = await client.get("/?lang=en&bed_type=icu")
    assert list(cards(r.text)) == [kol.id]  # Darjeeling has no ICU pool
    head, rows = bed_table(cards(r.text)[kol.id][1])
    assert head == ["Bed type", "Men"] and rows == {"ICU": ["6/10"]}
    assert '<span class="n">6</span>' in cards(r.text)[kol.id][1]

    r = await client.get("/?lang=en&sex=female")
    found = cards(r.text)
    assert set(found) == {kol.id, dar.id}  # a mixed pool serves women too
    assert bed_table(found[kol.id][1]) == (["Bed type", "Women"], {"With oxygen": ["25/30"]})
    assert bed_table(found[dar.id][1]) == (["Bed type", "Anyone"], {"General": ["0/8"]})


async def test_other_filters_work_without_javascript(rt, client):
    kol, dar = await _two_districts(rt)
    assert list(cards((await client.get("/?ownership=private")).text)) == [dar.id]
    assert list(cards((await client.get("/?available_only=true")).text)) == [kol.id]
    assert list(cards((await client.get("/?q=বিটা")).text)) == [dar.id]
    assert list(cards((await client.get("/?q=alpha")).text)) == [kol.id]
    assert list(cards((await client.get("/?covid=false")).text)) == []
    # Nearest first, with the distance shown.
    r = await client.get("/?near=27.0,88.2&lang=en")
    assert list(cards(r.text)) == [dar.id, kol.id]
    assert "km away" in cards(r.text)[dar.id][1]


async def test_paging_links_keep_the_filter(rt, client):
    kol, dar = await _two_districts(rt)
    first = await client.get("/?limit=1&lang=en")
    assert list(cards(first.text)) == [kol.id]  # most free beds first
    assert 'href="/?limit=1&amp;offset=1" rel="next"' in first.text
    assert "Page 1 of 2" in first.text
    second = await client.get("/?limit=1&offset=1&lang=en")
    assert list(cards(second.text)) == [dar.id]
    assert 'href="/?limit=1" rel="prev"' in second.text
    assert 'name="limit" value="1"' in second.text  # the form keeps the page size


async def test_an_offset_past_the_end_shows_the_last_page(rt, client):
    """``/?offset=999999`` (a kept link, a typed address) is the last page, numbered so, on the
    fast path (cookie language) and through the route (``lang=``) alike."""
    _kol, dar = await _two_districts(rt)
    for url in ("/?limit=1&offset=999999&lang=en", "/?limit=1&offset=999999"):
        r = await client.get(url)
        assert r.status_code == 200
        assert list(cards(r.text)) == [dar.id]
        assert "Page 2 of 2" in r.text or bn("Page {page} of {pages}", page=2, pages=2) in r.text
        assert 'href="/?limit=1" rel="prev"' in r.text and 'rel="next"' not in r.text
    listed = await client.get("/beds/list?limit=1&offset=50")
    assert list(cards(listed.text)) == [dar.id]


@pytest.mark.parametrize(
    ("free", "band"), [(0, "pink"), (1, "blue"), (20, "blue"), (21, "green"), (150, "green")]
)
async def test_colour_band_per_free_count(rt, client, free, band):
    await factories.districts(rt)
    fac = await factories.facility(rt)
    await factories.census(rt, fac, [("general", "male", 200, 200 - free)])
    classes, card = cards((await client.get("/")).text)[fac.id]
    assert f"hosp-{band}" in classes.split()
    assert f'class="free band band-{band}"' in card


async def test_old_census_is_marked_stale(rt, client):
    await factories.districts(rt)
    fresh = await factories.facility(rt, name_bn="নতুন তথ্যের হাসপাতাল")
    await factories.census(rt, fresh, [("general", "male", 10, 2)])
    old = await factories.facility(rt, name_bn="পুরোনো তথ্যের হাসপাতাল")
    await bed_service.update_census(
        rt,
        actor=SYSTEM,
        facility_id=old.id,
        census=CensusUpdate(
            version=0, pools=[PoolCensus(bed_type="general", sex="male", total=10, occupied=2)]
        ),
        as_of=utcnow() - timedelta(hours=7),
    )
    never = await factories.facility(rt)
    found = cards((await client.get("/")).text)
    assert "is-stale" not in found[fresh.id][0] and 'class="stale"' not in found[fresh.id][1]
    assert "is-stale" in found[old.id][0]
    assert "⚠ পুরোনো তথ্য: ৬ ঘণ্টার বেশি হালনাগাদ হয়নি" in found[old.id][1]
    assert "হালনাগাদ: " in found[old.id][1]
    assert "কখনও হালনাগাদ হয়নি" in found[never.id][1] and "is-stale" in found[never.id][0]
    en = cards((await client.get("/?lang=en")).text)
    assert "Old data: not updated for over 6 hours" in en[old.id][1]


async def test_tap_to_call_and_directions(rt, client):
    kol, dar = await _two_districts(rt)
    found = cards((await client.get("/")).text)
    assert 'href="tel:03323412600"' in found[kol.id][1]
    assert "০৩৩ ২৩৪১ ২৬০০" in found[kol.id][1]
    assert 'href="tel:03542254218"' in found[dar.id][1]
    assert (
        'href="https://www.google.com/maps/dir/?api=1&amp;destination=27.04%2C88.26"'
        in found[dar.id][1]
    )


async def test_district_totals(rt, client):
    await _two_districts(rt)
    r = await client.get("/?lang=en")
    totals = r.text[r.text.index('id="district-totals"') :]
    row = re.search(r">Darjeeling</a></th>(.*?)</tr>", totals, re.S).group(1)
    assert re.findall(r">(\d+)<", row) == ["1", "0", "8", "0"]  # hospitals, free, total, stale
    row = re.search(r">Kolkata</a></th>(.*?)</tr>", totals, re.S).group(1)
    assert re.findall(r">(\d+)<", row) == ["1", "31", "40", "0"]
    foot = re.search(r"<tfoot>(.*?)</tfoot>", totals, re.S).group(1)
    assert re.findall(r">(\d+)<", foot) == ["2", "31", "48", "0"]
    # Filtered by a bed type, the totals are that type's.
    r = await client.get("/?lang=en&bed_type=oxygen")
    totals = r.text[r.text.index('id="district-totals"') :]
    row = re.search(r">Kolkata</a></th>(.*?)</tr>", totals, re.S).group(1)
    assert re.findall(r">(\d+)<", row) == ["1", "25", "30", "0"]


async def test_results_fragment_is_only_the_results_and_follows_changes(rt, client):
    kol, _ = await _two_districts(rt)
    r = await client.get("/beds/list?district=kolkata")
    assert r.status_code == 200
    assert "<html" not in r.text and "<form" not in r.text
    assert list(cards(r.text)) == [kol.id]
    assert '<span class="n">৩১</span>' in r.text
    await factories.census(rt, kol, [("icu", "male", 10, 10)])
    r = await client.get("/beds/list?district=kolkata")
    assert '<span class="n">২৫</span>' in r.text


@pytest.fixture
def card_renders(monkeypatch) -> list[int]:
    """The ids of the hospitals whose card is rendered from here on, in order."""
    rendered: list[int] = []
    render = jinja2.Template.render

    def counted(self, *args, **kwargs):
        if self.name == results_pages.CARD_TEMPLATE:
            rendered.append(args[0]["h"]["id"])
        return render(self, *args, **kwargs)

    monkeypatch.setattr(jinja2.Template, "render", counted)
    return rendered


async def test_a_census_renders_again_only_the_card_it_changed(rt, client, card_renders):
    """Cards are kept with their snapshot rows: after a census, the next page renders the
    changed hospital's card and reuses every other one, and shows the new numbers."""
    kol, dar = await _two_districts(rt)
    other = await factories.facility(rt, code="kol-c", name_bn="কলকাতা গামা হাসপাতাল")
    await factories.census(rt, other, [("general", "male", 5, 1)])
    rendered = card_renders
    rendered.clear()
    before = cards((await client.get("/")).text)
    assert sorted(rendered) == sorted([kol.id, dar.id, other.id])
    assert '<span class="n">৩১</span>' in before[kol.id][1]
    # A bed type filter counts other beds: its own cards, once.
    rendered.clear()
    await client.get("/?bed_type=icu")
    assert rendered == [kol.id]

    rendered.clear()
    await factories.census(rt, kol, [("icu", "male", 10, 10), ("oxygen", "female", 30, 5)])
    after = cards((await client.get("/")).text)
    assert rendered == [kol.id]
    assert '<span class="n">২৫</span>' in after[kol.id][1]
    assert after[dar.id] == before[dar.id] and after[other.id] == before[other.id]
    assert list(after) == [kol.id, other.id, dar.id]  # most free beds first, as before
    rendered.clear()
    icu = cards((await client.get("/?bed_type=icu")).text)
    assert rendered == [kol.id]
    assert '<span class="n">০</span>' in icu[kol.id][1]
    # The live part answers with the same cards; the other language renders its own, once.
    rendered.clear()
    assert cards((await client.get("/beds/list")).text) == after
    assert rendered == []
    await client.get("/?lang=en")
    await client.get("/beds/list?district=kolkata&lang=en")
    assert sorted(rendered) == sorted([kol.id, dar.id, other.id])


async def test_district_totals_are_kept_per_version_until_the_clock_moves_them(rt, client):
    kol, _ = await _two_districts(rt)
    snap = await public.snapshot(rt)
    stale_after = rt.settings.stale_after_s
    now = utcnow().timestamp()
    first = results_pages.district_totals(rt, snap, now, stale_after)
    assert results_pages.district_totals(rt, snap, now + 60, stale_after) is first
    # Past the threshold both facilities are stale: the totals are counted again.
    later = {
        d["code"]: d
        for d in results_pages.district_totals(rt, snap, now + stale_after + 1, stale_after)
    }
    assert later["kolkata"]["stale_facilities"] == later["darjeeling"]["stale_facilities"] == 1
    await factories.census(rt, kol, [("icu", "male", 10, 10)])
    snap = await public.snapshot(rt)
    new = {d["code"]: d for d in results_pages.district_totals(rt, snap, now, stale_after)}
    assert (new["kolkata"]["available"], new["kolkata"]["stale_facilities"]) == (25, 0)
    r = await client.get("/?lang=en&district=darjeeling")
    totals = r.text[r.text.index('id="district-totals"') :]
    row = re.search(r">Kolkata</a></th>(.*?)</tr>", totals, re.S).group(1)
    assert re.findall(r">(\d+)<", row) == ["1", "25", "40", "0"]
    foot = re.search(r"<tfoot>(.*?)</tfoot>", totals, re.S).group(1)
    assert re.findall(r">(\d+)<", foot) == ["2", "25", "48", "0"]


async def test_the_frame_is_kept_across_censuses_and_follows_the_footer(rt, client, monkeypatch):
    """The page around the results is rendered once per language and filter: a census renders
    only the results again; the page is what a whole render gives; a new footer is shown."""
    kol, _ = await _two_districts(rt)
    rendered: list[str] = []
    render = jinja2.Template.render

    def counted(self, *args, **kwargs):
        rendered.append(self.name)
        return render(self, *args, **kwargs)

    monkeypatch.setattr(jinja2.Template, "render", counted)
    await client.get("/?district=kolkata")
    await factories.census(rt, kol, [("icu", "male", 10, 10)])
    rendered.clear()
    page = await client.get("/?district=kolkata")
    assert "beds/availability.html" not in rendered and "beds/_results.html" in rendered
    assert cards(page.text)[kol.id][1].count('<span class="n">২৫</span>') == 1
    listed = await client.get("/beds/list?district=kolkata")
    assert f'data-etag="{unescape(listed.headers["etag"])}"' in unescape(page.text)
    assert f"\n{listed.text}\n</div>" in page.text

    def whole() -> None:  # nothing kept: the page rendered in one piece
        rt.caches.pop("beds.views")
        rt.caches.pop(pages.FRAMES_CACHE)

    whole()
    again = await client.get("/?district=kolkata")
    assert AS_OF.sub("", again.text) == AS_OF.sub("", page.text)
    line = FooterLine("test", "Test line", "পরীক্ষার লাইন", "24x7", "২৪x৭", "1800 000", "tel:1800000")
    monkeypatch.setattr(helpline_queries.FOOTER, "lines", (line,))
    rt.caches.pop("beds.views")  # the same version: only a new page entry shows it
    assert "পরীক্ষার লাইন" in (await client.get("/?district=kolkata")).text


async def test_cards_near_a_place_are_kept_and_carry_each_requests_distance(
    rt, client, card_renders
):
    kol, dar = await _two_districts(rt)
    rendered = card_renders
    rendered.clear()
    await client.get("/")
    rendered.clear()
    first = cards((await client.get("/?near=27.0,88.3")).text)
    assert list(first) == [dar.id, kol.id] and sorted(rendered) == sorted([kol.id, dar.id])
    # Another phone, another place: the same kept cards, its own distances.
    rendered.clear()
    other = cards((await client.get("/?near=22.6,88.4")).text)
    assert rendered == [] and list(other) == [kol.id, dar.id]
    for found, place in ((first, (27.0, 88.3)), (other, (22.6, 88.4))):
        for facility in (kol, dar):
            km = _haversine_km(place, (facility.lat, facility.lon))
            assert f"{bn_digits(f'{round(km, 2):.1f}')} কিমি দূরে" in found[facility.id][1]
    # The list without a place keeps its own cards, without a distance.
    assert "কিমি দূরে" not in cards((await client.get("/")).text)[dar.id][1]
    # A census on one hospital renders its card near a place again, and only its.
    await factories.census(rt, kol, [("icu", "male", 10, 10)])
    rendered.clear()
    await client.get("/?near=22.7,88.2")
    assert rendered == [kol.id]


def _haversine_km(a: tuple[float, float], b: tuple[float, float]) -> float:
    lat1, lon1, lat2, lon2 = map(math.radians, (*a, *b))
    h = math.sin((lat2 - lat1) / 2) ** 2
    h += math.cos(lat1) * math.cos(lat2) * math.sin((lon2 - lon1) / 2) ** 2
    return 2 * 6371.0088 * math.asin(math.sqrt(h))


async def test_answered_from_stored_bytes_gzip_etag_and_304(rt, client):
    kol, _ = await _two_districts(rt)
    for path in ("/?district=kolkata", "/beds/list?district=kolkata"):
        r = await client.get(path, headers={"Accept-Encoding": "gzip"})
        assert r.status_code == 200 and r.headers["content-encoding"] == "gzip"
        assert "Cookie" in r.headers["vary"] and r.headers["cache-control"] == "no-cache"
        etag = r.headers["etag"]
        same = await client.get(path, headers={"If-None-Match": etag})
        assert same.status_code == 304
        # Another language is other bytes.
        en = await client.get(path + "&lang=en", headers={"If-None-Match": etag})
        assert en.status_code == 200 and en.headers["etag"] != etag
        await client.get("/?lang=bn")
    # A census change is a new version: new bytes at once.
    etag = (await client.get("/beds/list?district=kolkata")).headers["etag"]
    await factories.census(rt, kol, [("icu", "male", 10, 9)])
    r = await client.get("/beds/list?district=kolkata", headers={"If-None-Match": etag})
    assert r.status_code == 200 and '<span class="n">২৬</span>' in r.text


@pytest.mark.parametrize(
    ("query", "field", "message_bn"),
    [
        ("bed_type=sofa", "bed_type", "তালিকা থেকে শয্যার ধরন বেছে নিন।"),
        ("near=abc", "near", "অবস্থান লিখুন অক্ষাংশ,দ্রাঘিমাংশ হিসেবে"),
        ("near=91,88", "near", "অবস্থান লিখুন অক্ষাংশ,দ্রাঘিমাংশ হিসেবে"),
        ("limit=0", "limit", "প্রতি পৃষ্ঠায় হাসপাতালের সংখ্যা ১ থেকে ৫০০-র মধ্যে হতে হবে।"),
        ("limit=abc", "limit", "প্রতি পৃষ্ঠায় হাসপাতালের সংখ্যা"),
        ("offset=-1", "offset", "পৃষ্ঠা নম্বরটি ঠিক নেই।"),
        ("district=atlantis", "district", "তালিকা থেকে একটি জেলা বেছে নিন।"),
        ("district=KOL%20KATA", "district", "তালিকা থেকে একটি জেলা বেছে নিন।"),
        ("covid=maybe", "covid", "তালিকা থেকে কোভিড বা অন্যান্য হাসপাতাল বেছে নিন।"),
        ("sex=other", "sex", "শয্যা পুরুষ না মহিলাদের জন্য, তা বেছে নিন।"),
        ("ownership=army", "ownership", "তালিকা থেকে হাসপাতালের ধরন বেছে নিন।"),
        ("available_only=perhaps", "available_only", "বাছাইটি ঠিক নেই।"),
        ("q=" + "x" * 101, "q", "হাসপাতালের নাম খুব লম্বা"),
    ],
)
async def test_bad_input_is_422_html_with_a_translated_message(
    rt, client, query, field, message_bn
):
    await _two_districts(rt)
    r = await client.get(f"/?{query}")
    assert r.status_code == 422
    assert r.headers["content-type"].startswith("text/html")
    assert '<html lang="bn">' in r.text and 'role="alert"' in r.text
    assert message_bn in r.text
    assert 'aria-invalid="true"' in r.text or field in ("limit", "offset")
    assert '<form class="filters"' in r.text  # the form again, to fix it
    assert 'id="results"' not in r.text
    fragment = await client.get(f"/beds/list?{query}")
    assert fragment.status_code == 422 and message_bn in fragment.text
    en = await client.get(f"/?{query}&lang=en")
    assert en.status_code == 422
    assert pages.FIELD_ERRORS[field] in unescape(en.text)


@pytest.mark.parametrize(
    "query",
    [
        "limit=99999",
        "offset=99999999",
        "near=nan,nan",
        "near=inf,0",
        "near=22.5,88.3,1",
        "near=২২.৫৭,৮৮.৩৬",
        "q=%ff%fe",
        "q=%00",
        "q=%25%27%22<script>",
        "district=../../etc/passwd",
        "district=" + "a" * 41,
        "covid=2",
        "bed_type=ICU",
        "lang=fr",
        "district=kolkata&district=darjeeling",
        "offset=1e3",
        "limit=%20",
    ],
)
async def test_odd_input_never_500s(rt, client, query):
    await _two_districts(rt)
    for path in ("/", "/beds/list"):
        r = await client.get(f"{path}?{query}")
        assert r.status_code in (200, 422), (path, query, r.text[:300])
        assert r.headers["content-type"].startswith("text/html")
        assert "<script>" not in r.text.replace('<script src="/static/beds.js" defer>', "")


def test_every_code_has_a_label_translated_to_bengali():
    expected = {"bed_type": BED_TYPES, "sex": SEXES, "ownership": OWNERSHIPS}
    expected["kind"] = FACILITY_KINDS
    for group, codes in expected.items():
        assert set(results_pages.LABELS[group]) == set(codes), group
    messages = [m for group in results_pages.LABELS.values() for m in group.values()]
    messages += pages.FIELD_ERRORS.values()
    untranslated = [m for m in messages if gettext("bn", m) == m]
    assert untranslated == []
    assert set(pages.FIELD_ERRORS) == set(pages.FILTER_PARAMS)
    assert str(MAX_LIMIT) in pages.FIELD_ERRORS["limit"]


@pytest.mark.parametrize(
    "headers",
    [
        [],
        [(b"cookie", b"seba_lang=en")],
        [(b"cookie", b"a=1; seba_lang=en; b=2")],
        [(b"cookie", b'seba_lang="en"')],
        [(b"cookie", b"seba_lang=fr")],
        [(b"cookie", b"seba_lang=")],
        [(b"cookie", b"x=seba_lang")],
        [(b"cookie", b"seba_lang=en"), (b"cookie", b"seba_lang=bn")],
        [(b"cookie", b"seba_lang=bn"), (b"cookie", b"other=1"), (b"cookie", b"seba_lang=en")],
        [(b"cookie", b"seba_lang=en"), (b"cookie", b"seba_lang=xx")],
        [(b"accept-language", b"en-US,en;q=0.9")],
        [(b"accept-language", b"en"), (b"cookie", b"theme=dark")],
        [(b"cookie", b"seba_lang=en;seba_lang=bn")],
        [(b"x-cookie", b"seba_lang=en")],
    ],
)
def test_the_fast_paths_language_is_the_routes(headers):
    """The fast path reads the language from the raw headers: the same as ``request_language``
    for any page request it answers (no ``lang`` parameter)."""
    for path in ("/", "/beds/list"):
        scope = {"type": "http", "method": "GET", "path": path, "query_string": b"district=x"}
        scope["headers"] = headers
        assert pages.page_language(scope) == request_language(Request(scope))
