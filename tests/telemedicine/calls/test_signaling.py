"""The signaling WebSocket on both databases: only the consult's doctor and its CHO get in
(with a fresh ticket of their own); between them it relays offers, answers, ICE candidates,
mode changes and heartbeats, keeps the chat, and tells each when the other comes and goes."""

from __future__ import annotations

import asyncio
import time

import pytest

from seba.app import create_app
from seba.telemedicine.calls import tickets
from seba.telemedicine.calls.signaling import (
    CLOSE_CONFLICT,
    CLOSE_FORBIDDEN,
    CLOSE_UNAUTHENTICATED,
)
from tests.telemedicine.calls.sockets import AsgiSocket, Closed, closed_with


@pytest.fixture
def app(rt, settings):
    return create_app(settings, runtime=rt)


async def ticket_for(client, consult_id: int, headers) -> dict:
    r = await client.post(f"/api/v1/consultations/{consult_id}/call/ticket", headers=headers)
    assert r.status_code == 200, r.text
    return r.json()


def forged(settings, *, user_id: int, consult_id: int, party: str, ttl: int = 60) -> str:
    """A ticket as if the issuing endpoint had been fooled: genuinely signed."""
    return tickets.sign_ticket(
        settings.secret_key,
        tickets.Ticket(user_id, consult_id, party, int(time.time()) + ttl),
    )


async def test_the_two_parties_talk_through_the_socket(rt, client, app, call):
    doc = await ticket_for(client, call.consult_id, call.doc_h)
    cho = await ticket_for(client, call.consult_id, call.cho_h)
    assert doc["party"] == "doctor" and cho["party"] == "cho"
    assert doc["ws_path"] == f"/ws/consults/{call.consult_id}/call"
    assert doc["expires_in"] == 60 and doc["ice_servers"] == []
    path = doc["ws_path"]
    async with AsgiSocket(app, path, ticket=doc["ticket"]) as d:
        welcome = await d.receive_type("welcome")
        assert welcome["party"] == "doctor" and welcome["chat"] == []
        async with AsgiSocket(app, path, ticket=cho["ticket"], lang="en") as c:
            await c.receive_type("welcome")
            joined = await d.receive_type("peer")
            assert joined == {"type": "peer", "state": "joined", "from": "cho"}
            await c.send({"type": "hello", "sid": "cho-1"})
            assert await d.receive_type("hello") == {
                "type": "hello",
                "sid": "cho-1",
                "from": "cho",
            }
            await d.send({"type": "offer", "sid": "doc-1", "sdp": "v=0 offer"})
            offer = await c.receive_type("offer")
            assert offer["sdp"] == "v=0 offer" and offer["from"] == "doctor"
            await c.send({"type": "answer", "sid": "cho-1", "sdp": "v=0 answer"})
            assert (await d.receive_type("answer"))["sdp"] == "v=0 answer"
            candidate = {"candidate": "candidate:1 1 udp 1 127.0.0.1 5000 typ host"}
            await d.send({"type": "ice", "sid": "doc-1", "candidate": candidate})
            assert (await c.receive_type("ice"))["candidate"] == candidate
            await d.send({"type": "mode", "sid": "doc-1", "mode": "audio"})
            assert "reason" not in (await c.receive_type("mode"))
            # A page that paused video on a weak link says why; any other reason is dropped.
            await d.send({"type": "mode", "mode": "audio", "reason": "weak_link"})
            assert (await c.receive_type("mode"))["reason"] == "weak_link"
            await d.send({"type": "mode", "mode": "video", "reason": "<b>"})
            assert "reason" not in (await c.receive_type("mode"))
            await d.send({"type": "heartbeat", "received": {"video": 10, "audio": 5}})
            assert (await c.receive_type("heartbeat"))["from"] == "doctor"
            # Chat reaches both sides (the sender's copy confirms it is on record).
            await c.send({"type": "chat", "body": "BP 150/95 now"})
            for side in (c, d):
                line = await side.receive_type("chat")
                assert line["body"] == "BP 150/95 now" and line["party"] == "cho"
            # Bad input: a clear error in the reader's language, and the call goes on.
            await c.send("not json")
            error = await c.receive_type("error")
            assert error["code"] == "bad_message" and "Reload" in error["message"]
            await c.send({"type": "offer", "sdp": 42})
            assert (await c.receive_type("error"))["code"] == "bad_message"
            await c.send({"type": "chat", "body": ""})
            error = await c.receive_type("error")
            assert error["code"] == "invalid_chat_message"
            await c.send({"type": "heartbeat", "received": {"video": -1}})
            assert (await c.receive_type("error"))["code"] == "bad_message"
            await c.send({"type": "heartbeat", "received": {}, "sent": {"video": "a lot"}})
            assert (await c.receive_type("error"))["code"] == "bad_message"
        left = await d.receive_type("peer")
        assert left == {"type": "peer", "state": "left", "from": "cho"}
        # A reconnecting party gets the chat so far.
        cho_again = await ticket_for(client, call.consult_id, call.cho_h)
        async with AsgiSocket(app, path, ticket=cho_again["ticket"]) as c2:
            welcome = await c2.receive_type("welcome")
            assert [m["body"] for m in welcome["chat"]] == ["BP 150/95 now"]
    r = await client.get(f"/api/v1/consultations/{call.consult_id}/call", headers=call.doc_h)
    record = r.json()
    assert record["started_at"] is not None and record["ended_at"] is not None
    assert record["duration_s"] >= 0


