"""Facility administration through the API: validation, uniqueness, roles and scopes, audit."""

from __future__ import annotations

from sqlalchemy import func, select

from seba.core.audit import AuditEntry
from seba.places.models import Facility
from tests import factories

URL = "/api/v1/facilities"


def body(**overrides: object) -> dict:
    data = {
        "code": "new-hospital",
        "name": "New Hospital",
        "name_bn": "নতুন হাসপাতাল",
        "district_code": "kolkata",
        "ownership": "government",
        "kind": "district_hospital",
        "phones": ["033 2223 5555"],
        "lat": 22.6,
        "lon": 88.4,
        "hfr_id": "IN1910000001",
    }
    data.update(overrides)
    return data


async def _counts(rt) -> tuple[int, int]:
    async with rt.db.read() as s:
        return (
            await s.scalar(select(func.count()).select_from(Facility)),
            await s.scalar(select(func.count()).select_from(AuditEntry)),
        )


async def _audits(rt, action: str) -> list[AuditEntry]:
    async with rt.db.read() as s:
        return list(
            await s.scalars(
                select(AuditEntry).where(AuditEntry.action == action).order_by(AuditEntry.id)
            )
        )


async def test_create_and_update_are_audited_with_actor_before_and_after(rt, client):
    await factories.districts(rt)
    admin = await factories.staff(client, rt, "state_admin")
    r = await client.post(URL, json=body(), headers=admin)
    assert r.status_code == 201, r.text
    created = r.json()
    assert created["code"] == "new-hospital" and created["hfr_id"] == "IN1910000001"
    [audit] = await _audits(rt, "facility.create")
    assert audit.entity_type == "facility" and audit.entity_id == str(created["id"])
    assert audit.actor_id is not None and audit.actor_name.startswith("state-admin")
    assert audit.before is None and audit.after["name"] == "New Hospital"

    r = await client.patch(
        f"{URL}/{created['id']}", json={"name": "Renamed Hospital", "lat": 22.7}, headers=admin
    )
    assert r.status_code == 200, r.text
    assert r.json()["name"] == "Renamed Hospital" and r.json()["lat"] == 22.7
    [audit] = await _audits(rt, "facility.update")
    assert audit.actor_id is not None
    assert (audit.before["name"], audit.after["name"]) == ("New Hospital", "Renamed Hospital")
    assert (audit.before["lat"], audit.after["lat"]) == (22.6, 22.7)
    # The public view shows the change at once.
    public = (await client.get(f"{URL}/{created['id']}")).json()
    assert "Renamed Hospital" in str(public)


async def test_validation_errors_name_their_fields_and_write_nothing(rt, client):
    await factories.districts(rt)
    admin = await factories.staff(client, rt, "state_admin")
    before = await _counts(rt)
    cases = [
        (body(code="Has Spaces"), {"code"}),
        (body(ownership="charity"), {"ownership"}),
        (body(kind="castle"), {"kind"}),
        (body(lat=40.0, lon=10.0), {"lat", "lon"}),
        (body(hfr_id="IN12"), {"hfr_id"}),
        (body(hfr_id="IN২৭১০০০০০১১"), {"hfr_id"}),  # Bengali digits are not an HFR ID
        (body(phones=["call me"]), {"phones"}),
        (body(name=""), {"name"}),
        (body(name="Nul\u0000Hospital"), {"name"}),
        (body(district_code="kol\u0000kata"), {"district_code"}),
        (body(surprise=True), {"surprise"}),
        ({"code": "only-code"}, {"name", "name_bn", "district_code", "ownership", "kind"}),
    ]
    for payload, fields in cases:
        r = await client.post(URL, json=payload, headers=admin)
        assert r.status_code == 422, (payload, r.text)
        error = r.json()["error"]
        assert error["code"] == "validation_failed"
        assert {d["field"] for d in error["details"]} == fields, (payload, error)
    r = await client.post(URL, json=body(district_code="atlantis"), headers=admin)
    assert r.status_code == 422 and r.json()["error"]["code"] == "unknown_district"
    assert await _counts(rt) == before


