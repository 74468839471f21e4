"""The call in Chromium: a doctor and a CHO on one consult, each in a browser context of its
own with fake camera and microphone. Media really flows (inbound RTP bytes grow on both sides),
chat arrives and is kept, "audio only" stops the video both ways, and the consult's record
shows the modes used. Degrade, never drop: a dropped socket reconnects while the other side
says so; a poor link pauses video by itself and brings it back; "weak network" starts by voice
with a capped picture; and the two parties may sit on different server workers (Redis).

Media stays on 127.0.0.1 (SEBA_CALL_LOOPBACK_ONLY; Chromium needs
--allow-loopback-in-peer-connection): no test traffic leaves the machine. The server runs with
SEBA_CALL_TEST_HOOKS: the page can drop its socket and feed its link monitor poor samples
(a loopback link is never poor, and CDP's network throttling does not touch WebRTC).
"""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import httpx
import pytest
from playwright.sync_api import Page, expect

from seba.cli import upgrade_database
from seba.core.i18n import gettext
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
HEARTBEAT_S = 1
STATE = {
    "video": "ভিডিও কল",
    "audio": "শুধু অডিও: দুই দিকেই ভিডিও বন্ধ।",
    "peer_reconnecting": "অন্য পক্ষ আবার যুক্ত হচ্ছে…",
    "reconnecting": "আপনার সংযোগ কেটে গেছে। আবার যুক্ত হচ্ছে…",
    "weak_link": "দুর্বল নেটওয়ার্ক: ভিডিও থামানো হয়েছে, কল কথায় চলছে। তবুও ভিডিও চাইলে “ভিডিও” টিপুন।",
    "link_better": "নেটওয়ার্ক ভালো হয়েছে: ভিডিও আবার চালু।",
    "text": "শুধু চ্যাট: ক্যামেরা ও মাইক্রোফোন বন্ধ।",
}
MEDIA_ERRORS = {
    "NotAllowedError": "The camera and microphone are blocked. Allow them for this site (the "
    "camera sign in the address bar), then press “Try the camera again”. The chat below still "
    "works.",
    "NotReadableError": "The camera or microphone is in use by another program. Close it, then "
    "press “Try the camera again”.",
}
# The browser refuses the camera (and, for NotAllowedError, the microphone too), as a person
# who blocked them or a camera held by another program would make it.
REFUSE_MEDIA = """
(() => {
  const real = navigator.mediaDevices.getUserMedia.bind(navigator.mediaDevices);
  navigator.mediaDevices.getUserMedia = (c) =>
    c.video || "%(name)s" === "NotAllowedError"
      ? Promise.reject(new DOMException("refused", "%(name)s"))
      : real(c);
})();
"""


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


ENV = {
    "SEBA_CALL_LOOPBACK_ONLY": "true",
    "SEBA_VIDEO_MIN_SECONDS": str(VIDEO_MIN_S),
    "SEBA_CALL_HEARTBEAT_S": str(HEARTBEAT_S),
    "SEBA_CALL_TEST_HOOKS": "true",
}


@contextlib.contextmanager
def _seeded_server(tmp_path, **options) -> Iterator[tuple[Server, Seeded]]:
    url = f"sqlite+aiosqlite:///{tmp_path / 'seba.db'}"
    with ThreadPoolExecutor(1) as pool:
        pool.submit(upgrade_database, url).result()
        seeded = pool.submit(asyncio.run, _seed(url)).result()
    with running_server(url, tmp_path=tmp_path, extra_env=ENV, **options) as server:
        yield server, seeded


@pytest.fixture(scope="module")
def call_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Server, Seeded]]:
    with _seeded_server(tmp_path_factory.mktemp("call-e2e")) as found:
        yield found


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
                  "village": "Baruipur", "address": "Baruipur", "confirm_new": True},
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


def _segments(server: Server, consult_id: int, party: str) -> list[tuple[str, str, str]]:
    """The call's record as stored: (mode, from, to) of ``party``, in time order."""
    with contextlib.closing(sqlite3.connect(server.log_path.parent / "seba.db")) as db:
        return db.execute(
            "SELECT mode, started_at, ended_at FROM consult_call_segment"
            " WHERE consultation_id = ? AND party = ? ORDER BY started_at",
            (consult_id, party),
        ).fetchall()


