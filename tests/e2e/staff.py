"""What every browser test of the staff console does: log in through the Bengali login page."""

from __future__ import annotations

from playwright.sync_api import Page

from tests import factories
from tests.servers import Server


def log_in(page: Page, server: Server, username: str, lands: str = "/staff") -> None:
    """Sign in as ``username`` (the factories' password) and wait for where they land: the
    console home, or their workplace (a CHO's and a doctor's teleconsultation console)."""
    page.goto(server.url + "/staff/login")
    page.get_by_label("ইউজারনেম").fill(username)
    page.get_by_label("পাসওয়ার্ড").fill(factories.PASSWORD)
    page.get_by_role("button", name="লগ ইন করুন").click()
    page.wait_for_url(server.url + lands)
