"""Pushed, not polled: the doctor's and the CHO's live streams, on SQLite and PostgreSQL.

Offers reach the doctor's stream when a CHO raises a consult, when it stands as they connect,
and when the doctor finishes the one before; take-backs and lapses arrive as ``consult``; the
CHO's stream hears every status change and its queue moving; nobody hears another's events. An
open stream keeps its doctor present with one statement per process; a closed one lets the sweep
take them offline; a logout ends the stream.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator

import pytest
from sqlalchemy import event
from starlette.requests import Request

from seba.accounts import service as account_service
from seba.core.runtime import build_runtime
from seba.telemedicine.consults import offers, streams, sweep
from seba.telemedicine.consults import service as consult_service
from seba.telemedicine.consults.schemas import ConsultIn, PresenceIn
from seba.telemedicine.models import DoctorPresence
from seba.telemedicine.pages import events as live_events
from tests import factories
from tests.telemedicine import factories as tele

HEARTBEAT_S = 0.1
PRESENCE_TIMEOUT_S = 0.9  # a refresh every 0.1 s (the heartbeat; a third would be 0.3)


@pytest.fixture
def settings(settings):
    return settings.model_copy(
        update={"sse_heartbeat_s": HEARTBEAT_S, "presence_timeout_s": PRESENCE_TIMEOUT_S}
    )


class Stream:
    """An open stream read in the background: named events in a queue, pings skipped."""

    def __init__(self, body: AsyncIterator) -> None:
        self.body = body
        self.events: asyncio.Queue[tuple[str, dict]] = asyncio.Queue()
        self.ended = asyncio.Event()
        self.preamble = asyncio.Event()
        self._task = asyncio.create_task(self._read())

    async def _read(self) -> None:
        try:
            async for chunk in self.body:
                text = chunk.decode() if isinstance(chunk, bytes) else chunk
                if text.startswith("retry:"):
                    self.preamble.set()
                    continue
                fields = dict(
                    line.split(": ", 1) for line in text.strip().split("\n") if ": " in line
                )
                if "event" in fields:
                    await self.events.put((fields["event"], json.loads(fields["data"])))
        finally:
            self.ended.set()

    async def next(self) -> tuple[str, dict]:
        async with asyncio.timeout(5):
            return await self.events.get()

    async def until(self, wanted: tuple[str, dict]) -> None:
        async with asyncio.timeout(5):
            while (got := await self.events.get()) != wanted:
                pass  # an earlier event of the same story (e.g. a queue nudge)
            assert got == wanted

    async def quiet(self, seconds: float = 0.4) -> list[tuple[str, dict]]:
        await asyncio.sleep(seconds)
        heard = []
        while not self.events.empty():
            heard.append(self.events.get_nowait())
        return heard

    async def close(self) -> None:
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task
        await self.body.aclose()


def _request() -> Request:
    return Request({"type": "http", "method": "GET", "path": "/", "headers": []})


def _token(headers: dict) -> str:
    return headers["Authorization"].removeprefix("Bearer ")


async def open_doctor(rt, headers: dict) -> Stream:
    token = _token(headers)
    actor = await account_service.principal_for_token(rt, token)
    response = await live_events.doctor_stream(_request(), rt, actor=actor, token=token)
    assert response.media_type == "text/event-stream"
    stream = Stream(response.body_iterator)
    await asyncio.wait_for(stream.preamble.wait(), 5)
    return stream


async def open_consult(rt, headers: dict, consult_id: int) -> Stream:
    token = _token(headers)
    actor = await account_service.principal_for_token(rt, token)
    response = await live_events.consult_stream(
        _request(), rt, actor=actor, consult_id=consult_id, token=token
    )
    stream = Stream(response.body_iterator)
    await asyncio.wait_for(stream.preamble.wait(), 5)
    return stream


async def online(client, headers: dict) -> dict:
    r = await client.post("/api/v1/doctors/me/presence", json={"status": "online"}, headers=headers)
    assert r.status_code == 200, r.text
    return r.json()


async def raise_consult(client, cho_h: dict, patient_id: int, **body) -> dict:
    r = await client.post(
        "/api/v1/consultations", json=tele.consult_body(patient_id, **body), headers=cho_h
    )
    assert r.status_code == 201, r.text
    return r.json()


async def second_doctor(rt, client, codes) -> tuple:
    doctor = await factories.doctor(rt, codes["kolkata_hub"])
    user = await tele.username(rt, doctor.user_id)
    return doctor, {"Authorization": f"Bearer {await factories.token(client, user)}"}


async def presence(rt, doctor_id: int) -> str:
    async with rt.db.read() as session:
        return (await session.get(DoctorPresence, doctor_id)).status


async def test_an_offer_reaches_its_doctor_only_and_its_lapse_follows(rt, client):
    codes, cho_h, doc_h, _, patient = await tele.setup(rt, client)
    _, other_h = await second_doctor(rt, client, codes)
    await online(client, doc_h)
    mine, theirs = await open_doctor(rt, doc_h), await open_doctor(rt, other_h)
    try:
        assert await mine.quiet(0.2) == []  # nothing stands: nothing sent on connect
        cid = (await raise_consult(client, cho_h, patient))["id"]
        assert await mine.next() == ("offer", {"consult_id": cid})
        # The offer lapses: the sweep takes it back, and the doctor hears it.
        await tele.time_passes(rt, rt.settings.offer_timeout_s + 1)
        assert (await sweep.sweep(rt)).offers_lapsed == 1
        assert await mine.next() == ("consult", {"consult_id": cid, "status": "queued"})
        # The other doctor (offline) heard nothing of it at all.
        assert await theirs.quiet() == []
    finally:
        await mine.close()
        await theirs.close()


async def test_a_standing_offer_is_sent_on_connect_and_a_take_back_arrives(rt, client):
    _, cho_h, doc_h, _, patient = await tele.setup(rt, client)
    await online(client, doc_h)
    cid = (await raise_consult(client, cho_h, patient))["id"]
    stream = await open_doctor(rt, doc_h)
    try:
        assert await stream.next() == ("offer", {"consult_id": cid})
        # The doctor takes a break: the offer goes back to the queue, and the stream says so.
        r = await client.post("/api/v1/doctors/me/presence", json={"status": "away"}, headers=doc_h)
        assert r.status_code == 200
        await stream.until(("consult", {"consult_id": cid, "status": "queued"}))
        # The CHO withdraws it: not theirs any more, nothing more for this doctor.
        r = await client.post(
            f"/api/v1/consultations/{cid}/cancel", json={"reason": "left"}, headers=cho_h
        )
        assert r.status_code == 200
        assert await stream.quiet() == []
    finally:
        await stream.close()


async def test_the_cho_hears_every_change_and_the_doctor_the_next_offer(rt, client):
    _, cho_h, doc_h, _, patient = await tele.setup(rt, client)
    first = (await raise_consult(client, cho_h, patient))["id"]
    second = (await raise_consult(client, cho_h, patient))["id"]
    one, two = await open_consult(rt, cho_h, first), await open_consult(rt, cho_h, second)
    doc = await open_doctor(rt, doc_h)
    try:
        await online(client, doc_h)  # the first is offered: the second moves up
        await doc.until(("offer", {"consult_id": first}))
        await one.until(("state", {"consult_id": first, "status": "queued"}))
        await two.until(("position", {}))
        r = await client.post(f"/api/v1/consultations/{first}/accept", headers=doc_h)
        assert r.status_code == 200
        await one.until(("state", {"consult_id": first, "status": "accepted"}))
        r = await client.post(f"/api/v1/consultations/{first}/join", headers=cho_h)
        assert r.status_code == 200
        await one.until(("state", {"consult_id": first, "status": "in_progress"}))
        await doc.until(("consult", {"consult_id": first, "status": "in_progress"}))
        r = await client.post(f"/api/v1/consultations/{first}/complete", headers=doc_h)
        assert r.status_code == 200
        await one.until(("state", {"consult_id": first, "status": "completed"}))
        # Free again: the next consult is offered at once, without a poll or the sweep.
        await doc.until(("offer", {"consult_id": second}))
        await two.until(("state", {"consult_id": second, "status": "queued"}))
    finally:
        for stream in (one, two, doc):
            await stream.close()


async def test_who_may_open_which_stream(rt, client):
    codes, cho_h, _, _, patient = await tele.setup(rt, client)
    cid = (await raise_consult(client, cho_h, patient))["id"]
    assert (await client.get("/api/v1/doctors/me/events")).status_code == 401
    assert (await client.get(f"/api/v1/consultations/{cid}/events")).status_code == 401
    r = await client.get("/api/v1/doctors/me/events", headers=cho_h)
    assert r.status_code == 403 and r.json()["error"]["code"] == "forbidden"
    # A CHO of another spoke: the consult answers as a missing one would (it carries a
    # patient's complaint), exactly like its other routes.
    hills = await factories.cho(rt, codes["hills_spoke"])
    hills_h = {"Authorization": f"Bearer {await factories.token(client, hills.username)}"}
    r = await client.get(f"/api/v1/consultations/{cid}/events", headers=hills_h)
    assert r.status_code == 404 and r.json()["error"]["code"] == "unknown_consult"
    r = await client.get("/api/v1/consultations/999999/events", headers=cho_h)
    assert r.status_code == 404
    # The pages: no session, the login page; the wrong role, refused.
    r = await client.get("/staff/tele/doctor/events")
    assert r.status_code == 303 and r.headers["location"].startswith("/staff/login")
    r = await client.get(f"/staff/tele/consults/{cid}/events")
    assert r.status_code == 303


async def test_an_open_stream_keeps_its_doctor_present_and_a_closed_one_does_not(rt, client):
    _, _, doc_h, doctor, _ = await tele.setup(rt, client)
    await online(client, doc_h)
    stream = await open_doctor(rt, doc_h)
    try:
        # Three presence timeouts without a single poll: still online.
        for _ in range(3):
            await asyncio.sleep(PRESENCE_TIMEOUT_S)
            await sweep.sweep(rt)
            assert await presence(rt, doctor.id) == "online"
    finally:
        await stream.close()
    await asyncio.sleep(PRESENCE_TIMEOUT_S + 0.2)
    assert (await sweep.sweep(rt)).offline == 1
    assert await presence(rt, doctor.id) == "offline"


async def test_one_refresh_statement_for_every_doctor_of_a_process(rt, client):
    codes, _, doc_h, doctor, _ = await tele.setup(rt, client)
    others = [await second_doctor(rt, client, codes) for _ in range(3)]
    consoles = streams.LiveConsoles(rt)
    async with contextlib.AsyncExitStack() as stack:
        for d, h in [(doctor, doc_h), *others]:
            await stack.enter_async_context(consoles.hold(_token(h), d.id))
        await stack.enter_async_context(consoles.hold(_token(doc_h), doctor.id))  # a 2nd tab
        await consoles.stop()  # this test ticks by hand
        statements: list[str] = []

        def count(_conn, _cursor, statement, *_args):
            statements.append(" ".join(statement.split()).lower())

        engines = {rt.db.read_engine.sync_engine, rt.db.write_engine.sync_engine}
        for engine in engines:
            event.listen(engine, "before_cursor_execute", count)
        try:
            assert await consoles.tick() == 4
        finally:
            for engine in engines:
                event.remove(engine, "before_cursor_execute", count)
    work = [s for s in statements if s.startswith(("select", "update", "insert", "delete"))]
    assert len(work) == 2, work  # one session check, one presence refresh
    assert work[0].startswith("select") and "api_token" in work[0]
    assert work[1].startswith("update doctor_presence")


async def test_a_logout_ends_the_doctors_stream(rt, client):
    _, _, doc_h, _, _ = await tele.setup(rt, client)
    stream = await open_doctor(rt, doc_h)
    try:
        r = await client.post("/api/v1/auth/logout", headers=doc_h)
        assert r.status_code in (200, 204), r.text
        # The next tick sees the session closed; the heartbeat after it ends the stream.
        await asyncio.wait_for(stream.ended.wait(), 5)
    finally:
        await stream.close()


async def test_an_offer_made_on_one_worker_reaches_a_stream_on_another(
    rt, client, settings, redis_url
):
    _, cho_h, doc_h, _, patient = await tele.setup(rt, client)
    shared = settings.model_copy(update={"redis_url": redis_url})
    one, two = build_runtime(shared), build_runtime(shared)
    await one.start()
    await two.start()
    try:
        await online(client, doc_h)
        stream = await open_doctor(two, doc_h)
        try:
            # Raised through the first worker (its bus publishes to Redis).
            cho = await account_service.principal_for_token(one, _token(cho_h))
            state = await consult_service.raise_consult(
                one, actor=cho, data=ConsultIn.model_validate(tele.consult_body(patient))
            )
            await stream.until(("offer", {"consult_id": state.consult.id}))
        finally:
            await stream.close()
    finally:
        await one.close()
        await two.close()


async def test_without_redis_a_siblings_changes_reach_the_streams_within_a_second(
    rt, client, settings
):
    """Several workers on one database without Redis: the process holding the streams looks
    once a second (three statements, whatever the number of streams) and nudges them."""
    _, cho_h, doc_h, _, patient = await tele.setup(rt, client)
    siblings = settings.model_copy(update={"workers": 2})
    one, two = build_runtime(siblings), build_runtime(siblings)
    await one.start()
    await two.start()
    try:
        waiting = (await raise_consult(client, cho_h, patient))["id"]
        behind = (await raise_consult(client, cho_h, patient))["id"]
        doc = await open_doctor(two, doc_h)
        cho_one, cho_two = (
            await open_consult(two, cho_h, waiting),
            await open_consult(two, cho_h, behind),
        )
        try:
            await asyncio.sleep(1.2)  # the watch has seen everything once
            doctor = await account_service.principal_for_token(one, _token(doc_h))
            await offers.set_presence(one, actor=doctor, data=PresenceIn(status="online"))
            await doc.until(("offer", {"consult_id": waiting}))
            await cho_two.until(("position", {}))
            await offers.accept_consult(one, actor=doctor, consult_id=waiting)
            await cho_one.until(("state", {"consult_id": waiting, "status": "accepted"}))
            await doc.until(("consult", {"consult_id": waiting, "status": "accepted"}))
        finally:
            for stream in (doc, cho_one, cho_two):
                await stream.close()
    finally:
        await one.close()
        await two.close()
