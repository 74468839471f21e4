"""Figures per district and day: counts and times only, within the reader's reach."""

from __future__ import annotations

from seba.ambulances import dispatch, trips
from seba.ambulances.schemas import TripStep
from seba.core.access import SYSTEM
from tests import factories
from tests.ambulances import world as w


async def test_a_days_figures(rt, client):
    made = await w.world(rt)
    spare = await w.ambulance(rt, made["hospital"].code)
    reached = await w.request(rt)
    await w.request(rt)  # still waiting
    sent = await dispatch.assign(
        rt, actor=SYSTEM, request_id=reached["id"], ambulance_id=made["ambulance"]["id"]
    )
    token = sent["driver_link"].rsplit("/", 1)[1]
    for step in ("en_route", "at_scene", "transporting", "at_hospital"):
        await trips.driver_step(rt, token=token, data=TripStep(to=step))
    viewer = await factories.staff(client, rt, "viewer", "district:kolkata")
    answer = await client.get("/api/v1/ambulance-figures", headers=viewer)
    assert answer.status_code == 200, answer.text
    (kolkata,) = answer.json()["districts"]
    assert kolkata["district"] == "kolkata" and kolkata["area"] == "urban"
    assert kolkata["requests"] == 2
    assert kolkata["promise_min"] == 20.0
    assert kolkata["within_promise"] == 0.5
    assert kolkata["time_to_patient_min"]["p50"] is not None
    assert kolkata["time_to_hospital_min"]["p90"] is not None
    assert kolkata["ambulances"] == {"free": 1, "busy": 1, "off_duty": 0}
    assert "contact_phone" not in answer.text
    assert spare["status"] == "free"
    howrah = await factories.staff(client, rt, "viewer", "district:howrah")
    theirs = (await client.get("/api/v1/ambulance-figures?district=kolkata", headers=howrah)).json()
    assert theirs["districts"] == []
    earlier = await client.get("/api/v1/ambulance-figures?day=2021-05-01", headers=viewer)
    assert earlier.json()["districts"][0]["requests"] == 0
    bad = await client.get("/api/v1/ambulance-figures?day=9999-12-31", headers=viewer)
    assert bad.status_code == 422
    hospital = await factories.staff(
        client, rt, "hospital_staff", f"facility:{made['hospital'].code}"
    )
    assert (await client.get("/api/v1/ambulance-figures", headers=hospital)).status_code == 403


async def test_the_figures_page(rt, client):
    from tests.pages import bn, staff_session

    made = await w.world(rt)
    req = await w.request(rt)
    sent = await dispatch.assign(
        rt, actor=SYSTEM, request_id=req["id"], ambulance_id=made["ambulance"]["id"]
    )
    token = sent["driver_link"].rsplit("/", 1)[1]
    for step in ("en_route", "at_scene"):
        await trips.driver_step(rt, token=token, data=TripStep(to=step))
    await staff_session(client, rt, "viewer", "district:kolkata")
    page = await client.get("/staff/ambulances/figures")
    assert page.status_code == 200
    assert bn("Ambulance figures") in page.text and "কলকাতা" in page.text
    assert "১০০%" in page.text  # reached within the promise, in Bengali digits
    await staff_session(client, rt, "control_room", "district:kolkata")
    board = await client.get("/staff/ambulances")
    assert 'href="/staff/ambulances/figures"' in board.text
