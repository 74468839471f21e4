"""The fleet admin page: list, add, edit as plain forms; bad input shown next to its field and
nothing written; another district's admin gets a 403 page; no CSRF, no change; a vehicle on a
trip is never freed from the page."""

from __future__ import annotations

from seba.ambulances import dispatch
from seba.ambulances.models import Ambulance
from seba.core.access import SYSTEM
from seba.core.i18n import gettext
from tests.ambulances import world as w
from tests.pages import bn, count, csrf_of, staff_session

FLEET = "/staff/ambulances/fleet"


def _form(csrf: str, code: str, **over: str) -> dict[str, str]:
    return {
        "csrf": csrf,
        "registration": "wb 02 ab 77",
        "kind": "als",
        "base_facility": code,
        "driver_name": "Sanjay Mondal",
        "driver_phone": "98300 12345",
        "status": "free",
        **over,
    }


async def test_the_admin_lists_adds_and_edits_in_bengali_and_english(rt, client):
    made = await w.world(rt)
    await staff_session(client, rt, "district_admin", "district:kolkata")
    home = await client.get("/staff")
    assert f'href="{FLEET}"' in home.text
    board = await client.get("/staff/ambulances")
    assert f'href="{FLEET}"' in board.text
    page = await client.get(FLEET)
    assert page.status_code == 200
    assert bn("Ambulance fleet") in page.text
    assert made["ambulance"]["registration"] in page.text
    assert bn("No report yet") in page.text
    english = await client.get(FLEET + "?lang=en")
    assert "Ambulance fleet" in english.text and "Last location" in english.text
    form = await client.get(FLEET + "/new?lang=bn")
    added = await client.post(
        FLEET + "/new?district=kolkata", data=_form(csrf_of(form.text), made["hospital"].code)
    )
    assert added.status_code == 303, added.text
    listed = await client.get(added.headers["location"])
    assert "WB 02 AB 0077" in listed.text
    assert await count(rt, Ambulance) == 2
    amb_id = made["ambulance"]["id"]
    edit = await client.get(f"{FLEET}/{amb_id}/edit")
    assert edit.status_code == 200 and bn("Driver's mobile") in edit.text
    changed = await client.post(
        f"{FLEET}/{amb_id}/edit",
        data=_form(
            csrf_of(edit.text),
            made["hospital"].code,
            driver_name="Bapi Das",
            driver_phone="97490 11111",
            status="off_duty",
            kind="patient_transport",
        ),
    )
    assert changed.status_code == 303, changed.text
    async with rt.db.read() as s:
        row = await s.get(Ambulance, amb_id)
    assert (row.driver_name, row.driver_phone, row.status, row.kind) == (
        "Bapi Das",
        "+919749011111",
        "off_duty",
        "patient_transport",
    )
    # The registration is the vehicle's identity: a posted one is ignored.
    assert row.registration == made["ambulance"]["registration"]


async def test_bad_input_is_shown_next_to_the_field_and_nothing_is_written(rt, client):
    made = await w.world(rt)
    await staff_session(client, rt, "district_admin", "district:kolkata")
    csrf = csrf_of((await client.get(FLEET + "/new")).text)
    code = made["hospital"].code
    cases = [
        (
            {"registration": "XX 99"},
            "registration",
            "An Indian registration number, e.g. WB 06 AB 1234.",
        ),
        (
            {"driver_phone": "12345"},
            "driver_phone",
            "A 10-digit Indian mobile number, e.g. 98300 12345.",
        ),
        (
            {"registration": made["ambulance"]["registration"].replace(" ", "")},
            "registration",
            "An ambulance with this registration number exists.",
        ),
    ]
    for over, field, message in cases:
        bad = await client.post(FLEET + "/new?district=kolkata", data=_form(csrf, code, **over))
        assert bad.status_code in (409, 422), bad.text
        assert f'id="f-{field}-error">{bn(message)}<' in bad.text
        assert await count(rt, Ambulance) == 1
    english = await client.post(
        FLEET + "/new?district=kolkata&lang=en", data=_form(csrf, code, driver_phone="12")
    )
    assert "A 10-digit Indian mobile number, e.g. 98300 12345." in english.text
    # An edit with a bad phone changes nothing either.
    amb_id = made["ambulance"]["id"]
    bad_edit = await client.post(
        f"{FLEET}/{amb_id}/edit", data=_form(csrf, code, driver_phone="00000", driver_name="X Y")
    )
    assert bad_edit.status_code == 422
    async with rt.db.read() as s:
        row = await s.get(Ambulance, amb_id)
    assert row.driver_name == made["ambulance"]["driver_name"]


