"""The texts referral writes into the outbox: SMS to the family and to the hospital.

They are enqueued in the transaction of the change they tell of (``core.outbox``), so a
message exists exactly when its change committed. The family reads theirs in the language they
used (``AdmissionRequest.lang``), times in Indian time, the hospital's Bengali address in
Bengali; the hospital's notice is in English and goes to the mobiles of its own staff
(``accounts.alerts``). A hospital whose staff gave no mobile gets no SMS at all: the notice is
recorded as undeliverable for admins (a dead outbox message with no recipient), never sent to a
number the public calls.

**Length.** Every SMS fits two Unicode segments (``SMS_MAX`` = 2 × 67 characters: Bengali
always travels as UCS-2). The words are short; the values that can be long (a hospital's name,
its address, a patient's name) are shortened by ``fit`` when the whole would not fit, while the
reference, the phone number and the time are never cut.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from seba.accounts import alerts
from seba.core import outbox
from seba.core.i18n import IST, gettext, local_time
from seba.core.types import utcnow
from seba.places.contacts import address_in, call_numbers
from seba.places.models import Facility
from seba.referrals.models import AdmissionRequest, Referral
from seba.vocabulary import BED_TYPE_LABELS, word

# Two UCS-2 segments of a concatenated SMS (67 characters each after the joining header).
SMS_MAX = 134
# A shortened value keeps at least this much, so it still says something.
MIN_KEPT = 6
# The state's name ends every stored address; an SMS about a hospital here does not need it.
_STATE_SUFFIX = re.compile(r",\s*(West Bengal|পশ্চিমবঙ্গ)\s*$")
_BRACKETS = re.compile(r"\s*\([^)]*\)")
# Times in an SMS: the hold is short, so the clock time; "tomorrow" or the date when it is not
# today.
SMS_TIME = {"bn": "B h:mm", "en": "h:mm a"}
SMS_DAY_TIME = {"bn": "d MMM, B h:mm", "en": "d MMM, h:mm a"}
UNDELIVERABLE = "undeliverable: no staff mobile registered for this facility"


def fit(
    render: Callable[[dict[str, str]], str], values: dict[str, str], shrink: tuple[str, ...]
) -> str:
    """``render(values)``, with the ``shrink`` values shortened until the text is at most
    ``SMS_MAX`` characters, gentlest first: their bracketed parts go ("… (NRS)"), then their
    last comma parts ("Medinipur, Paschim Medinipur" → "Medinipur"), in ``shrink`` order;
    then their ends, with "…", in the reverse order (so the first named keeps its first part
    and the last one gives up its tail). Values not named are never touched."""
    values = dict(values)
    text = render(values)

    def over() -> int:
        return len(text) - SMS_MAX

    for key in shrink:
        plain = _BRACKETS.sub("", values[key]).strip()
        if over() > 0 and plain != values[key] and len(plain) >= MIN_KEPT:
            values[key] = plain
            text = render(values)
    for key in shrink:
        while over() > 0 and ", " in values[key]:
            values[key] = values[key].rsplit(", ", 1)[0]
            text = render(values)
    for key in reversed(shrink):
        if over() > 0:
            keep = max(MIN_KEPT, len(values[key]) - over() - 1)
            if keep < len(values[key]):
                values[key] = values[key][:keep].rstrip(" ,.-&/") + "…"
                text = render(values)
    return text


def sms_time(moment: datetime | None, lang: str, now: datetime | None = None) -> str:
    """A moment as an SMS says it, in Indian time: "7:30 pm", "tomorrow 12:40 am", or with
    the date when further off."""
    if moment is None:
        return ""
    lang = lang if lang in SMS_TIME else "en"
    days = (moment.astimezone(IST).date() - (now or utcnow()).astimezone(IST).date()).days
    if days == 0:
        return local_time(moment, lang, SMS_TIME[lang])
    if days == 1:
        return gettext(lang, "tomorrow {time}", time=local_time(moment, lang, SMS_TIME[lang]))
    return local_time(moment, lang, SMS_DAY_TIME[lang])


def request_received(session: AsyncSession, req: AdmissionRequest) -> None:
    """Tell the family their request is in the control room's queue."""
    outbox.enqueue(
        session,
        channel="sms",
        recipient=req.phone,
        body=gettext(
            req.lang,
            "Seba: your bed request {reference} is received. The control room will call you.",
            reference=req.reference,
        ),
        topic={"request_id": req.id, "to": "family"},
    )


