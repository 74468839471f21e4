"""A hospital's public page, ``/hospitals/{id}``: Bengali first, its own numbers to tap, a map
link, beds by type and sex with how fresh they are, what it offers, how to ask for a bed;
answered from the in-memory availability like the list (no query of its own), with an ETag."""

from __future__ import annotations

import re
from datetime import timedelta

from seba.beds import hospital_pages
from seba.beds import service as bed_service
from seba.beds.schemas import CensusUpdate, PoolCensus
from seba.core.access import SYSTEM
from seba.core.i18n import gettext
from seba.core.types import utcnow
from seba.vocabulary import BED_TYPE_LABELS
from tests import factories
from tests.beds.test_pages import bed_table, cards
from tests.core.test_fast_path import _counting_queries

HELPLINE_TEL = "tel:1800313444222"
WORDS = BED_TYPE_LABELS


def bn(text: str) -> str:
    return gettext("bn", text)


async def _hospital(rt):
    await factories.districts(rt)
    fac = await factories.facility(
        rt,
        code="nrs",
        name="Nil Ratan Sircar Medical College and Hospital (NRS)",
        name_bn="নীলরতন সরকার মেডিক্যাল কলেজ ও হাসপাতাল",
        address="Sealdah, Kolkata, West Bengal",
        address_bn="শিয়ালদহ, কলকাতা, পশ্চিমবঙ্গ",
        emergency_phone="033 2286 0034",
        reception_phone="+91 33 2286 0033",
        phones=["98300 12345"],
        lat=22.5651,
        lon=88.3692,
    )
    await bed_service.update_census(
        rt,
        actor=SYSTEM,
        facility_id=fac.id,
        census=CensusUpdate(
            version=0,
            pools=[
                PoolCensus(bed_type="oxygen", sex="male", total=20, occupied=5),
                PoolCensus(bed_type="oxygen", sex="female", total=20, occupied=20),
                PoolCensus(bed_type="icu", sex="any", total=6, occupied=2),
                PoolCensus(bed_type="paediatric", sex="any", total=4, occupied=0),
            ],
        ),
        as_of=utcnow() - timedelta(minutes=12, seconds=5),
    )
    return fac


def _main(html: str) -> str:
    """The page without its footer (which keeps the state helpline for everyone)."""
    return html.split('<footer class="foot">')[0]


async def test_the_bengali_page_has_everything_a_family_needs(rt, client):
    fac = await _hospital(rt)
    r = await client.get(f"/hospitals/{fac.id}")
    assert r.status_code == 200 and '<html lang="bn">' in r.text
    page = _main(r.text)
    assert '<h1 id="hosp-name">নীলরতন সরকার মেডিক্যাল কলেজ ও হাসপাতাল</h1>' in page
    assert "শিয়ালদহ, কলকাতা, পশ্চিমবঙ্গ" in page and "Sealdah" not in page
    # Tap to call: the hospital's own numbers, emergency first; never the helpline.
    tels = re.findall(r'href="(tel:[^"]+)"', page)
    assert tels == ["tel:03322860034", "tel:03322860033", "tel:9830012345"]
    assert HELPLINE_TEL not in page
    assert 'জরুরি বিভাগ <span class="tel">০৩৩ ২২৮৬ ০০৩৪</span>' in page
    # The map: the phone's map app and OpenStreetMap, from the coordinates.
    assert 'href="geo:22.56510,88.36920?q=' in page
    assert "https://www.openstreetmap.org/?mlat=22.56510&amp;mlon=88.36920#map=17/" in page
    # Beds by type and sex, and how fresh.
    head, rows = bed_table(page)
    assert head == [bn("Bed type"), bn("Men"), bn("Women"), bn("Anyone")]
    assert rows[bn(WORDS["oxygen"])] == ["১৫/২০", "০/২০", "–"]
    assert "হালনাগাদ: ১২ মিনিট আগে" in page
    # What it offers, and how to ask for a bed.
    offers = re.search(r'<ul class="offers">(.*?)</ul>', page, re.S).group(1)
    assert bn("Covid care") in offers
    assert all(bn(WORDS[t]) in offers for t in ("oxygen", "icu", "paediatric"))
    assert bn(WORDS["hdu"]) not in offers and bn(WORDS["ventilator"]) not in offers
    assert 'href="/admission"' in page
    assert r.headers["etag"] and r.headers["cache-control"] == "no-cache"
    assert (
        await client.get(f"/hospitals/{fac.id}", headers={"If-None-Match": r.headers["etag"]})
    ).status_code == 304


async def test_english_one_click_away(rt, client):
    fac = await _hospital(rt)
    bn = await client.get(f"/hospitals/{fac.id}")
    assert f'href="/hospitals/{fac.id}?lang=en"' in bn.text
    r = await client.get(f"/hospitals/{fac.id}?lang=en")
    page = _main(r.text)
    assert '<html lang="en">' in r.text and "seba_lang=en" in r.headers["set-cookie"]
    assert "Nil Ratan Sircar Medical College and Hospital (NRS)" in page
    assert "Sealdah, Kolkata, West Bengal" in page and "শিয়ালদহ" not in page
    assert "Updated 12 min ago" in page and "Emergency line" in page


async def test_the_list_links_each_name_to_its_page_and_calls_the_hospital(rt, client):
    fac = await _hospital(rt)
    plain = await factories.facility(rt, code="plain", name_bn="সাধারণ হাসপাতাল", phones=[])
    await factories.census(rt, plain, [("general", "any", 4, 1)])
    listed = cards((await client.get("/")).text)
    card = listed[fac.id][1]
    assert f'<a href="/hospitals/{fac.id}">নীলরতন সরকার' in card
    assert "শিয়ালদহ, কলকাতা, পশ্চিমবঙ্গ" in card
    assert re.findall(r'href="(tel:[^"]+)"', card) == ["tel:03322860034"]
    # A hospital without a number of its own has no call button (no helpline instead).
    assert "tel:" not in listed[plain.id][1]
    page = _main((await client.get(f"/hospitals/{plain.id}")).text)
    assert "tel:" not in page and "এই হাসপাতাল এখনও কোনো ফোন নম্বর দেয়নি।" in page


async def test_unknown_hospital_is_not_found(rt, client):
    await _hospital(rt)
    assert (await client.get("/hospitals/999999")).status_code == 404
    assert (await client.get("/hospitals/0")).status_code == 422
    assert (await client.get("/hospitals/abc")).status_code == 422


async def test_served_from_memory_like_the_list(rt, client):
    fac = await _hospital(rt)
    assert (await client.get("/")).status_code == 200  # the snapshot is built
    with _counting_queries(rt) as statements:
        first = await client.get(f"/hospitals/{fac.id}")
        again = await client.get(f"/hospitals/{fac.id}")
    assert first.status_code == again.status_code == 200
    assert first.content == again.content  # kept, not rendered again
    assert not [s for s in statements if "facility" in s or "bed_pool" in s]
    # A census moves the data version: the page shows the new beds at once.
    await factories.census(rt, fac, [("icu", "any", 6, 6)])
    after = (await client.get(f"/hospitals/{fac.id}")).text
    assert "হালনাগাদ: এইমাত্র" in after and after != first.text


def test_age_words_and_when_they_change():
    assert hospital_pages.age_words("en", 30) == ("just now", 30)
    assert hospital_pages.age_words("bn", 12 * 60 + 5) == ("১২ মিনিট আগে", 55)
    assert hospital_pages.age_words("en", 3 * 3600 + 60) == ("3 h ago", 3540)
    assert hospital_pages.age_words("en", 3 * 86400)[0] == "3 days ago"
