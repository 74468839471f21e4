"""The call in Chromium: a doctor and a CHO on one consult, each in a browser context of its
own with fake camera and microphone. Media really flows (inbound RTP bytes grow on both sides),
chat arrives and is kept, "audio only" stops the video both ways, and the consult's record
shows the modes used. Media stays on 127.0.0.1 (SEBA_CALL_LOOPBACK_ONLY; Chromium needs
--allow-loopback-in-peer-connection): no test traffic leaves the machine.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import httpx
import pytest
from playwright.sync_api import Page, expect

from seba.cli import upgrade_database
from seba.core.runtime import build_runtime
from seba.settings import Settings
from tests import factories
from tests.e2e.conftest import CHROMIUM_ARGS
from tests.e2e.staff import log_in
from tests.servers import Server, running_server
from tests.telemedicine import factories as tele

pytestmark = [pytest.mark.browser, pytest.mark.server]

MEDIA_ARGS = [
    "--use-fake-ui-for-media-stream",
    "--use-fake-device-for-media-stream",
    "--allow-loopback-in-peer-connection",
]
VIDEO_MIN_S = 4


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
        await factories.doctor(rt, codes["kolkata_hub"], username="dr-call")
        return Seeded(cho=cho.username, doctor="dr-call")
    finally:
        await rt.close()


@pytest.fixture(scope="module")
def call_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Server, Seeded]]:
    tmp_path = tmp_path_factory.mktemp("call-e2e")
    url = f"sqlite+aiosqlite:///{tmp_path / 'seba.db'}"
    with ThreadPoolExecutor(1) as pool:
        pool.submit(upgrade_database, url).result()
        seeded = pool.submit(asyncio.run, _seed(url)).result()
    env = {
        "SEBA_CALL_LOOPBACK_ONLY": "true",
        "SEBA_VIDEO_MIN_SECONDS": str(VIDEO_MIN_S),
        "SEBA_CALL_HEARTBEAT_S": "1",
    }
    with running_server(url, tmp_path=tmp_path, extra_env=env) as server:
        yield server, seeded


@pytest.fixture(scope="module")
def media_browser(chromium_path: str):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=chromium_path, args=CHROMIUM_ARGS + MEDIA_ARGS
        )
        try:
            yield browser
        finally:
            browser.close()


def _held_consult(server: Server, seeded: Seeded) -> tuple[int, dict[str, str]]:
    """Raise, accept and join a consult through the API, so both pages open on a live call."""
    with httpx.Client(base_url=server.url, timeout=30) as http:

        def login(username: str) -> dict[str, str]:
            r = http.post(
                "/api/v1/auth/token", json={"username": username, "password": factories.PASSWORD}
            )
            assert r.status_code == 200, r.text
            return {"Authorization": f"Bearer {r.json()['access_token']}"}

        cho_h, doc_h = login(seeded.cho), login(seeded.doctor)
        r = http.post(
            "/api/v1/patients",
            json={"name": "Rina Das", "sex": "female", "age_years": 54, "phone": "9830012345",
                  "village": "Baruipur", "address": "Baruipur"},
            headers=cho_h,
        )  # fmt: skip
        assert r.status_code == 201, r.text
        r = http.post(
            "/api/v1/consultations", json=tele.consult_body(r.json()["id"]), headers=cho_h
        )
        assert r.status_code == 201, r.text
        cid = r.json()["id"]
        assert http.post(
            "/api/v1/doctors/me/presence", json={"status": "online"}, headers=doc_h
        ).is_success
        assert http.post(f"/api/v1/consultations/{cid}/accept", headers=doc_h).is_success
        assert http.post(f"/api/v1/consultations/{cid}/join", headers=cho_h).is_success
        return cid, doc_h


def _received(page: Page) -> dict[str, int]:
    return page.evaluate("window.sebaCall.received()")


def _grows(page: Page, kind: str, timeout_s: float = 20.0) -> None:
    """Inbound ``kind`` bytes grow on ``page`` (its browser really receives the media)."""
    start = _received(page)[kind]
    for _ in range(int(timeout_s * 2)):
        page.wait_for_timeout(500)
        if _received(page)[kind] > start + 1000:
            return
    raise AssertionError(f"{kind} did not flow: {start} -> {_received(page)[kind]}")


def test_a_video_call_with_chat_and_audio_only(call_server, media_browser):
    server, seeded = call_server
    consult_id, doc_h = _held_consult(server, seeded)
    script_errors: list[str] = []
    contexts = []

    def new_page(locale: str) -> Page:
        context = media_browser.new_context(viewport={"width": 1024, "height": 800}, locale=locale)
        contexts.append(context)
        page = context.new_page()
        page.set_default_timeout(20_000)
        page.on("pageerror", lambda error: script_errors.append(str(error)))
        return page

    try:
        doctor, cho = new_page("bn-IN"), new_page("bn-IN")
        log_in(doctor, server, seeded.doctor, lands="/staff/tele/doctor")
        doctor.goto(server.url + "/staff/tele/doctor")
        expect(doctor.locator("#tele-call h2")).to_have_text("কল")
        expect(doctor.locator("#call-state")).to_have_text("অন্য পক্ষ কলে যোগ দেওয়ার অপেক্ষায়…")
        log_in(cho, server, seeded.cho, lands="/staff/tele")
        cho.goto(server.url + f"/staff/tele/consults/{consult_id}")

        # Connected: video and audio reach both sides.
        for page in (doctor, cho):
            expect(page.locator("#call-state")).to_have_text("ভিডিও কল")
            page.wait_for_function("window.sebaCall.connection() === 'connected'")
        for page in (doctor, cho):
            _grows(page, "video")
            _grows(page, "audio")

        # Chat, both ways, kept with the consult.
        cho.get_by_label("বার্তা").fill("রোগীর পেটে ব্যথা বাঁ দিকে")
        cho.get_by_role("button", name="পাঠান").click()
        expect(doctor.locator("#call-lines")).to_contain_text("স্বাস্থ্যকেন্দ্র: রোগীর পেটে ব্যথা")
        doctor.get_by_label("বার্তা").fill("Please show the rash")
        doctor.get_by_label("বার্তা").press("Enter")
        expect(cho.locator("#call-lines")).to_contain_text("ডাক্তার: Please show the rash")
        expect(cho.get_by_label("বার্তা")).to_have_value("")

        # Long enough video for the record (the test server's minimum), then audio only.
        doctor.wait_for_timeout(VIDEO_MIN_S * 1000 + 2000)
        doctor.get_by_role("button", name="শুধু অডিও").click()
        for page in (doctor, cho):
            expect(page.locator("#call-state")).to_have_text("শুধু অডিও: দুই দিকেই ভিডিও বন্ধ।")
            assert page.evaluate("window.sebaCall.mode()") == "audio"
        doctor.wait_for_timeout(1500)  # frames already on their way
        video_before = {p: _received(p)["video"] for p in (doctor, cho)}
        for page in (doctor, cho):
            _grows(page, "audio")
        doctor.wait_for_timeout(2000)
        for page in (doctor, cho):
            # Video has stopped flowing (a few straggling packets at most).
            assert _received(page)["video"] - video_before[page] < 20_000
        cho.wait_for_timeout(3000)  # a few heartbeats of audio alone on the record
        doctor.screenshot(path=str(server.log_path.parent / "doctor-call.png"), full_page=True)
    finally:
        for context in contexts:
            context.close()

    # Both pages are gone: the record shows video, then audio, and the chat.
    with httpx.Client(base_url=server.url, timeout=30) as http:
        record = http.get(f"/api/v1/consultations/{consult_id}/call", headers=doc_h).json()
        chat = http.get(f"/api/v1/consultations/{consult_id}/call/chat", headers=doc_h).json()
    assert record["seconds"]["video"] >= VIDEO_MIN_S, record
    assert record["doctor_video_s"] >= VIDEO_MIN_S, record
    assert record["seconds"]["audio"] > record["seconds"]["video"], record
    assert record["mode"] == "video"
    assert record["started_at"] and record["ended_at"] and record["duration_s"] >= 0
    assert [m["party"] for m in chat["messages"]] == ["cho", "doctor"]
    assert script_errors == []
