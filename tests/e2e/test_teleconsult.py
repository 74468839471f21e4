"""A teleconsultation in Chromium: the CHO registers a patient and asks for a doctor; a doctor
who is online gets the offer on the open console within seconds and accepts; the CHO's page
turns to "Join now" by itself and the CHO joins; the doctor prescribes paracetamol and
completes; the CHO downloads the PDF, the public page checks its code, and the centre records
what it handed over.

Screenshots of the CHO's form, the doctor's console and the status page go to
``SEBA_E2E_SCREENS`` (a directory) when it is set, else to the test's temporary directory.
"""

from __future__ import annotations

import asyncio
import os
import re
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pypdfium2 as pdfium
import pytest
from playwright.sync_api import Page, expect

from seba.cli import upgrade_database
from seba.core.runtime import build_runtime
from seba.settings import Settings
from tests import factories
from tests.e2e.staff import log_in
from tests.servers import Server, running_server

pytestmark = [pytest.mark.browser, pytest.mark.server]

# Offers and changes are pushed over the page's event stream: they show within a second or
# two; the bound is for a slow machine.
LIVE_TIMEOUT_MS = 12_000
DOCTOR_STATE = "/staff/tele/doctor/state.json"


@dataclass
class Seeded:
    cho: str
    doctor: str


async def _seed(url: str) -> Seeded:
    rt = build_runtime(
        Settings(database_url=url, env="test", redis_url=None, secret_key="test-secret")
    )
    try:
        codes = await factories.network(rt)
        cho = await factories.cho(rt, codes["kolkata_spoke"])
        doctor = await factories.doctor(rt, codes["kolkata_hub"], username="dr-e2e")
        del doctor
        return Seeded(cho=cho.username, doctor="dr-e2e")
    finally:
        await rt.close()


@pytest.fixture(scope="module")
def tele_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Server, Seeded]]:
    tmp_path = tmp_path_factory.mktemp("tele-e2e")
    url = f"sqlite+aiosqlite:///{tmp_path / 'seba.db'}"
    # Playwright's sync API keeps an event loop in this thread: migrate and seed on another.
    with ThreadPoolExecutor(1) as pool:
        pool.submit(upgrade_database, url).result()
        seeded = pool.submit(asyncio.run, _seed(url)).result()
    # The worker runs the consult sweep every second, as in production.
    env = {"SEBA_WORKER_IN_PROCESS": "true", "SEBA_WORKER_POLL_S": "1"}
    with running_server(url, tmp_path=tmp_path, extra_env=env) as server:
        yield server, seeded


@pytest.fixture
def screens(tmp_path: Path) -> Path:
    chosen = os.environ.get("SEBA_E2E_SCREENS")
    folder = Path(chosen) if chosen else tmp_path
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def _medicine(row, *values: str) -> None:
    labels = ("ওষুধ (জেনেরিক নাম)", "শক্তি", "রূপ", "মাত্রা", "কতবার", "কত দিন")
    for label, value in zip(labels, values, strict=True):
        row.get_by_label(label).fill(value)


