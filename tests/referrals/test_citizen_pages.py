"""The family's pages: the phone code, the request form and the status page, Bengali first.
Refusals come back as pages in the reader's language, writing nothing."""

from __future__ import annotations

import re
from datetime import timedelta

import httpx
from sqlalchemy import select

from seba.core.access import SYSTEM
from seba.core.audit import AuditEntry
from seba.core.db import transactional
from seba.core.i18n import number
from seba.core.outbox import OutboxMessage
from seba.core.runtime import Runtime
from seba.core.types import utcnow
from seba.referrals import service as referral_service
from seba.referrals.models import AdmissionRequest, OtpChallenge
from seba.referrals.schemas import ReferralCreate
from tests.pages import bn, csrf_of
from tests.referrals.page_world import (
    FIELD_ABHA,
    FIELD_CONSENT,
    FIELD_LOCATION,
    LUHN_FAILS,
    PHONE,
    VALID_ABHA,
    count_rows,
    make_waiting,
    make_world,
    snapshot,
)


async def _citizen_csrf(client: httpx.AsyncClient, path: str = "/admission") -> str:
    return csrf_of((await client.get(path)).text)


async def _code_for(rt: Runtime, phone: str) -> str:
    """The newest code sent to ``phone``, as the outbox holds it for the SMS worker."""
    async with rt.db.read() as s:
        body = await s.scalar(
            select(OutboxMessage.body)
            .where(OutboxMessage.recipient == phone)
            .order_by(OutboxMessage.id.desc())
            .limit(1)
        )
    return re.search(r"\b\d{6}\b", body)[0]


async def _verify_phone(client: httpx.AsyncClient, rt: Runtime, phone: str = PHONE) -> None:
    csrf = await _citizen_csrf(client)
    r = await client.post("/admission/phone", data={"csrf": csrf, "phone": phone[3:]})
    assert r.status_code == 303, r.text
    code = await _code_for(rt, phone)
    r = await client.post("/admission/code", data={"csrf": csrf, "code": code})
    assert r.status_code == 303, r.text


def _request_form(csrf: str, **overrides: str) -> dict[str, str]:
    return {
        "csrf": csrf,
        "name": "Rina Das",
        "age": "৫৪",  # typed with Bengali digits
        "sex": "female",
        "condition": "severe",
        "need": "oxygen",
        "covid_status": "positive",
        "district": "kolkata",
        "abha_number": VALID_ABHA,
        "notes": "SpO2 88",
        "lat": "",
        "lon": "",
        "consent": "yes",
        **overrides,
    }


async def test_citizen_pages_speak_bengali_first_and_english_on_request(rt, client):
    await make_world(rt)
    page = await client.get("/admission")
    assert page.status_code == 200
    assert '<html lang="bn">' in page.text
    assert bn("Ask for a hospital bed") in page.text and bn("Send code") in page.text
    assert page.headers["cache-control"] == "no-store"
    csrf_cookie = next(
        c for c in page.headers.get_list("set-cookie") if c.startswith("seba_admission_csrf=")
    )
    assert "HttpOnly" in csrf_cookie and "Path=/admission" in csrf_cookie
    status = await client.get("/admission/status")
    assert bn("Know your request") in status.text and 'name="then" value="status"' in status.text

    english = await client.get("/admission?lang=en")
    assert '<html lang="en">' in english.text
    assert "Ask for a hospital bed" in english.text and "Send code" in english.text
    # Remembered, like every page.
    assert "Know your request" in (await client.get("/admission/status")).text


async def test_a_family_asks_for_a_bed_with_a_code_and_follows_it(rt, client):
    world = await make_world(rt)
    csrf = await _citizen_csrf(client)
    r = await client.post("/admission/phone", data={"csrf": csrf, "phone": "98300 12345"})
    assert r.status_code == 303 and r.headers["location"] == "/admission/code"
    code_page = await client.get("/admission/code")
    assert number("2345", "bn") in code_page.text and bn("Check code") in code_page.text
    code = await _code_for(rt, PHONE)

    wrong = f"{(int(code) + 1) % 10**6:06d}"
    r = await client.post("/admission/code", data={"csrf": csrf, "code": wrong})
    assert r.status_code == 422 and bn("Wrong code. Tries left: {left}.", left=4) in r.text
    # The code may be typed in Bengali digits.
    r = await client.post("/admission/code", data={"csrf": csrf, "code": number(code, "bn")})
    assert r.status_code == 303 and r.headers["location"] == "/admission"
    phone_cookie = next(c for c in r.headers.get_list("set-cookie") if c.startswith("seba_phone="))
    assert "HttpOnly" in phone_cookie and "SameSite=lax" in phone_cookie

    form = await client.get("/admission")
    assert bn("Patient's name") in form.text and "কলকাতা" in form.text  # districts in Bengali
    assert number("98300 12345", "bn") in form.text
    r = await client.post("/admission", data=_request_form(csrf))
    assert r.status_code == 303, r.text
    assert r.headers["location"].startswith("/admission/status?reference=WB-")
    async with rt.db.read() as s:
        req = await s.scalar(select(AdmissionRequest))
        submitted = await s.scalar(select(AuditEntry).where(AuditEntry.action == "request.submit"))
    assert (req.phone, req.patient_age, req.status, req.source) == (PHONE, 54, "waiting", "citizen")
    assert req.consent_to_share and req.abha_number == VALID_ABHA and req.lang == "bn"
    assert submitted is not None

    status = await client.get(r.headers["location"])
    assert status.status_code == 200 and req.reference in status.text
    assert bn("Your request is sent. Keep this reference number:") in status.text
    assert bn("Waiting for a bed") in status.text

    # The control room reserves: the family's page names the hospital, its phone, the way there
    # and the time to be there by (Indian time).
    data = ReferralCreate(request_id=req.id, facility_id=world.alpha.id, bed_type="oxygen")
    hold, _ = await referral_service.create_referral(rt, actor=SYSTEM, data=data)
    status = await client.get(f"/admission/status?reference={req.reference.lower()}")
    assert "আলফা হাসপাতাল" in status.text and 'href="tel:03323412600"' in status.text
    assert "google.com/maps/dir" in status.text
    from seba.web.render import local_time

    assert local_time(hold["expires_at"], "bn") in status.text
    english = await client.get(f"/admission/status?reference={req.reference}&lang=en")
    assert "Alpha Hospital" in english.text and "Please reach the hospital by" in english.text


