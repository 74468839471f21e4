"""A family cancels their own request from its status page, behind the phone code that made
it, until the ambulance reaches them; racing a dispatcher's assignment leaves one consistent
outcome on both engines."""

from __future__ import annotations

import asyncio

from sqlalchemy import select

from seba.ambulances import dispatch, trips
from seba.ambulances.models import LIVE_TRIP, Ambulance, AmbulanceRequest, AmbulanceTrip
from seba.ambulances.schemas import CitizenRequestIn, TripStep
from seba.core.access import SYSTEM
from seba.core.errors import Conflict
from seba.core.i18n import gettext
from seba.core.outbox import OutboxMessage
from tests.ambulances import world as w
from tests.pages import bn, count, csrf_of
from tests.referrals.test_otp import _session

PHONE = "+919830088888"


async def _family_request(rt) -> dict:
    return await dispatch.submit_citizen_request(
        rt,
        phone=PHONE,
        data=CitizenRequestIn(district="kolkata", lat=22.57, lon=88.36, condition="severe"),
    )


async def _as_family(rt, client, phone: str = PHONE) -> None:
    token = next(iter((await _session(rt, client, phone)).values()))
    client.cookies.set("seba_phone", token)


async def test_the_family_cancels_from_the_status_page(rt, client):
    made = await w.world(rt)
    amb = made["ambulance"]
    req = await _family_request(rt)
    await dispatch.assign(rt, actor=SYSTEM, request_id=req["id"], ambulance_id=amb["id"])
    status = await client.get(f"/ambulance/{req['reference']}")
    link = f"/admission/ambulance/{req['reference']}/cancel"
    assert link in status.text
    assert bn("No longer needed? Cancel the ambulance") in status.text
    # Without the phone code: to the code first.
    unverified = await client.get(link)
    assert unverified.status_code == 303 and "/admission/phone" in unverified.headers["location"]
    await _as_family(rt, client)
    page = await client.get(link)
    assert page.status_code == 200 and bn("Yes, cancel the ambulance") in page.text
    english = await client.get(link + "?lang=en")
    assert "Yes, cancel the ambulance" in english.text
    forged = await client.post(link, data={})
    assert forged.status_code == 403
    assert await count(rt, AmbulanceRequest, AmbulanceRequest.status == "cancelled") == 0
    done = await client.post(link, data={"csrf": csrf_of(page.text)})
    assert done.status_code == 303 and done.headers["location"] == f"/ambulance/{req['reference']}"
    async with rt.db.read() as s:
        assert (await s.get(AmbulanceRequest, req["id"])).status == "cancelled"
        assert (await s.get(Ambulance, amb["id"])).status == "free"
        assert [t.status for t in await s.scalars(select(AmbulanceTrip))] == ["cancelled"]
        texts = [m.body for m in await s.scalars(select(OutboxMessage))]
    assert any("cancelled. Do not go" in t for t in texts)
    after = await client.get(f"/ambulance/{req['reference']}")
    assert link not in after.text


async def test_another_phone_cannot_and_at_the_scene_it_is_too_late(rt, client):
    made = await w.world(rt)
    req = await _family_request(rt)
    out = await dispatch.assign(
        rt, actor=SYSTEM, request_id=req["id"], ambulance_id=made["ambulance"]["id"]
    )
    link = f"/admission/ambulance/{req['reference']}/cancel"
    await _as_family(rt, client, "+919830099999")
    page = await client.get(link)
    other = await client.post(link, data={"csrf": csrf_of(page.text)})
    assert other.status_code == 404
    token = out["driver_link"].rsplit("/", 1)[1]
    await trips.driver_step(rt, token=token, data=TripStep(to="en_route"))
    await trips.driver_step(rt, token=token, data=TripStep(to="at_scene"))
    client.cookies.clear()
    await _as_family(rt, client)
    page = await client.get(link)
    late = await client.post(link, data={"csrf": csrf_of(page.text)})
    assert late.status_code == 409
    message = "The ambulance has reached the patient: please call the driver or the control room."
    assert gettext("bn", message) in late.text
    async with rt.db.read() as s:
        assert (await s.get(AmbulanceRequest, req["id"])).status == "assigned"
        assert [t.status for t in await s.scalars(select(AmbulanceTrip))] == ["at_scene"]


async def test_a_family_cancelling_races_a_dispatcher_assigning(rt):
    """The request row is taken first by both: either the assignment is refused
    (``request_not_open``) or it commits first and the cancel then ends its trip. Never a
    cancelled request with a live trip or a busy ambulance."""
    made = await w.world(rt)
    outcomes = []
    for i in range(10):
        amb = await w.ambulance(rt, made["hospital"].code)
        req = await _family_request(rt)

        async def assign(req=req, amb=amb) -> str:
            try:
                await dispatch.assign(
                    rt, actor=SYSTEM, request_id=req["id"], ambulance_id=amb["id"]
                )
            except Conflict as exc:
                return exc.code
            return "assigned"

        async def cancel(req=req, delay=0.001 * i if i % 2 else 0) -> str:
            # Staggered starts, so that on PostgreSQL some cancels reach the request's lock
            # while an assignment holds it.
            if delay:
                await asyncio.sleep(delay)
            await trips.family_cancel(rt, phone=PHONE, reference=req["reference"])
            return "cancelled"

        # Either may start first: alternate, so both orders are run.
        if i % 2:
            results = list(reversed(await asyncio.gather(assign(), cancel())))
        else:
            results = await asyncio.gather(cancel(), assign())
        async with rt.db.read() as s:
            status = (await s.get(AmbulanceRequest, req["id"])).status
            vehicle = (await s.get(Ambulance, amb["id"])).status
            made_trips = list(
                await s.scalars(select(AmbulanceTrip).where(AmbulanceTrip.request_id == req["id"]))
            )
        assert results[0] == "cancelled"
        assert (status, vehicle) == ("cancelled", "free")
        assert not [t for t in made_trips if t.status in LIVE_TRIP]
        if results[1] == "assigned":
            assert [t.status for t in made_trips] == ["cancelled"]
        else:
            assert results[1] == "request_not_open" and made_trips == []
        outcomes.append(results[1])
    assert len(outcomes) == 10
