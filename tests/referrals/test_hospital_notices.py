"""Where the hospital's referral notice goes: the mobiles of its own bed managers, never a
number the public dials (its reception, its emergency line, the state helpline). A hospital
whose staff gave no mobile gets no SMS: the notice is kept as undeliverable for admins. The
family's SMS names the hospital's own number and, in Bengali, its Bengali address."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from seba.accounts import service as account_service
from seba.core.access import SYSTEM
from seba.core.errors import Conflict
from seba.core.outbox import OutboxMessage
from seba.notifications import service as outbox_service
from seba.notifications.worker import deliver_once
from seba.referrals import notices
from seba.referrals import service as referral_service
from seba.referrals.schemas import CitizenRequest, Patient, ReferralCreate
from tests import factories
from tests.referrals.test_outbox import RecordingSms

HELPLINE = "1800-313-444-222"


async def _hospital(rt, code: str):
    await factories.districts(rt)
    facility = await factories.facility(
        rt,
        code=code,
        address="Sealdah, Kolkata, West Bengal",
        address_bn="শিয়ালদহ, কলকাতা, পশ্চিমবঙ্গ",
        reception_phone="033 2286 0033",
        emergency_phone="033 2286 0034",
        phones=["033 2286 0035"],
    )
    await factories.census(rt, facility, [("icu", "any", 4, 0)])
    return facility


async def _staff(rt, username: str, scope: str, mobile: str | None, role="hospital_staff"):
    return await account_service.create_user(
        rt,
        actor=SYSTEM,
        username=username,
        password=factories.PASSWORD,
        role=role,
        scope=scope,
        mobile=mobile,
    )


async def _reserve(rt, facility_id: int, lang: str = "bn") -> dict:
    """A family's request (in ``lang``, with a note and a Covid status), then its bed."""
    asked = await referral_service.submit_citizen_request(
        rt,
        phone="+919830011111",
        data=CitizenRequest(
            patient=Patient(name="Rina Das", age=64, sex="female", phone="98300 11111"),
            district="kolkata",
            need="icu",
            covid_status="suspected",
            notes="Oxygen 86%",
            consent=True,
        ),
        lang=lang,
    )
    held, _ = await referral_service.create_referral(
        rt,
        actor=SYSTEM,
        data=ReferralCreate(facility_id=facility_id, bed_type="icu", request_id=asked["id"]),
    )
    return held


async def _messages(rt, referral_id: int) -> list[OutboxMessage]:
    async with rt.db.read() as s:
        rows = await s.scalars(select(OutboxMessage).order_by(OutboxMessage.id))
        return [m for m in rows if (m.topic or {}).get("referral_id") == referral_id]


async def test_the_notice_goes_to_the_hospitals_staff_mobiles_only(rt):
    fac = await _hospital(rt, "notice-here")
    other = await _hospital(rt, "notice-elsewhere")
    await _staff(rt, "here-a", "facility:notice-here", "98300 22222")
    await _staff(rt, "here-b", "facility:notice-here", "+91 70000 33333")
    await _staff(rt, "here-c", "facility:notice-here", None)  # no mobile: not a recipient
    await _staff(rt, "here-dup", "facility:notice-here", "9830022222")  # same phone: once
    await _staff(rt, "elsewhere", "facility:notice-elsewhere", "98300 44444")
    await _staff(rt, "district", "district:kolkata", "98300 55555", role="district_admin")
    assert other.id != fac.id

    held = await _reserve(rt, fac.id)
    messages = await _messages(rt, held["id"])
    to_hospital = [m for m in messages if m.topic["to"] == "hospital"]
    assert sorted(m.recipient for m in to_hospital) == ["+917000033333", "+919830022222"]
    assert all(m.status == "pending" for m in to_hospital)
    public_numbers = {"033 2286 0033", "033 2286 0034", "033 2286 0035", HELPLINE}
    assert not {m.recipient for m in messages} & public_numbers
    body = to_hospital[0].body
    assert held["reference"] in body and "Rina Das" in body and "Covid suspected" in body
    assert len(body) <= notices.SMS_MAX

    (family,) = [m for m in messages if m.topic["to"] == "family"]
    assert family.recipient == "+919830011111"
    # The hospital's emergency line (its own number, not the helpline) and its Bengali
    # address, in a Bengali SMS.
    assert "033 2286 0034" in family.body and HELPLINE not in family.body
    assert "শিয়ালদহ" in family.body and "Sealdah" not in family.body
    assert family.body.startswith("সেবা ") and len(family.body) <= notices.SMS_MAX

    sms = RecordingSms()
    report = await deliver_once(rt, sms)
    # The family's "request received" and "bed held", and the notice to each staff mobile.
    assert report.sent == 4
    assert sorted(to for to, _ in sms.sent) == [
        "+917000033333",
        "+919830011111",
        "+919830011111",
        "+919830022222",
    ]


async def test_an_english_family_gets_the_english_address(rt):
    fac = await _hospital(rt, "notice-en")
    held = await _reserve(rt, fac.id, lang="en")
    (family,) = [m for m in await _messages(rt, held["id"]) if m.topic["to"] == "family"]
    assert "Sealdah, Kolkata" in family.body and "West Bengal" not in family.body
    assert "Call 033 2286 0034" in family.body


async def test_without_a_staff_mobile_the_notice_is_recorded_undeliverable(rt):
    fac = await _hospital(rt, "notice-nobody")
    await _staff(rt, "nobody-staff", "facility:notice-nobody", None)
    held = await _reserve(rt, fac.id)
    (notice,) = [m for m in await _messages(rt, held["id"]) if m.topic["to"] == "hospital"]
    assert (notice.status, notice.recipient, notice.attempts) == ("dead", "", 0)
    assert notice.last_error == notices.UNDELIVERABLE
    assert held["reference"] in notice.body

    sms = RecordingSms()
    await deliver_once(rt, sms)
    assert {to for to, _ in sms.sent} == {"+919830011111"}  # the family only
    listed = await outbox_service.list_messages(rt, actor=SYSTEM, status="dead")
    assert [(m["id"], m["recipient"]) for m in listed] == [(notice.id, None)]
    with pytest.raises(Conflict) as refused:
        await outbox_service.retry_dead(rt, actor=SYSTEM, message_id=notice.id)
    assert refused.value.code == "message_has_no_recipient"


async def test_a_hospital_without_numbers_gets_no_phone_in_the_familys_sms(rt):
    await factories.districts(rt)
    fac = await factories.facility(rt, code="notice-silent", phones=[])
    await factories.census(rt, fac, [("icu", "any", 1, 0)])
    held = await _reserve(rt, fac.id)
    (family,) = [m for m in await _messages(rt, held["id"]) if m.topic["to"] == "family"]
    assert "ফোন" not in family.body and HELPLINE not in family.body