async def test_another_districts_admin_gets_a_403_page_and_no_csrf_no_change(rt, client):
    made = await w.world(rt)
    amb_id = made["ambulance"]["id"]
    await staff_session(client, rt, "district_admin", "district:howrah")
    for path in (FLEET + "?district=kolkata", f"{FLEET}/{amb_id}/edit"):
        seen = await client.get(path)
        assert seen.status_code == 403, path
        assert made["ambulance"]["driver_phone"] not in seen.text
    own = await client.get(FLEET)
    assert made["ambulance"]["registration"] not in own.text
    csrf = csrf_of(own.text)
    refused = await client.post(
        f"{FLEET}/{amb_id}/edit", data=_form(csrf, made["hospital"].code, status="off_duty")
    )
    assert refused.status_code == 403
    await staff_session(client, rt, "district_admin", "district:kolkata")
    no_csrf = _form("", made["hospital"].code, status="off_duty")
    del no_csrf["csrf"]
    forged = await client.post(f"{FLEET}/{amb_id}/edit", data=no_csrf)
    assert forged.status_code == 403
    async with rt.db.read() as s:
        assert (await s.get(Ambulance, amb_id)).status == "free"
    # The dispatcher (control room) has no fleet page: the POLICY row is admins'.
    await staff_session(client, rt, "control_room", "district:kolkata")
    assert (await client.get(FLEET)).status_code == 403


async def test_a_vehicle_on_a_trip_is_never_freed_from_the_page(rt, client):
    made = await w.world(rt)
    amb = made["ambulance"]
    req = await w.request(rt)
    await dispatch.assign(rt, actor=SYSTEM, request_id=req["id"], ambulance_id=amb["id"])
    await staff_session(client, rt, "district_admin", "district:kolkata")
    edit = await client.get(f"{FLEET}/{amb['id']}/edit")
    assert bn("On a trip: unchanged") in edit.text
    csrf = csrf_of(edit.text)
    code = made["hospital"].code
    refused = await client.post(f"{FLEET}/{amb['id']}/edit", data=_form(csrf, code, status="free"))
    assert refused.status_code == 409
    message = gettext("bn", "This ambulance is on a trip; its status changes when the trip ends.")
    assert f'id="f-status-error">{message}<' in refused.text
    # Leaving the status as it is lets the admin change the driver's phone mid-trip.
    kept = await client.post(
        f"{FLEET}/{amb['id']}/edit", data=_form(csrf, code, status="", driver_phone="97490 22222")
    )
    assert kept.status_code == 303
    async with rt.db.read() as s:
        row = await s.get(Ambulance, amb["id"])
    assert (row.status, row.driver_phone) == ("busy", "+919749022222")


async def test_state_admin_chooses_a_district(rt, client):
    made = await w.world(rt)
    await staff_session(client, rt, "state_admin")
    page = await client.get(FLEET)
    assert page.status_code == 200
    assert bn("Choose a district to see its ambulances.") in page.text
    kolkata = await client.get(FLEET + "?district=kolkata")
    assert made["ambulance"]["registration"] in kolkata.text
    assert 'href="/staff/ambulances/fleet/new?district=kolkata"' in kolkata.text
    howrah = await client.get(FLEET + "?district=howrah")
    assert made["ambulance"]["registration"] not in howrah.text
    assert bn("No ambulance in this district yet.") in howrah.text
