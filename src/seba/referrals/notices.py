"""The texts referral writes into the outbox: SMS to the family and to the hospital.

They are enqueued in the transaction of the change they tell of (``core.outbox``), so a
message exists exactly when its change committed. The family reads theirs in the language they
used (``AdmissionRequest.lang``), times in Indian time; the hospital's notice is in English.
"""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from seba.core import outbox
from seba.core.i18n import gettext, local_time
from seba.places.models import Facility
from seba.referrals.models import AdmissionRequest, Referral
from seba.vocabulary import BED_TYPE_LABELS, word

# When a hospital has no phone on record, the family gets the state's 24x7 helpline.
HELPLINE = "1800-313-444-222"


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


def bed_reserved(
    session: AsyncSession, ref: Referral, req: AdmissionRequest, facility: Facility
) -> None:
    """Tell the family where the bed is and by when to get there; tell the hospital who comes."""
    lang = req.lang
    phone = facility.phones[0] if facility.phones else HELPLINE
    outbox.enqueue(
        session,
        channel="sms",
        recipient=req.phone,
        body=gettext(
            lang,
            "Seba {reference}: a {bed} bed is reserved for {patient} at {hospital}, {address}. "
            "Phone {phone}. Please reach by {until}.",
            reference=req.reference,
            # The bed's name in the vocabulary's words: the one the family saw on the page.
            bed=word(BED_TYPE_LABELS, ref.bed_type, lang),
            patient=req.patient_name,
            hospital=facility.name_bn if lang == "bn" else facility.name,
            address=facility.address,
            phone=phone,
            until=local_time(ref.expires_at, lang),
        ),
        topic={"referral_id": ref.id, "to": "family"},
    )
    for hospital_phone in facility.phones[:1]:
        outbox.enqueue(
            session,
            channel="sms",
            recipient=hospital_phone,
            body=gettext(
                "en",
                "Seba referral {reference}: {bed} bed reserved for {patient} ({age}, {sex}, "
                "{condition}) until {until}. Confirm in the Seba console.",
                reference=req.reference,
                bed=word(BED_TYPE_LABELS, ref.bed_type, "en"),
                patient=req.patient_name,
                age=req.patient_age,
                sex=req.patient_sex,
                condition=req.condition,
                until=local_time(ref.expires_at, "en"),
            ),
            topic={"referral_id": ref.id, "to": "hospital"},
        )
