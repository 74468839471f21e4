"""The one server-sent-events helper behind every live page: preamble and ids, Last-Event-ID
catch-up, heartbeats, the key filter, and a stream that ends when its session does."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from types import SimpleNamespace

from starlette.requests import Request

from seba.accounts import service as account_service
from seba.core.events import EventBus
from seba.core.versions import LocalVersions
from seba.web.live import event_stream
from seba.web.session import session_alive
from tests import factories

HEARTBEAT_S = 0.05


def _request(last_event_id: str | None = None) -> Request:
    headers = [(b"last-event-id", last_event_id.encode())] if last_event_id is not None else []
    return Request({"type": "http", "method": "GET", "path": "/", "headers": headers})


async def _runtime(version: int = 0) -> SimpleNamespace:
    """Just what a stream uses: an in-process bus, a version source, the heartbeat."""
    versions = LocalVersions()
    await versions.committed("beds", version)
    return SimpleNamespace(
        bus=EventBus(), versions=versions, settings=SimpleNamespace(sse_heartbeat_s=HEARTBEAT_S)
    )


def _stream(rt, last_event_id: str | None = None, **options) -> AsyncIterator[bytes]:
    response = event_stream(_request(last_event_id), rt, **options)
    assert response.media_type == "text/event-stream"
    assert response.headers["cache-control"] == "no-cache"
    return response.body_iterator


async def _next(chunks: AsyncIterator[bytes]) -> str:
    async with asyncio.timeout(5):
        chunk = await anext(chunks)
    return chunk.decode() if isinstance(chunk, bytes) else chunk


def _parse(chunk: str) -> dict[str, str]:
    return dict(line.split(": ", 1) for line in chunk.strip().split("\n"))


async def test_events_carry_the_data_version_as_their_id():
    rt = await _runtime(version=7)
    chunks = _stream(rt, topics=("beds",), version="beds")
    assert await _next(chunks) == "retry: 3000\nid: 7\n\n"
    await rt.versions.committed("beds", 8)
    await rt.bus.publish("beds", {"facility_id": 3})
    event = _parse(await _next(chunks))
    assert event == {"event": "beds", "id": "8", "data": json.dumps({"facility_id": 3})}
    await chunks.aclose()


async def test_a_client_behind_gets_one_catch_up_event_at_once():
    rt = await _runtime(version=7)
    behind = _stream(rt, "5", topics=("beds",), version="beds")
    assert await _next(behind) == "retry: 3000\nid: 7\n\n"
    catch_up = _parse(await _next(behind))
    assert catch_up == {"event": "beds", "id": "7", "data": '{"resync": true}'}
    await behind.aclose()

    # Up to date, or an id that is no version: nothing to catch up, the next chunk is a ping.
    for last_id in ("7", "", "abc", "-1"):
        chunks = _stream(rt, last_id, topics=("beds",), version="beds")
        assert await _next(chunks) == "retry: 3000\nid: 7\n\n"
        assert await _next(chunks) == ": ping\n\n", last_id
        await chunks.aclose()


async def test_without_a_version_there_are_no_ids_and_nothing_to_resume():
    rt = await _runtime(version=7)
    chunks = _stream(rt, "5", topics=("referrals", "beds"))
    assert await _next(chunks) == "retry: 3000\n\n"
    await rt.bus.publish("referrals", {"referral_id": 1})
    await rt.bus.publish("beds", {"facility_id": 2})
    first, second = _parse(await _next(chunks)), _parse(await _next(chunks))
    assert {first["event"], second["event"]} == {"referrals", "beds"}
    assert "id" not in first and "id" not in second
    await chunks.aclose()


async def test_heartbeats_keep_an_idle_stream_open():
    rt = await _runtime()
    chunks = _stream(rt, topics=("beds",), version="beds")
    await _next(chunks)
    loop = asyncio.get_running_loop()
    started = loop.time()
    for _ in range(3):
        assert await _next(chunks) == ": ping\n\n"
    assert loop.time() - started >= 3 * HEARTBEAT_S * 0.9
    # An event still gets through between heartbeats.
    await rt.bus.publish("beds", {"facility_id": 1})
    seen = await _next(chunks)
    while seen == ": ping\n\n":
        seen = await _next(chunks)
    assert _parse(seen)["event"] == "beds"
    await chunks.aclose()


async def test_only_the_kept_keys_are_passed_on():
    rt = await _runtime()
    chunks = _stream(rt, topics=("referrals",), keep=("referral_id", "status"))
    await _next(chunks)
    await rt.bus.publish(
        "referrals", {"referral_id": 4, "status": "reserved", "patient": "Rina Das", "phone": "x"}
    )
    event = _parse(await _next(chunks))
    assert json.loads(event["data"]) == {"referral_id": 4, "status": "reserved"}
    await chunks.aclose()


async def test_an_event_key_names_the_events_of_one_topic():
    # A doctor's topic carries offers and changes: the data says which, and is not passed on.
    rt = await _runtime()
    chunks = _stream(rt, topics=("doctor:7",), event_key="event")
    await _next(chunks)
    await rt.bus.publish("doctor:7", {"event": "offer", "consult_id": 3})
    await rt.bus.publish("doctor:7", {"consult_id": 3, "status": "queued"})
    offer, unnamed = _parse(await _next(chunks)), _parse(await _next(chunks))
    assert (offer["event"], json.loads(offer["data"])) == ("offer", {"consult_id": 3})
    assert unnamed["event"] == "doctor:7"  # no name in the data: the topic's
    # With ``keep`` as well, only the kept keys.
    kept = _stream(rt, topics=("doctor:7",), event_key="event", keep=("consult_id",))
    await _next(kept)
    await rt.bus.publish("doctor:7", {"event": "consult", "consult_id": 3, "status": "x"})
    event = _parse(await _next(kept))
    assert (event["event"], json.loads(event["data"])) == ("consult", {"consult_id": 3})
    await chunks.aclose()
    await kept.aclose()


async def test_the_stream_ends_when_it_is_no_longer_allowed_and_unsubscribes():
    rt = await _runtime()
    answers = iter([True, True, False])

    async def still_allowed() -> bool:
        return next(answers)

    chunks = _stream(rt, topics=("referrals", "beds"), still_allowed=still_allowed)
    await _next(chunks)
    assert await _next(chunks) == ": ping\n\n"
    assert await _next(chunks) == ": ping\n\n"
    async with asyncio.timeout(5):
        assert [chunk async for chunk in chunks] == []
    assert not rt.bus._subscribers["referrals"] and not rt.bus._subscribers["beds"]


async def test_a_logout_ends_a_staff_stream(rt):
    user = await factories.user(rt, "control_room", "state")
    token, _, principal = await account_service.issue_token(
        rt, username=user.username, password=factories.PASSWORD, client="127.0.0.1"
    )
    live = await _runtime()

    async def session_open() -> bool:
        return await session_alive(rt, token)

    chunks = _stream(live, topics=("referrals",), still_allowed=session_open)
    await _next(chunks)
    assert await _next(chunks) == ": ping\n\n"  # the session is open
    await account_service.revoke_token(rt, actor=principal, token=token)
    async with asyncio.timeout(5):
        assert [chunk async for chunk in chunks] == []


async def test_only_the_events_a_listener_takes_are_passed_on():
    # ``only`` judges the full data (before ``keep``): here a district's listener.
    rt = await _runtime()
    chunks = _stream(
        rt,
        topics=("ambulances", "beds"),
        keep=("request_id",),
        only=lambda topic, data: topic != "ambulances" or "kolkata" in data.get("districts", []),
    )
    await _next(chunks)
    await rt.bus.publish("ambulances", {"request_id": 1, "districts": ["howrah"]})
    await rt.bus.publish("ambulances", {"request_id": 2, "districts": ["howrah", "kolkata"]})
    first = _parse(await _next(chunks))
    assert (first["event"], json.loads(first["data"])) == ("ambulances", {"request_id": 2})
    await rt.bus.publish("beds", {"request_id": 3})
    assert json.loads(_parse(await _next(chunks))["data"]) == {"request_id": 3}
    await chunks.aclose()