def family_text(
    lang: str,
    *,
    reference: str,
    bed_type: str,
    hospital: str,
    address: str,
    phone: str | None,
    until: str,
) -> str:
    """The family's SMS that a bed is held: where, until when, the hospital's own number."""
    message = (
        "Seba {reference}: bed held ({bed}) at {place} till {until}. Call {phone}"
        if phone
        else "Seba {reference}: bed held ({bed}) at {place} till {until}."
    )

    def render(v: dict[str, str]) -> str:
        place = f"{v['hospital']}, {v['address']}" if v["address"] else v["hospital"]
        return gettext(
            lang,
            message,
            reference=v["reference"],
            bed=v["bed"],
            place=place,
            until=v["until"],
            phone=v["phone"],
        )

    values = {
        "reference": reference,
        # The bed's name in the vocabulary's words: the one the family saw on the page.
        "bed": word(BED_TYPE_LABELS, bed_type, lang),
        "hospital": hospital,
        "address": _STATE_SUFFIX.sub("", address),
        "until": until,
        "phone": phone or "",
    }
    return fit(render, values, ("address", "hospital"))


def hospital_text(
    *,
    reference: str,
    bed_type: str,
    until: str,
    patient: str,
    age: int,
    sex: str,
    condition: str,
    covid: str,
) -> str:
    """The hospital's notice: who comes, for which bed, until when (staff read it in English,
    as the console's codes are)."""
    values = {
        "reference": reference,
        "bed": word(BED_TYPE_LABELS, bed_type, "en"),
        "until": until,
        "patient": patient,
        "age": str(age),
        "sex": sex[:1].upper(),
        "condition": condition,
        "covid": covid,
    }
    return fit(
        lambda v: gettext(
            "en",
            "Seba {reference}: bed held ({bed}) till {until} for {patient}, {age}{sex}, "
            "{condition}, Covid {covid}. Confirm in Seba.",
            **v,
        ),
        values,
        ("patient",),
    )


async def bed_reserved(
    session: AsyncSession, ref: Referral, req: AdmissionRequest, facility: Facility
) -> None:
    """Tell the family where the bed is and by when to get there; tell the hospital's staff
    who comes (or record that no one at the hospital can be told by SMS)."""
    lang = req.lang
    numbers = call_numbers(facility.emergency_phone, facility.reception_phone, facility.phones)
    outbox.enqueue(
        session,
        channel="sms",
        recipient=req.phone,
        body=family_text(
            lang,
            reference=req.reference,
            bed_type=ref.bed_type,
            hospital=facility.name_bn if lang == "bn" else facility.name,
            address=address_in(lang, facility.address, facility.address_bn),
            phone=numbers[0] if numbers else None,
            until=sms_time(ref.expires_at, lang),
        ),
        topic={"referral_id": ref.id, "to": "family"},
    )
    body = hospital_text(
        reference=req.reference,
        bed_type=ref.bed_type,
        until=sms_time(ref.expires_at, "en"),
        patient=req.patient_name,
        age=req.patient_age,
        sex=req.patient_sex,
        condition=req.condition,
        covid=req.covid_status,
    )
    topic = {"referral_id": ref.id, "to": "hospital", "facility_id": facility.id}
    mobiles = await alerts.alert_mobiles(session, facility.code)
    for mobile in mobiles:
        outbox.enqueue(session, channel="sms", recipient=mobile, body=body, topic=topic)
    if not mobiles:
        outbox.record_undeliverable(
            session, channel="sms", body=body, topic=topic, reason=UNDELIVERABLE
        )