async def test_a_newer_tab_of_the_same_party_takes_the_call_over(rt, client, app, call):
    path = f"/ws/consults/{call.consult_id}/call"
    first = await ticket_for(client, call.consult_id, call.cho_h)
    second = await ticket_for(client, call.consult_id, call.cho_h)
    async with AsgiSocket(app, path, ticket=first["ticket"]) as old:
        await old.receive_type("welcome")
        async with AsgiSocket(app, path, ticket=second["ticket"]) as new:
            await new.receive_type("welcome")
            with pytest.raises(Closed) as closed:
                await old.receive_type("never")
            assert closed.value.code == CLOSE_CONFLICT


async def test_third_parties_get_no_ticket(rt, client, call):
    for headers in (call.other_doc_h, call.other_cho_h):
        r = await client.post(
            f"/api/v1/consultations/{call.consult_id}/call/ticket", headers=headers
        )
        assert r.status_code == 404, r.text
        assert r.json()["error"]["code"] == "unknown_consult"
    r = await client.post(f"/api/v1/consultations/{call.consult_id}/call/ticket")
    assert r.status_code == 401


async def test_the_socket_refuses_anyone_else(rt, client, app, settings, call):
    path = f"/ws/consults/{call.consult_id}/call"
    real = (await ticket_for(client, call.consult_id, call.doc_h))["ticket"]
    # No ticket, a made-up one, one signed with another key, one a minute old, another
    # consult's: 4401.
    assert await closed_with(app, path) == CLOSE_UNAUTHENTICATED
    assert await closed_with(app, path, ticket="abc.def") == CLOSE_UNAUTHENTICATED
    payload = real.split(".")[0]
    assert await closed_with(app, path, ticket=f"{payload}.AAAA") == CLOSE_UNAUTHENTICATED
    stale = forged(
        settings, user_id=call.doctor_user_id, consult_id=call.consult_id, party="doctor", ttl=-1
    )
    assert await closed_with(app, path, ticket=stale) == CLOSE_UNAUTHENTICATED
    other_path = f"/ws/consults/{call.consult_id + 1}/call"
    assert await closed_with(app, other_path, ticket=real) == CLOSE_UNAUTHENTICATED
    # A genuine ticket with the party changed: refused.
    wrong_side = forged(
        settings, user_id=call.doctor_user_id, consult_id=call.consult_id, party="cho"
    )
    assert await closed_with(app, path, ticket=wrong_side) == CLOSE_UNAUTHENTICATED
    # Tickets of people who are not parties (as if the issuer had been fooled): 4403.
    for user_id, side in (
        (call.other_doctor_user_id, "doctor"),
        (call.other_cho_user_id, "cho"),
    ):
        ticket = forged(settings, user_id=user_id, consult_id=call.consult_id, party=side)
        assert await closed_with(app, path, ticket=ticket) == CLOSE_FORBIDDEN


async def test_the_call_closes_with_the_consult(rt, client, app, call):
    path = f"/ws/consults/{call.consult_id}/call"
    doc = (await ticket_for(client, call.consult_id, call.doc_h))["ticket"]
    done = await client.post(
        f"/api/v1/consultations/{call.consult_id}/complete", headers=call.doc_h
    )
    assert done.status_code == 200
    assert await closed_with(app, path, ticket=doc) == CLOSE_CONFLICT
    r = await client.post(
        f"/api/v1/consultations/{call.consult_id}/call/ticket", headers=call.doc_h
    )
    assert r.status_code == 409 and r.json()["error"]["code"] == "call_not_open"


async def test_across_two_workers_through_redis(rt, client, call, settings, redis_url):
    """Doctor and CHO on two app processes (two runtimes) sharing Redis: messages still meet."""
    from seba.core.runtime import build_runtime

    shared = settings.model_copy(update={"redis_url": redis_url})
    one, two = build_runtime(shared), build_runtime(shared)
    await one.start()
    await two.start()
    try:
        app_one = create_app(shared, runtime=one)
        app_two = create_app(shared, runtime=two)
        path = f"/ws/consults/{call.consult_id}/call"
        doc = (await ticket_for(client, call.consult_id, call.doc_h))["ticket"]
        cho = (await ticket_for(client, call.consult_id, call.cho_h))["ticket"]
        async with AsgiSocket(app_one, path, ticket=doc) as d:
            await d.receive_type("welcome")
            async with AsgiSocket(app_two, path, ticket=cho) as c:
                await c.receive_type("welcome")
                await d.receive_type("peer")
                await d.send({"type": "offer", "sid": "x", "sdp": "v=0 across"})
                assert (await c.receive_type("offer"))["sdp"] == "v=0 across"
                await c.send({"type": "chat", "body": "শুনতে পাচ্ছেন?"})
                assert (await d.receive_type("chat"))["body"] == "শুনতে পাচ্ছেন?"
        await asyncio.sleep(0)
    finally:
        await one.close()
        await two.close()
