"""Central referral in Chromium: a family asks for a bed with a code from the SMS, the control
room reserves it from the queue, the hospital's open page shows it arrive without a reload and
admits, and the public bed page counts one free bed fewer."""

from __future__ import annotations

import asyncio
import json
import re
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from seba.cli import upgrade_database
from seba.core.runtime import build_runtime
from seba.settings import Settings
from tests import factories
from tests.e2e.staff import log_in
from tests.servers import Server, running_server

pytestmark = [pytest.mark.browser, pytest.mark.server]

PHONE = "+919830012345"


@dataclass
class Seeded:
    facility_id: int
    operator: str
    ward: str


async def _seed(url: str) -> Seeded:
    rt = build_runtime(
        Settings(database_url=url, env="test", redis_url=None, secret_key="test-secret")
    )
    try:
        await factories.districts(rt)
        # The only hospital with oxygen beds for women: it is the queue's first suggestion.
        hospital = await factories.facility(
            rt,
            code="nadia-flow",
            name="Nadia Flow Hospital",
            name_bn="নদিয়া পরীক্ষা হাসপাতাল",
            district_code="nadia",
            lat=23.40,
            lon=88.50,
        )
        await factories.census(rt, hospital, [("oxygen", "female", 10, 4)])
        operator = await factories.user(rt, "control_room", "state")
        ward = await factories.user(rt, "hospital_staff", "facility:nadia-flow")
        return Seeded(facility_id=hospital.id, operator=operator.username, ward=ward.username)
    finally:
        await rt.close()


@pytest.fixture(scope="module")
def flow_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Server, Seeded, Path]]:
    tmp_path = tmp_path_factory.mktemp("referral-e2e")
    url = f"sqlite+aiosqlite:///{tmp_path / 'seba.db'}"
    sms_file = tmp_path / "sms.jsonl"
    # Playwright's sync API keeps an event loop in this thread: migrate and seed on another.
    with ThreadPoolExecutor(1) as pool:
        pool.submit(upgrade_database, url).result()
        seeded = pool.submit(asyncio.run, _seed(url)).result()
    env = {
        "SEBA_WORKER_IN_PROCESS": "true",
        "SEBA_WORKER_POLL_S": "0.2",
        "SEBA_SMS_FILE": str(sms_file),
    }
    with running_server(url, tmp_path=tmp_path, extra_env=env) as server:
        yield server, seeded, sms_file


def _code_from_sms(sms_file: Path, phone: str, timeout_s: float = 20.0) -> str:
    """The code the in-process worker handed to the console SMS provider for ``phone``."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if sms_file.exists():
            for line in reversed(sms_file.read_text(encoding="utf-8").splitlines()):
                message = json.loads(line)
                found = re.search(r"\b\d{6}\b", message["body"])
                if message["to"] == phone and found:
                    return found[0]
        time.sleep(0.2)
    raise AssertionError(f"no code for {phone} in {sms_file}")


def _free_now(page: Page, server: Server, facility_id: int) -> str:
    page.goto(server.url + "/?district=nadia&bed_type=oxygen")
    return page.locator(f"li#f-{facility_id} .free .n").inner_text()


def test_family_request_reserved_seen_live_by_the_hospital_and_admitted(flow_server, browser):
    server, seeded, sms_file = flow_server
    contexts = []

    def new_page(**options) -> Page:
        context = browser.new_context(**options)
        contexts.append(context)
        page = context.new_page()
        page.set_default_timeout(15_000)
        return page

    try:
        family = new_page(viewport={"width": 390, "height": 844}, locale="bn-IN")
        operator = new_page(viewport={"width": 1280, "height": 900})
        ward = new_page(viewport={"width": 1280, "height": 900})
        assert _free_now(family, server, seeded.facility_id) == "৬"

        # The family: phone, code from the SMS, the request.
        family.goto(server.url + "/admission")
        family.get_by_label("মোবাইল নম্বর").fill("98300 12345")
        family.get_by_role("button", name="কোড পাঠান").click()
        family.wait_for_url(server.url + "/admission/code")
        family.get_by_label("এসএমএসে পাওয়া কোড").fill(_code_from_sms(sms_file, PHONE))
        family.get_by_role("button", name="কোড যাচাই করুন").click()
        family.wait_for_url(server.url + "/admission")
        family.get_by_label("রোগীর নাম").fill("রিনা দাস")
        family.get_by_label("বয়স (বছর)").fill("৫৪")
        family.get_by_label("মহিলা", exact=True).check()
        family.get_by_label("গুরুতর").check()
        family.get_by_label("কী ধরনের শয্যা দরকার").select_option("oxygen")
        family.get_by_label("জেলা").select_option("nadia")
        family.locator("#f-consent").check()
        family.get_by_role("button", name="অনুরোধ পাঠান").click()
        family.wait_for_url(re.compile(r"/admission/status\?reference=WB-"))
        reference = family.locator(".ref-big").inner_text().strip()
        expect(family.locator(".ref-state")).to_contain_text("শয্যার অপেক্ষায়")

        # The hospital's page is open, listening, before anything is reserved.
        log_in(ward, server, seeded.ward)
        ward.get_by_role("link", name=re.compile("আসন্ন রেফারাল ও ভর্তি")).click()
        ward.wait_for_url(re.compile(rf"/staff/facilities/{seeded.facility_id}/referrals$"))
        expect(ward.locator("#live-status")).to_have_text("সরাসরি হালনাগাদ চালু")
        expect(ward.locator("#incoming")).not_to_contain_text(reference)
        ward.evaluate("window.notReloaded = true")

        # The control room reserves the first suggested bed for this request.
        log_in(operator, server, seeded.operator)
        operator.goto(server.url + "/staff/control-room")
        card = operator.locator("#queue li.ref-card", has_text=reference)
        expect(card).to_contain_text("নদিয়া পরীক্ষা হাসপাতাল")
        card.get_by_role("button", name=re.compile("সংরক্ষণ করুন")).first.click()
        operator.wait_for_url(re.compile(r"done=reserved"))
        expect(operator.locator("#holds")).to_contain_text(reference)

        # The hospital sees the patient coming without a reload, and admits on arrival.
        incoming = ward.locator("#incoming li.ref-card", has_text=reference)
        expect(incoming).to_contain_text("রিনা দাস")
        assert ward.evaluate("window.notReloaded") is True
        incoming.get_by_role("button", name="পৌঁছেছেন: ভর্তি করুন").click()
        ward.wait_for_url(re.compile(r"done=admitted"))
        expect(ward.locator("#admitted")).to_contain_text(reference)

        # The family's page names the hospital; the public page has one free bed fewer.
        family.goto(server.url + f"/admission/status?reference={reference}")
        expect(family.locator(".ref-state")).to_contain_text("নদিয়া পরীক্ষা হাসপাতাল")
        assert _free_now(family, server, seeded.facility_id) == "৫"
    finally:
        for context in contexts:
            context.close()
