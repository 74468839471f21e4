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


async def test_the_figures_page_for_another_day(rt, client):
    """A plain GET form (``?day=``): an earlier day's figures; a bad, too early or future day
    is today's page with the sentence by the field (422), never a 500."""
    from datetime import timedelta

    from sqlalchemy import update

    from seba.ambulances.models import AmbulanceRequest
    from seba.core.db import transactional
    from seba.core.i18n import IST
    from seba.core.types import utcnow
    from tests.pages import bn, staff_session

    await w.world(rt)
    old = await w.request(rt)
    await w.request(rt)  # today's
    three_days_ago = utcnow() - timedelta(days=3)
    async with transactional(rt.db) as s:
        await s.execute(
            update(AmbulanceRequest)
            .where(AmbulanceRequest.id == old["id"])
            .values(created_at=three_days_ago)
        )
    await staff_session(client, rt, "viewer", "district:kolkata")
    today = await client.get("/staff/ambulances/figures")
    assert today.status_code == 200 and 'name="day"' in today.text
    assert "<td>১</td>" in today.text  # today's one request
    day = three_days_ago.astimezone(IST).date()
    earlier = await client.get(f"/staff/ambulances/figures?day={day.isoformat()}&lang=en")
    assert earlier.status_code == 200
    assert f'value="{day.isoformat()}"' in earlier.text
    assert day.strftime("%B") in earlier.text and "Free and on a trip: now." in earlier.text
    assert "<td>1</td>" in earlier.text
    tomorrow = (utcnow().astimezone(IST).date() + timedelta(days=1)).isoformat()
    for bad, message in (
        ("2026-13-45", "Give a date like 2026-12-02."),
        ("yesterday", "Give a date like 2026-12-02."),
        ("1999-12-31", "Give a date like 2026-12-02."),
        (tomorrow, "That day has not come yet."),
    ):
        page = await client.get("/staff/ambulances/figures", params={"day": bad, "lang": "bn"})
        assert page.status_code == 422, bad
        assert bn(message) in page.text and bn("Ambulance figures") in page.text
    too_long = await client.get("/staff/ambulances/figures", params={"day": "2" * 40})
    assert too_long.status_code < 500
