from __future__ import annotations

from dataclasses import dataclass

import httpx
import pytest
from sqlalchemy import select

from seba.accounts.models import StaffUser
from tests import factories
from tests.telemedicine import factories as tele


@dataclass
class Call:
    """A Kolkata consult held by a doctor, the CHO joined, and people who are not its
    parties: another doctor of the same hub and a CHO of another spoke."""

    consult_id: int
    cho_h: dict[str, str]
    doc_h: dict[str, str]
    other_doc_h: dict[str, str]
    other_cho_h: dict[str, str]
    cho_user_id: int
    doctor_user_id: int
    other_doctor_user_id: int
    other_cho_user_id: int
    patient_id: int


async def _headers(client, username: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {await factories.token(client, username)}"}


async def held_consult(rt, client: httpx.AsyncClient, cho_h, doc_h, patient_id, **extra) -> int:
    r = await client.post(
        "/api/v1/consultations", json=tele.consult_body(patient_id, **extra), headers=cho_h
    )
    assert r.status_code == 201, r.text
    cid = r.json()["id"]
    await client.post("/api/v1/doctors/me/presence", json={"status": "online"}, headers=doc_h)
    accepted = await client.post(f"/api/v1/consultations/{cid}/accept", headers=doc_h)
    assert accepted.status_code == 200, accepted.text
    joined = await client.post(f"/api/v1/consultations/{cid}/join", headers=cho_h)
    assert joined.status_code == 200, joined.text
    return cid


@pytest.fixture
async def call(rt, client) -> Call:
    codes, cho_h, doc_h, doctor, patient_id = await tele.setup(rt, client)
    cid = await held_consult(rt, client, cho_h, doc_h, patient_id)
    other_doctor = await factories.doctor(rt, codes["kolkata_hub"])
    other_cho = await factories.cho(rt, codes["hills_spoke"])
    async with rt.db.read() as session:
        cho_user = await session.scalar(
            select(StaffUser.id).where(StaffUser.scope_code == codes["kolkata_spoke"])
        )
    return Call(
        consult_id=cid,
        cho_h=cho_h,
        doc_h=doc_h,
        other_doc_h=await _headers(client, await tele.username(rt, other_doctor.user_id)),
        other_cho_h=await _headers(client, other_cho.username),
        cho_user_id=cho_user,
        doctor_user_id=doctor.user_id,
        other_doctor_user_id=other_doctor.user_id,
        other_cho_user_id=other_cho.id,
        patient_id=patient_id,
    )
