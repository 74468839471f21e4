"""Races for beds and referrals against a real ``seba serve --workers 2`` on one database.

Two server processes share the database, so only the database can keep the invariants: the
last-bed race (200 reservations for 10 beds over 64 connections), two hospital staff answering
the same referral at once, and two control-room operators reserving for the same waiting
request at once. Each race checks the answers, then the rows: bed pool, referrals, requests,
outbox, audit and the replayed ledger.
"""

from __future__ import annotations

import asyncio
import itertools
import time
from collections import Counter
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from sqlalchemy import func, select, update

from seba.beds import service as bed_service
from seba.beds.models import BedPool
from seba.beds.service import PoolCounts
from seba.core.access import SYSTEM
from seba.core.audit import AuditEntry
from seba.core.db import transactional
from seba.core.outbox import OutboxMessage
from seba.core.runtime import Runtime, build_runtime
from seba.core.types import utcnow
from seba.referrals import service as referral_service
from seba.referrals.models import AdmissionRequest, Referral
from seba.referrals.schemas import Patient, ReferralCreate
from seba.settings import Settings
from tests import factories
from tests.servers import Server, running_server

# Generous: on a busy machine importing the app alone can take many seconds.
START_TIMEOUT_S = 180.0
BEDS = 10
REQUESTS = 200
CONNECTIONS = 64


def _settings(url: str) -> Settings:
    return Settings(database_url=url, env="test", redis_url=None, secret_key="test-secret")


async def _with_runtime(url: str, work):
    """Run ``work(rt)`` on a runtime of our own, closed before the servers use the database."""
    rt = build_runtime(_settings(url))
    await rt.start()
    try:
        return await work(rt)
    finally:
        await rt.close()


async def _seed(rt: Runtime) -> dict:
    await factories.districts(rt)
    race = await factories.facility(rt, code="race-hospital")
    # One mixed ICU pool: every patient (male, female, other) competes for the same ten beds.
    await factories.census(rt, race, [("icu", "any", BEDS, 0)])
    spare = await factories.facility(rt, code="spare-hospital")
    await factories.census(rt, spare, [("general", "any", 40, 0)])
    users = {}
    for name, role, scope in (
        ("control-a", "control_room", "state"),
        ("control-b", "control_room", "state"),
        ("ward-a", "hospital_staff", "facility:race-hospital"),
        ("ward-b", "hospital_staff", "facility:race-hospital"),
    ):
        users[name] = (await factories.user(rt, role, scope, username=name)).username
    return {"race": race.id, "spare": spare.id, "users": users}


async def _rows(rt: Runtime) -> dict:
    """The rows the races touch; ``pools`` by facility (each facility here has one pool)."""
    async with rt.db.read() as s:
        pools = list(await s.scalars(select(BedPool)))
        replayed = await bed_service.replay_ledger(s)
        referrals = list(await s.scalars(select(Referral).order_by(Referral.id)))
        requests = list(await s.scalars(select(AdmissionRequest).order_by(AdmissionRequest.id)))
        outbox = list(await s.scalars(select(OutboxMessage)))
        audits = Counter(
            dict(
                (await s.execute(select(AuditEntry.action, func.count()).group_by("action"))).all()
            )
        )
    return {
        "pools": {p.facility_id: PoolCounts(p.total, p.occupied, p.reserved) for p in pools},
        "rows": {p.id: PoolCounts(p.total, p.occupied, p.reserved) for p in pools},
        "replayed": replayed,
        "referrals": referrals,
        "requests": requests,
        "outbox": outbox,
        "audits": audits,
    }


def _patient(i: int) -> dict:
    return {
        "name": f"Race Patient {i}",
        "age": 20 + i % 70,
        "sex": ("male", "female", "other")[i % 3],
        "phone": f"98{i:08d}",
    }


async def _login(server: Server, username: str) -> dict[str, str]:
    async with httpx.AsyncClient(base_url=server.url, timeout=60) as c:
        return {"Authorization": f"Bearer {await factories.token(c, username)}"}


