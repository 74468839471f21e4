"""A hospital's own page in Chromium at phone width: reached from its name on the list, its
number to tap, the map, fresh beds, the way to ask for a bed, and English one click away."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

pytestmark = [pytest.mark.browser, pytest.mark.server]


def test_from_the_list_to_the_hospital_and_on_to_ask_for_a_bed(seeded_server, phone):
    server, seeded = seeded_server
    hospital_id = seeded.facility_ids["kol-green"]
    page = phone
    page.goto(server.url + "/?district=kolkata")
    page.locator(f"li#f-{hospital_id} h2 a").click()
    page.wait_for_url(re.compile(rf"/hospitals/{hospital_id}$"))

    expect(page.locator("html")).to_have_attribute("lang", "bn")
    expect(page.locator("h1")).to_have_text("কলকাতা সবুজ হাসপাতাল")
    # The hospital's own number, not the helpline (which only the footer carries).
    calls = page.locator("article a[href^='tel:']")
    expect(calls).to_have_count(1)
    expect(calls).to_have_attribute("href", "tel:03323412600")
    expect(calls).to_contain_text("০৩৩ ২৩৪১ ২৬০০")
    expect(page.locator("article a[href^='geo:']")).to_have_attribute(
        "href", re.compile(r"^geo:22\.57000,88\.36000\?q=")
    )
    expect(page.locator("article a[href^='https://www.openstreetmap.org/']")).to_have_count(1)
    # Beds by type and sex, fresh (just reported), and what it offers.
    expect(page.locator("table.beds tbody tr")).to_have_count(2)
    expect(page.locator("p.updated")).to_contain_text(re.compile(r"হালনাগাদ: (এইমাত্র|.* মিনিট আগে)"))
    expect(page.locator("ul.offers li")).to_have_count(3)  # Covid care, oxygen, ICU
    # Nothing spills sideways on a phone.
    assert page.evaluate("document.documentElement.scrollWidth") <= 390

    page.get_by_role("link", name="English").click()
    expect(page.locator("html")).to_have_attribute("lang", "en")
    expect(page.locator("h1")).to_have_text("Kolkata Green Hospital")
    expect(page.locator("p.updated")).to_contain_text("Updated")

    page.locator(".ask a.button").click()
    page.wait_for_url(re.compile(r"/admission"))
