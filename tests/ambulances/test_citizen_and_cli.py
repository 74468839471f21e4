"""A family's own request behind the phone's one-time code (the referral room's session), and
``seba import ambulances`` as an operator runs it."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import func, select

from seba.ambulances.models import Ambulance, AmbulanceRequest
from tests import factories
from tests.ambulances import world as w
from tests.cli import seba_command
from tests.referrals.test_otp import _session

PHONE = "+919830077777"


async def test_a_family_asks_for_an_ambulance_after_the_code(rt, client):
    await factories.districts(rt)
    body = {"district": "kolkata", "lat": 22.57, "lon": 88.36, "condition": "severe"}
    refused = await client.post("/api/v1/ambulance-requests/citizen", json=body)
    assert refused.status_code == 401
    assert refused.json()["error"]["code"] == "phone_not_verified"
    session = await _session(rt, client, PHONE)
    made = await client.post("/api/v1/ambulance-requests/citizen", json=body, headers=session)
    assert made.status_code == 201, made.text
    out = made.json()
    assert (out["source"], out["contact_phone"], out["status"]) == ("citizen", PHONE, "open")
    # The contact phone is the verified one: a body naming another is refused.
    other = await client.post(
        "/api/v1/ambulance-requests/citizen",
        json={**body, "contact_phone": "98300 12345"},
        headers=session,
    )
    assert other.status_code == 422
    outside = await client.post(
        "/api/v1/ambulance-requests/citizen",
        json={**body, "lat": 19.0, "lon": 72.8},  # Mumbai
        headers=session,
    )
    assert outside.status_code == 422
    async with rt.db.read() as s:
        assert await s.scalar(select(func.count()).select_from(AmbulanceRequest)) == 1


async def test_the_import_command_names_bad_lines_and_writes_nothing(rt, db_url, tmp_path: Path):
    await factories.districts(rt)
    hospital = await w.base(rt)
    bad = tmp_path / "bad.csv"
    bad.write_text(
        "registration,kind,base_facility,driver_name,driver_phone\n"
        f"WB 02 AB 1,bls,{hospital.code},Bapi Das,98300 11111\n"
        "WB 02 AB 2,bls,nowhere,Bapi Das,98300 11111\n"
    )
    failed = seba_command(db_url, "import", "ambulances", str(bad))
    assert failed.returncode == 1
    said = failed.stdout + failed.stderr
    assert "import_failed" in said and '"line": 3' in said and "nowhere" in said
    good = tmp_path / "good.csv"
    good.write_text(
        "registration,kind,base_facility,driver_name,driver_phone\n"
        f"WB 02 AB 1,bls,{hospital.code},Bapi Das,98300 11111\n"
    )
    done = seba_command(db_url, "import", "ambulances", str(good))
    assert done.returncode == 0, done.stderr
    assert "1 created" in done.stdout + done.stderr
    async with rt.db.read() as s:
        assert await s.scalar(select(func.count()).select_from(Ambulance)) == 1
