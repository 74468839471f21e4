"""The trip's state machine: every allowed and every forbidden step, with its time; the
ambulance freed at the end; the driver's link reaches only its own trip; locations checked."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from seba.ambulances import dispatch, trips
from seba.ambulances.models import TRIP_STATUSES, Ambulance, AmbulanceRequest, AmbulanceTrip
from seba.ambulances.schemas import TripStep
from seba.core.access import SYSTEM
from seba.core.errors import Conflict
from seba.core.i18n import gettext
from tests import factories
from tests.ambulances import world as w

# The path to each status from ``assigned``.
PATH = {
    "assigned": [],
    "en_route": ["en_route"],
    "at_scene": ["en_route", "at_scene"],
    "transporting": ["en_route", "at_scene", "transporting"],
    "at_hospital": ["en_route", "at_scene", "transporting", "at_hospital"],
    "closed": ["en_route", "at_scene", "transporting", "at_hospital", "closed"],
    "cancelled": ["cancelled"],
}
ALLOWED = {
    ("assigned", "en_route"),
    ("assigned", "cancelled"),
    ("en_route", "at_scene"),
    ("en_route", "cancelled"),
    ("at_scene", "transporting"),
    ("at_scene", "cancelled"),
    ("transporting", "at_hospital"),
    ("at_hospital", "closed"),
}


def test_the_table_is_the_intended_one():
    assert {(a, b) for a, nexts in trips.NEXT.items() for b in nexts} == ALLOWED
    assert set(trips.NEXT) == set(TRIP_STATUSES) == set(PATH)


async def _trip(rt, hospital_code: str) -> tuple[dict, str]:
    amb = await w.ambulance(rt, hospital_code)
    req = await w.request(rt)
    out = await dispatch.assign(rt, actor=SYSTEM, request_id=req["id"], ambulance_id=amb["id"])
    return out, out["driver_link"].rsplit("/", 1)[1]


async def test_every_step_allowed_or_refused(rt):
    await factories.districts(rt)
    hospital = await w.base(rt)
    for start in TRIP_STATUSES:
        for to in TRIP_STATUSES:
            out, token = await _trip(rt, hospital.code)
            for step in PATH[start]:
                await trips.driver_step(rt, token=token, data=TripStep(to=step))
            if (start, to) in ALLOWED:
                moved = await trips.driver_step(rt, token=token, data=TripStep(to=to))
                assert moved["status"] == to and moved[f"{to}_at"], (start, to)
            else:
                with pytest.raises(Conflict) as caught:
                    await trips.driver_step(rt, token=token, data=TripStep(to=to))
                assert caught.value.code == "invalid_trip_step", (start, to)
                assert caught.value.details["status"] == start
                async with rt.db.read() as s:
                    trip = await s.get(AmbulanceTrip, out["trip_id"])
                assert trip.status == start, (start, to)  # nothing changed


async def test_closing_frees_the_ambulance_and_ends_the_request(rt):
    made = await w.world(rt)
    out, token = await _trip(rt, made["hospital"].code)
    for step in PATH["closed"]:
        await trips.driver_step(rt, token=token, data=TripStep(to=step, lat=22.6, lon=88.4))
    async with rt.db.read() as s:
        trip = await s.get(AmbulanceTrip, out["trip_id"])
        amb = await s.get(Ambulance, trip.ambulance_id)
        req = await s.get(AmbulanceRequest, trip.request_id)
    times = [
        trip.assigned_at,
        trip.en_route_at,
        trip.at_scene_at,
        trip.transporting_at,
        trip.at_hospital_at,
        trip.closed_at,
    ]
    assert all(times) and times == sorted(times)
    assert (amb.status, amb.lat, amb.lon) == ("free", 22.6, 88.4)
    assert (req.status, trip.status) == ("closed", "closed")


async def test_cancelling_frees_the_ambulance_and_reopens_the_request(rt):
    made = await w.world(rt)
    out, token = await _trip(rt, made["hospital"].code)
    await trips.driver_step(rt, token=token, data=TripStep(to="cancelled", reason="flat tyre"))
    async with rt.db.read() as s:
        trip = await s.get(AmbulanceTrip, out["trip_id"])
        amb = await s.get(Ambulance, trip.ambulance_id)
        req = await s.get(AmbulanceRequest, trip.request_id)
    assert (trip.status, trip.cancel_reason, amb.status) == ("cancelled", "flat tyre", "free")
    assert req.status == "open"
    # Another ambulance may be sent now.
    again = await dispatch.assign(rt, actor=SYSTEM, request_id=req.id, ambulance_id=amb.id)
    assert again["trip_id"] != out["trip_id"]
    # The family no longer needs it: the request and its live trip end, the ambulance is free.
    cancelled = await trips.cancel_request(
        rt, actor=SYSTEM, request_id=req.id, reason="went by taxi"
    )
    assert cancelled["status"] == "cancelled"
    async with rt.db.read() as s:
        assert (await s.get(Ambulance, amb.id)).status == "free"
        live = await s.scalar(select(AmbulanceTrip).where(AmbulanceTrip.id == again["trip_id"]))
    assert live.status == "cancelled"


async def test_a_jump_is_refused_in_the_readers_language(rt, client):
    made = await w.world(rt)
    _out, token = await _trip(rt, made["hospital"].code)
    jump = await client.post(f"/api/v1/driver-trips/{token}/step", json={"to": "closed"})
    assert jump.status_code == 409
    error = jump.json()["error"]
    assert error["code"] == "invalid_trip_step"
    assert error["message"] == gettext("bn", "The trip cannot go from this step to that one.")
    assert error["message"] != "The trip cannot go from this step to that one."
    assert error["details"] == {
        "status": "assigned",
        "to": "closed",
        "allowed": ["en_route", "cancelled"],
    }
    english = await client.post(
        f"/api/v1/driver-trips/{token}/step",
        json={"to": "closed"},
        headers={"Accept-Language": "en"},
    )
    assert english.json()["error"]["message"] == "The trip cannot go from this step to that one."
    unknown = await client.post(f"/api/v1/driver-trips/{token}/step", json={"to": "flying"})
    assert unknown.status_code == 422


@pytest.mark.parametrize(
    "where",
    [
        {"lat": 28.6, "lon": 77.2},
        {"lat": 22.5, "lon": 91.0},
        {"lat": 22.5},
        {"lat": "x", "lon": 88},
    ],
)
async def test_locations_outside_west_bengal_are_refused(rt, client, where):
    made = await w.world(rt)
    _out, token = await _trip(rt, made["hospital"].code)
    answer = await client.post(f"/api/v1/driver-trips/{token}/location", json=where)
    assert answer.status_code == 422
    step = await client.post(f"/api/v1/driver-trips/{token}/step", json={"to": "en_route", **where})
    assert step.status_code == 422
    async with rt.db.read() as s:
        amb = await s.get(Ambulance, made["ambulance"]["id"])
        trip = await s.scalar(select(AmbulanceTrip))
    assert (amb.lat, trip.status) == (None, "assigned")


async def test_the_driver_link_reaches_only_its_own_trip(rt, client):
    made = await w.world(rt)
    mine, token = await _trip(rt, made["hospital"].code)
    other, _ = await _trip(rt, made["hospital"].code)
    seen = await client.get(f"/api/v1/driver-trips/{token}")
    assert seen.status_code == 200
    assert seen.json()["trip"]["id"] == mine["trip_id"] != other["trip_id"]
    moved = await client.post(
        f"/api/v1/driver-trips/{token}/location", json={"lat": 22.6, "lon": 88.4}
    )
    assert moved.status_code == 200
    forged = "A" * 32
    for path in ("", "/step", "/location"):
        method = client.get if not path else client.post
        kwargs = {} if not path else {"json": {"to": "en_route", "lat": 22.6, "lon": 88.4}}
        if path == "/location":
            kwargs = {"json": {"lat": 22.6, "lon": 88.4}}
        answer = await method(f"/api/v1/driver-trips/{forged}{path}", **kwargs)
        assert answer.status_code == 404, path


async def test_a_dispatcher_moves_only_their_districts_trips(rt, client):
    made = await w.world(rt)
    out, _token = await _trip(rt, made["hospital"].code)
    howrah = await factories.staff(client, rt, "control_room", "district:howrah")
    hidden = await client.post(
        f"/api/v1/ambulance-trips/{out['trip_id']}/step", json={"to": "en_route"}, headers=howrah
    )
    assert hidden.status_code == 404
    kolkata = await factories.staff(client, rt, "control_room", "district:kolkata")
    moved = await client.post(
        f"/api/v1/ambulance-trips/{out['trip_id']}/step", json={"to": "en_route"}, headers=kolkata
    )
    assert moved.status_code == 200 and moved.json()["status"] == "en_route"


async def test_the_destination_hospital_sees_the_patient_coming(rt, client):
    made = await w.world(rt)
    hospital = made["hospital"]
    other = await w.base(rt)
    req = await w.request(rt, destination_facility=hospital.code)
    sent = await dispatch.assign(
        rt, actor=SYSTEM, request_id=req["id"], ambulance_id=made["ambulance"]["id"]
    )
    token = sent["driver_link"].rsplit("/", 1)[1]
    for step in ("en_route", "at_scene", "transporting"):
        await trips.driver_step(rt, token=token, data=TripStep(to=step))
    ward = await factories.staff(client, rt, "hospital_staff", f"facility:{hospital.code}")
    seen = await client.get(f"/api/v1/facilities/{hospital.id}/incoming-ambulances", headers=ward)
    assert seen.status_code == 200
    (coming,) = seen.json()["ambulances"]
    assert (coming["reference"], coming["status"]) == (req["reference"], "transporting")
    assert coming["vehicle"] == made["ambulance"]["registration"]
    elsewhere = await factories.staff(client, rt, "hospital_staff", f"facility:{other.code}")
    refused = await client.get(
        f"/api/v1/facilities/{hospital.id}/incoming-ambulances", headers=elsewhere
    )
    assert refused.status_code == 403
    await trips.driver_step(rt, token=token, data=TripStep(to="at_hospital"))
    await trips.driver_step(rt, token=token, data=TripStep(to="closed"))
    after = await client.get(f"/api/v1/facilities/{hospital.id}/incoming-ambulances", headers=ward)
    assert after.json()["ambulances"] == []
