"""A family asks for an ambulance on a page, behind the referral pages' phone code: the code's
flow leads back to the form, a bad form says why in Bengali and writes nothing, a good one
opens the family's status page."""

from __future__ import annotations

from sqlalchemy import select

from seba.ambulances.models import AmbulanceRequest
from seba.notifications.worker import deliver_once
from tests import factories
from tests.pages import bn, count, csrf_of
from tests.referrals.test_otp import RecordingSms, _code

PHONE = "+919830066666"


async def test_the_family_asks_after_the_code(rt, client):
    await factories.districts(rt)
    first = await client.get("/admission/ambulance")
    assert first.status_code == 303 and first.headers["location"].endswith("then=ambulance")
    phone_page = await client.get(first.headers["location"])
    assert bn("Ask for an ambulance") in phone_page.text
    sent = await client.post(
        "/admission/phone",
        data={"csrf": csrf_of(phone_page.text), "phone": "98300 66666", "then": "ambulance"},
    )
    assert sent.status_code == 303 and "then=ambulance" in sent.headers["location"]
    sms = RecordingSms()
    await deliver_once(rt, sms)
    code = _code([body for to, body in sms.sent if to == PHONE][-1])
    code_page = await client.get(sent.headers["location"])
    verified = await client.post(
        "/admission/code",
        data={"csrf": csrf_of(code_page.text), "code": code, "then": "ambulance"},
    )
    assert verified.status_code == 303 and verified.headers["location"] == "/admission/ambulance"
    form = await client.get("/admission/ambulance")
    assert form.status_code == 200 and bn("Ask for an ambulance") in form.text
    csrf = csrf_of(form.text)
    nowhere = await client.post(
        "/admission/ambulance", data={"csrf": csrf, "district": "kolkata", "condition": "severe"}
    )
    assert nowhere.status_code == 422
    assert (
        bn(
            "Please choose the district and say where the patient is: an address or a landmark, "
            "or use your location."
        )
        in nowhere.text
    )
    assert await count(rt, AmbulanceRequest) == 0
    asked = await client.post(
        "/admission/ambulance",
        data={
            "csrf": csrf,
            "district": "kolkata",
            "address": "12 College Street",
            "condition": "severe",
        },
    )
    assert asked.status_code == 303
    async with rt.db.read() as s:
        req = await s.scalar(select(AmbulanceRequest))
    assert (req.source, req.contact_phone) == ("citizen", PHONE)
    assert asked.headers["location"] == f"/ambulance/{req.reference}"
    status = await client.get(asked.headers["location"])
    assert bn("Waiting for an ambulance") in status.text
