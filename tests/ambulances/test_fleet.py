"""The fleet: registration numbers, admin CRUD in scope, the all-or-nothing CSV import, the demo."""

from __future__ import annotations

import pytest
from pydantic_core import PydanticCustomError
from sqlalchemy import func, select

from seba.ambulances import service as fleet
from seba.ambulances.demo import load_fleet_demo
from seba.ambulances.models import Ambulance
from seba.ambulances.schemas import registration
from seba.core.access import SYSTEM
from seba.core.errors import ValidationFailed
from seba.core.i18n import gettext
from tests import factories
from tests.ambulances import world as w


@pytest.mark.parametrize(
    ("typed", "stored"),
    [
        ("WB 06 AB 1234", "WB 06 AB 1234"),
        ("wb06ab1234", "WB 06 AB 1234"),
        ("WB-6-A-12", "WB 06 A 0012"),
        (" wb 02 ca 9 ", "WB 02 CA 0009"),
        ("WB 74 1234", "WB 74 1234"),
        ("OD 02 AB ০১২৩", "OD 02 AB 0123"),
    ],
)
def test_registration_numbers_are_normalised(typed: str, stored: str):
    assert registration(typed) == stored


@pytest.mark.parametrize(
    "typed",
    [
        "",
        "WB",
        "XX 06 AB 1234",
        "WB 00 AB 1234",
        "WB 06 ABCD 1234",
        "WB 06 AB 12345",
        "WB 06 AB 0000",
        "1234",
        1234,
        "WB 06 AB 1234" * 3,
    ],
)
def test_bad_registration_numbers_are_refused(typed):
    with pytest.raises(PydanticCustomError):
        registration(typed)


async def test_admin_adds_and_changes_an_ambulance(rt, client):
    await factories.districts(rt)
    hospital = await w.base(rt)
    admin = await factories.staff(client, rt, "district_admin", "district:kolkata")
    body = {
        "registration": "wb 02 ab 77",
        "kind": "als",
        "base_facility": hospital.code,
        "driver_name": "Sanjay Mondal",
        "driver_phone": "98300 12345",
    }
    created = await client.post("/api/v1/ambulances", json=body, headers=admin)
    assert created.status_code == 201, created.text
    out = created.json()
    assert out["registration"] == "WB 02 AB 0077"
    assert out["driver_phone"] == "+919830012345"
    assert (out["district"], out["status"]) == ("kolkata", "free")
    again = await client.post("/api/v1/ambulances", json=body, headers=admin)
    assert again.status_code == 409
    assert again.json()["error"]["code"] == "registration_taken"
    off = await client.patch(
        f"/api/v1/ambulances/{out['id']}", json={"status": "off_duty"}, headers=admin
    )
    assert off.status_code == 200 and off.json()["status"] == "off_duty"
    listed = await client.get("/api/v1/ambulances", headers=admin)
    assert [a["registration"] for a in listed.json()["ambulances"]] == ["WB 02 AB 0077"]


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"registration": "XX 1"}, "registration"),
        ({"driver_phone": "12345"}, "driver_phone"),
        ({"kind": "helicopter"}, "kind"),
        ({"driver_name": ""}, "driver_name"),
    ],
)
async def test_bad_fleet_input_is_refused_in_bengali(rt, client, change, field):
    await factories.districts(rt)
    hospital = await w.base(rt)
    admin = await factories.staff(client, rt, "state_admin")
    body = {
        "registration": "WB 02 AB 1",
        "kind": "bls",
        "base_facility": hospital.code,
        "driver_name": "Bapi Das",
        "driver_phone": "98300 12345",
        **change,
    }
    answer = await client.post("/api/v1/ambulances", json=body, headers=admin)
    assert answer.status_code == 422
    error = answer.json()["error"]
    assert error["code"] == "validation_failed"
    assert error["message"] == gettext("bn", "Some fields are not valid.")
    assert field in {d["field"] for d in error["details"]}
    async with rt.db.read() as s:
        assert await s.scalar(select(func.count()).select_from(Ambulance)) == 0


