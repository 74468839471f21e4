"""Many CHOs, doctors and the sweep at once, on the real database: nothing fails, nothing is
held twice, every consult is seen by exactly one doctor.

Before the lock order of ``dispatch`` (one consult row, then one presence row, per
transaction), a doctor's poll that offered a consult to another doctor, a heartbeat written
first, and a sweep that offered many consults in one transaction deadlocked on PostgreSQL
under exactly this load, and the losers answered 500. Two processes' presence refreshes for
their open console streams (``streams.refresh_presence``: many presence rows in one statement)
run through it too, and must wait on nobody.
"""

from __future__ import annotations

import asyncio
import time

from sqlalchemy import func, select, text

from seba.core.types import utcnow
from seba.telemedicine.consults import streams, sweep
from seba.telemedicine.models import Consultation, DoctorPresence
from tests import factories
from tests.telemedicine import factories as tele

DOCTORS = 6
CHOS = 4
CONSULTS_PER_CHO = 4


async def _deadlocks(rt) -> int:
    if not rt.db.is_postgresql:
        return 0
    async with rt.db.read() as session:
        return await session.scalar(
            text("SELECT deadlocks FROM pg_stat_database WHERE datname = current_database()")
        )


async def test_chos_doctors_and_the_sweep_at_once(rt, client):
    codes = await factories.network(rt)
    chos = []
    for i in range(CHOS):
        cho = await factories.cho(rt, codes["kolkata_spoke"])
        headers = {"Authorization": f"Bearer {await factories.token(client, cho.username)}"}
        chos.append((headers, await tele.patient(client, headers, phone=f"98300{i:05d}")))
    doctors, doctor_ids = [], []
    for _ in range(DOCTORS):
        doctor = await factories.doctor(rt, codes["kolkata_hub"])
        doctor_ids.append(doctor.id)
        token = await factories.token(client, await tele.username(rt, doctor.user_id))
        doctors.append({"Authorization": f"Bearer {token}"})
    deadlocks_before = await _deadlocks(rt)
    failures: list[str] = []
    total = CHOS * CONSULTS_PER_CHO
    done: list[int] = []
    deadline = time.monotonic() + 60

    def check(r, *ok: int) -> bool:
        if r.status_code not in ok:
            failures.append(f"{r.request.method} {r.request.url.path} {r.status_code} {r.text}")
            return False
        return True

    async def cho_loop(headers, patient_id):
        for _ in range(CONSULTS_PER_CHO):
            r = await client.post(
                "/api/v1/consultations", json=tele.consult_body(patient_id), headers=headers
            )
            check(r, 201)
            await asyncio.sleep(0)

    async def doctor_loop(headers):
        r = await client.post(
            "/api/v1/doctors/me/presence", json={"status": "online"}, headers=headers
        )
        check(r, 200)
        while len(done) < total and time.monotonic() < deadline and not failures:
            r = await client.get("/api/v1/doctors/me/offer", headers=headers)
            if not check(r, 200, 204) or r.status_code == 204:
                await asyncio.sleep(0.01)
                continue
            cid = r.json()["id"]
            accepted = await client.post(f"/api/v1/consultations/{cid}/accept", headers=headers)
            if accepted.status_code == 409:
                continue  # lapsed or taken meanwhile: a correct answer under a race
            if check(accepted, 200):
                completed = await client.post(
                    f"/api/v1/consultations/{cid}/complete", headers=headers
                )
                if check(completed, 200):
                    done.append(cid)

    async def sweep_loop():
        while len(done) < total and time.monotonic() < deadline and not failures:
            await sweep.sweep(rt)
            await asyncio.sleep(0.005)

    async def refresh_loop(ids):
        # A process holding these doctors' console streams, ticking far faster than its 10 s.
        while len(done) < total and time.monotonic() < deadline and not failures:
            try:
                await streams.refresh_presence(rt, ids, utcnow())
            except Exception as exc:
                failures.append(f"presence refresh: {exc!r}")
            await asyncio.sleep(0.005)

    await asyncio.gather(
        *(cho_loop(h, p) for h, p in chos),
        *(doctor_loop(h) for h in doctors),
        sweep_loop(),
        refresh_loop(doctor_ids),
        refresh_loop(doctor_ids[::-1]),
    )

    assert failures == []
    assert sorted(done) == sorted(set(done)) and len(done) == total
    async with rt.db.read() as session:
        statuses = dict(
            (
                await session.execute(
                    select(Consultation.status, func.count()).group_by(Consultation.status)
                )
            ).all()
        )
        held = list(
            await session.scalars(
                select(DoctorPresence.consult_id).where(DoctorPresence.consult_id.is_not(None))
            )
        )
        doctors_per_consult = {
            cid: doctor
            for cid, doctor in await session.execute(
                select(Consultation.id, Consultation.doctor_id)
            )
        }
    assert statuses == {"completed": total}
    assert held == []  # every doctor free again
    assert all(doctors_per_consult.values())
    assert await _deadlocks(rt) == deadlocks_before