def _complete(server: Server, consult_id: int, doc_h: dict[str, str]) -> None:
    """End the consult, so the doctor is free for the next test's patient."""
    r = httpx.post(f"{server.url}/api/v1/consultations/{consult_id}/complete", headers=doc_h)
    assert r.status_code == 200, r.text


@contextlib.contextmanager
def _call(
    browser,
    server: Server,
    seeded: Seeded,
    consult_id: int,
    *,
    cho_weak: bool = False,
    cho_script: str | None = None,
    state: str = "video",
) -> Iterator[tuple[Page, Page]]:
    """The doctor's console and the CHO's consult page, both connected and showing ``state``
    (the CHO's device may remember "weak network", or run ``cho_script`` first)."""
    contexts, script_errors = [], []

    def new_page() -> Page:
        context = browser.new_context(viewport={"width": 1024, "height": 800}, locale="bn-IN")
        contexts.append(context)
        page = context.new_page()
        page.set_default_timeout(20_000)
        page.on("pageerror", lambda error: script_errors.append(str(error)))
        return page

    try:
        doctor, cho = new_page(), new_page()
        if cho_script:
            cho.add_init_script(cho_script)
        log_in(doctor, server, seeded.doctor, lands="/staff/tele/doctor")
        log_in(cho, server, seeded.cho, lands="/staff/tele")
        if cho_weak:
            cho.evaluate("localStorage.setItem('seba.call.weak', '1')")
        cho.goto(server.url + f"/staff/tele/consults/{consult_id}")
        for page in (doctor, cho):
            expect(page.locator("#call-state")).to_have_text(STATE[state])
            page.wait_for_function("() => window.sebaCall.connection() === 'connected'")
        yield doctor, cho
    finally:
        for context in contexts:
            context.close()
    assert script_errors == []


def _chat(sender: Page, receiver: Page, text: str) -> None:
    sender.get_by_label("বার্তা").fill(text)
    sender.get_by_role("button", name="পাঠান").click()
    expect(receiver.locator("#call-lines")).to_contain_text(text)


def _stopped(page: Page, kind: str, wait_s: float = 2.0) -> None:
    """Inbound ``kind`` bytes have stopped growing on ``page`` (a few stragglers at most)."""
    page.wait_for_timeout(1500)  # frames already on their way
    before = _received(page)[kind]
    page.wait_for_timeout(wait_s * 1000)
    assert _received(page)[kind] - before < 20_000


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
            page.wait_for_function("() => window.sebaCall.connection() === 'connected'")
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
    # Both modes on the record as stored: the doctor's video ended while audio went on.
    doctor_video = [s for s in _segments(server, consult_id, "doctor") if s[0] == "video"]
    doctor_audio = [s for s in _segments(server, consult_id, "doctor") if s[0] == "audio"]
    assert doctor_video and doctor_audio
    assert max(s[2] for s in doctor_audio) > max(s[2] for s in doctor_video)
    _complete(server, consult_id, doc_h)