async def _last_bed_race(server: Server, seeded: dict, auth: dict) -> list[httpx.Response]:
    """Fire every reservation at once; returns the answers and checks the connections overlapped.

    httpcore's trace hook tells when a request went out on its connection and when its answer
    was read: the peak of that count is how many connections really carried a request at once.
    """
    in_flight = 0
    peak = 0

    async def trace(event: str, _info: dict) -> None:
        nonlocal in_flight, peak
        if event == "http11.send_request_headers.started":
            in_flight += 1
            peak = max(peak, in_flight)
        elif event == "http11.response_closed.complete":
            in_flight -= 1

    limits = httpx.Limits(max_connections=CONNECTIONS)
    async with httpx.AsyncClient(
        base_url=server.url, limits=limits, timeout=180, headers=auth
    ) as client:
        answers = await asyncio.gather(
            *(
                client.post(
                    "/api/v1/referrals",
                    json={"patient": _patient(i), "facility_id": seeded["race"], "bed_type": "icu"},
                    extensions={"trace": trace},
                )
                for i in range(REQUESTS)
            )
        )
        facility = (await client.get(f"/api/v1/facilities/{seeded['race']}")).json()
    assert peak >= 50, f"only {peak} connections carried a request at once"
    (icu,) = [b for b in facility["beds"] if b["bed_type"] == "icu"]
    assert icu["available"] == 0 and icu["reserved"] == BEDS, icu
    return answers


async def _pair(server: Server, first: tuple, second: tuple) -> tuple[list[httpx.Response], bool]:
    """Send two requests at once on two fresh connections; returns them and whether they
    overlapped in time (each was sent before the other was answered)."""

    async def send(client: httpx.AsyncClient, path: str, body: dict | None):
        began = time.monotonic()
        response = await client.post(path, json=body)
        return response, began, time.monotonic()

    async with (
        httpx.AsyncClient(base_url=server.url, timeout=60, headers=first[0]) as c1,
        httpx.AsyncClient(base_url=server.url, timeout=60, headers=second[0]) as c2,
    ):
        # Connect first: the race is the POSTs, not the handshakes.
        await asyncio.gather(c1.get("/healthz"), c2.get("/healthz"))
        (a, a0, a1), (b, b0, b1) = await asyncio.gather(
            send(c1, first[1], first[2]), send(c2, second[1], second[2])
        )
    return [a, b], max(a0, b0) < min(a1, b1)


@pytest.mark.server
async def test_races_on_a_real_server(db_url: str, tmp_path: Path):
    seeded = await _with_runtime(db_url, _seed)
    users = seeded["users"]
    # Two worker processes: nothing in one process's memory can keep the invariants.
    with running_server(db_url, tmp_path=tmp_path, workers=2, timeout_s=START_TIMEOUT_S) as server:
        control_a = await _login(server, users["control-a"])
        control_b = await _login(server, users["control-b"])
        ward_a = await _login(server, users["ward-a"])
        ward_b = await _login(server, users["ward-b"])

        # --- the last-bed race ------------------------------------------------------------
        answers = await _last_bed_race(server, seeded, control_a)
        statuses = Counter(r.status_code for r in answers)
        assert statuses == {201: BEDS, 409: REQUESTS - BEDS}, (statuses, server.log()[-3000:])
        for r in answers:
            if r.status_code == 409:
                assert r.json()["error"]["code"] == "no_bed_available", r.text
        won = [r.json() for r in answers if r.status_code == 201]
        assert len({w["id"] for w in won}) == BEDS
        assert {(w["status"], w["facility_id"], w["sex"]) for w in won} == {
            ("reserved", seeded["race"], "any")
        }

        rows = await _with_runtime(db_url, _rows)
        assert rows["pools"][seeded["race"]] == PoolCounts(BEDS, 0, BEDS)
        assert rows["replayed"] == rows["rows"]
        # The 190 refused reservations wrote nothing: no request, referral, message or audit.
        assert len(rows["requests"]) == len(rows["referrals"]) == BEDS
        assert {r.status for r in rows["referrals"]} == {"reserved"}
        assert len(rows["outbox"]) == 2 * BEDS  # the family and the hospital, per reservation
        assert rows["audits"]["referral.reserve"] == BEDS

        # --- two hospital staff answer the same referral at once: exactly one wins ---------
        plans = [("admit", "reject"), ("reject", "admit"), ("admit", "admit"), ("reject", "reject")]
        plans = (plans * 3)[:BEDS]
        expected: dict[str, int] = Counter()
        overlapped = 0
        for referral, (one, two) in zip(won, plans, strict=True):
            path = f"/api/v1/referrals/{referral['id']}/"
            reason = {"reason": "no ventilator free"}
            pair, overlap = await _pair(
                server,
                (ward_a, path + one, reason if one == "reject" else None),
                (ward_b, path + two, reason if two == "reject" else None),
            )
            overlapped += overlap
            codes = sorted(r.status_code for r in pair)
            assert codes == [200, 409], [r.text for r in pair]
            winner = next(r for r in pair if r.status_code == 200).json()
            loser = next(r for r in pair if r.status_code == 409).json()
            assert loser["error"]["code"] == "invalid_referral_state"
            assert winner["status"] in ("admitted", "rejected")
            expected[winner["status"]] += 1
        # Most rounds really were in flight together, or this raced nothing.
        assert overlapped >= BEDS // 2, overlapped

        rows = await _with_runtime(db_url, _rows)
        assert rows["pools"][seeded["race"]] == PoolCounts(BEDS, expected["admitted"], 0)
        assert rows["replayed"] == rows["rows"]
        assert Counter(r.status for r in rows["referrals"]) == expected
        # One audit row per winner: the losers wrote nothing.
        assert rows["audits"]["referral.admit"] == expected["admitted"]
        assert rows["audits"]["referral.reject"] == expected["rejected"]

        # --- two operators reserve for the same waiting request at once: exactly one 201 ---
        rounds = 6
        overlapped = 0
        async with httpx.AsyncClient(base_url=server.url, timeout=60, headers=control_a) as c:
            waiting = []
            for i in range(rounds):
                r = await c.post(
                    "/api/v1/admission-requests/by-phone",
                    json={"patient": _patient(1000 + i), "district": "kolkata"},
                )
                assert r.status_code == 201, r.text
                waiting.append(r.json()["id"])
        for request_id in waiting:
            body = {"request_id": request_id, "facility_id": seeded["spare"], "bed_type": "general"}
            pair, overlap = await _pair(
                server,
                (control_a, "/api/v1/referrals", body),
                (control_b, "/api/v1/referrals", body),
            )
            overlapped += overlap
            assert sorted(r.status_code for r in pair) == [201, 409], [r.text for r in pair]
            loser = next(r for r in pair if r.status_code == 409).json()
            assert loser["error"]["code"] == "request_not_waiting"
        assert overlapped >= rounds // 2, overlapped

    rows = await _with_runtime(db_url, _rows)
    assert rows["pools"][seeded["spare"]] == PoolCounts(40, 0, rounds)
    assert rows["replayed"] == rows["rows"]
    per_request = Counter(r.request_id for r in rows["referrals"] if r.request_id in waiting)
    assert per_request == dict.fromkeys(waiting, 1)
    assert {r.status for r in rows["requests"] if r.id in waiting} == {"reserved"}


