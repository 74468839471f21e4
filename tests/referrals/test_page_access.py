"""Who sees which referral page: patient data only to those the services allow, for pages,
their live parts and the staff event stream alike; every string on them in Bengali."""

from __future__ import annotations

import re
from pathlib import Path

import seba.referrals
from seba import vocabulary
from seba.core.i18n import gettext
from seba.referrals import labels
from tests.pages import bn, csrf_of, staff_session
from tests.referrals.page_world import (
    make_hold,
    make_waiting,
    make_world,
    snapshot,
)

TEMPLATES = Path(seba.referrals.__file__).parent / "templates" / "referrals"


async def test_patient_data_only_to_those_the_services_allow(rt, client):
    world = await make_world(rt)
    hold = await make_hold(rt, world.alpha, 1)
    await make_waiting(rt, 2)

    # Not logged in: the login page, for pages and the event stream alike.
    for path in ("/staff/control-room", f"/staff/facilities/{world.alpha.id}/referrals"):
        r = await client.get(path)
        assert r.status_code == 303 and r.headers["location"].startswith("/staff/login")
    assert (await client.get("/staff/events")).status_code == 303

    await staff_session(client, rt, "viewer", "state")
    for path in (
        "/staff/control-room",
        "/staff/control-room/live",
        "/staff/control-room/board",
        f"/staff/facilities/{world.alpha.id}/referrals",
        f"/staff/facilities/{world.alpha.id}/referrals/live",
        f"/staff/referrals/{hold['id']}/move",
        "/staff/events",
    ):
        r = await client.get(path)
        assert r.status_code == 403, path
        assert bn("You are not allowed to do this.") in r.text
        assert "Rina Das" not in r.text
    home = await client.get("/staff")
    assert "/staff/control-room" not in home.text and "/referrals" not in home.text

    # Hospital staff of another hospital: not this one's list, nor its patients' referrals.
    await staff_session(client, rt, "hospital_staff", "facility:beta")
    r = await client.get(f"/staff/facilities/{world.alpha.id}/referrals")
    assert r.status_code == 403 and "Rina Das" not in r.text
    assert bn("This facility is outside your scope.") in r.text
    r = await client.get("/staff/control-room")  # the queue lists families across the state
    assert r.status_code == 403 and "Rina Das" not in r.text
    csrf = csrf_of((await client.get(f"/staff/facilities/{world.beta.id}/referrals")).text)
    before = await snapshot(rt)
    r = await client.post(
        f"/staff/referrals/{hold['id']}/admit",
        data={"csrf": csrf, "facility_id": str(world.beta.id)},
    )
    assert r.status_code == 404 and bn("No such referral.") in r.text
    assert "Rina Das" not in r.text
    # A forged form without the page's CSRF value changes nothing.
    r = await client.post(
        f"/staff/facilities/{world.beta.id}/admissions", data={"name": "X", "bed_type": "general"}
    )
    assert r.status_code == 403
    assert await snapshot(rt) == before


def test_every_string_on_the_referral_pages_is_in_bengali():
    found = set()
    for path in TEMPLATES.glob("*.html"):
        found |= set(re.findall(r'_\("((?:[^"\\]|\\.)*)"', path.read_text()))
        found |= set(re.findall(r"_\('((?:[^'\\]|\\.)*)'", path.read_text()))
    for words in (
        labels.CONDITION_LABELS,
        labels.CONDITION_HINTS,
        vocabulary.PATIENT_SEX_LABELS,
        labels.COVID_LABELS,
        vocabulary.REFERRAL_STATUS_LABELS,
        labels.SOURCE_LABELS,
        labels.FIELD_MESSAGES,
        labels.NOTICES,
    ):
        found |= set(words.values())
    missing = sorted(m for m in found if gettext("bn", m) == m)
    assert len(found) > 150 and not missing, missing
