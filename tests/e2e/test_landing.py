"""Where staff land after logging in, in Chromium at phone size and in Bengali: the CHO on the
teleconsultation desk, the hub doctor on the doctor's console (``access.workplace``); the
console home names their role and their place, never a code.

Screenshots ``landing-cho.png`` and ``landing-doctor.png`` go to ``SEBA_E2E_SCREENS`` (the
project keeps them in ``docs/screenshots``) when it is set, else to the test's temporary
directory.
"""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from tests.e2e.staff import log_in
from tests.e2e.test_teleconsult import screens, tele_server  # noqa: F401 (fixtures)

pytestmark = [pytest.mark.browser, pytest.mark.server]


def _phone(browser) -> tuple[object, Page]:
    context = browser.new_context(viewport={"width": 390, "height": 844}, locale="bn-IN")
    page = context.new_page()
    page.set_default_timeout(15_000)
    return context, page


def test_cho_and_doctor_land_on_their_consoles_in_bengali(tele_server, browser, screens):  # noqa: F811
    server, seeded = tele_server
    errors: list[str] = []
    for username, lands, heading, role, place, shot in (
        (
            seeded.cho,
            "/staff/tele",
            "টেলিকনসালটেশন",
            "কমিউনিটি হেলথ অফিসার (সিএইচও)",
            "স্পোক: স্বাস্থ্য ও সুস্থতা কেন্দ্র",
            "landing-cho.png",
        ),
        (
            seeded.doctor,
            "/staff/tele/doctor",
            "ডাক্তারের কনসোল",
            "হাব ডাক্তার",
            "হাব: ",
            "landing-doctor.png",
        ),
    ):
        context, page = _phone(browser)
        page.on("pageerror", lambda error: errors.append(str(error)))
        try:
            log_in(page, server, username, lands=lands)
            assert page.evaluate("document.documentElement.lang") == "bn"
            expect(page.locator("h1")).to_contain_text(heading)
            page.screenshot(path=str(screens / shot), full_page=False)
            # The console home: role and place by name, and the way back to the console.
            page.goto(server.url + "/staff")
            who = page.locator(".console-whoami")
            expect(who.locator(".console-role")).to_have_text(role)
            expect(who.locator(".console-scope")).to_contain_text(place)
            assert not re.search(r"\b(spoke|hub|district):", who.inner_text())
            page.locator(f'a.console-big-link[href="{lands}"]').click()
            page.wait_for_url(server.url + lands)
        finally:
            context.close()
    assert errors == []
