"""Doctors and CHOs from the command line, presence and heartbeats (both databases)."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select, update

from seba.accounts.models import StaffUser
from seba.core.types import utcnow
from seba.telemedicine.consults import sweep
from seba.telemedicine.models import Doctor, DoctorPresence, DoctorSkill
from tests import factories
from tests.cli import seba_command


async def test_cli_doctor_add_and_cho_user_add(rt, db_url):
    codes = await factories.network(rt)
    hub = codes["kolkata_hub"]
    result = seba_command(
        db_url,
        "doctor", "add", "dr-roy", "--hub", hub, "--hub", codes["hills_hub"],
        "--registration", "wbmc 12345", "--specialty", "general_medicine",
        "--specialty", "paediatrics", "--language", "bn", "--language", "en",
        "--name", "Dr. Arpita Roy", "--password-stdin",
        stdin="long-enough-pw\n",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    async with rt.db.read() as session:
        doctor = await session.scalar(select(Doctor).where(Doctor.name == "Dr. Arpita Roy"))
        user = await session.get(StaffUser, doctor.user_id)
        skills = set(
            (s.specialty, s.language, s.pool_code)
            for s in await session.scalars(
                select(DoctorSkill).where(DoctorSkill.doctor_id == doctor.id)
            )
        )
        presence = await session.get(DoctorPresence, doctor.id)
    assert doctor.registration == "WBMC 12345"
    assert (user.role, user.scope_kind, user.scope_code) == ("doctor", "hub", hub)
    # The routing index: every specialty × language × pool of the doctor's hubs.
    assert len(skills) == 2 * 2 * 2 and ("paediatrics", "en", "hills") in skills
    assert presence.status == "offline"

    result = seba_command(
        db_url, "user", "add", "cho-behala", "--role", "cho",
        "--scope", f"spoke:{codes['kolkata_spoke']}", "--password-stdin",
        stdin="long-enough-pw\n",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr


async def test_cli_refuses_bad_doctors_and_writes_nothing(rt, db_url):
    codes = await factories.network(rt)
    hub = codes["kolkata_hub"]
    base = ["doctor", "add", "dr-bad", "--hub", hub, "--password-stdin"]
    cases = [
        ([*base, "--registration", "12"], "registration"),
        ([*base, "--registration", "WBMC 11111", "--specialty", "astrology"], "unknown_specialty"),
        ([*base, "--registration", "WBMC 11111", "--language", "xx"], "languages"),
        ([*base, "--registration", "WBMC 11111", "--hpr", "123"], "hpr_id"),
        (["doctor", "add", "dr-bad", "--hub", "nowhere", "--registration", "WBMC 11111",
          "--password-stdin"], "unknown_hub"),
    ]  # fmt: skip
    for args, expected in cases:
        result = seba_command(db_url, *args, stdin="long-enough-pw\n")
        assert result.returncode != 0 and expected in result.stderr, (args, result.stderr)
    # Without the password on stdin: a clear refusal.
    result = seba_command(
        db_url, "doctor", "add", "dr-bad", "--hub", hub, "--registration", "WBMC 2"
    )
    assert result.returncode == 2 and "--password-stdin" in result.stderr
    await factories.doctor(rt, hub, username="first")
    async with rt.db.read() as session:
        taken = (await session.scalars(select(Doctor.registration))).one()
    result = seba_command(
        db_url, *base[:-1], "--registration", taken, "--password-stdin", stdin="pw-long-enough\n"
    )
    assert result.returncode != 0 and "registration_taken" in result.stderr
    # `seba user add --role doctor` is refused: a doctor comes with a registration.
    result = seba_command(
        db_url, "user", "add", "dr-plain", "--role", "doctor", "--scope", f"hub:{hub}",
        "--password-stdin", stdin="long-enough-pw\n",
    )  # fmt: skip
    assert result.returncode != 0 and "seba doctor add" in result.stderr
    async with rt.db.read() as session:
        assert len((await session.scalars(select(Doctor))).all()) == 1
        assert await session.scalar(select(StaffUser).where(StaffUser.username == "dr-bad")) is None


async def test_silent_doctor_goes_offline_and_gets_no_offer(rt, client):
    codes = await factories.network(rt)
    doctor = await factories.doctor(rt, codes["kolkata_hub"], username="quiet-doctor")
    h = {"Authorization": f"Bearer {await factories.token(client, 'quiet-doctor')}"}
    r = await client.post("/api/v1/doctors/me/presence", json={"status": "online"}, headers=h)
    assert r.json()["status"] == "online"
    async with rt.db.write_session() as session, session.begin():
        await session.execute(
            update(DoctorPresence)
            .where(DoctorPresence.doctor_id == doctor.id)
            .values(last_heartbeat_at=utcnow() - timedelta(seconds=31))
        )
    result = await sweep.sweep(rt)
    assert result.offline == 1
    async with rt.db.read() as session:
        assert (await session.get(DoctorPresence, doctor.id)).status == "offline"
    # An offline doctor's poll returns nothing and does not bring them back online.
    assert (await client.get("/api/v1/doctors/me/offer", headers=h)).status_code == 204
    async with rt.db.read() as session:
        assert (await session.get(DoctorPresence, doctor.id)).status == "offline"


async def test_presence_input_and_roles(rt, client):
    codes = await factories.network(rt)
    await factories.doctor(rt, codes["kolkata_hub"], username="p-doctor")
    h = {"Authorization": f"Bearer {await factories.token(client, 'p-doctor')}"}
    r = await client.post("/api/v1/doctors/me/presence", json={"status": "dancing"}, headers=h)
    assert r.status_code == 422
    cho = await factories.staff(client, rt, "cho", f"spoke:{codes['kolkata_spoke']}")
    r = await client.post("/api/v1/doctors/me/presence", json={"status": "online"}, headers=cho)
    assert r.status_code == 403
    assert (await client.get("/api/v1/doctors/me/offer", headers=cho)).status_code == 403
