"""Ambulances in Chromium: a call comes in and appears on the dispatcher's open board without a
reload, the dispatcher sends the nearest ambulance in one click, the driver's page (from the
SMS link) moves the trip to the hospital door, and the board follows each step live."""

from __future__ import annotations

import asyncio
import json
import re
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Page, expect

from seba.cli import upgrade_database
from seba.core.i18n import gettext
from seba.core.runtime import build_runtime
from seba.settings import Settings
from tests import factories
from tests.ambulances import world as w
from tests.e2e.staff import log_in
from tests.servers import Server, running_server

pytestmark = [pytest.mark.browser, pytest.mark.server]


def bn(text: str, **params) -> str:
    return gettext("bn", text, **params)


@dataclass
class Seeded:
    dispatcher: str
    helpline: str
    near: dict
    far: dict


async def _seed(url: str) -> Seeded:
    rt = build_runtime(
        Settings(database_url=url, env="test", redis_url=None, secret_key="test-secret")
    )
    try:
        await factories.districts(rt)
        hospital = await w.base(rt, code="kol-amb-base", name="Kolkata Base Hospital")
        near = await w.ambulance(rt, hospital.code, registration="WB 02 AB 1111")
        far = await w.ambulance(rt, hospital.code, registration="WB 02 AB 2222")
        await w.place_at(rt, near["id"], 22.58, 88.36)
        await w.place_at(rt, far["id"], 22.75, 88.36)
        dispatcher = await factories.user(rt, "control_room", "district:kolkata")
        helpline = await factories.user(rt, "control_room", "state")
        return Seeded(dispatcher.username, helpline.username, near, far)
    finally:
        await rt.close()


@pytest.fixture(scope="module")
def flow_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Server, Seeded, Path]]:
    tmp_path = tmp_path_factory.mktemp("ambulance-e2e")
    url = f"sqlite+aiosqlite:///{tmp_path / 'seba.db'}"
    sms_file = tmp_path / "sms.jsonl"
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


def _driver_link(sms_file: Path, phone: str, timeout_s: float = 20.0) -> str:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if sms_file.exists():
            for line in sms_file.read_text(encoding="utf-8").splitlines():
                message = json.loads(line)
                found = re.search(r"/ambulance/trip/[A-Za-z0-9_-]+", message["body"])
                if message["to"] == phone and found:
                    return found[0]
        time.sleep(0.2)
    raise AssertionError(f"no trip link for {phone} in {sms_file}")


def test_a_call_to_the_hospital_door(flow_server, browser):
    server, seeded, sms_file = flow_server
    contexts = []

    def new_page(**options) -> Page:
        context = browser.new_context(**options)
        contexts.append(context)
        page = context.new_page()
        page.set_default_timeout(15_000)
        return page

    try:
        board = new_page(viewport={"width": 1280, "height": 900})
        driver = new_page(viewport={"width": 390, "height": 844}, locale="bn-IN")
        log_in(board, server, seeded.dispatcher)
        board.goto(server.url + "/staff/ambulances")
        expect(board.locator("#live-status")).to_have_text(bn("Live updates on"))
        board.evaluate("window.notReloaded = true")

        # A call comes in at the helpline (the API), and shows on the open board.
        with httpx.Client(base_url=server.url, timeout=60) as api:
            token = api.post(
                "/api/v1/auth/token",
                json={"username": seeded.helpline, "password": factories.PASSWORD},
            ).json()["access_token"]
            made = api.post(
                "/api/v1/ambulance-requests",
                json={
                    "district": "kolkata",
                    "lat": 22.57,
                    "lon": 88.36,
                    "condition": "severe",
                    "contact_phone": "98300 55555",
                    "source": "helpline",
                },
                headers={"Authorization": f"Bearer {token}"},
            )
            assert made.status_code == 201, made.text
        reference = made.json()["reference"]
        card = board.locator("#live article", has_text=reference)
        expect(card).to_be_visible()
        assert board.evaluate("window.notReloaded") is True
        # Nearest first; one click sends it.
        buttons = card.get_by_role("button")
        expect(buttons.first).to_have_text(bn("Send {vehicle}", vehicle="WB 02 AB 1111"))
        buttons.first.click()
        board.wait_for_url(re.compile(r"done=assigned"))
        expect(board.locator("#live")).to_contain_text(reference)
        board.evaluate("window.notReloaded = true")

        # The driver opens the link from the SMS and moves the trip; the board follows live.
        driver.goto(server.url + _driver_link(sms_file, seeded.near["driver_phone"]))
        expect(driver.locator("h1")).to_have_text(bn("Trip {reference}", reference=reference))
        for step in ("On the way", "With the patient", "Going to the hospital", "At the hospital"):
            driver.get_by_role("button", name=bn(step), exact=True).click()
            expect(driver.locator("#now-h")).to_contain_text(bn(step))
            expect(board.locator("#live")).to_contain_text(bn(step))
        assert board.evaluate("window.notReloaded") is True
        # An invalid jump cannot even be asked for: only the next step is offered.
        expect(driver.get_by_role("button")).to_have_count(1)
        driver.get_by_role("button", name=bn("Trip ended"), exact=True).click()
        expect(driver.locator("main")).to_contain_text(bn("This trip has ended."))

        # The family's page, in Bengali: the request reached the hospital.
        driver.goto(server.url + f"/ambulance/{reference}")
        expect(driver.locator("main")).to_contain_text(bn("Reached the hospital"))
        expect(driver.locator("main")).to_contain_text("WB 02 AB 1111")
    finally:
        for context in contexts:
            context.close()