def test_a_consult_from_request_to_printed_prescription(tele_server, browser, screens):
    server, seeded = tele_server
    contexts = []
    script_errors: list[str] = []

    def new_page(**options) -> Page:
        context = browser.new_context(**options)
        contexts.append(context)
        page = context.new_page()
        page.set_default_timeout(15_000)
        page.on("pageerror", lambda error: script_errors.append(str(error)))
        return page

    try:
        cho = new_page(viewport={"width": 390, "height": 844}, locale="bn-IN")
        doctor = new_page(viewport={"width": 1280, "height": 900}, locale="bn-IN")
        # Every fetch the doctor's console makes of its state, and its event streams opened.
        fetched: list[str] = []
        doctor.on("request", lambda request: fetched.append(request.url))

        def state_fetches() -> int:
            return sum(1 for u in fetched if u.startswith(server.url + DOCTOR_STATE))

        # The doctor goes online and waits with the console open.
        # A doctor lands on the doctor's console.
        log_in(doctor, server, seeded.doctor, lands="/staff/tele/doctor")
        doctor.get_by_role("button", name="অনলাইন হোন").click()
        expect(doctor.locator(".tele-waiting")).to_contain_text("পরের রোগীর অপেক্ষায়")
        doctor.evaluate("window.notReloaded = true")
        # Pushed, not polled: once the stream is open (one fetch after connecting), an idle
        # console asks for nothing, where it used to poll every 3 s.
        for _ in range(LIVE_TIMEOUT_MS // 200):
            if state_fetches():
                break
            doctor.wait_for_timeout(200)
        assert state_fetches() >= 1
        assert any(u == server.url + "/staff/tele/doctor/events" for u in fetched)
        doctor.wait_for_timeout(1_000)
        idle = state_fetches()
        doctor.wait_for_timeout(4_000)
        assert state_fetches() == idle

        # The CHO registers the patient and fills the consult form.
        # A CHO lands on the teleconsultation desk.
        log_in(cho, server, seeded.cho, lands="/staff/tele")
        cho.get_by_text("নতুন রোগী নথিভুক্ত করুন").click()
        cho.screenshot(path=str(screens / "cho-home.png"), full_page=True)
        cho.get_by_label("রোগীর নাম").fill("রিনা দাস")
        cho.get_by_label("মহিলা", exact=True).check()
        cho.get_by_label("বয়স (বছর)").fill("৫৪")
        cho.get_by_label("মোবাইল নম্বর").fill("98300 12345")
        cho.get_by_label("গ্রাম বা ওয়ার্ড").fill("বারুইপুর")
        cho.get_by_role("button", name="রোগী নথিভুক্ত করুন", exact=True).click()
        cho.wait_for_url(re.compile(r"/staff/tele/consults/new\?patient=\d+"))
        cho.get_by_label("প্রধান সমস্যা").fill("তিন দিন ধরে জ্বর, মাথাব্যথা")
        cho.get_by_label("রক্তচাপ, সিস্টোলিক (উপরের)").fill("১২০")
        cho.get_by_label("রক্তচাপ, ডায়াস্টোলিক (নিচের)").fill("৮০")
        cho.get_by_label("নাড়ি").fill("৯২")
        cho.get_by_label("তাপমাত্রা").fill("38.6")
        cho.get_by_label("রক্তে অক্সিজেন (SpO2)").fill("৯৬")
        cho.locator("#f-consent").check()
        cho.screenshot(path=str(screens / "cho-consult-form.png"), full_page=True)
        cho.get_by_role("button", name="এখনই ডাক্তার চান").click()
        cho.wait_for_url(re.compile(r"/staff/tele/consults/\d+$"))
        consult_url = cho.url

        # The doctor's open console receives the offer by itself and the doctor accepts.
        offer = doctor.locator(".tele-consult")
        expect(offer).to_contain_text("রিনা দাস", timeout=LIVE_TIMEOUT_MS)
        expect(offer).to_contain_text("তিন দিন ধরে জ্বর")
        # The offer came as an event: one fetch of the state (then the page showed it), not
        # a poll that happened to find it.
        assert 1 <= state_fetches() - idle <= 2
        doctor.screenshot(path=str(screens / "doctor-offer.png"), full_page=True)
        doctor.get_by_role("button", name="গ্রহণ করুন").click()
        doctor.wait_for_url(re.compile(r"done=accepted"))

        # The CHO's page turns to "Join now" without anyone reloading it.
        join = cho.get_by_role("button", name="এখনই যোগ দিন")
        expect(join).to_be_visible(timeout=LIVE_TIMEOUT_MS)
        expect(cho.locator(".tele-countdown")).to_contain_text("সেকেন্ড")
        cho.screenshot(path=str(screens / "cho-status-join.png"), full_page=True)
        join.click()
        expect(cho.locator(".tele-state-title")).to_have_text("ডাক্তার রোগীকে দেখছেন")

        # The doctor sees the centre join, and writes the prescription.
        expect(doctor.locator("#join-state")).to_have_text(
            "স্বাস্থ্যকেন্দ্র যোগ দিয়েছে", timeout=LIVE_TIMEOUT_MS
        )
        # A prohibited medicine is refused, with the reason beside its own row; the rest of
        # what was typed stays, and the live updates do not throw it away.
        first, second = doctor.locator("#row-0"), doctor.locator("#row-1")
        _medicine(first, "morphine", "10 mg", "tablet", "1 tablet", "দিনে দুবার", "৩")
        _medicine(second, "paracetamol", "500 mg", "tablet", "1 tablet", "দিনে তিনবার", "৩")
        # The formulary answers as the doctor types: the TPG list badge of each medicine.
        expect(first.locator("[data-badge]")).to_have_text("✕")
        expect(second.locator("[data-badge]")).to_have_text("O")
        doctor.get_by_label("সম্ভাব্য রোগনির্ণয়").fill("Viral fever")
        doctor.screenshot(path=str(screens / "doctor-console.png"), full_page=True)
        doctor.get_by_role("button", name="প্রেসক্রিপশন দিন").click()
        expect(first.locator(".field-error")).to_contain_text("Morphine")
        expect(second.locator(".field-error")).to_have_count(0)
        expect(second.get_by_label("ওষুধ (জেনেরিক নাম)")).to_have_value("paracetamol")
        first.scroll_into_view_if_needed()
        doctor.screenshot(path=str(screens / "doctor-refused.png"), full_page=True)
        doctor.wait_for_timeout(2_000)  # live updates meanwhile: the refused form stays as it is
        expect(first.locator(".field-error")).to_contain_text("Morphine")
        _medicine(first, "", "", "", "", "", "")
        doctor.get_by_role("button", name="প্রেসক্রিপশন দিন").click()
        doctor.wait_for_url(re.compile(r"done=prescribed"))
        expect(doctor.locator(".tele-rx")).to_contain_text("PARACETAMOL")
        doctor.get_by_role("button", name="পরামর্শ শেষ করুন").click()
        doctor.wait_for_url(re.compile(r"done=completed"))
        expect(doctor.locator(".tele-waiting")).to_contain_text("পরের রোগীর অপেক্ষায়")

        # The CHO's page offers the PDF; it is a real PDF, and its code checks out publicly.
        download = cho.get_by_role("link", name="প্রেসক্রিপশন ডাউনলোড করুন (PDF)")
        expect(download).to_be_visible(timeout=LIVE_TIMEOUT_MS)
        cho.screenshot(path=str(screens / "cho-status-done.png"), full_page=True)
        pdf = cho.request.get(server.url + download.get_attribute("href"))
        assert pdf.ok and pdf.headers["content-type"] == "application/pdf"
        assert pdf.body().startswith(b"%PDF")
        code = cho.locator(".tele-rx .tele-code").inner_text().strip()
        assert re.fullmatch(r"[A-Z0-9]{4}-[A-Z0-9]{4}-[A-Z0-9]{4}", code)
        # Printed for this server's port, not the default :8000 (no public address is set).
        printed = pdfium.PdfDocument(pdf.body())[0].get_textpage().get_text_range()
        assert f"{server.url}/verify/{code}" in "".join(printed.split())
        cho.get_by_role("link", name="যাচাই করুন").click()
        cho.wait_for_url(server.url + f"/verify/{code}")
        expect(cho.locator(".tele-verified")).to_contain_text("PARACETAMOL")
        expect(cho.locator(".tele-verified")).to_contain_text("র. দ.")
        cho.screenshot(path=str(screens / "verify.png"), full_page=True)
        cho.goto(consult_url)
        expect(cho.locator(".tele-state-title")).to_have_text("সম্পন্ন")
        # The centre records what it handed over.
        cho.get_by_label("কতগুলি").fill("৯")
        cho.get_by_role("button", name="যা দেওয়া হল, সংরক্ষণ করুন").click()
        expect(cho.locator(".ok-box")).to_contain_text("সংরক্ষিত হয়েছে")
        expect(cho.locator(".tele-dispense-line")).to_contain_text("দেওয়া হয়েছে: ৯")
        assert script_errors == []
    finally:
        for context in contexts:
            context.close()
