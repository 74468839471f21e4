"""The control room's pages: the queue, holds (reserve, cancel, move), a phone caller's request,
and the board. Every action is a plain form post; refusals come back as pages, writing
nothing."""

from __future__ import annotations

import re

from sqlalchemy import select

from seba.core.i18n import number
from seba.referrals.models import AdmissionRequest, Referral
from tests.pages import bn, csrf_of, staff_session
from tests.referrals.page_world import (
    FIELD_CONSENT,
    count_rows,
    idem_of,
    make_hold,
    make_waiting,
    make_world,
    pool_counts,
    referral_row,
    snapshot,
)


async def test_operator_reserves_from_the_queue_once_however_often_the_form_is_sent(rt, client):
    world = await make_world(rt)
    waiting = await make_waiting(rt)
    await staff_session(client, rt, "control_room", "state")
    page = await client.get("/staff/control-room")
    assert page.status_code == 200 and page.headers["cache-control"] == "no-store"
    assert bn("Control room") in page.text and "Rina Das 1" in page.text
    assert bn("Severe") in page.text and "আলফা হাসপাতাল" in page.text
    assert 'data-live-src="/staff/control-room/live"' in page.text
    form = {
        "csrf": csrf_of(page.text),
        "idem": idem_of(page.text, "/staff/control-room/reserve"),
        "request_id": str(waiting["id"]),
        "facility_id": str(world.alpha.id),
        "bed_type": "oxygen",
    }
    first = await client.post("/staff/control-room/reserve", data=form)
    again = await client.post("/staff/control-room/reserve", data=form)  # a double click
    for r in (first, again):
        assert r.status_code == 303
        assert r.headers["location"] == (
            f"/staff/control-room?done=reserved&ref={waiting['reference']}#holds"
        )
    assert await count_rows(rt, Referral) == 1
    assert await pool_counts(rt, world.alpha, "oxygen", "female") == (3, 1, 1)
    done = await client.get(first.headers["location"])
    assert (
        bn(
            "Bed reserved for {reference}. The family and the hospital get an SMS.",
            reference=waiting["reference"],
        )
        in done.text
    )
    assert bn("Beds on hold") in done.text and bn("No one is waiting.") in done.text

    # A fresh key for a request that is no longer waiting: refused, on the page.
    r = await client.post("/staff/control-room/reserve", data=form | {"idem": "another-key"})
    assert r.status_code == 409 and bn("This request is not waiting for a bed.") in r.text
    assert await count_rows(rt, Referral) == 1

    english = await client.get("/staff/control-room?lang=en")
    assert "Beds on hold" in english.text and "Alpha Hospital" in english.text
    live = await client.get("/staff/control-room/live")
    assert live.status_code == 200 and "<html" not in live.text and "Rina Das 1" in live.text


async def test_operator_records_a_caller_then_cancels_and_moves_holds(rt, client):
    world = await make_world(rt)
    await staff_session(client, rt, "control_room", "state")
    csrf = csrf_of((await client.get("/staff/control-room")).text)
    caller = {
        "csrf": csrf,
        "name": "Abdul Karim",
        "age": "67",
        "sex": "male",
        "phone": "70030 12345",
        "district": "howrah",
        "condition": "moderate",
        "need": "general",
        "covid_status": "unknown",
        "abha_number": "",
        "notes": "",
        "consent": "yes",
    }
    before = await snapshot(rt)
    for overrides, message in [
        ({"consent": ""}, FIELD_CONSENT),
        ({"phone": "555"}, "Enter a 10-digit mobile number, like 98300 12345."),
        ({"need": "spa"}, "Choose the kind of bed needed."),
    ]:
        r = await client.post("/staff/control-room/requests", data=caller | overrides)
        assert r.status_code == 422 and bn(message) in r.text
        assert 'value="Abdul Karim"' in r.text
    assert await snapshot(rt) == before

    r = await client.post("/staff/control-room/requests", data=caller)
    assert r.status_code == 303 and "done=recorded" in r.headers["location"]
    async with rt.db.read() as s:
        req = await s.scalar(select(AdmissionRequest))
    assert (req.source, req.phone, req.need) == ("control_room", "+917003012345", "general")

    page = await client.get("/staff/control-room")
    form = {
        "csrf": csrf,
        "idem": idem_of(page.text, "/staff/control-room/reserve"),
        "request_id": str(req.id),
        "facility_id": str(world.beta.id),
        "bed_type": "general",
    }
    assert (await client.post("/staff/control-room/reserve", data=form)).status_code == 303
    hold = (await client.get("/staff/control-room")).text
    referral_id = re.search(r'action="/staff/referrals/(\d+)/cancel"', hold)[1]

    # Move it to the nearest other hospital with a matching bed.
    move = await client.get(f"/staff/referrals/{referral_id}/move")
    assert move.status_code == 200 and "আলফা হাসপাতাল" in move.text
    assert f'value="{world.beta.id}"' not in move.text  # not where it already is
    r = await client.post(
        f"/staff/referrals/{referral_id}/move",
        data={"csrf": csrf, "facility_id": str(world.alpha.id), "bed_type": "general"},
    )
    assert r.status_code == 303 and "done=moved" in r.headers["location"]
    assert await pool_counts(rt, world.beta, "general", "any") == (5, 0, 0)
    assert await pool_counts(rt, world.alpha, "general", "any") == (4, 0, 1)
    moved = await referral_row(rt, int(referral_id))
    assert moved.status == "cancelled"

    page = (await client.get("/staff/control-room")).text
    new_id = re.search(r'action="/staff/referrals/(\d+)/cancel"', page)[1]
    r = await client.post(
        f"/staff/referrals/{new_id}/cancel",
        data={
            "csrf": csrf,
            "idem": idem_of(page, f"/staff/referrals/{new_id}/cancel"),
            "reason": "x",
        },
    )
    assert r.status_code == 303 and "done=cancelled" in r.headers["location"]
    assert await pool_counts(rt, world.alpha, "general", "any") == (4, 0, 0)
    async with rt.db.read() as s:
        assert (await s.get(AdmissionRequest, req.id)).status == "waiting"  # back in the queue
    # Cancelling again: the page says why not.
    r = await client.post(f"/staff/referrals/{new_id}/cancel", data={"csrf": csrf})
    assert r.status_code == 409 and bn("This referral cannot do that now.") in r.text


