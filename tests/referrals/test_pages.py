"""Central referral pages: the family's OTP, request and status pages; the control room's queue,
holds, phone callers and board; the hospital's incoming referrals and admissions. Every action
is a plain form post; refusals come back as pages in the reader's language, writing nothing."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import httpx
from sqlalchemy import func, select

from seba.beds.models import BedPool
from seba.core.access import SYSTEM
from seba.core.audit import AuditEntry
from seba.core.db import transactional
from seba.core.i18n import gettext, number
from seba.core.idempotency import IdempotencyRecord
from seba.core.outbox import OutboxMessage
from seba.core.runtime import Runtime
from seba.core.types import utcnow
from seba.places.models import Facility
from seba.referrals import pages as referral_pages
from seba.referrals import service as referral_service
from seba.referrals.models import AdmissionRequest, OtpChallenge, Referral
from seba.referrals.schemas import CallerRequest, ReferralCreate
from tests import factories
from tests.accounts.test_pages import csrf_of, staff_session

PHONE = "+919830012345"
VALID_ABHA = "12-3456-7890-1237"  # passes the Luhn check
LUHN_FAILS = "12-3456-7890-1234"
TEMPLATES = Path(referral_pages.__file__).parent / "templates" / "referrals"


def bn(message: str, **params) -> str:
    """``message`` as a Bengali page says it: counts in Bengali digits, codes as they are."""
    shown = {k: number(v, "bn") if isinstance(v, int) else v for k, v in params.items()}
    return gettext("bn", message, **shown)


@dataclass
class World:
    alpha: Facility  # Kolkata: oxygen beds for women and for anyone, general beds
    beta: Facility  # Howrah: oxygen and general beds


async def _world(rt: Runtime) -> World:
    await factories.districts(rt)
    alpha = await factories.facility(rt, code="alpha", name="Alpha Hospital", name_bn="আলফা হাসপাতাল")
    beta = await factories.facility(
        rt, code="beta", name="Beta Hospital", name_bn="বিটা হাসপাতাল", district_code="howrah"
    )
    await factories.census(
        rt, alpha, [("oxygen", "female", 3, 1), ("oxygen", "any", 1, 0), ("general", "any", 4, 0)]
    )
    await factories.census(rt, beta, [("oxygen", "any", 2, 0), ("general", "any", 5, 0)])
    return World(alpha=alpha, beta=beta)


def _patient(n: int = 1, sex: str = "female") -> dict:
    return {"name": f"Rina Das {n}", "age": 54, "sex": sex, "phone": f"98300{n:05d}"}


async def _waiting(rt: Runtime, n: int = 1, need: str = "oxygen", **extra) -> dict:
    """A request in the queue, as an operator would record a caller's."""
    data = CallerRequest(
        patient=_patient(n), district="kolkata", condition="severe", need=need, **extra
    )
    return await referral_service.create_caller_request(rt, actor=SYSTEM, data=data)


async def _hold(rt: Runtime, facility: Facility, n: int = 1, bed_type: str = "oxygen") -> dict:
    data = ReferralCreate(facility_id=facility.id, bed_type=bed_type, patient=_patient(n))
    result, _ = await referral_service.create_referral(rt, actor=SYSTEM, data=data)
    return result


async def _count(rt: Runtime, model, *where) -> int:
    async with rt.db.read() as s:
        return await s.scalar(select(func.count()).select_from(model).where(*where))


async def _pool(rt: Runtime, facility: Facility, bed_type: str, sex: str) -> tuple[int, int, int]:
    async with rt.db.read() as s:
        p = await s.scalar(
            select(BedPool).where(
                BedPool.facility_id == facility.id, BedPool.bed_type == bed_type, BedPool.sex == sex
            )
        )
    return p.total, p.occupied, p.reserved


async def _referral(rt: Runtime, referral_id: int) -> Referral:
    async with rt.db.read() as s:
        return await s.get(Referral, referral_id)


async def _snapshot(rt: Runtime) -> dict:
    """Every row a referral page may write, and every pool's numbers."""
    async with rt.db.read() as s:
        counts = {
            m.__tablename__: await s.scalar(select(func.count()).select_from(m))
            for m in (
                AdmissionRequest,
                Referral,
                OtpChallenge,
                OutboxMessage,
                IdempotencyRecord,
            )
        }
        counts["audit"] = await s.scalar(
            select(func.count())
            .select_from(AuditEntry)
            .where(AuditEntry.action.not_in(("patient.list", "patient.read")))
        )
        pools = {p.id: (p.occupied, p.reserved) for p in await s.scalars(select(BedPool))}
    return {"counts": counts, "pools": pools}