def test_a_dropped_socket_reconnects_and_the_call_goes_on(call_server, media_browser):
    server, seeded = call_server
    consult_id, doc_h = _held_consult(server, seeded)
    with _call(media_browser, server, seeded, consult_id) as (doctor, cho):
        # The CHO's socket drops and stays down for 4 s (a village link, a lift).
        cho.evaluate("window.sebaCall.dropSocket(4000)")
        expect(cho.locator("#call-state")).to_have_text(STATE["reconnecting"])
        expect(doctor.locator("#call-state")).to_have_text(STATE["peer_reconnecting"])
        expect(doctor.locator("#tele-call")).to_have_attribute("data-peer", "reconnecting")
        # Back with a fresh ticket: both say the call is on again, and it is.
        for page in (doctor, cho):
            expect(page.locator("#call-state")).to_have_text(STATE["video"], timeout=30_000)
        for page in (doctor, cho):
            _grows(page, "video")
            _grows(page, "audio")
        _chat(cho, doctor, "আবার যুক্ত হয়েছি")
        _chat(doctor, cho, "Good, carry on")
        # The doctor's socket too (the side that makes the offers).
        doctor.evaluate("window.sebaCall.dropSocket(3000)")
        expect(cho.locator("#call-state")).to_have_text(STATE["peer_reconnecting"])
        for page in (doctor, cho):
            expect(page.locator("#call-state")).to_have_text(STATE["video"], timeout=30_000)
        _grows(cho, "video")
        _chat(cho, doctor, "BP 130/85")
    # The consult was not lost: still held, its chat whole.
    with httpx.Client(base_url=server.url, timeout=30) as http:
        consult = http.get(f"/api/v1/consultations/{consult_id}", headers=doc_h).json()
        chat = http.get(f"/api/v1/consultations/{consult_id}/call/chat", headers=doc_h).json()
    assert consult["status"] in ("accepted", "in_progress")
    assert [m["body"] for m in chat["messages"]] == [
        "আবার যুক্ত হয়েছি",
        "Good, carry on",
        "BP 130/85",
    ]
    _complete(server, consult_id, doc_h)


def test_a_poor_link_pauses_video_and_a_good_one_brings_it_back(call_server, media_browser):
    server, seeded = call_server
    consult_id, doc_h = _held_consult(server, seeded)
    with _call(media_browser, server, seeded, consult_id) as (doctor, cho):
        doctor.wait_for_timeout(3000)
        # The doctor's link monitor is fed poor samples: after three in a row video pauses,
        # on both sides, and both say why.
        doctor.evaluate("window.sebaCall.simulateLink('poor')")
        for page in (doctor, cho):
            expect(page.locator("#call-state")).to_have_text(STATE["weak_link"])
            assert page.evaluate("window.sebaCall.mode()") == "audio"
        for page in (doctor, cho):
            _stopped(page, "video")
            _grows(page, "audio")
        # Measured samples again (a loopback link is good): twelve good ones in a row, and
        # video comes back by itself; not before (hysteresis).
        doctor.evaluate("window.sebaCall.simulateLink(null)")
        doctor.wait_for_timeout(6 * HEARTBEAT_S * 1000)
        assert doctor.evaluate("window.sebaCall.mode()") == "audio"
        for page in (doctor, cho):
            expect(page.locator("#call-state")).to_have_text(STATE["link_better"], timeout=30_000)
            assert page.evaluate("window.sebaCall.mode()") == "video"
        for page in (doctor, cho):
            _grows(page, "video")
        # Pressing "Video" overrides a pause: poor samples again, the person insists.
        doctor.evaluate("window.sebaCall.simulateLink('poor')")
        expect(cho.locator("#call-state")).to_have_text(STATE["weak_link"])
        cho.get_by_role("button", name="ভিডিও", exact=True).click()
        for page in (doctor, cho):
            expect(page.locator("#call-state")).to_have_text(STATE["video"])
        doctor.wait_for_timeout(5 * HEARTBEAT_S * 1000)
        assert doctor.evaluate("window.sebaCall.mode()") == "video"  # not paused again
    # The record: the doctor's video has a gap (the pause) while audio ran on.
    video = [s for s in _segments(server, consult_id, "doctor") if s[0] == "video"]
    audio = [s for s in _segments(server, consult_id, "doctor") if s[0] == "audio"]
    assert len(video) >= 2, video
    assert len(audio) == 1 and audio[0][1] <= video[0][2] < video[1][1] <= audio[0][2], audio
    _complete(server, consult_id, doc_h)


