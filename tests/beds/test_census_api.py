"""Census submits through the API: atomic, versioned, validated, scoped, audited."""

from __future__ import annotations

import asyncio

from sqlalchemy import func, select

from seba.beds.models import BedEvent, BedPool
from seba.core.audit import AuditEntry
from tests import factories


async def _setup(rt, client):
    await factories.districts(rt)
    fac = await factories.facility(rt, code="alpha")
    await factories.census(rt, fac, [("icu", "male", 10, 4), ("oxygen", "female", 20, 5)])
    headers = await factories.staff(client, rt, "hospital_staff", "facility:alpha")
    return fac, headers


async def _counts(rt):
    async with rt.db.read() as s:
        pools = await s.scalar(select(func.count()).select_from(BedPool))
        events = await s.scalar(select(func.count()).select_from(BedEvent))
        audits = await s.scalar(select(func.count()).select_from(AuditEntry))
    return pools, events, audits


async def test_census_submit_sets_pools_and_bumps_version(rt, client):
    fac, headers = await _setup(rt, client)
    body = {
        "version": 1,
        "pools": [
            {"bed_type": "icu", "sex": "male", "total": 12, "occupied": 11},
            {"bed_type": "hdu", "sex": "any", "total": 5, "occupied": 0},
        ],
    }
    r = await client.put(f"/api/v1/facilities/{fac.id}/beds", json=body, headers=headers)
    assert r.status_code == 200, r.text
    data = r.json()
    assert data["version"] == 2
    pools = {(p["bed_type"], p["sex"]): p for p in data["pools"]}
    assert pools[("icu", "male")]["available"] == 1
    assert pools[("hdu", "any")]["total"] == 5
    assert pools[("oxygen", "female")]["occupied"] == 5  # untouched pools keep their counts
    async with rt.db.read() as s:
        audit = (
            await s.scalars(
                select(AuditEntry)
                .where(AuditEntry.action == "census.update")
                .order_by(AuditEntry.id.desc())
            )
        ).first()
    assert audit.actor_name.startswith("hospital-staff")
    assert audit.before["version"] == 1 and audit.after["version"] == 2
    # Visible at once on the public API.
    pub = (await client.get(f"/api/v1/facilities/{fac.id}")).json()
    assert pub["version"] == 2
    assert {(b["bed_type"], b["sex"]): b["available"] for b in pub["beds"]}[("icu", "male")] == 1


async def test_stale_version_gets_409_with_current_state(rt, client):
    fac, headers = await _setup(rt, client)
    body = {"version": 0, "pools": [{"bed_type": "icu", "sex": "male", "total": 3, "occupied": 1}]}
    before = await _counts(rt)
    r = await client.put(f"/api/v1/facilities/{fac.id}/beds", json=body, headers=headers)
    assert r.status_code == 409
    err = r.json()["error"]
    assert err["code"] == "version_conflict"
    assert err["details"]["current"]["version"] == 1
    assert {p["bed_type"] for p in err["details"]["current"]["pools"]} == {"icu", "oxygen"}
    assert await _counts(rt) == before


async def test_bad_census_input_is_422_and_writes_nothing(rt, client):
    fac, headers = await _setup(rt, client)
    before = await _counts(rt)
    bad = [
        {"version": 1, "pools": [{"bed_type": "icu", "sex": "male", "total": 3, "occupied": 4}]},
        {"version": 1, "pools": [{"bed_type": "icu", "sex": "male", "total": -1, "occupied": 0}]},
        {"version": 1, "pools": [{"bed_type": "sofa", "sex": "male", "total": 3, "occupied": 0}]},
        {"version": 1, "pools": [{"bed_type": "icu", "sex": "other", "total": 3, "occupied": 0}]},
        {"version": 1, "pools": []},
        {"version": -1, "pools": [{"bed_type": "icu", "sex": "male", "total": 3, "occupied": 0}]},
        {
            "version": 1,
            "pools": [
                {"bed_type": "icu", "sex": "male", "total": 3, "occupied": 0},
                {"bed_type": "icu", "sex": "male", "total": 4, "occupied": 0},
            ],
        },
        {"version": "x", "pools": "y"},
        {
            "version": 1,
            "pools": [{"bed_type": "icu", "sex": "male", "total": 10**9, "occupied": 0}],
        },
    ]
    for body in bad:
        r = await client.put(f"/api/v1/facilities/{fac.id}/beds", json=body, headers=headers)
        assert r.status_code == 422, (body, r.text)
        assert r.json()["error"]["code"] == "validation_failed"
    r = await client.put(f"/api/v1/facilities/{fac.id}/beds", content=b"{not json", headers=headers)
    assert r.status_code == 422
    assert await _counts(rt) == before