async def test_board_counts_and_times_in_bengali_digits(rt, client):
    world = await make_world(rt)
    for n in range(1, 4):
        await make_waiting(rt, n)
    await make_hold(rt, world.alpha, 9)
    await staff_session(client, rt, "control_room", "district:kolkata")
    page = await client.get("/staff/control-room/board")
    assert page.status_code == 200
    counts = re.findall(r'<p class="ref-count"><b>([^<]*)</b>', page.text)
    assert counts == [number(3, "bn"), number(1, "bn"), number(0, "bn"), number(0, "bn")]
    assert bn("Request to reservation") in page.text and bn("under a minute") in page.text
    english = await client.get("/staff/control-room/board?lang=en")
    assert "Reservation to admission" in english.text and "Median" in english.text
    assert (await client.get("/staff/control-room/board/live")).status_code == 200


async def test_distances_say_what_they_are_measured_from(rt, client):
    """Without the family's location a distance is from the district's headquarters, and the
    page says so; with it, from the patient."""
    await make_world(rt)
    await make_waiting(rt, 1)
    await make_waiting(rt, 2, lat=22.60, lon=88.40)
    await staff_session(client, rt, "control_room", "state")
    page = (await client.get("/staff/control-room?lang=en")).text
    first = page.split("Rina Das 1", 1)[1].split("Rina Das 2", 1)[0]
    second = page.split("Rina Das 2", 1)[1]
    assert "km from the district centre" in first and "km from the patient" not in first
    assert "km from the patient" in second and "km from the district centre" not in second
    assert "km away" not in page.split('id="holds"', 1)[0]
    bengali = (await client.get("/staff/control-room?lang=bn")).text
    assert "জেলা সদর থেকে" in bengali and "রোগীর কাছ থেকে" in bengali


async def test_the_move_page_never_preselects_a_hospital_with_an_old_census(rt, client):
    from datetime import timedelta

    from sqlalchemy import update

    from seba.core.db import transactional
    from seba.core.types import utcnow
    from seba.places.models import Facility
    from tests import factories

    world = await make_world(rt)
    gamma = await factories.facility(rt, code="gamma", name="Gamma Hospital")
    await factories.census(rt, gamma, [("oxygen", "any", 3, 0)])
    hold = await make_hold(rt, world.beta, 1)
    await staff_session(client, rt, "control_room", "state")

    def checked(html: str) -> list[str]:
        return re.findall(r'name="facility_id" value="(\d+)" required checked', html)

    fresh = (await client.get(f"/staff/referrals/{hold['id']}/move")).text
    assert len(checked(fresh)) == 1
    # Every census old: none chosen for the operator, all still offered.
    async with transactional(rt.db) as s:
        await s.execute(
            update(Facility)
            .where(Facility.id.in_([world.alpha.id, gamma.id]))
            .values(census_updated_at=utcnow() - timedelta(days=2))
        )
    stale = (await client.get(f"/staff/referrals/{hold['id']}/move")).text
    assert checked(stale) == []
    assert f'value="{world.alpha.id}"' in stale and f'value="{gamma.id}"' in stale
    # One fresh again: that one is chosen, whatever the order.
    async with transactional(rt.db) as s:
        await s.execute(
            update(Facility).where(Facility.id == gamma.id).values(census_updated_at=utcnow())
        )
    one = (await client.get(f"/staff/referrals/{hold['id']}/move")).text
    assert checked(one) == [str(gamma.id)]