def test_a_weak_network_start_is_by_voice_with_a_capped_picture(call_server, media_browser):
    server, seeded = call_server
    consult_id, doc_h = _held_consult(server, seeded)
    # The CHO ticked "weak network" on this device before (remembered in localStorage).
    with _call(media_browser, server, seeded, consult_id, cho_weak=True, state="weak_link") as (
        doctor,
        cho,
    ):
        expect(cho.get_by_label("দুর্বল নেটওয়ার্ক")).to_be_checked()
        for page in (doctor, cho):
            expect(page.locator("#call-state")).to_have_text(STATE["weak_link"])
            assert page.evaluate("window.sebaCall.mode()") == "audio"
        _grows(doctor, "audio")
        _stopped(doctor, "video")
        # Video when asked for: the CHO's picture is small and its bitrate capped.
        cho.get_by_role("button", name="ভিডিও", exact=True).click()
        expect(doctor.locator("#call-state")).to_have_text(STATE["video"])
        assert cho.evaluate("window.sebaCall.videoCap()") == {
            "maxBitrate": 150_000,
            "scaleResolutionDownBy": 2,
        }
        _grows(doctor, "video")
        doctor.wait_for_timeout(3000)
        before = _received(doctor)["video"]
        doctor.wait_for_timeout(5000)
        rate = (_received(doctor)["video"] - before) * 8 / 5
        assert rate < 150_000 * 1.5, rate
        width = doctor.evaluate("document.getElementById('call-remote').videoWidth")
        assert 0 < width <= 320, width
        # Unticked: the cap is lifted at once.
        cho.get_by_label("দুর্বল নেটওয়ার্ক").uncheck()
        cho.wait_for_function("() => window.sebaCall.videoCap().maxBitrate === null")
        assert cho.evaluate("localStorage.getItem('seba.call.weak')") == "0"
    _complete(server, consult_id, doc_h)


@pytest.mark.parametrize(
    ("error", "state", "sent"),
    [("NotAllowedError", "text", None), ("NotReadableError", "audio", "audio")],
)
def test_a_refused_camera_is_explained_and_the_call_degrades(
    call_server, media_browser, error, state, sent
):
    """Blocked camera and microphone: the reason in Bengali, a retry button, and the consult
    goes on by chat. A camera busy elsewhere: the reason, and the call goes on by voice."""
    server, seeded = call_server
    consult_id, doc_h = _held_consult(server, seeded)
    script = REFUSE_MEDIA % {"name": error}
    with _call(media_browser, server, seeded, consult_id, cho_script=script, state=state) as (
        doctor,
        cho,
    ):
        explained = cho.locator("#call-problem")
        expect(explained).to_be_visible()
        expect(explained).to_have_text(gettext("bn", MEDIA_ERRORS[error]))
        assert cho.evaluate("window.sebaCall.mode()") == state
        if sent:
            _grows(doctor, sent)
        else:
            expect(
                cho.get_by_role("button", name=gettext("bn", "Try the camera again"))
            ).to_be_visible()
        _chat(cho, doctor, "ক্যামেরা চলছে না")
        _chat(doctor, cho, "Chat is fine")
    _complete(server, consult_id, doc_h)


def test_the_two_parties_on_different_workers(media_browser, redis_url, tmp_path):
    """``seba serve --workers 2`` with Redis: the doctor's socket and the CHO's on different
    worker processes (each socket's welcome names its worker on a test server); the call
    connects and the chat arrives through Redis."""
    with _seeded_server(tmp_path, workers=2, redis_url=redis_url) as (server, seeded):
        consult_id, doc_h = _held_consult(server, seeded)
        with _call(media_browser, server, seeded, consult_id) as (doctor, cho):
            workers = {doctor.evaluate("window.sebaCall.worker()")}
            assert None not in workers
            # Separate connections land on either worker: reconnect the CHO until they differ.
            for _ in range(12):
                cho_worker = cho.evaluate("window.sebaCall.worker()")
                if cho_worker not in workers:
                    break
                cho.evaluate("window.sebaCall.dropSocket(0)")
                cho.wait_for_function("() => window.sebaCall.worker() !== null")
            assert cho_worker not in workers, "every socket landed on one worker"
            for page in (doctor, cho):
                expect(page.locator("#call-state")).to_have_text(STATE["video"], timeout=30_000)
                _grows(page, "video")
            _chat(cho, doctor, "অন্য প্রক্রিয়া থেকে")
            _chat(doctor, cho, "Heard you across workers")
        _complete(server, consult_id, doc_h)
