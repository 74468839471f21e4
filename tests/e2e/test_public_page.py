"""The public bed page in Chromium: filters, colour bands, language switch, live updates."""

from __future__ import annotations

import re

import httpx
import pytest
from playwright.sync_api import expect

from tests.factories import PASSWORD

pytestmark = [pytest.mark.browser, pytest.mark.server]


def card(page, facility_id: int):
    return page.locator(f"li#f-{facility_id}")


def test_filter_colour_band_and_english(seeded_server, phone):
    server, seeded = seeded_server
    ids = seeded.facility_ids
    page = phone
    page.goto(server.url + "/")
    expect(page.locator("html")).to_have_attribute("lang", "bn")
    expect(page.locator("h1")).to_have_text("হাসপাতালে খালি শয্যা")
    expect(page.locator("li.hosp")).to_have_count(5)

    page.get_by_label("জেলা").select_option("kolkata")
    page.get_by_label("শয্যার ধরন").select_option("oxygen")
    page.get_by_role("button", name="হাসপাতাল দেখুন").click()
    page.wait_for_url(re.compile(r"district=kolkata.*bed_type=oxygen"))

    # Only Kolkata hospitals with oxygen beds, most free first.
    expect(page.locator("li.hosp h2")).to_have_text(["কলকাতা সবুজ হাসপাতাল", "কলকাতা নীল হাসপাতাল"])
    green = card(page, ids["kol-green"]).locator(".free")
    expect(green).to_have_class(re.compile(r"\bband-green\b"))
    expect(green.locator(".n")).to_have_text("৩০")
    blue = card(page, ids["kol-blue"]).locator(".free")
    expect(blue).to_have_class(re.compile(r"\bband-blue\b"))
    expect(blue.locator(".n")).to_have_text("৫")
    # The state's band colours, as painted.
    assert green.evaluate("e => getComputedStyle(e).backgroundColor") == "rgb(214, 245, 221)"
    assert blue.evaluate("e => getComputedStyle(e).backgroundColor") == "rgb(220, 235, 251)"

    page.get_by_role("link", name="English").click()
    expect(page.locator("html")).to_have_attribute("lang", "en")
    expect(page.locator("h1")).to_have_text("Hospital bed availability")
    assert "district=kolkata" in page.url and "bed_type=oxygen" in page.url
    expect(page.locator("li.hosp h2")).to_have_text(
        ["Kolkata Green Hospital", "Kolkata Blue Hospital"]
    )
    expect(card(page, ids["kol-green"]).locator(".free .n")).to_have_text("30")
    # Remembered: a fresh visit without ?lang= stays English.
    page.goto(server.url + "/")
    expect(page.locator("h1")).to_have_text("Hospital bed availability")


def test_census_through_the_api_appears_without_reload(seeded_server, phone):
    server, seeded = seeded_server
    facility_id = seeded.facility_ids["how-live"]
    page = phone
    page.goto(server.url + "/?district=howrah&bed_type=oxygen")
    badge = card(page, facility_id).locator(".free")
    expect(badge.locator(".n")).to_have_text("৩০")
    # The event stream is open (the page says so) before the change is made.
    expect(page.locator("#live-status")).to_have_text("সরাসরি হালনাগাদ চালু")
    page.evaluate("window.notReloaded = true")

    with httpx.Client(base_url=server.url, timeout=10) as api:
        token = api.post(
            "/api/v1/auth/token",
            json={"username": seeded.staff_username, "password": PASSWORD},
        ).json()["access_token"]
        version = api.get(f"/api/v1/facilities/{facility_id}").json()["version"]
        r = api.put(
            f"/api/v1/facilities/{facility_id}/beds",
            headers={"Authorization": f"Bearer {token}"},
            json={
                "version": version,
                "pools": [{"bed_type": "oxygen", "sex": "male", "total": 40, "occupied": 40}],
            },
        )
        assert r.status_code == 200, r.text

    expect(badge.locator(".n")).to_have_text("০")
    expect(badge).to_have_class(re.compile(r"\bband-pink\b"))
    expect(page.locator("#live-status")).to_have_text("এইমাত্র হালনাগাদ হয়েছে")
    assert page.evaluate("window.notReloaded") is True