async def test_update_validation_and_identity(rt, client):
    await factories.districts(rt)
    fac = await factories.facility(rt)
    admin = await factories.staff(client, rt, "state_admin")
    before = await _counts(rt)
    # code and district are the facility's identity; null is not a value for required fields.
    for payload in (
        {"district_code": "howrah"},
        {"code": "renamed"},
        {"name": None},
        {"ownership": None},
        {"covid": None},
        {"phones": None},
        {"address": None},
        {"lat": 99},
        {"name_bn": "x\u0000y"},
    ):
        r = await client.patch(f"{URL}/{fac.id}", json=payload, headers=admin)
        assert r.status_code == 422, (payload, r.text)
        assert r.json()["error"]["code"] == "validation_failed"
    assert await _counts(rt) == before
    # lat/lon/hfr_id may be cleared.
    r = await client.patch(f"{URL}/{fac.id}", json={"lat": None, "lon": None}, headers=admin)
    assert r.status_code == 200 and r.json()["lat"] is None
    r = await client.patch(f"{URL}/999999", json={"name": "Nobody"}, headers=admin)
    assert r.status_code == 404 and r.json()["error"]["code"] == "facility_not_found"


async def test_code_and_hfr_taken_are_409(rt, client):
    await factories.districts(rt)
    first = await factories.facility(rt, code="first", hfr_id="IN1910000001")
    second = await factories.facility(rt, code="second")
    admin = await factories.staff(client, rt, "state_admin")
    before = await _counts(rt)
    r = await client.post(URL, json=body(code="first", hfr_id=None), headers=admin)
    assert r.status_code == 409 and r.json()["error"]["code"] == "facility_code_taken"
    r = await client.post(URL, json=body(code="third", hfr_id="IN1910000001"), headers=admin)
    assert r.status_code == 409
    error = r.json()["error"]
    assert error["code"] == "hfr_id_taken" and error["details"]["facility"] == "first"
    r = await client.patch(f"{URL}/{second.id}", json={"hfr_id": "IN1910000001"}, headers=admin)
    assert r.status_code == 409 and r.json()["error"]["code"] == "hfr_id_taken"
    assert await _counts(rt) == before
    # Setting a facility's own HFR ID again is not a conflict with itself.
    r = await client.patch(f"{URL}/{first.id}", json={"hfr_id": "IN1910000001"}, headers=admin)
    assert r.status_code == 200, r.text


async def test_district_admin_works_only_in_their_district(rt, client):
    await factories.districts(rt)
    howrah = await factories.facility(rt, code="howrah-one", district_code="howrah")
    kolkata = await factories.facility(rt, code="kolkata-one")
    admin = await factories.staff(client, rt, "district_admin", "district:kolkata")
    r = await client.post(URL, json=body(), headers=admin)
    assert r.status_code == 201, r.text
    before = await _counts(rt)
    r = await client.post(
        URL, json=body(code="elsewhere", district_code="howrah", hfr_id=None), headers=admin
    )
    assert r.status_code == 403 and r.json()["error"]["code"] == "out_of_scope"
    r = await client.patch(f"{URL}/{howrah.id}", json={"name": "Not Mine"}, headers=admin)
    assert r.status_code == 403 and r.json()["error"]["code"] == "out_of_scope"
    assert await _counts(rt) == before
    r = await client.patch(f"{URL}/{kolkata.id}", json={"name": "Mine Renamed"}, headers=admin)
    assert r.status_code == 200


async def test_other_roles_cannot_create_or_update(rt, client):
    await factories.districts(rt)
    fac = await factories.facility(rt, code="alpha")
    before = await _counts(rt)
    for role, scope in (
        ("hospital_staff", "facility:alpha"),
        ("viewer", "state"),
        ("control_room", "state"),
    ):
        headers = await factories.staff(client, rt, role, scope)
        r = await client.post(URL, json=body(), headers=headers)
        assert r.status_code == 403, (role, r.text)
        assert r.json()["error"]["code"] == "forbidden"
        r = await client.patch(f"{URL}/{fac.id}", json={"name": "Nope Hospital"}, headers=headers)
        assert r.status_code == 403, (role, r.text)
    r = await client.post(URL, json=body())
    assert r.status_code == 401 and r.json()["error"]["code"] == "not_authenticated"
    assert r.headers["www-authenticate"] == "Bearer"
    r = await client.patch(f"{URL}/{fac.id}", json={"name": "Nope Hospital"})
    assert r.status_code == 401
    # Nothing changed: the only facility audit row is the factory's own create.
    assert (await _counts(rt))[0] == before[0]
    assert len(await _audits(rt, "facility.update")) == 0
    assert len(await _audits(rt, "facility.create")) == 1
