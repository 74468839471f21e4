"""A person who follows a stale link sees a Seba page in Bengali, with a way on."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from playwright.sync_api import expect

pytestmark = [pytest.mark.browser, pytest.mark.server]


def test_a_stale_link_shows_a_bengali_page_with_a_way_on(seeded_server, phone, tmp_path: Path):
    server, _ = seeded_server
    page = phone
    response = page.goto(server.url + "/facility/40")
    assert response is not None and response.status == 404
    expect(page.locator("html")).to_have_attribute("lang", "bn")
    expect(page.locator("h1")).to_have_text("পাতাটি পাওয়া যায়নি")
    expect(page.get_by_role("link", name="হেল্পলাইনে ফোন করুন: ১৮০০-৩১৩-৪৪৪-২২২")).to_be_visible()
    shots = Path(os.environ.get("SEBA_E2E_SCREENS") or tmp_path)
    page.screenshot(path=str(shots / "error-404.png"), full_page=True)
    # The way on works: back to the bed list, in Bengali.
    page.get_by_role("link", name="খালি বেড দেখুন").click()
    expect(page.locator("h1")).to_have_text("হাসপাতালে খালি শয্যা")
    # The language switch keeps the reader where they were.
    page.goto(server.url + "/facility/40")
    page.get_by_role("link", name="English").click()
    expect(page.locator("h1")).to_have_text("Page not found")
