"""The helpline in Chromium at phone size, in Bengali: the footer's numbers, searching an answer,
"didn't find an answer?" to a callback request, a control room agent calling it back; booking a
counselling session with a one-time code, the SMS confirmation; the counsellor seeing it on
their day, writing a note, marking it done."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import date, timedelta
from pathlib import Path

import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from seba.cli import upgrade_database
from seba.core.access import SYSTEM
from seba.core.db import transactional
from seba.core.i18n import IST
from seba.core.runtime import build_runtime
from seba.core.types import utcnow
from seba.data import read_csv
from seba.helpline import counselling, counsellor_work
from seba.helpline import service as helpline_service
from seba.helpline.models import CounsellingBooking
from seba.helpline.schemas import CounsellorIn
from seba.settings import Settings
from tests import factories
from tests.e2e.staff import log_in
from tests.e2e.test_referral_flow import _code_from_sms
from tests.servers import Server, running_server

pytestmark = [pytest.mark.browser, pytest.mark.server]


COUNSELLOR = "mita-roy"


def _runtime(url: str):
    return build_runtime(
        Settings(database_url=url, env="test", redis_url=None, secret_key="test-secret")
    )


async def _seed(url: str) -> str:
    rt = _runtime(url)
    try:
        await helpline_service.load_answers(rt, actor=SYSTEM, rows=read_csv("answers.csv"))
        mita = await counselling.add_counsellor(
            rt,
            actor=SYSTEM,
            data=CounsellorIn(name="Mita Roy", name_bn="মিতা রায়", languages=["bn", "en"]),
        )
        await counsellor_work.add_login(
            rt,
            actor=SYSTEM,
            counsellor_id=mita.id,
            username=COUNSELLOR,
            password=factories.PASSWORD,
        )
        agent = await factories.user(rt, "control_room")
        return agent.username
    finally:
        await rt.close()


async def _time_passes(url: str, phone: str) -> date:
    """The session's time comes: its start set to ten minutes ago (the server's clock cannot be
    moved; a session is marked only once it has begun). Returns its day in Asia/Kolkata."""
    rt = _runtime(url)
    try:
        async with transactional(rt.db) as session:
            booking = await session.scalar(
                select(CounsellingBooking).where(CounsellingBooking.phone == phone)
            )
            booking.starts_at = utcnow() - timedelta(minutes=10)
            return booking.starts_at.astimezone(IST).date()
    finally:
        await rt.close()


@pytest.fixture(scope="module")
def helpline_server(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[Server, str, Path]]:
    tmp_path = tmp_path_factory.mktemp("e2e-helpline")
    sms_file = tmp_path / "sms.jsonl"
    url = f"sqlite+aiosqlite:///{tmp_path / 'seba.db'}"
    with ThreadPoolExecutor(1) as pool:
        pool.submit(upgrade_database, url).result()
        agent = pool.submit(asyncio.run, _seed(url)).result()
    env = {
        "SEBA_WORKER_IN_PROCESS": "true",
        "SEBA_WORKER_POLL_S": "0.2",
        "SEBA_SMS_FILE": str(sms_file),
    }
    with running_server(url, tmp_path=tmp_path, extra_env=env) as server:
        yield server, agent, sms_file


def test_find_an_answer_ask_for_a_callback_and_an_agent_calls(helpline_server, phone):
    server, agent, _ = helpline_server
    page = phone
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(server.url + "/answers")
    # The footer: the numbers admins marked for it, tap to call.
    footer = page.locator("footer")
    expect(footer.locator('a[href="tel:1800313444222"]')).to_be_visible()
    expect(footer.locator('a[href="tel:03340902929"]')).to_be_visible()

    page.get_by_label("আপনার প্রশ্ন লিখুন, বাংলায় বা ইংরেজিতে").fill("oxygen bed kothay pabo")
    page.get_by_role("button", name="খুঁজুন").click()
    first = page.locator("ol.answers li").first
    expect(first).to_contain_text("অক্সিজেন")
    first.get_by_role("link").click()
    expect(page.locator("h1")).to_contain_text("অক্সিজেন শয্যা কোথায় পাব?")

    page.get_by_role("link", name="ফোন করতে বলুন").click()
    expect(page.locator("h1")).to_have_text("ফোন করতে বলুন")
    page.get_by_label("মোবাইল নম্বর").fill("98300 55555")
    page.get_by_label("কী বিষয়ে?").select_option("beds")
    page.get_by_role("button", name="আমাকে ফোন করুন").click()
    expect(page.get_by_role("status")).to_contain_text("আমরা আপনাকে ফোন করব।")

    log_in(page, server, agent)
    page.goto(server.url + "/staff/callbacks")
    page.get_by_role("button", name="পরের ফোনটি নিন").click()
    expect(page.locator('a[href="tel:+919830055555"]')).to_be_visible()
    page.get_by_role("button", name="কথা হয়েছে").click()
    expect(page.get_by_role("button", name="পরের ফোনটি নিন")).to_be_visible()
    assert errors == []


def test_book_a_counselling_session_with_a_code(helpline_server, phone):
    server, _, sms_file = helpline_server
    page = phone
    page.goto(server.url + "/admission/counselling")
    expect(page.locator("h1")).to_have_text("কাউন্সেলিংয়ের সময় বুক করুন")
    page.get_by_label("মোবাইল নম্বর").fill("98300 66666")
    page.get_by_role("button", name="কোড পাঠান").click()
    page.wait_for_url(server.url + "/admission/code?then=counselling")
    page.get_by_label("এসএমএসে পাওয়া কোড").fill(_code_from_sms(sms_file, "+919830066666"))
    page.get_by_role("button", name="কোড যাচাই করুন").click()
    page.wait_for_url(server.url + "/admission/counselling")
    tomorrow = utcnow().astimezone(IST).date() + timedelta(days=1)
    page.goto(server.url + f"/admission/counselling?day={tomorrow}")
    expect(page.get_by_text("মিতা রায়").first).to_be_visible()
    page.get_by_role("button", name="এই সময়টি বুক করুন").click()
    expect(page.get_by_role("status")).to_contain_text("বুক হয়েছে")
    expect(page.get_by_role("button", name="বাতিল করুন")).to_be_visible()
    for _ in range(50):
        sent = [json.loads(line) for line in sms_file.read_text(encoding="utf-8").splitlines()]
        if any("কাউন্সেলিং বুক হয়েছে" in m["body"] for m in sent):
            break
        page.wait_for_timeout(200)
    else:
        raise AssertionError("no counselling confirmation SMS")


def test_the_counsellor_sees_the_booking_writes_a_note_and_marks_it_done(helpline_server, phone):
    server, _, sms_file = helpline_server
    page = phone
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(server.url + "/admission/counselling")
    page.get_by_label("মোবাইল নম্বর").fill("98300 77777")
    page.get_by_role("button", name="কোড পাঠান").click()
    page.wait_for_url(server.url + "/admission/code?then=counselling")
    page.get_by_label("এসএমএসে পাওয়া কোড").fill(_code_from_sms(sms_file, "+919830077777"))
    page.get_by_role("button", name="কোড যাচাই করুন").click()
    page.wait_for_url(server.url + "/admission/counselling")
    tomorrow = utcnow().astimezone(IST).date() + timedelta(days=1)
    page.goto(server.url + f"/admission/counselling?day={tomorrow}")
    page.get_by_role("button", name="এই সময়টি বুক করুন").click()
    expect(page.get_by_role("status")).to_contain_text("বুক হয়েছে")

    with ThreadPoolExecutor(1) as pool:
        day = pool.submit(
            asyncio.run,
            _time_passes(f"sqlite+aiosqlite:///{sms_file.parent / 'seba.db'}", "+919830077777"),
        ).result()
    # The counsellor lands on their day.
    log_in(page, server, COUNSELLOR, lands="/staff/counselling")
    page.goto(server.url + f"/staff/counselling?day={day}")
    session = page.locator("section.card").filter(has=page.locator('a[href="tel:+919830077777"]'))
    expect(session).to_be_visible()
    session.get_by_role("link", name="নোট লিখুন").click()
    expect(page.locator("h1")).to_have_text("আমার নোট")
    page.get_by_label("নোট").fill("ঘুমের সমস্যা; এক সপ্তাহ পরে আবার কথা হবে")
    page.get_by_role("button", name="নোট রাখুন").click()
    expect(page.get_by_role("status")).to_contain_text("নোট রাখা হয়েছে।")
    expect(page.get_by_label("নোট")).to_have_value("ঘুমের সমস্যা; এক সপ্তাহ পরে আবার কথা হবে")

    page.goto(server.url + f"/staff/counselling?day={day}")
    session = page.locator("section.card").filter(has=page.locator('a[href="tel:+919830077777"]'))
    session.get_by_role("button", name="হয়েছে", exact=True).click()
    session = page.locator("section.card").filter(has=page.locator('a[href="tel:+919830077777"]'))
    expect(session.locator("h2")).to_contain_text("হয়েছে")
    expect(session.get_by_role("link", name="আমার নোট")).to_be_visible()
    assert errors == []