def _idem(html: str, form_action: str) -> str:
    """The Idempotency-Key of the first form posting to ``form_action``."""
    form = html.split(f'action="{form_action}"', 1)[1].split("</form>", 1)[0]
    return re.search(r'name="idem" value="([^"]+)"', form)[1]


# ---------------------------------------------------------------- citizens


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
    await _world(rt)
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
    world = await _world(rt)
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
    await _world(rt)
    csrf = await _citizen_csrf(client)
    before = await _snapshot(rt)
    r = await client.post("/admission/phone", data={"csrf": csrf, "phone": "12345"})
    assert r.status_code == 422
    assert bn("Enter a 10-digit mobile number, like 98300 12345.") in r.text
    r = await client.post("/admission/phone", data={"phone": PHONE})  # no CSRF value
    assert r.status_code == 403
    assert bn(
        "This form has expired or did not come from Seba. Reload the page and try again."
    ) in (r.text)
    assert await _snapshot(rt) == before

    r = await client.post("/admission/phone", data={"csrf": csrf, "phone": PHONE})
    assert r.status_code == 303
    r = await client.post("/admission/phone", data={"csrf": csrf, "phone": PHONE})
    assert r.status_code == 429 and int(r.headers["retry-after"]) > 0
    assert bn("Please wait before asking for another code.") in r.text
    assert await _count(rt, OtpChallenge) == 1

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
    before = await _snapshot(rt)
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
    assert await _snapshot(rt) == before

    # A checksum that looks wrong is only a warning: the request goes, the family is told.
    r = await client.post("/admission", data=_request_form(csrf, abha_number=LUHN_FAILS))
    assert r.status_code == 303 and r.headers["location"].endswith("&abha=check")
    page = await client.get(r.headers["location"])
    warning = (
        "Please check the ABHA number: it does not look right. Your request was sent all the same."
    )
    assert bn(warning) in page.text

    # Another phone's reference answers like a missing one.
    other = await _waiting(rt, 7)
    r = await client.get(f"/admission/status?reference={other['reference']}")
    assert r.status_code == 404 and bn("No request with this reference for your phone.") in r.text
    assert "Rina Das 7" not in r.text
    r = await client.get("/admission/status?reference=<script>")
    assert r.status_code == 422 and "<script>" not in r.text


FIELD_ABHA = "An ABHA number has 14 digits, like 12-3456-7890-1234. Or leave it empty."
FIELD_CONSENT = "Tick the box to agree; without it the request cannot go to a hospital."
FIELD_LOCATION = "This location is not in West Bengal. Send the form without it."


# ---------------------------------------------------------------- control room


