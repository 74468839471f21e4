"""The hospital's pages: incoming referrals (confirm, reject, admit), admissions (discharge,
death, transfer) and walk-ins."""

from __future__ import annotations

import re

import httpx
from sqlalchemy import select

from seba.referrals.models import AdmissionRequest, Referral
from tests.pages import bn, csrf_of, staff_session
from tests.referrals.page_world import (
    count_rows,
    idem_of,
    make_hold,
    make_world,
    pool_counts,
    referral_row,
    snapshot,
)


async def test_hospital_confirms_rejects_admits_discharges_and_transfers(rt, client):
    world = await make_world(rt)
    first = await make_hold(rt, world.alpha, 1)
    second = await make_hold(rt, world.alpha, 2)
    third = await make_hold(rt, world.alpha, 3, bed_type="general")
    await staff_session(client, rt, "hospital_staff", "facility:alpha")
    home = await client.get("/staff")
    assert f'href="/staff/facilities/{world.alpha.id}/referrals"' in home.text
    path = f"/staff/facilities/{world.alpha.id}/referrals"
    page = await client.get(path)
    assert page.status_code == 200 and bn("Incoming patients") in page.text
    assert all(f"Rina Das {n}" in page.text for n in (1, 2, 3))
    csrf = csrf_of(page.text)

    async def act(url: str, **fields: str) -> httpx.Response:
        html = (await client.get(path)).text
        data = {"csrf": csrf, "idem": idem_of(html, url), "facility_id": str(world.alpha.id)}
        return await client.post(url, data=data | fields)

    r = await act(f"/staff/referrals/{first['id']}/confirm")
    assert r.status_code == 303 and r.headers["location"] == (
        f"{path}?done=confirmed&ref={first['reference']}"
    )
    assert (await referral_row(rt, first["id"])).status == "confirmed"

    before = await snapshot(rt)
    r = await act(f"/staff/referrals/{second['id']}/reject", reason="")
    assert r.status_code == 422
    assert bn("Write why the patient cannot be taken (at least 3 letters).") in r.text
    assert await snapshot(rt) == before
    r = await act(f"/staff/referrals/{second['id']}/reject", reason="No oxygen today")
    assert r.status_code == 303 and "done=rejected" in r.headers["location"]
    assert (await referral_row(rt, second["id"])).status == "rejected"

    r = await act(f"/staff/referrals/{first['id']}/admit")
    assert r.status_code == 303 and "done=admitted" in r.headers["location"]
    assert await pool_counts(rt, world.alpha, "oxygen", "female") == (3, 2, 0)
    page = await client.get(r.headers["location"])
    assert bn("Admitted: {reference}.", reference=first["reference"]) in page.text
    assert bn("Admitted through Seba") in page.text

    r = await act(f"/staff/admissions/{first['id']}/discharge", outcome="discharged", reason="")
    assert r.status_code == 303 and "done=discharged" in r.headers["location"]
    assert await pool_counts(rt, world.alpha, "oxygen", "female") == (3, 1, 0)

    await act(f"/staff/referrals/{third['id']}/admit")
    r = await act(
        f"/staff/admissions/{third['id']}/transfer", need="icu", condition="severe", reason="worse"
    )
    assert r.status_code == 303 and "done=transferred" in r.headers["location"]
    async with rt.db.read() as s:
        new = await s.scalar(select(AdmissionRequest).where(AdmissionRequest.source == "transfer"))
    assert (new.need, new.condition, new.status) == ("icu", "severe", "waiting")
    assert await pool_counts(rt, world.alpha, "general", "any") == (4, 0, 0)

    # A step the referral cannot take now (a stale page, another tab) is refused on the page.
    r = await client.post(
        f"/staff/referrals/{first['id']}/confirm",
        data={"csrf": csrf, "facility_id": str(world.alpha.id)},
    )
    assert r.status_code == 409 and bn("This referral cannot do that now.") in r.text

    english = await client.get(path + "?lang=en")
    assert "Incoming patients" in english.text and "Admit a walk-in patient" in english.text