async def test_unknown_facility_and_out_of_scope(rt, client):
    await factories.districts(rt)
    howrah = await w.base(rt, "howrah")
    admin = await factories.staff(client, rt, "district_admin", "district:kolkata")
    body = {
        "registration": "WB 02 AB 1",
        "kind": "bls",
        "driver_name": "Bapi Das",
        "driver_phone": "98300 12345",
    }
    unknown = await client.post(
        "/api/v1/ambulances",
        json={**body, "base_facility": "no-such-hospital"},
        headers={**admin, "Accept-Language": "en"},
    )
    assert unknown.status_code == 422
    assert unknown.json()["error"]["code"] == "unknown_facility"
    assert unknown.json()["error"]["message"] == "Unknown facility."
    outside = await client.post(
        "/api/v1/ambulances", json={**body, "base_facility": howrah.code}, headers=admin
    )
    assert outside.status_code == 403
    assert outside.json()["error"]["code"] == "out_of_scope"
    # Another district's ambulance is not found for a district admin; control rooms may not
    # manage the fleet at all.
    theirs = await w.ambulance(rt, howrah.code)
    patch = await client.patch(
        f"/api/v1/ambulances/{theirs['id']}", json={"status": "off_duty"}, headers=admin
    )
    assert patch.status_code == 404
    control = await factories.staff(client, rt, "control_room", "district:howrah")
    refused = await client.patch(
        f"/api/v1/ambulances/{theirs['id']}", json={"status": "off_duty"}, headers=control
    )
    assert refused.status_code == 403


GOOD_CSV = """registration,kind,base_facility,driver_name,driver_phone,status
WB 02 AB 1,bls,{h},Sanjay Mondal,98300 11111,free
wb02ab2,free_govt,{h},Bapi Das,+91 98300 22222,off_duty
"""


async def test_import_creates_then_updates_and_names_every_bad_line(rt, client):
    await factories.districts(rt)
    hospital = await w.base(rt)
    report = await fleet.import_ambulances(rt, actor=SYSTEM, text=GOOD_CSV.format(h=hospital.code))
    assert (report.created, report.updated) == (2, 0)
    again = await fleet.import_ambulances(rt, actor=SYSTEM, text=GOOD_CSV.format(h=hospital.code))
    assert (again.created, again.updated) == (0, 0)
    bad = (
        "registration,kind,base_facility,driver_name,driver_phone\n"
        f"WB 02 AB 3,bls,{hospital.code},Tapas Ghosh,98300 33333\n"
        f"WB 02 AB 9999 9,bls,{hospital.code},Tapas Ghosh,98300 33333\n"
        "WB 02 AB 4,bls,nowhere,Tapas Ghosh,98300 33333\n"
        f"WB 02 AB 5,bus,{hospital.code},Tapas Ghosh,12345\n"
        f"wb-02-ab-3,bls,{hospital.code},Tapas Ghosh,98300 33333\n"
    )
    with pytest.raises(ValidationFailed) as caught:
        await fleet.import_ambulances(rt, actor=SYSTEM, text=bad)
    lines = {e["line"]: " ".join(e["errors"]) for e in caught.value.details["lines"]}
    assert sorted(lines) == [3, 4, 5, 6]
    assert "registration" in lines[3]
    assert "unknown facility" in lines[4]
    assert "kind" in lines[5] and "driver_phone" in lines[5]
    assert "repeats line 2" in lines[6]
    async with rt.db.read() as s:
        assert await s.scalar(select(func.count()).select_from(Ambulance)) == 2
    # The API names the lines too; only state admins import.
    admin = await factories.staff(client, rt, "state_admin")
    answer = await client.post(
        "/api/v1/ambulances/import",
        content=bad.encode(),
        headers={**admin, "Content-Type": "text/csv"},
    )
    assert answer.status_code == 422
    assert [e["line"] for e in answer.json()["error"]["details"]["lines"]] == [3, 4, 5, 6]
    district = await factories.staff(client, rt, "district_admin", "district:kolkata")
    refused = await client.post(
        "/api/v1/ambulances/import", content=b"x", headers={**district, "Content-Type": "text/csv"}
    )
    assert refused.status_code == 403


async def test_demo_fleet_covers_every_district_and_is_idempotent(rt):
    await factories.districts(rt)
    from seba.data import read_csv

    codes = [d["code"] for d in read_csv("districts.csv")]
    for code in codes:
        await w.base(rt, code, lat=None, lon=None)
    first = await load_fleet_demo(rt)
    assert first["ambulances_created"] >= 4 * len(codes)
    assert (await load_fleet_demo(rt))["ambulances_created"] == 0
    async with rt.db.read() as s:
        covered = set(await s.scalars(select(Ambulance.district_code).distinct()))
    assert covered == set(codes) and len(codes) == 23