async def test_operator_reserves_from_the_queue_once_however_often_the_form_is_sent(rt, client):
    world = await _world(rt)
    waiting = await _waiting(rt)
    await staff_session(client, rt, "control_room", "state")
    page = await client.get("/staff/control-room")
    assert page.status_code == 200 and page.headers["cache-control"] == "no-store"
    assert bn("Control room") in page.text and "Rina Das 1" in page.text
    assert bn("Severe") in page.text and "আলফা হাসপাতাল" in page.text
    assert 'data-live-src="/staff/control-room/live"' in page.text
    form = {
        "csrf": csrf_of(page.text),
        "idem": _idem(page.text, "/staff/control-room/reserve"),
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
    assert await _count(rt, Referral) == 1
    assert await _pool(rt, world.alpha, "oxygen", "female") == (3, 1, 1)
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
    assert await _count(rt, Referral) == 1

    english = await client.get("/staff/control-room?lang=en")
    assert "Beds on hold" in english.text and "Alpha Hospital" in english.text
    live = await client.get("/staff/control-room/live")
    assert live.status_code == 200 and "<html" not in live.text and "Rina Das 1" in live.text


async def test_operator_records_a_caller_then_cancels_and_moves_holds(rt, client):
    world = await _world(rt)
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
    before = await _snapshot(rt)
    for overrides, message in [
        ({"consent": ""}, FIELD_CONSENT),
        ({"phone": "555"}, "Enter a 10-digit mobile number, like 98300 12345."),
        ({"need": "spa"}, "Choose the kind of bed needed."),
    ]:
        r = await client.post("/staff/control-room/requests", data=caller | overrides)
        assert r.status_code == 422 and bn(message) in r.text
        assert 'value="Abdul Karim"' in r.text
    assert await _snapshot(rt) == before

    r = await client.post("/staff/control-room/requests", data=caller)
    assert r.status_code == 303 and "done=recorded" in r.headers["location"]
    async with rt.db.read() as s:
        req = await s.scalar(select(AdmissionRequest))
    assert (req.source, req.phone, req.need) == ("control_room", "+917003012345", "general")

    page = await client.get("/staff/control-room")
    form = {
        "csrf": csrf,
        "idem": _idem(page.text, "/staff/control-room/reserve"),
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
    assert await _pool(rt, world.beta, "general", "any") == (5, 0, 0)
    assert await _pool(rt, world.alpha, "general", "any") == (4, 0, 1)
    moved = await _referral(rt, int(referral_id))
    assert moved.status == "cancelled"

    page = (await client.get("/staff/control-room")).text
    new_id = re.search(r'action="/staff/referrals/(\d+)/cancel"', page)[1]
    r = await client.post(
        f"/staff/referrals/{new_id}/cancel",
        data={
            "csrf": csrf,
            "idem": _idem(page, f"/staff/referrals/{new_id}/cancel"),
            "reason": "x",
        },
    )
    assert r.status_code == 303 and "done=cancelled" in r.headers["location"]
    assert await _pool(rt, world.alpha, "general", "any") == (4, 0, 0)
    async with rt.db.read() as s:
        assert (await s.get(AdmissionRequest, req.id)).status == "waiting"  # back in the queue
    # Cancelling again: the page says why not.
    r = await client.post(f"/staff/referrals/{new_id}/cancel", data={"csrf": csrf})
    assert r.status_code == 409 and bn("This referral cannot do that now.") in r.text


async def test_board_counts_and_times_in_bengali_digits(rt, client):
    world = await _world(rt)
    for n in range(1, 4):
        await _waiting(rt, n)
    await _hold(rt, world.alpha, 9)
    await staff_session(client, rt, "control_room", "district:kolkata")
    page = await client.get("/staff/control-room/board")
    assert page.status_code == 200
    counts = re.findall(r'<p class="ref-count"><b>([^<]*)</b>', page.text)
    assert counts == [number(3, "bn"), number(1, "bn"), number(0, "bn"), number(0, "bn")]
    assert bn("Request to reservation") in page.text and bn("under a minute") in page.text
    english = await client.get("/staff/control-room/board?lang=en")
    assert "Reservation to admission" in english.text and "Median" in english.text
    assert (await client.get("/staff/control-room/board/live")).status_code == 200


# ---------------------------------------------------------------- hospital


async def test_hospital_confirms_rejects_admits_discharges_and_transfers(rt, client):
    world = await _world(rt)
    first = await _hold(rt, world.alpha, 1)
    second = await _hold(rt, world.alpha, 2)
    third = await _hold(rt, world.alpha, 3, bed_type="general")
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
        data = {"csrf": csrf, "idem": _idem(html, url), "facility_id": str(world.alpha.id)}
        return await client.post(url, data=data | fields)

    r = await act(f"/staff/referrals/{first['id']}/confirm")
    assert r.status_code == 303 and r.headers["location"] == (
        f"{path}?done=confirmed&ref={first['reference']}"
    )
    assert (await _referral(rt, first["id"])).status == "confirmed"

    before = await _snapshot(rt)
    r = await act(f"/staff/referrals/{second['id']}/reject", reason="")
    assert r.status_code == 422
    assert bn("Write why the patient cannot be taken (at least 3 letters).") in r.text
    assert await _snapshot(rt) == before
    r = await act(f"/staff/referrals/{second['id']}/reject", reason="No oxygen today")
    assert r.status_code == 303 and "done=rejected" in r.headers["location"]
    assert (await _referral(rt, second["id"])).status == "rejected"

    r = await act(f"/staff/referrals/{first['id']}/admit")
    assert r.status_code == 303 and "done=admitted" in r.headers["location"]
    assert await _pool(rt, world.alpha, "oxygen", "female") == (3, 2, 0)
    page = await client.get(r.headers["location"])
    assert bn("Admitted: {reference}.", reference=first["reference"]) in page.text
    assert bn("Admitted through Seba") in page.text

    r = await act(f"/staff/admissions/{first['id']}/discharge", outcome="discharged", reason="")
    assert r.status_code == 303 and "done=discharged" in r.headers["location"]
    assert await _pool(rt, world.alpha, "oxygen", "female") == (3, 1, 0)

    await act(f"/staff/referrals/{third['id']}/admit")
    r = await act(
        f"/staff/admissions/{third['id']}/transfer", need="icu", condition="severe", reason="worse"
    )
    assert r.status_code == 303 and "done=transferred" in r.headers["location"]
    async with rt.db.read() as s:
        new = await s.scalar(select(AdmissionRequest).where(AdmissionRequest.source == "transfer"))
    assert (new.need, new.condition, new.status) == ("icu", "severe", "waiting")
    assert await _pool(rt, world.alpha, "general", "any") == (4, 0, 0)

    # A step the referral cannot take now (a stale page, another tab) is refused on the page.
    r = await client.post(
        f"/staff/referrals/{first['id']}/confirm",
        data={"csrf": csrf, "facility_id": str(world.alpha.id)},
    )
    assert r.status_code == 409 and bn("This referral cannot do that now.") in r.text

    english = await client.get(path + "?lang=en")
    assert "Incoming patients" in english.text and "Admit a walk-in patient" in english.text


async def test_hospital_admits_a_walk_in_and_records_a_death(rt, client):
    world = await _world(rt)
    await staff_session(client, rt, "hospital_staff", "facility:alpha")
    path = f"/staff/facilities/{world.alpha.id}/referrals"
    page = (await client.get(path)).text
    walk_in = {
        "csrf": csrf_of(page),
        "idem": _idem(page, f"/staff/facilities/{world.alpha.id}/admissions"),
        "name": "Mina Roy",
        "age": "30",
        "sex": "female",
        "phone": "9830055555",
        "bed_type": "oxygen",
        "condition": "moderate",
        "covid_status": "negative",
    }
    before = await _snapshot(rt)
    r = await client.post(
        f"/staff/facilities/{world.alpha.id}/admissions", data=walk_in | {"bed_type": ""}
    )
    assert r.status_code == 422 and bn("Choose the kind of bed needed.") in r.text
    assert 'value="Mina Roy"' in r.text
    assert await _snapshot(rt) == before

    r = await client.post(f"/staff/facilities/{world.alpha.id}/admissions", data=walk_in)
    again = await client.post(f"/staff/facilities/{world.alpha.id}/admissions", data=walk_in)
    assert r.status_code == again.status_code == 303 and "done=walk_in" in r.headers["location"]
    assert await _count(rt, Referral, Referral.status == "admitted") == 1
    assert await _pool(rt, world.alpha, "oxygen", "female") == (3, 2, 0)

    page = (await client.get(path)).text
    admission_id = re.search(r'action="/staff/admissions/(\d+)/discharge"', page)[1]
    url = f"/staff/admissions/{admission_id}/discharge"
    r = await client.post(
        url,
        data={
            "csrf": walk_in["csrf"],
            "idem": _idem(page, url),
            "facility_id": str(world.alpha.id),
            "outcome": "died",
        },
    )
    assert r.status_code == 303 and "done=died" in r.headers["location"]
    assert (await _referral(rt, int(admission_id))).status == "died"
    assert await _pool(rt, world.alpha, "oxygen", "female") == (3, 1, 0)


# ---------------------------------------------------------------- access


async def test_patient_data_only_to_those_the_services_allow(rt, client):
    world = await _world(rt)
    hold = await _hold(rt, world.alpha, 1)
    await _waiting(rt, 2)

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
    before = await _snapshot(rt)
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
    assert await _snapshot(rt) == before


def test_every_string_on_the_referral_pages_is_in_bengali():
    found = set()
    for path in TEMPLATES.glob("*.html"):
        found |= set(re.findall(r'_\("((?:[^"\\]|\\.)*)"', path.read_text()))
        found |= set(re.findall(r"_\('((?:[^'\\]|\\.)*)'", path.read_text()))
    for words in (
        referral_pages.CONDITION_LABELS,
        referral_pages.CONDITION_HINTS,
        referral_pages.PATIENT_SEX_LABELS,
        referral_pages.COVID_LABELS,
        referral_pages.STATUS_LABELS,
        referral_pages.SOURCE_LABELS,
        referral_pages.FIELD_MESSAGES,
        referral_pages.NOTICES,
    ):
        found |= set(words.values())
    missing = sorted(m for m in found if gettext("bn", m) == m)
    assert len(found) > 150 and not missing, missing
