"""Dispatchers racing: an ambulance is on at most one live trip and a request has at most one,
however many assign at once (on SQLite and PostgreSQL)."""

from __future__ import annotations

import asyncio
from collections import Counter

from sqlalchemy import select

from seba.ambulances import dispatch
from seba.ambulances.models import LIVE_TRIP, Ambulance, AmbulanceRequest, AmbulanceTrip
from seba.core.access import Principal
from seba.core.errors import Conflict
from tests import factories
from tests.ambulances import world as w


def _dispatcher(n: int) -> Principal:
    return Principal(
        user_id=None,
        username=f"dispatcher-{n}",
        role="control_room",
        scope_kind="district",
        scope_code="kolkata",
        scope_district="kolkata",
    )


async def _try(rt, n: int, request_id: int, ambulance_id: int) -> str:
    try:
        await dispatch.assign(
            rt, actor=_dispatcher(n), request_id=request_id, ambulance_id=ambulance_id
        )
    except Conflict as exc:
        return exc.code
    return "assigned"


async def _live(rt) -> list[AmbulanceTrip]:
    async with rt.db.read() as s:
        return list(
            await s.scalars(select(AmbulanceTrip).where(AmbulanceTrip.status.in_(LIVE_TRIP)))
        )


async def test_two_dispatchers_one_ambulance_two_requests(rt):
    made = await w.world(rt)
    amb = made["ambulance"]
    first, second = await w.request(rt), await w.request(rt)
    results = await asyncio.gather(
        _try(rt, 1, first["id"], amb["id"]), _try(rt, 2, second["id"], amb["id"])
    )
    assert sorted(results) == ["ambulance_not_free", "assigned"]
    trips = await _live(rt)
    assert [t.ambulance_id for t in trips] == [amb["id"]]
    async with rt.db.read() as s:
        statuses = Counter(await s.scalars(select(AmbulanceRequest.status)))
        assert (await s.get(Ambulance, amb["id"])).status == "busy"
    # The loser's request is untouched: still open for another ambulance.
    assert statuses == Counter({"assigned": 1, "open": 1})


async def test_two_dispatchers_over_http_one_answers_409(rt, client):
    made = await w.world(rt)
    amb = made["ambulance"]
    first, second = await w.request(rt), await w.request(rt)
    a = await factories.staff(client, rt, "control_room", "district:kolkata")
    b = await factories.staff(client, rt, "control_room", "district:kolkata")
    answers = await asyncio.gather(
        client.post(
            f"/api/v1/ambulance-requests/{first['id']}/assign",
            json={"ambulance_id": amb["id"]},
            headers=a,
        ),
        client.post(
            f"/api/v1/ambulance-requests/{second['id']}/assign",
            json={"ambulance_id": amb["id"]},
            headers=b,
        ),
    )
    assert sorted(r.status_code for r in answers) == [201, 409]
    assert len(await _live(rt)) == 1


async def test_twenty_dispatchers_five_ambulances_twenty_requests(rt):
    await factories.districts(rt)
    hospital = await w.base(rt)
    ambulances = [(await w.ambulance(rt, hospital.code))["id"] for _ in range(5)]
    requests = [(await w.request(rt))["id"] for _ in range(20)]
    # Every dispatcher picks a request and an ambulance; they collide on both.
    results = await asyncio.gather(
        *(_try(rt, n, requests[(n * 7) % 20], ambulances[n % 5]) for n in range(20))
    )
    assert Counter(results)["assigned"] == 5
    assert set(results) <= {"assigned", "ambulance_not_free", "request_not_open"}
    trips = await _live(rt)
    assert len(trips) == 5
    assert len({t.ambulance_id for t in trips}) == len(trips)
    assert len({t.request_id for t in trips}) == len(trips)
    async with rt.db.read() as s:
        busy = set(await s.scalars(select(Ambulance.id).where(Ambulance.status == "busy")))
        assigned = set(
            await s.scalars(
                select(AmbulanceRequest.id).where(AmbulanceRequest.status == "assigned")
            )
        )
    assert busy == {t.ambulance_id for t in trips}
    assert assigned == {t.request_id for t in trips}
    # A second wave for the same requests finds nothing free and changes nothing.
    again = await asyncio.gather(*(_try(rt, n, requests[n], ambulances[n % 5]) for n in range(20)))
    assert "assigned" not in again
    assert len(await _live(rt)) == 5


async def test_an_admin_taking_a_vehicle_off_duty_races_an_assignment(rt):
    """Exactly one wins: either the trip (and the admin's change is refused) or off duty (and
    the assignment is refused); never "off duty" with a live trip, nothing half-written."""
    from seba.ambulances import service as fleet
    from seba.ambulances.schemas import AmbulanceUpdate

    made = await w.world(rt)
    admin = Principal(
        user_id=None,
        username="admin",
        role="district_admin",
        scope_kind="district",
        scope_code="kolkata",
        scope_district="kolkata",
    )

    async def off_duty(ambulance_id: int) -> str:
        try:
            await fleet.update_ambulance(
                rt,
                actor=admin,
                ambulance_id=ambulance_id,
                data=AmbulanceUpdate(status="off_duty", driver_name="Relief Driver"),
            )
        except Conflict as exc:
            return exc.code
        return "off_duty"

    outcomes = Counter()
    for i in range(6):
        amb = await w.ambulance(rt, made["hospital"].code)
        req = await w.request(rt)
        # Either may start first: alternate, so both orders are run.
        if i % 2:
            pair = await asyncio.gather(_try(rt, 1, req["id"], amb["id"]), off_duty(amb["id"]))
            results = [pair[1], pair[0]]
        else:
            results = await asyncio.gather(off_duty(amb["id"]), _try(rt, 1, req["id"], amb["id"]))
        async with rt.db.read() as s:
            row = await s.get(Ambulance, amb["id"])
            request_status = (await s.get(AmbulanceRequest, req["id"])).status
            trips = list(
                await s.scalars(select(AmbulanceTrip).where(AmbulanceTrip.ambulance_id == row.id))
            )
        if results[1] == "assigned":
            assert results[0] == "ambulance_busy"
            assert (row.status, request_status, len(trips)) == ("busy", "assigned", 1)
            assert row.driver_name != "Relief Driver"
        else:
            assert results == ["off_duty", "ambulance_not_free"]
            assert (row.status, request_status, trips) == ("off_duty", "open", [])
        outcomes[results[1]] += 1
    assert sum(outcomes.values()) == 6
