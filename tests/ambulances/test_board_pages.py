"""The dispatcher's board: record a call, see the nearest free ambulances, send one in a
click; a district dispatcher's board holds only their district; the stream carries the event."""

from __future__ import annotations

import asyncio
import json

from sqlalchemy import select

from seba.ambulances.models import AmbulanceRequest, AmbulanceTrip
from tests import factories
from tests.ambulances import world as w
from tests.pages import bn, count, csrf_of, staff_session


async def test_a_call_is_recorded_and_the_nearest_ambulance_sent(rt, client):
    made = await w.world(rt)
    far = await w.ambulance(rt, made["hospital"].code)
    await w.place_at(rt, far["id"], 22.75, 88.36)
    await staff_session(client, rt, "control_room", "district:kolkata")
    home = await client.get("/staff")
    assert 'href="/staff/ambulances"' in home.text
    page = await client.get("/staff/ambulances")
    assert page.status_code == 200
    assert bn("Record a call for an ambulance") in page.text
    csrf = csrf_of(page.text)
    bad = await client.post(
        "/staff/ambulances/requests",
        data={
            "csrf": csrf,
            "district": "kolkata",
            "lat": "28.6",
            "lon": "77.2",
            "condition": "severe",
            "contact_phone": "98300 55555",
        },
    )
    assert bad.status_code == 422
    assert await count(rt, AmbulanceRequest) == 0
    recorded = await client.post(
        "/staff/ambulances/requests",
        data={
            "csrf": csrf,
            "district": "kolkata",
            "lat": "22.57",
            "lon": "88.36",
            "condition": "severe",
            "contact_phone": "98300 55555",
        },
    )
    assert recorded.status_code == 303
    board = await client.get(recorded.headers["location"])
    nearest = made["ambulance"]["registration"]
    assert bn("Send {vehicle}", vehicle=nearest) in board.text
    # Nearest first on the board.
    assert board.text.index(nearest) < board.text.index(far["registration"])
    async with rt.db.read() as s:
        req = await s.scalar(select(AmbulanceRequest))
    sent = await client.post(
        "/staff/ambulances/assign",
        data={
            "csrf": csrf,
            "request_id": str(req.id),
            "ambulance_id": str(made["ambulance"]["id"]),
        },
    )
    assert sent.status_code == 303
    again = await client.post(
        "/staff/ambulances/assign",
        data={"csrf": csrf, "request_id": str(req.id), "ambulance_id": str(far["id"])},
    )
    assert again.status_code == 409
    assert bn("This request is not waiting for an ambulance.") in again.text
    assert await count(rt, AmbulanceTrip) == 1
    live = await client.get("/staff/ambulances/live")
    assert bn("Assigned") in live.text


async def test_the_board_is_for_dispatchers_of_the_district(rt, client):
    await factories.districts(rt)
    await w.request(rt, "howrah", lat=22.59, lon=88.31)
    await staff_session(client, rt, "control_room", "district:kolkata")
    board = await client.get("/staff/ambulances")
    assert bn("No request is waiting.") in board.text
    hospital = await w.base(rt)
    await staff_session(client, rt, "hospital_staff", f"facility:{hospital.code}")
    refused = await client.get("/staff/ambulances")
    assert refused.status_code == 403


async def test_an_assignment_reaches_the_staff_stream(rt):
    from seba.ambulances import dispatch
    from seba.core.access import SYSTEM

    made = await w.world(rt)
    req = await w.request(rt)
    async with rt.bus.subscribe("ambulances") as queue:
        await dispatch.assign(
            rt, actor=SYSTEM, request_id=req["id"], ambulance_id=made["ambulance"]["id"]
        )
        event = await asyncio.wait_for(queue.get(), 5)
    assert event["status"] == "assigned" and event["request_id"] == req["id"]
    from seba.referrals.pages.events import LIVE_KEYS, LIVE_TOPICS

    assert "ambulances" in LIVE_TOPICS and {"trip_id", "ambulance_id"} <= set(LIVE_KEYS)


async def test_an_ambulance_from_a_bed_hold_in_one_click(rt, client):
    from seba.core.access import SYSTEM
    from seba.referrals import service as referral_service
    from seba.referrals.schemas import ReferralCreate

    made = await w.world(rt)
    hospital = made["hospital"]
    await factories.census(rt, hospital, [("general", "any", 5, 0)])
    referral, _ = await referral_service.create_referral(
        rt,
        actor=SYSTEM,
        data=ReferralCreate(
            facility_id=hospital.id,
            bed_type="general",
            patient={"name": "Rina Das", "age": 40, "sex": "female", "phone": "98300 44444"},
            district="kolkata",
        ),
    )
    await staff_session(client, rt, "control_room", "district:kolkata")
    room = await client.get("/staff/control-room")
    assert bn("Send an ambulance") in room.text
    sent = await client.post(
        "/staff/ambulances/from-referral",
        data={"csrf": csrf_of(room.text), "referral_id": str(referral["id"])},
    )
    assert sent.status_code == 303, sent.text
    async with rt.db.read() as s:
        req = await s.scalar(select(AmbulanceRequest))
    assert (req.referral_id, req.destination_facility_id) == (referral["id"], hospital.id)
    assert (req.contact_phone, req.condition, req.district_code) == (
        "+919830044444",
        "moderate",  # the referral's default when no condition was given
        "kolkata",
    )
    board = await client.get(sent.headers["location"].split("#")[0])
    assert req.reference in board.text
    assert bn("Send {vehicle}", vehicle=made["ambulance"]["registration"]) in board.text
    missing = await client.post(
        "/staff/ambulances/from-referral",
        data={"csrf": csrf_of(room.text), "referral_id": "999999"},
    )
    assert missing.status_code == 404


