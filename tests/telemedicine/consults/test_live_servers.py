"""The doctor's live stream over real HTTP, across two server processes sharing Redis: a consult
raised through one server reaches, as an ``offer`` event, the doctor's stream held by the
other; the doctor's acceptance there reaches the CHO's consult stream on the first."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator

import httpx
import pytest

from tests import factories
from tests.servers import servers
from tests.telemedicine import factories as tele

pytestmark = pytest.mark.server


async def _next_event(lines: AsyncIterator[str]) -> tuple[str, dict]:
    """The next named SSE event as (name, data); heartbeats are skipped."""
    name, data = None, {}
    async for line in lines:
        if line.startswith("event: "):
            name = line.removeprefix("event: ")
        elif line.startswith("data: "):
            data = json.loads(line.removeprefix("data: "))
        elif line == "" and name is not None:
            return name, data
    raise AssertionError("the event stream ended")


async def _open(stack, client: httpx.AsyncClient, path: str, headers: dict):
    stream = await stack.enter_async_context(client.stream("GET", path, headers=headers))
    assert stream.status_code == 200, await stream.aread()
    assert stream.headers["content-type"].startswith("text/event-stream")
    lines = stream.aiter_lines()
    assert await anext(lines) == "retry: 3000"  # subscribed: nothing is lost from here
    return lines


async def test_offers_and_changes_cross_servers_through_redis(db_url, rt, redis_url, tmp_path):
    codes = await factories.network(rt)
    cho = await factories.cho(rt, codes["kolkata_spoke"])
    doctor = await factories.doctor(rt, codes["kolkata_hub"])
    doctor_name = await tele.username(rt, doctor.user_id)
    with servers(2, db_url, tmp_path, redis_url=redis_url) as (one, two):
        async with (
            httpx.AsyncClient(base_url=one.url, timeout=30) as c1,
            httpx.AsyncClient(base_url=two.url, timeout=30) as c2,
            contextlib.AsyncExitStack() as stack,
        ):
            cho_h = {"Authorization": f"Bearer {await factories.token(c1, cho.username)}"}
            doc_h = {"Authorization": f"Bearer {await factories.token(c2, doctor_name)}"}
            patient = await tele.patient(c1, cho_h)
            online = {"status": "online"}
            r = await c2.post("/api/v1/doctors/me/presence", json=online, headers=doc_h)
            assert r.status_code == 200
            doc = await _open(stack, c2, "/api/v1/doctors/me/events", doc_h)
            r = await c1.post(
                "/api/v1/consultations", json=tele.consult_body(patient), headers=cho_h
            )
            assert r.status_code == 201, r.text
            cid = r.json()["id"]
            async with asyncio.timeout(15):
                assert await _next_event(doc) == ("offer", {"consult_id": cid})
            state = await _open(stack, c1, f"/api/v1/consultations/{cid}/events", cho_h)
            r = await c2.post(f"/api/v1/consultations/{cid}/accept", headers=doc_h)
            assert r.status_code == 200
            async with asyncio.timeout(15):
                assert await _next_event(state) == (
                    "state",
                    {"consult_id": cid, "status": "accepted"},
                )
                assert await _next_event(doc) == (
                    "consult",
                    {"consult_id": cid, "status": "accepted"},
                )
