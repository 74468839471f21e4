"""Browser tests: a real ``seba serve`` on a seeded SQLite file, driven by Debian's Chromium.

SQLite only: the data tests already cover PostgreSQL; here the browser is what is under test.
Never ``playwright install``: the system Chromium is launched by path.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import pytest

from seba.cli import upgrade_database
from seba.core.runtime import build_runtime
from seba.settings import Settings
from tests import factories
from tests.servers import Server, running_server

CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]


@dataclass
class Seeded:
    """The seeded hospitals (code -> facility id) and the bed manager of ``how-live``."""

    facility_ids: dict[str, int]
    staff_username: str


async def _seed(url: str) -> Seeded:
    rt = build_runtime(
        Settings(database_url=url, env="test", redis_url=None, secret_key="test-secret")
    )
    try:
        await factories.districts(rt)
        # code, English name, Bengali name, district, pools (bed_type, sex, total, occupied)
        hospitals = [
            ("kol-green", "Kolkata Green Hospital", "কলকাতা সবুজ হাসপাতাল", "kolkata",
             [("oxygen", "male", 40, 10), ("icu", "male", 10, 2)]),
            ("kol-blue", "Kolkata Blue Hospital", "কলকাতা নীল হাসপাতাল", "kolkata",
             [("oxygen", "female", 12, 7)]),
            ("kol-general", "Kolkata General Hospital", "কলকাতা সাধারণ হাসপাতাল", "kolkata",
             [("general", "any", 20, 20)]),
            ("dar-pink", "Darjeeling Pink Hospital", "দার্জিলিং গোলাপি হাসপাতাল", "darjeeling",
             [("oxygen", "any", 10, 10)]),
            # Changed by the live-update test; alone in its district so no other test sees it.
            ("how-live", "Howrah Live Hospital", "হাওড়া লাইভ হাসপাতাল", "howrah",
             [("oxygen", "male", 40, 10)]),
        ]  # fmt: skip
        ids = {}
        for code, name, name_bn, district, pools in hospitals:
            fac = await factories.facility(
                rt, code=code, name=name, name_bn=name_bn, district_code=district
            )
            await factories.census(rt, fac, pools)
            ids[code] = fac.id
        staff = await factories.user(rt, "hospital_staff", "facility:how-live")
        return Seeded(facility_ids=ids, staff_username=staff.username)
    finally:
        await rt.close()


@pytest.fixture(scope="module")
def seeded_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Server, Seeded]]:
    """One server per test module (starting one takes seconds); tests that change beds change
    only hospitals no other test looks at."""
    tmp_path = tmp_path_factory.mktemp("e2e")
    url = f"sqlite+aiosqlite:///{tmp_path / 'seba.db'}"
    # Playwright's sync API keeps an event loop running in this thread once the browser is up,
    # and migrating and seeding need asyncio.run: do them on a thread of their own.
    with ThreadPoolExecutor(1) as pool:
        pool.submit(upgrade_database, url).result()
        seeded = pool.submit(asyncio.run, _seed(url)).result()
    with running_server(url, tmp_path=tmp_path) as server:
        yield server, seeded


# Module scope, not session: while Playwright's sync API is up it keeps an event loop running
# in this thread, and the async tests of the modules after this one need the thread back.
@pytest.fixture(scope="module")
def browser(chromium_path: str):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium_path, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture
def phone(browser):
    """A page at phone width in a Bengali-speaking browser (Accept-Language decides otherwise)."""
    context = browser.new_context(viewport={"width": 390, "height": 844}, locale="bn-IN")
    page = context.new_page()
    page.set_default_timeout(10_000)
    try:
        yield page
    finally:
        context.close()
