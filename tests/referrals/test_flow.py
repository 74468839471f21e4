"""The whole referral path through the API: reserve, confirm, admit, discharge; the ledger and
public availability follow every step."""

from __future__ import annotations

from sqlalchemy import select

from seba.beds import service as bed_service
from seba.core.outbox import OutboxMessage
from seba.referrals.models import AdmissionRequest
from tests import factories

PATIENT = {"name": "Rina Das", "age": 54, "sex": "female", "phone": "98300 12345"}


async def _free(client, facility_id, bed_type="oxygen"):
    data = (await client.get(f"/api/v1/facilities/{facility_id}")).json()
    return sum(b["available"] for b in data["beds"] if b["bed_type"] == bed_type)


async def _setup(rt, client):
    await factories.districts(rt)
    fac = await factories.facility(rt, code="alpha")
    await factories.census(rt, fac, [("oxygen", "female", 3, 1), ("oxygen", "any", 1, 0)])
    control = await factories.staff(client, rt, "control_room")
    hospital = await factories.staff(client, rt, "hospital_staff", "facility:alpha")
    return fac, control, hospital


async def test_reserve_admit_discharge(rt, client):
    fac, control, hospital = await _setup(rt, client)
    assert await _free(client, fac.id) == 3
    r = await client.post(
        "/api/v1/referrals",
        json={"patient": PATIENT, "facility_id": fac.id, "bed_type": "oxygen"},
        headers=control,
    )
    assert r.status_code == 201, r.text
    ref = r.json()
    assert ref["status"] == "reserved" and ref["sex"] == "female" and ref["expires_at"]
    assert ref["facility_id"] == fac.id and ref["bed_type"] == "oxygen"
    assert await _free(client, fac.id) == 2
    async with rt.db.read() as s:
        sms = list(await s.scalars(select(OutboxMessage).order_by(OutboxMessage.id)))
    # The family's SMS; the hospital's notice is not sent to its public number (033 2341 2600):
    # its bed manager gave no mobile, so the notice is kept as undeliverable.
    assert [(m.recipient, m.status) for m in sms] == [("+919830012345", "pending"), ("", "dead")]
    assert ref["reference"] in sms[0].body

    for step in ("confirm", "admit"):
        r = await client.post(f"/api/v1/referrals/{ref['id']}/{step}", headers=hospital)
        assert r.status_code == 200, r.text
    assert r.json()["status"] == "admitted"
    census = await bed_service.get_census(rt, facility_id=fac.id)
    pool = next(p for p in census.pools if p.sex == "female")
    assert (pool.occupied, pool.reserved) == (2, 0)
    r = await client.post(
        f"/api/v1/admissions/{ref['id']}/discharge",
        json={"outcome": "discharged"},
        headers=hospital,
    )
    assert r.status_code == 200 and r.json()["status"] == "discharged"
    assert await _free(client, fac.id) == 3
    async with rt.db.read() as s:
        replay = await bed_service.replay_ledger(s)
    assert replay[pool.id].occupied == 1 and replay[pool.id].reserved == 0


async def test_no_bed_available_writes_nothing(rt, client):
    fac, control, _ = await _setup(rt, client)
    male = {**PATIENT, "sex": "male"}
    r1 = await client.post(
        "/api/v1/referrals",
        json={"patient": male, "facility_id": fac.id, "bed_type": "oxygen"},
        headers=control,
    )
    assert r1.status_code == 201  # the one mixed bed
    r2 = await client.post(
        "/api/v1/referrals",
        json={"patient": male, "facility_id": fac.id, "bed_type": "oxygen"},
        headers=control,
    )
    assert r2.status_code == 409 and r2.json()["error"]["code"] == "no_bed_available"
    async with rt.db.read() as s:
        requests = list(await s.scalars(select(AdmissionRequest)))
    assert len(requests) == 1


async def test_idempotent_retry(rt, client):
    fac, control, _ = await _setup(rt, client)
    body = {"patient": PATIENT, "facility_id": fac.id, "bed_type": "oxygen"}
    headers = {**control, "Idempotency-Key": "abc-1"}
    r1 = await client.post("/api/v1/referrals", json=body, headers=headers)
    r2 = await client.post("/api/v1/referrals", json=body, headers=headers)
    assert r1.status_code == r2.status_code == 201
    assert r1.json() == r2.json()
    assert r2.headers.get("Idempotent-Replay") == "true"
    assert await _free(client, fac.id) == 2
    other = await client.post(
        "/api/v1/referrals", json={**body, "bed_type": "general"}, headers=headers
    )
    assert other.status_code == 422 and other.json()["error"]["code"] == "idempotency_key_reused"


async def test_reject_requeues_and_releases(rt, client):
    fac, control, hospital = await _setup(rt, client)
    r = await client.post(
        "/api/v1/referrals",
        json={"patient": PATIENT, "facility_id": fac.id, "bed_type": "oxygen"},
        headers=control,
    )
    ref = r.json()
    r = await client.post(
        f"/api/v1/referrals/{ref['id']}/reject",
        json={"reason": "oxygen plant down"},
        headers=hospital,
    )
    assert r.status_code == 200 and r.json()["status"] == "rejected"
    assert await _free(client, fac.id) == 3
    q = (await client.get("/api/v1/control-room/queue", headers=control)).json()
    assert [x["reference"] for x in q["requests"]] == [ref["reference"]]
    assert q["requests"][0]["suggestions"][0]["facility_id"] == fac.id
    again = await client.post(f"/api/v1/referrals/{ref['id']}/admit", headers=hospital)
    assert again.status_code == 409