async def test_census_below_reservations_is_409_and_writes_nothing(rt, client):
    fac, headers = await _setup(rt, client)
    # Reservations arrive with the referral issue; set one directly through the ledger helper.
    from seba.beds import service as bed_service
    from seba.core.access import SYSTEM
    from seba.core.db import transactional
    from seba.core.types import utcnow

    async with transactional(rt.db) as s:
        pool = await s.scalar(select(BedPool).where(BedPool.bed_type == "icu"))
        assert await bed_service._write_pool(
            s,
            pool=pool,
            after=bed_service.PoolCounts(10, 4, 3),
            kind="reserve",
            actor=SYSTEM,
            reason="test",
            at=utcnow(),
        )
    before = await _counts(rt)
    body = {"version": 1, "pools": [{"bed_type": "icu", "sex": "male", "total": 10, "occupied": 8}]}
    r = await client.put(f"/api/v1/facilities/{fac.id}/beds", json=body, headers=headers)
    assert r.status_code == 409
    err = r.json()["error"]
    assert err["code"] == "reservations_exceed_free_beds"
    assert err["details"]["pools"] == [
        {"bed_type": "icu", "sex": "male", "free_after": 2, "reserved": 3}
    ]
    assert await _counts(rt) == before
    fresh = (await client.get(f"/api/v1/facilities/{fac.id}")).json()
    assert fresh["version"] == 1


async def test_access_rules_on_census(rt, client):
    fac, _ = await _setup(rt, client)
    other = await factories.facility(rt, code="beta", district_code="howrah")
    body = {"version": 1, "pools": [{"bed_type": "icu", "sex": "male", "total": 10, "occupied": 5}]}
    url = f"/api/v1/facilities/{fac.id}/beds"
    assert (await client.put(url, json=body)).status_code == 401
    bad_token = {"Authorization": "Bearer nonsense"}
    r = await client.put(url, json=body, headers=bad_token)
    assert r.status_code == 401 and r.json()["error"]["code"] == "invalid_token"
    beta_staff = await factories.staff(client, rt, "hospital_staff", "facility:beta")
    r = await client.put(url, json=body, headers=beta_staff)
    assert r.status_code == 403 and r.json()["error"]["code"] == "out_of_scope"
    viewer = await factories.staff(client, rt, "viewer")
    assert (await client.put(url, json=body, headers=viewer)).status_code == 403
    control = await factories.staff(client, rt, "control_room")
    assert (await client.put(url, json=body, headers=control)).status_code == 403
    howrah_admin = await factories.staff(client, rt, "district_admin", "district:howrah")
    assert (await client.put(url, json=body, headers=howrah_admin)).status_code == 403
    kolkata_admin = await factories.staff(client, rt, "district_admin", "district:kolkata")
    assert (await client.put(url, json=body, headers=kolkata_admin)).status_code == 200
    missing = await client.put("/api/v1/facilities/999999/beds", json=body, headers=kolkata_admin)
    assert missing.status_code == 404
    assert other.id != fac.id


async def test_two_submits_from_same_version_exactly_one_wins(rt, client):
    fac, headers = await _setup(rt, client)
    url = f"/api/v1/facilities/{fac.id}/beds"

    def body(occupied):
        return {
            "version": 1,
            "pools": [{"bed_type": "icu", "sex": "male", "total": 10, "occupied": occupied}],
        }

    results = await asyncio.gather(
        *(client.put(url, json=body(o), headers=headers) for o in (1, 2, 3, 4))
    )
    codes = sorted(r.status_code for r in results)
    assert codes == [200, 409, 409, 409], [r.text for r in results]
    winner = next(r for r in results if r.status_code == 200).json()
    final = (await client.get(f"/api/v1/facilities/{fac.id}")).json()
    assert final["version"] == 2
    icu = next(b for b in final["beds"] if b["bed_type"] == "icu")
    assert icu["occupied"] == next(p for p in winner["pools"] if p["bed_type"] == "icu")["occupied"]
