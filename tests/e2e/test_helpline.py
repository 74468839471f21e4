"""The helpline in Chromium at phone size, in Bengali: the footer's numbers, searching an answer,
"didn't find an answer?" to a callback request, and a control room agent calling it back."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest
from playwright.sync_api import expect

from seba.cli import upgrade_database
from seba.core.access import SYSTEM
from seba.core.runtime import build_runtime
from seba.data import read_csv
from seba.helpline import service as helpline_service
from seba.settings import Settings
from tests import factories
from tests.e2e.staff import log_in
from tests.servers import Server, running_server

pytestmark = [pytest.mark.browser, pytest.mark.server]


async def _seed(url: str) -> str:
    rt = build_runtime(
        Settings(database_url=url, env="test", redis_url=None, secret_key="test-secret")
    )
    try:
        await helpline_service.load_answers(rt, actor=SYSTEM, rows=read_csv("answers.csv"))
        agent = await factories.user(rt, "control_room")
        return agent.username
    finally:
        await rt.close()


@pytest.fixture(scope="module")
def helpline_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Server, str]]:
    tmp_path = tmp_path_factory.mktemp("e2e-helpline")
    url = f"sqlite+aiosqlite:///{tmp_path / 'seba.db'}"
    with ThreadPoolExecutor(1) as pool:
        pool.submit(upgrade_database, url).result()
        agent = pool.submit(asyncio.run, _seed(url)).result()
    with running_server(url, tmp_path=tmp_path) as server:
        yield server, agent


def test_find_an_answer_ask_for_a_callback_and_an_agent_calls(helpline_server, phone):
    server, agent = helpline_server
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