async def test_hospital_admits_a_walk_in_and_records_a_death(rt, client):
    world = await make_world(rt)
    await staff_session(client, rt, "hospital_staff", "facility:alpha")
    path = f"/staff/facilities/{world.alpha.id}/referrals"
    page = (await client.get(path)).text
    walk_in = {
        "csrf": csrf_of(page),
        "idem": idem_of(page, f"/staff/facilities/{world.alpha.id}/admissions"),
        "name": "Mina Roy",
        "age": "30",
        "sex": "female",
        "phone": "9830055555",
        "bed_type": "oxygen",
        "condition": "moderate",
        "covid_status": "negative",
    }
    before = await snapshot(rt)
    r = await client.post(
        f"/staff/facilities/{world.alpha.id}/admissions", data=walk_in | {"bed_type": ""}
    )
    assert r.status_code == 422 and bn("Choose the kind of bed needed.") in r.text
    assert 'value="Mina Roy"' in r.text
    assert await snapshot(rt) == before

    r = await client.post(f"/staff/facilities/{world.alpha.id}/admissions", data=walk_in)
    again = await client.post(f"/staff/facilities/{world.alpha.id}/admissions", data=walk_in)
    assert r.status_code == again.status_code == 303 and "done=walk_in" in r.headers["location"]
    assert await count_rows(rt, Referral, Referral.status == "admitted") == 1
    assert await pool_counts(rt, world.alpha, "oxygen", "female") == (3, 2, 0)

    page = (await client.get(path)).text
    admission_id = re.search(r'action="/staff/admissions/(\d+)/discharge"', page)[1]
    url = f"/staff/admissions/{admission_id}/discharge"
    r = await client.post(
        url,
        data={
            "csrf": walk_in["csrf"],
            "idem": idem_of(page, url),
            "facility_id": str(world.alpha.id),
            "outcome": "died",
        },
    )
    assert r.status_code == 303 and "done=died" in r.headers["location"]
    assert (await referral_row(rt, int(admission_id))).status == "died"
    assert await pool_counts(rt, world.alpha, "oxygen", "female") == (3, 1, 0)


async def test_the_familys_note_and_covid_status_reach_the_hospitals_list(rt, client):
    from seba.core.access import SYSTEM
    from seba.referrals import service as referral_service
    from seba.referrals.labels import COVID_LABELS
    from seba.referrals.schemas import ReferralCreate
    from tests.referrals.page_world import patient

    world = await make_world(rt)
    await referral_service.create_referral(
        rt,
        actor=SYSTEM,
        data=ReferralCreate(
            facility_id=world.alpha.id,
            bed_type="oxygen",
            patient=patient(7),
            covid_status="positive",
            notes="On home oxygen since Monday; SpO2 88% <b>",
        ),
    )
    await make_hold(rt, world.alpha, 8)  # no note, status unknown
    await staff_session(client, rt, "hospital_staff", "facility:alpha")
    live = await client.get(f"/staff/facilities/{world.alpha.id}/referrals/live")
    items = re.findall(r'<li class="ref-card[^"]*" id="ref-\d+">(.*?)</li>', live.text, re.S)
    noted = next(i for i in items if "Rina Das 7" in i)
    plain = next(i for i in items if "Rina Das 8" in i)
    assert bn(COVID_LABELS["positive"]) in noted
    assert bn("Anything the hospital should know") in noted
    assert "On home oxygen since Monday; SpO2 88% &lt;b&gt;" in noted  # escaped, whole
    assert bn(COVID_LABELS["unknown"]) in plain and "ref-notes" not in plain


async def test_confirm_stands_above_admit(rt, client):
    """Confirming comes first (the family and control room learn the bed is kept); admitting
    when the patient arrives."""
    world = await make_world(rt)
    hold = await make_hold(rt, world.alpha, 1)
    await staff_session(client, rt, "hospital_staff", "facility:alpha")
    page = (await client.get(f"/staff/facilities/{world.alpha.id}/referrals")).text
    confirm = page.index(f'action="/staff/referrals/{hold["id"]}/confirm"')
    admit = page.index(f'action="/staff/referrals/{hold["id"]}/admit"')
    assert confirm < admit
