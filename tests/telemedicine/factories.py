"""Small builders for teleconsultation tests: a CHO and a doctor on the network with a patient,
a consult's body, and the passing of time on the consult clocks."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select, update

from seba.accounts import service as account_service
from seba.accounts.models import StaffUser
from seba.core.types import utcnow
from seba.telemedicine.calls import service as call_service
from seba.telemedicine.models import Consultation
from tests import factories

PARACETAMOL = {
    "drug": "paracetamol",
    "strength": "500 mg",
    "form": "tablet",
    "dose": "1 tablet",
    "frequency": "three times a day",
    "duration_days": 3,
}


async def setup(rt, client):
    codes = await factories.network(rt)
    cho = await factories.cho(rt, codes["kolkata_spoke"])
    cho_h = {"Authorization": f"Bearer {await factories.token(client, cho.username)}"}
    doctor = await factories.doctor(rt, codes["kolkata_hub"])
    doc_user = await username(rt, doctor.user_id)
    doc_h = {"Authorization": f"Bearer {await factories.token(client, doc_user)}"}
    patient_id = await patient(client, cho_h)
    return codes, cho_h, doc_h, doctor, patient_id


async def username(rt, user_id: int) -> str:
    async with rt.db.read() as session:
        return (await session.get(StaffUser, user_id)).username


async def patient(client, cho_h, **overrides) -> int:
    body = {
        "name": "Rina Das",
        "sex": "female",
        "age_years": 34,
        "phone": "9830012345",
        "village": "Behala",
        "address": "12 Diamond Harbour Road",
    }
    body.update(overrides)
    r = await client.post("/api/v1/patients", json=body, headers=cho_h)
    assert r.status_code == 201, r.text
    return r.json()["id"]


def consult_body(patient_id: int, **overrides) -> dict:
    body = {
        "patient_id": patient_id,
        "chief_complaint": "Fever for three days",
        "consent": True,
        "vitals": {"bp_systolic": 124, "bp_diastolic": 82, "pulse": 96, "temperature_c": 38.6},
    }
    body.update(overrides)
    return body


async def time_passes(rt, seconds: float) -> None:
    """Move every consult's clocks back, as if ``seconds`` had passed."""
    shift = timedelta(seconds=seconds)
    async with rt.db.write_session() as session, session.begin():
        for consult in list(await session.scalars(select(Consultation))):
            await session.execute(
                update(Consultation)
                .where(Consultation.id == consult.id)
                .values(
                    queued_at=consult.queued_at - shift,
                    offer_expires_at=consult.offer_expires_at and consult.offer_expires_at - shift,
                    join_deadline_at=consult.join_deadline_at and consult.join_deadline_at - shift,
                )
            )


async def record_video(rt, consult_id: int, *, doctor_user_id: int, seconds: int = 120) -> None:
    """What the call's signaling layer records when video reached the doctor's screen (TPG
    list A on a first consult needs it on the record): the doctor's page received it, and the
    CHO's page sent (and received) it at the same time, which the record cross-checks."""
    async with rt.db.read() as session:
        consult = await session.get(Consultation, consult_id)
        assert consult is not None
        cho_user_id = consult.cho_user_id
    end = utcnow()
    for party, user_id in (("doctor", doctor_user_id), ("cho", cho_user_id)):
        actor = await account_service.principal_for_user(rt, user_id)
        who = call_service.Party(actor=actor, consult_id=consult_id, party=party)
        await call_service.record_flow(
            rt, who=who, mode="video", started_at=end - timedelta(seconds=seconds), ended_at=end
        )
