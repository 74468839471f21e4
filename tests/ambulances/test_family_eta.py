"""The family's estimate follows the ambulance: recomputed from its last reported location
(when newer than the assignment) with the dispatcher's own rule, and the page says how old
that location is."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import update

from seba.ambulances import dispatch, trips
from seba.ambulances.models import Ambulance, AmbulanceTrip
from seba.ambulances.schemas import Location, TripStep
from seba.core.access import SYSTEM
from seba.core.db import transactional
from seba.core.i18n import gettext
from seba.core.types import utcnow
from tests.ambulances import world as w
from tests.pages import bn

PICKUP = (22.57, 88.36)


async def _sent(rt):
    made = await w.world(rt)
    amb = made["ambulance"]
    await w.place_at(rt, amb["id"], 22.75, 88.36)
    req = await w.request(rt, lat=PICKUP[0], lon=PICKUP[1])
    out = await dispatch.assign(rt, actor=SYSTEM, request_id=req["id"], ambulance_id=amb["id"])
    return req, amb, out["driver_link"].rsplit("/", 1)[1], out


async def test_the_estimate_follows_the_last_reported_location(rt, client):
    req, amb, token, out = await _sent(rt)
    status_url = f"/api/v1/ambulance-status/{req['reference']}"
    first = (await client.get(status_url)).json()["trip"]
    assert first["eta_from"] == "assignment" and first["located_at"] is None
    assert first["eta_min"] == out["eta_min"]
    page = await client.get(f"/ambulance/{req['reference']}")
    assert bn("Estimated when the ambulance was sent.") in page.text

    await trips.driver_location(rt, token=token, data=Location(lat=22.60, lon=88.36))
    moved = (await client.get(status_url)).json()["trip"]
    ((_, _km, expected),) = dispatch.rank(PICKUP, [(None, (22.60, 88.36))], "urban")
    assert moved["eta_from"] == "location" and moved["located_at"]
    assert moved["eta_min"] == pytest.approx(expected)
    assert moved["eta_min"] < first["eta_min"]
    page = await client.get(f"/ambulance/{req['reference']}")
    assert (
        bn("It should reach you in about {minutes} minutes.", minutes=round(expected)) in page.text
    )
    age = gettext("bn", "just now")
    assert bn("Estimated from where the ambulance was {age}.", age=age) in page.text
    english = await client.get(f"/ambulance/{req['reference']}?lang=en")
    assert "Estimated from where the ambulance was just now." in english.text
    assert f"about {round(expected)} minutes" in english.text

    # A report 7 minutes old (sent 10 minutes ago) says so.
    async with transactional(rt.db) as s:
        await s.execute(
            update(AmbulanceTrip)
            .where(AmbulanceTrip.id == out["trip_id"])
            .values(assigned_at=utcnow() - timedelta(minutes=10))
        )
        await s.execute(
            update(Ambulance)
            .where(Ambulance.id == amb["id"])
            .values(located_at=utcnow() - timedelta(minutes=7, seconds=5))
        )
    older = await client.get(f"/ambulance/{req['reference']}?lang=en")
    assert "Estimated from where the ambulance was 7 min ago." in older.text


async def test_a_location_older_than_the_assignment_and_a_trip_at_the_scene(rt, client):
    req, amb, token, out = await _sent(rt)
    async with transactional(rt.db) as s:
        await s.execute(
            update(Ambulance)
            .where(Ambulance.id == amb["id"])
            .values(lat=22.58, lon=88.36, located_at=utcnow() - timedelta(hours=1))
        )
    status_url = f"/api/v1/ambulance-status/{req['reference']}"
    stale = (await client.get(status_url)).json()["trip"]
    assert (stale["eta_from"], stale["eta_min"]) == ("assignment", out["eta_min"])
    await trips.driver_step(rt, token=token, data=TripStep(to="en_route"))
    await trips.driver_step(rt, token=token, data=TripStep(to="at_scene", lat=22.57, lon=88.36))
    there = (await client.get(status_url)).json()["trip"]
    assert there["eta_from"] == "assignment"
    page = await client.get(f"/ambulance/{req['reference']}?lang=en")
    assert "It should reach you" not in page.text
