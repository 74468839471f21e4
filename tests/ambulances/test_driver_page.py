"""The driver's page: the link opens the trip, one button per next step (plain forms), a
refused step says so in Bengali, and a form without the page's cookie is refused."""

from __future__ import annotations

from sqlalchemy import select

from seba.ambulances import dispatch
from seba.ambulances.models import AmbulanceTrip
from seba.core.access import SYSTEM
from tests.ambulances import world as w
from tests.pages import bn, csrf_of


async def test_the_driver_moves_the_trip_from_the_page(rt, client):
    made = await w.world(rt)
    req = await w.request(rt, destination_facility=made["hospital"].code)
    out = await dispatch.assign(
        rt, actor=SYSTEM, request_id=req["id"], ambulance_id=made["ambulance"]["id"]
    )
    path = "/ambulance/trip/" + out["driver_link"].rsplit("/", 1)[1]
    page = await client.get(path)
    assert page.status_code == 200
    assert bn("Trip {reference}", reference=req["reference"]) in page.text
    assert bn("On the way") in page.text and bn("Cancelled") in page.text
    csrf = csrf_of(page.text)
    for step in ("en_route", "at_scene", "transporting", "at_hospital", "closed"):
        moved = await client.post(f"{path}/step", data={"csrf": csrf, "to": step})
        assert moved.status_code == 303, (step, moved.text)
    async with rt.db.read() as s:
        assert (await s.scalar(select(AmbulanceTrip))).status == "closed"
    ended = await client.get(path)
    assert bn("This trip has ended.") in ended.text
    refused = await client.post(f"{path}/step", data={"csrf": csrf, "to": "en_route"})
    assert refused.status_code == 409
    assert bn("This step is not possible now. The page shows where the trip is.") in refused.text
    english = await client.get(path + "?lang=en")
    assert "Trip ended" in english.text


async def test_forms_need_the_pages_cookie_and_a_real_link(rt, client):
    made = await w.world(rt)
    req = await w.request(rt)
    out = await dispatch.assign(
        rt, actor=SYSTEM, request_id=req["id"], ambulance_id=made["ambulance"]["id"]
    )
    path = "/ambulance/trip/" + out["driver_link"].rsplit("/", 1)[1]
    forged = await client.post(f"{path}/step", data={"csrf": "x", "to": "en_route"})
    assert forged.status_code == 403
    assert (await client.get("/ambulance/trip/" + "B" * 32)).status_code == 404
    page = await client.get(path)
    far = await client.post(
        f"{path}/step",
        data={"csrf": csrf_of(page.text), "to": "en_route", "lat": "28.6", "lon": "77.2"},
    )
    assert far.status_code == 422
    async with rt.db.read() as s:
        assert (await s.scalar(select(AmbulanceTrip))).status == "assigned"