async def test_citizen_mistakes_are_told_in_the_form_and_write_nothing(rt, client):
    await make_world(rt)
    csrf = await _citizen_csrf(client)
    before = await snapshot(rt)
    r = await client.post("/admission/phone", data={"csrf": csrf, "phone": "12345"})
    assert r.status_code == 422
    assert bn("Enter a 10-digit mobile number, like 98300 12345.") in r.text
    r = await client.post("/admission/phone", data={"phone": PHONE})  # no CSRF value
    assert r.status_code == 403
    assert bn(
        "This form has expired or did not come from Seba. Reload the page and try again."
    ) in (r.text)
    assert await snapshot(rt) == before

    r = await client.post("/admission/phone", data={"csrf": csrf, "phone": PHONE})
    assert r.status_code == 303
    r = await client.post("/admission/phone", data={"csrf": csrf, "phone": PHONE})
    assert r.status_code == 429 and int(r.headers["retry-after"]) > 0
    assert bn("Please wait before asking for another code.") in r.text
    assert await count_rows(rt, OtpChallenge) == 1

    r = await client.post("/admission/code", data={"csrf": csrf, "code": "12"})
    assert r.status_code == 422 and bn("Enter the 6-digit code from the SMS.") in r.text
    async with transactional(rt.db) as s:
        challenge = await s.scalar(select(OtpChallenge))
        challenge.expires_at = utcnow() - timedelta(seconds=1)
    r = await client.post(
        "/admission/code", data={"csrf": csrf, "code": await _code_for(rt, PHONE)}
    )
    assert r.status_code == 401
    assert bn("This code has expired or was used up. Ask for a new code.") in r.text
    assert "seba_phone" not in client.cookies

    # Without a verified phone the request form is not taken.
    r = await client.post("/admission", data=_request_form(csrf))
    assert r.status_code == 401
    assert bn("Please verify your phone number with a one-time code first.") in r.text

    client.cookies.clear()
    await _verify_phone(client, rt, "+917003012345")
    csrf = await _citizen_csrf(client)
    before = await snapshot(rt)
    for overrides, field, message in [
        ({"abha_number": "12-3456"}, "abha_number", FIELD_ABHA),
        ({"consent": ""}, "consent", FIELD_CONSENT),
        ({"age": "two hundred"}, "age", "Write the age in years, from 0 to 125."),
        ({"district": "atlantis"}, "district", "Choose a district from the list."),
        ({"lat": "51.5", "lon": "-0.1"}, "location", FIELD_LOCATION),
        ({"name": "R\x00"}, "name", "Write the patient's name (2 to 120 letters)."),
    ]:
        r = await client.post("/admission", data=_request_form(csrf, **overrides))
        assert r.status_code == 422, (field, r.text)
        assert bn(message) in r.text, field
        assert bn("Some answers need a change. See below.") in r.text
        assert field == "name" or 'value="Rina Das"' in r.text  # what was typed stays
    assert await snapshot(rt) == before

    # A checksum that looks wrong is only a warning: the request goes, the family is told.
    r = await client.post("/admission", data=_request_form(csrf, abha_number=LUHN_FAILS))
    assert r.status_code == 303 and r.headers["location"].endswith("&abha=check")
    page = await client.get(r.headers["location"])
    warning = (
        "Please check the ABHA number: it does not look right. Your request was sent all the same."
    )
    assert bn(warning) in page.text

    # Another phone's reference answers like a missing one.
    other = await make_waiting(rt, 7)
    r = await client.get(f"/admission/status?reference={other['reference']}")
    assert r.status_code == 404 and bn("No request with this reference for your phone.") in r.text
    assert "Rina Das 7" not in r.text
    r = await client.get("/admission/status?reference=<script>")
    assert r.status_code == 422 and "<script>" not in r.text