async def test_expired_holds_are_swept_while_others_reserve_elsewhere(rt: Runtime):
    """Every reservation first releases holds that ran out, wherever they are. On PostgreSQL
    the one that sweeps a hold in pool X and then takes a bed in pool Y must not hold the bed
    data-version row meanwhile: another reservation that already holds Y and waits for that row
    would deadlock with it (a 500 for one of them). In process, on both engines."""
    await factories.districts(rt)
    x = await factories.facility(rt)
    y = await factories.facility(rt)
    await factories.census(rt, x, [("icu", "any", 20, 0)])
    await factories.census(rt, y, [("icu", "any", 40, 0)])
    patients = itertools.count(1)

    def reservation(facility_id: int) -> ReferralCreate:
        n = next(patients)
        return ReferralCreate(
            facility_id=facility_id,
            bed_type="icu",
            patient=Patient(name=f"Patient {n}", age=50, sex="male", phone=f"98{n:08d}"),
        )

    rounds, per_round = 4, 8
    for _ in range(rounds):
        for _ in range(3):
            await referral_service.create_referral(rt, actor=SYSTEM, data=reservation(x.id))
        async with transactional(rt.db) as s:
            await s.execute(
                update(Referral)
                .where(Referral.facility_id == x.id, Referral.status == "reserved")
                .values(expires_at=utcnow() - timedelta(seconds=1))
            )
        # Whichever of these sweeps first releases x's holds, the others wait on y's pool.
        results = await asyncio.gather(
            *(
                referral_service.create_referral(rt, actor=SYSTEM, data=reservation(y.id))
                for _ in range(per_round)
            ),
            return_exceptions=True,
        )
        assert [r for r in results if isinstance(r, BaseException)] == []
    rows = await _rows(rt)
    assert rows["pools"][x.id] == PoolCounts(20, 0, 0)
    assert rows["pools"][y.id] == PoolCounts(40, 0, rounds * per_round)
    assert rows["replayed"] == rows["rows"]
    assert Counter(r.status for r in rows["referrals"]) == {
        "expired": rounds * 3,
        "reserved": rounds * per_round,
    }
