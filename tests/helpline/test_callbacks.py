"""The callback queue: asking (limits, one place per phone, crisis first), taking (priority then
oldest; two agents never take the same one, on both engines), outcomes and retries, the wait
and the day's figures."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from sqlalchemy import update

from seba.core.access import Principal
from seba.core.db import transactional
from seba.core.i18n import IST
from seba.core.types import utcnow
from seba.helpline import callbacks
from seba.helpline.models import CallbackRequest
from seba.helpline.schemas import CallbackIn
from tests import factories
from tests.pages import count


def phone(n: int) -> str:
    return f"98300 {n:05d}"


async def ask(client, n: int, **extra):
    body = {"phone": phone(n), "topic": "beds", "lang": "bn", **extra}
    return await client.post("/api/v1/callbacks", json=body)


async def agents(client, rt, n: int) -> list[dict]:
    return [await factories.staff(client, rt, "control_room") for _ in range(n)]


async def test_a_citizen_asks_and_is_told_the_place_and_wait(rt, client):
    first = await ask(client, 1)
    assert first.status_code == 201, first.text
    assert first.json() == {
        "id": first.json()["id"],
        "ahead": 0,
        "expected_wait_min": 5,
        "crisis": False,
    }
    second = (await ask(client, 2)).json()
    assert second["ahead"] == 1 and second["expected_wait_min"] == 10
    # The same phone again keeps its place: no second entry.
    again = (await ask(client, 1, topic="testing")).json()
    assert again["id"] == first.json()["id"] and again["ahead"] == 0
    assert await count(rt, CallbackRequest) == 2
    wait = (await client.get("/api/v1/callbacks/wait")).json()
    assert wait["ahead"] == 2 and wait["expected_wait_min"] == 15


async def test_crisis_words_go_first_and_say_so(rt, client):
    await ask(client, 1)
    urgent = (await ask(client, 2, note="আমি আর বাঁচতে চাই না")).json()
    assert urgent["crisis"] is True and urgent["ahead"] == 0
    headers = (await agents(client, rt, 1))[0]
    taken = (await client.post("/api/v1/callbacks/next", headers=headers)).json()["callback"]
    assert taken["phone"] == "+919830000002" and taken["priority"] == 0


async def test_requests_are_limited_per_phone_and_per_address(rt, client):
    for _ in range(callbacks.PHONE_LIMIT):
        assert (await ask(client, 7)).status_code == 201
    refused = await ask(client, 7)
    assert refused.status_code == 429
    assert refused.json()["error"]["code"] == "callback_limit"
    assert int(refused.headers["Retry-After"]) > 0
    # One address: 20 an hour, across phones (3 hits above already count).
    codes = [(await ask(client, 100 + i)).status_code for i in range(callbacks.CLIENT_LIMIT)]
    assert codes.count(201) == callbacks.CLIENT_LIMIT - callbacks.PHONE_LIMIT
    assert set(codes[callbacks.CLIENT_LIMIT - callbacks.PHONE_LIMIT :]) == {429}


async def test_bad_requests_get_the_error_shape_in_the_users_language(client):
    r = await client.post("/api/v1/callbacks?lang=bn", json={"phone": "12345", "topic": "beds"})
    assert r.status_code == 422 and r.json()["error"]["code"] == "validation_failed"
    r = await client.post("/api/v1/callbacks", json={"phone": phone(1), "topic": "astrology"})
    assert r.status_code == 422
    r = await client.post("/api/v1/callbacks/next")
    assert r.status_code == 401


async def test_agents_take_by_priority_then_oldest_and_only_agents_may(rt, client):
    for n in (1, 2, 3):
        await ask(client, n)
    await ask(client, 4, note="suicide")
    viewer = await factories.staff(client, rt, "viewer")
    assert (await client.post("/api/v1/callbacks/next", headers=viewer)).status_code == 403
    one, two = await agents(client, rt, 2)
    order = []
    for headers in (one, two):
        order.append((await client.post("/api/v1/callbacks/next", headers=headers)).json())
    assert [o["callback"]["phone"][-1] for o in order] == ["4", "1"]
    # Asking again gives back the one the agent holds.
    held = (await client.post("/api/v1/callbacks/next", headers=one)).json()
    assert held["callback"]["id"] == order[0]["callback"]["id"]


async def test_two_agents_at_once_never_take_the_same_callback(rt, client):
    """Eight agents ask at the same moment, several rounds; each waiting callback goes to
    exactly one of them (SKIP LOCKED on PostgreSQL, serialised writers on SQLite)."""
    users = [await factories.user(rt, "control_room") for _ in range(8)]
    actors = [
        Principal(user_id=u.id, username=u.username, role=u.role, scope_kind="state") for u in users
    ]
    for round_ in range(3):
        for n in range(3):
            await ask(client, 1000 * round_ + n)
        taken = await asyncio.gather(*(callbacks.take_next(rt, actor=a) for a in actors))
        got = [row.id for row in taken if row is not None]
        assert len(got) == 3 and len(set(got)) == 3, got
        holders = {row.id: row.taken_by for row in taken if row is not None}
        assert len(set(holders.values())) == 3
        for actor, row in zip(actors, taken, strict=True):
            if row is not None:
                await callbacks.record_outcome(
                    rt, actor=actor, callback_id=row.id, outcome="answered"
                )
    assert await count(rt, CallbackRequest, CallbackRequest.status == "answered") == 9


async def test_outcomes_end_or_retry_a_callback(rt, client):
    await ask(client, 1)
    headers = (await agents(client, rt, 1))[0]
    taken = (await client.post("/api/v1/callbacks/next", headers=headers)).json()["callback"]
    path = f"/api/v1/callbacks/{taken['id']}/outcome"
    r = await client.post(path, json={"outcome": "no_answer"}, headers=headers)
    assert r.status_code == 200 and r.json()["status"] == "waiting"
    assert r.json()["attempts"] == 1
    # Not due yet: the queue is empty for now.
    empty = (await client.post("/api/v1/callbacks/next", headers=headers)).json()
    assert empty["callback"] is None
    again = await client.post(path, json={"outcome": "answered"}, headers=headers)
    assert again.status_code == 409 and again.json()["error"]["code"] == "callback_not_yours"
    for attempt in (2, 3):
        await _make_due(rt)
        taken = (await client.post("/api/v1/callbacks/next", headers=headers)).json()
        assert taken["callback"]["attempts"] == attempt - 1
        r = await client.post(path, json={"outcome": "busy"}, headers=headers)
    assert r.json()["status"] == "closed" and r.json()["attempts"] == callbacks.MAX_ATTEMPTS
    missing = await client.post(
        "/api/v1/callbacks/999999/outcome", json={"outcome": "answered"}, headers=headers
    )
    assert missing.status_code == 404


async def _make_due(rt) -> None:
    async with transactional(rt.db) as session:
        await session.execute(
            update(CallbackRequest)
            .where(CallbackRequest.status == "waiting")
            .values(due_at=utcnow() - timedelta(seconds=1))
        )


async def test_the_days_figures(rt, client):
    headers = (await agents(client, rt, 1))[0]
    for n in range(4):
        await ask(client, n)
    for outcome in ("answered", "answered", "wrong_number"):
        taken = (await client.post("/api/v1/callbacks/next", headers=headers)).json()
        await client.post(
            f"/api/v1/callbacks/{taken['callback']['id']}/outcome",
            json={"outcome": outcome},
            headers=headers,
        )
    today = utcnow().astimezone(IST).date()
    figures = await client.get(f"/api/v1/callbacks/figures?day={today}", headers=headers)
    assert figures.status_code == 200, figures.text
    body = figures.json()
    assert (body["requests"], body["answered"], body["closed_unanswered"], body["waiting"]) == (
        4,
        2,
        1,
        1,
    )
    assert body["p50_min"] is not None and body["p90_min"] >= body["p50_min"]
    far = await client.get("/api/v1/callbacks/figures?day=9999-12-31", headers=headers)
    assert far.status_code == 422


async def test_the_service_refuses_a_phone_format_it_cannot_dial():
    assert CallbackIn(phone="+91 98300 12345", topic="other").phone == "+919830012345"