async def test_the_hospital_page_shows_the_ambulances_coming(rt, client):
    from seba.ambulances import dispatch as dispatching
    from seba.ambulances import trips
    from seba.ambulances.schemas import TripStep
    from seba.core.access import SYSTEM

    made = await w.world(rt)
    hospital = made["hospital"]
    req = await w.request(rt, destination_facility=hospital.code)
    await staff_session(client, rt, "hospital_staff", f"facility:{hospital.code}")
    before = await client.get(f"/staff/facilities/{hospital.id}/referrals")
    assert before.status_code == 200
    assert bn("No ambulance is on its way here.") in before.text
    assert 'data-live-topics="ambulances"' in before.text
    async with rt.bus.subscribe("ambulances") as queue:
        sent = await dispatching.assign(
            rt, actor=SYSTEM, request_id=req["id"], ambulance_id=made["ambulance"]["id"]
        )
        event = await asyncio.wait_for(queue.get(), 5)
    assert event["facility_id"] == hospital.id  # the hospital's page listens for its own
    token = sent["driver_link"].rsplit("/", 1)[1]
    for step in ("en_route", "at_scene", "transporting"):
        await trips.driver_step(rt, token=token, data=TripStep(to=step))
    live = await client.get(f"/staff/facilities/{hospital.id}/ambulances/live")
    assert req["reference"] in live.text and bn("Going to the hospital") in live.text
    other = await w.base(rt)
    refused = await client.get(f"/staff/facilities/{other.id}/ambulances/live")
    assert refused.status_code == 403


async def test_a_district_dispatchers_stream_skips_other_districts_events(rt):
    """The staff stream filters on the server: a Kolkata dispatcher's stream never carries a
    Howrah call's assignment (their board does not refetch for it), Howrah's does — and also
    a Kolkata call served by a Howrah vehicle (the vehicle's district); the state sees all."""
    from starlette.requests import Request

    from seba.ambulances import dispatch
    from seba.core.access import SYSTEM, Principal
    from seba.referrals.pages.events import LIVE_KEYS, LIVE_TOPICS, for_listener
    from seba.web.live import event_stream

    made = await w.world(rt)
    howrah = await w.base(rt, "howrah")
    howrah_amb = await w.ambulance(rt, howrah.code)
    lent = await w.ambulance(rt, howrah.code)
    theirs = await w.request(rt, "howrah", lat=22.59, lon=88.31)
    ours = await w.request(rt)
    served_by_neighbour = await w.request(rt)

    def listener(scope_kind: str, code: str | None) -> Principal:
        return Principal(
            user_id=1, username="d", role="control_room", scope_kind=scope_kind, scope_code=code
        )

    def stream(principal: Principal):
        request = Request({"type": "http", "method": "GET", "path": "/", "headers": []})
        only = for_listener(principal)
        return event_stream(
            request, rt, topics=LIVE_TOPICS, keep=LIVE_KEYS, only=only
        ).body_iterator

    async def events(chunks, n: int) -> list[dict]:
        got = []
        async with asyncio.timeout(10):
            while len(got) < n:
                chunk = await anext(chunks)
                text = chunk.decode() if isinstance(chunk, bytes) else chunk
                if text.startswith("event: ambulances"):
                    got.append(json.loads(text.split("data: ", 1)[1]))
        return got

    assert for_listener(listener("state", None)) is None
    streams = {
        "kolkata": stream(listener("district", "kolkata")),
        "howrah": stream(listener("district", "howrah")),
    }
    for chunks in streams.values():
        await anext(chunks)  # the preamble: subscribed
    for req, amb in (
        (theirs, howrah_amb),
        (ours, made["ambulance"]),
        (served_by_neighbour, lent),
    ):
        await dispatch.assign(rt, actor=SYSTEM, request_id=req["id"], ambulance_id=amb["id"])
    kolkata = await events(streams["kolkata"], 2)
    assert [e["request_id"] for e in kolkata] == [ours["id"], served_by_neighbour["id"]]
    assert all("districts" not in e for e in kolkata)  # used to filter, never passed on
    howrah_events = await events(streams["howrah"], 2)
    assert [e["request_id"] for e in howrah_events] == [theirs["id"], served_by_neighbour["id"]]
    for chunks in streams.values():
        await chunks.aclose()
