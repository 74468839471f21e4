"""Facility CSV import (service, API, real CLI) and the demo loader: all or nothing, idempotent."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import func, select

from seba.accounts.models import StaffUser
from seba.beds.models import BedEvent, BedPool
from seba.beds.queries import is_stale
from seba.core.access import SYSTEM, Principal
from seba.core.audit import AuditEntry
from seba.core.errors import PermissionDenied, ValidationFailed
from seba.core.types import utcnow
from seba.data import DATA_DIR, read_csv
from seba.demo import DEMO_COUNSELLORS, DEMO_DOCTOR, DEMO_USERS, TARGET_HOSPITALS, load_demo
from seba.places import service as place_service
from seba.places.models import District, Facility
from tests import factories
from tests.cli import seba_command

HEADER = "code,name,name_bn,district_code,ownership,kind,covid,address,phones,lat,lon,hfr_id"
GOOD_FILE = "\n".join(
    [
        HEADER,
        "alpha,Alpha Hospital,আলফা হাসপাতাল,kolkata,government,district_hospital,yes,"
        "Kolkata,033 2341 2600;98300 12345,22.57,88.36,IN2710000011",
        "beta,Beta Nursing Home,বিটা নার্সিং হোম,howrah,private,private_hospital,no,,,,,",
        "gamma,Gamma Satellite Centre,গামা স্যাটেলাইট কেন্দ্র,nadia,"
        "govt_requisitioned_private,satellite_centre,,,,23.40,88.50,",
    ]
)

# Line numbers are the file's own: the header is line 1. Every line but 2 and 12 is bad, each
# for one reason, so the report must name exactly these lines.
BAD_LINES = {
    3: "ownership",
    4: "unknown district",
    5: "hfr_id",
    6: "lat",
    7: "name",
    8: "repeats line 2",
    9: "belongs to facility taken",
    10: "more fields than the header",
    11: "covid",
}
BAD_FILE = "\n".join(
    [
        HEADER,
        "alpha,Alpha Hospital,আলফা হাসপাতাল,kolkata,government,district_hospital,yes,,,,,",
        "b3,Bad Ownership,খারাপ,kolkata,charity,district_hospital,yes,,,,,",
        "b4,Unknown District,অজানা,atlantis,government,district_hospital,yes,,,,,",
        "b5,Bad HFR,খারাপ,kolkata,government,district_hospital,yes,,,,,IN12345",
        "b6,Far North,উত্তর,kolkata,government,district_hospital,yes,,,40.1,88.36,",
        "b7,,নামহীন,kolkata,government,district_hospital,yes,,,,,",
        "alpha,Alpha Again,আলফা আবার,kolkata,government,district_hospital,yes,,,,,",
        "b9,Stolen HFR,চুরি,kolkata,government,district_hospital,yes,,,,,IN2710000099",
        "b10,Too Many,অনেক,kolkata,government,district_hospital,yes,,,,,,surplus",
        "b11,Bad Covid,খারাপ,kolkata,government,district_hospital,perhaps,,,,,",
        "omega,Omega Hospital,ওমেগা হাসপাতাল,kolkata,government,district_hospital,yes,,,,,",
    ]
)


async def _setup(rt) -> Facility:
    await factories.districts(rt)
    # Holds the HFR ID that line 9 of BAD_FILE tries to take.
    return await factories.facility(rt, code="taken", hfr_id="IN2710000099")


async def _count(rt, model) -> int:
    async with rt.db.read() as s:
        return await s.scalar(select(func.count()).select_from(model))


async def _facilities(rt) -> dict[str, Facility]:
    async with rt.db.read() as s:
        return {f.code: f for f in await s.scalars(select(Facility))}


def _assert_bad_lines(lines: list[dict]) -> None:
    assert [entry["line"] for entry in lines] == sorted(BAD_LINES), lines
    for entry in lines:
        text = " ".join(entry["errors"])
        assert BAD_LINES[entry["line"]] in text, entry


# --- service -------------------------------------------------------------------------------


async def test_bad_file_writes_nothing_and_reports_every_bad_line(rt):
    await _setup(rt)
    before = (await _count(rt, Facility), await _count(rt, AuditEntry))
    with pytest.raises(ValidationFailed) as caught:
        await place_service.import_facilities(rt, actor=SYSTEM, text=BAD_FILE)
    assert caught.value.code == "import_failed"
    _assert_bad_lines(caught.value.details["lines"])
    # The two good lines (alpha, omega) were not written either: all or nothing.
    assert (await _count(rt, Facility), await _count(rt, AuditEntry)) == before
    assert set(await _facilities(rt)) == {"taken"}


async def test_missing_column_header_is_line_one(rt):
    await _setup(rt)
    text = "code,name,name_bn,district_code,ownership\nzeta,Zeta,জেটা,kolkata,government\n"
    with pytest.raises(ValidationFailed) as caught:
        await place_service.import_facilities(rt, actor=SYSTEM, text=text)
    assert caught.value.details["lines"] == [{"line": 1, "errors": ["missing columns: kind"]}]
    assert await _count(rt, Facility) == 1


async def test_header_only_file_is_refused(rt):
    await _setup(rt)
    with pytest.raises(ValidationFailed) as caught:
        await place_service.import_facilities(rt, actor=SYSTEM, text=HEADER + "\n")
    assert caught.value.details["lines"][0]["line"] == 1


async def test_bad_multiline_record_is_reported_at_its_first_line(rt):
    # Spreadsheets export an address typed with Alt+Enter as one quoted field over two lines:
    # records start on lines 2, 4 and 6; an editor shows the bad one at 4, where it begins.
    await _setup(rt)
    text = "\n".join(
        [
            HEADER,
            'm2,Multi Line,বহু,kolkata,government,district_hospital,yes,"Ward 1\nKolkata",,,,',
            'm3,Bad Multi,খারাপ,kolkata,charity,district_hospital,yes,"Ward 2\nKolkata",,,,',
            "m5,Bad Kind,খারাপ,kolkata,government,castle,yes,,,,,",
        ]
    )
    with pytest.raises(ValidationFailed) as caught:
        await place_service.import_facilities(rt, actor=SYSTEM, text=text)
    assert [e["line"] for e in caught.value.details["lines"]] == [4, 6]


async def test_unreadable_lines_are_reported_not_crashed_on(rt):
    # A 200 000-character cell is beyond the csv module's field limit, and a NUL byte cannot be
    # stored in PostgreSQL text: both are bad lines to report, never a crash or a half-import.
    await _setup(rt)
    text = "\n".join(
        [
            HEADER,
            "n2,Nul\x00Hospital,খারাপ,kolkata,government,district_hospital,yes,,,,,",
            "n3,Fine Hospital,ভালো,kolkata,government,district_hospital,yes,,,,,",
            "n4,Huge Address,বড়,kolkata,government,district_hospital,yes," + "x" * 200_000,
        ]
    )
    with pytest.raises(ValidationFailed) as caught:
        await place_service.import_facilities(rt, actor=SYSTEM, text=text)
    assert [e["line"] for e in caught.value.details["lines"]] == [2, 4]
    assert await _count(rt, Facility) == 1


async def test_good_file_imports_then_reimport_updates_without_duplicates(rt):
    await _setup(rt)
    report = await place_service.import_facilities(rt, actor=SYSTEM, text=GOOD_FILE)
    assert (report.created, report.updated) == (3, 0)
    facilities = await _facilities(rt)
    assert set(facilities) == {"taken", "alpha", "beta", "gamma"}
    alpha = facilities["alpha"]
    assert alpha.phones == ["033 2341 2600", "98300 12345"]
    assert alpha.hfr_id == "IN2710000011"
    assert (alpha.lat, alpha.lon) == (22.57, 88.36)
    assert facilities["beta"].covid is False and facilities["beta"].lat is None
    assert facilities["gamma"].covid is True  # an empty covid cell means yes
    async with rt.db.read() as s:
        created = list(
            await s.scalars(select(AuditEntry).where(AuditEntry.action == "facility.import.create"))
        )
    assert len(created) == 3
    assert all(a.actor_name == "system" and a.after["code"] for a in created)

    # The same file again: nothing changes, nothing is duplicated, no audit noise.
    audits = await _count(rt, AuditEntry)
    again = await place_service.import_facilities(rt, actor=SYSTEM, text=GOOD_FILE)
    assert (again.created, again.updated) == (0, 0)
    assert await _count(rt, Facility) == 4
    assert await _count(rt, AuditEntry) == audits

    # A changed name updates that facility in place (same id), and only that one.
    changed = GOOD_FILE.replace("Beta Nursing Home", "Beta Nursing Home (Annexe)")
    third = await place_service.import_facilities(rt, actor=SYSTEM, text=changed)
    assert (third.created, third.updated) == (0, 1)
    after = await _facilities(rt)
    assert len(after) == 4
    assert after["beta"].id == facilities["beta"].id
    assert after["beta"].name == "Beta Nursing Home (Annexe)"
    async with rt.db.read() as s:
        update = await s.scalar(
            select(AuditEntry).where(AuditEntry.action == "facility.import.update")
        )
    assert update.entity_id == str(after["beta"].id)
    assert update.before["name"] == "Beta Nursing Home"
    assert update.after["name"] == "Beta Nursing Home (Annexe)"


async def test_columns_missing_from_the_file_keep_their_values_on_update(rt):
    # A narrow file (no address/phones/lat/lon columns) must not blank what it does not carry.
    await _setup(rt)
    await place_service.import_facilities(rt, actor=SYSTEM, text=GOOD_FILE)
    narrow = (
        "code,name,name_bn,district_code,ownership,kind\n"
        "alpha,Alpha Hospital Renamed,আলফা হাসপাতাল,kolkata,government,district_hospital\n"
    )
    report = await place_service.import_facilities(rt, actor=SYSTEM, text=narrow)
    assert (report.created, report.updated) == (0, 1)
    alpha = (await _facilities(rt))["alpha"]
    assert alpha.name == "Alpha Hospital Renamed"
    assert alpha.phones == ["033 2341 2600", "98300 12345"]
    assert alpha.hfr_id == "IN2710000011"
    assert (alpha.lat, alpha.lon, alpha.address) == (22.57, 88.36, "Kolkata")


async def test_shared_hospitals_file_imports_and_reimports(rt):
    await factories.districts(rt)
    text = (DATA_DIR / "hospitals.csv").read_text(encoding="utf-8")
    rows = read_csv("hospitals.csv")
    report = await place_service.import_facilities(rt, actor=SYSTEM, text=text)
    assert report.created == len(rows) == 58
    facilities = await _facilities(rt)
    names = {(f.district_code, f.name) for f in facilities.values()}
    assert names == {(r["district_code"], r["name_en"]) for r in rows}
    again = await place_service.import_facilities(rt, actor=SYSTEM, text=text)
    assert (again.created, again.updated) == (0, 0)
    assert await _count(rt, Facility) == 58


async def test_a_code_made_from_a_name_never_takes_over_another_facility(rt):
    # Without a code column a row is matched by district and name; a made-up code that is
    # already some differently named facility's code must be refused, not overwrite it.
    await factories.districts(rt)
    await factories.facility(rt, code="alpha-hospital", name="Something Else Entirely")
    await factories.facility(rt, code="twin-1", name="Twin Hospital")
    await factories.facility(rt, code="twin-2", name="Twin Hospital")
    text = "\n".join(
        [
            "name_en,name_bn,district_code,ownership,kind",
            "Alpha Hospital,আলফা,kolkata,government,district_hospital",
            "Twin Hospital,যমজ,kolkata,government,district_hospital",
            "Brand New Hospital,নতুন,kolkata,government,district_hospital",
        ]
    )
    before = await _facilities(rt)
    with pytest.raises(ValidationFailed) as caught:
        await place_service.import_facilities(rt, actor=SYSTEM, text=text)
    lines = caught.value.details["lines"]
    assert [e["line"] for e in lines] == [2, 3]
    assert "alpha-hospital" in lines[0]["errors"][0] and "several" in lines[1]["errors"][0]
    assert {c: f.name for c, f in (await _facilities(rt)).items()} == {
        c: f.name for c, f in before.items()
    }


async def test_only_a_state_admin_imports(rt):
    await factories.districts(rt)
    user = await factories.user(rt, "district_admin", "district:kolkata")
    principal = Principal(
        user_id=user.id,
        username=user.username,
        role="district_admin",
        scope_kind="district",
        scope_code="kolkata",
        scope_district="kolkata",
    )
    with pytest.raises(PermissionDenied):
        await place_service.import_facilities(rt, actor=principal, text=GOOD_FILE)
    assert await _count(rt, Facility) == 0


# --- API -----------------------------------------------------------------------------------


async def test_api_import(rt, client):
    await _setup(rt)
    admin = await factories.staff(client, rt, "state_admin")
    csv_headers = {**admin, "Content-Type": "text/csv"}
    url = "/api/v1/facilities/import"

    r = await client.post(url, content=BAD_FILE.encode(), headers=csv_headers)
    assert r.status_code == 422, r.text
    error = r.json()["error"]
    assert error["code"] == "import_failed"
    _assert_bad_lines(error["details"]["lines"])
    assert await _count(rt, Facility) == 1

    # A spreadsheet's UTF-8 byte-order mark is not part of the first column's name.
    body = b"\xef\xbb\xbf" + GOOD_FILE.encode()
    r = await client.post(url, content=body, headers=csv_headers)
    assert r.status_code == 200, r.text
    assert r.json() == {"created": 3, "updated": 0}
    r = await client.post(url, content=body, headers=csv_headers)
    assert r.json() == {"created": 0, "updated": 0}
    assert await _count(rt, Facility) == 4
    async with rt.db.read() as s:
        actors = set(
            await s.scalars(
                select(AuditEntry.actor_name).where(AuditEntry.action.like("facility.import.%"))
            )
        )
    assert len(actors) == 1 and actors.pop().startswith("state-admin")

    r = await client.post(url, content="café".encode("latin-1"), headers=csv_headers)
    assert r.status_code == 422 and r.json()["error"]["code"] == "not_utf8"


async def test_api_import_refuses_non_state_admins(rt, client):
    await _setup(rt)
    district_admin = await factories.staff(client, rt, "district_admin", "district:kolkata")
    r = await client.post(
        "/api/v1/facilities/import",
        content=GOOD_FILE.encode(),
        headers={**district_admin, "Content-Type": "text/csv"},
    )
    assert r.status_code == 403 and r.json()["error"]["code"] == "forbidden"
    r = await client.post("/api/v1/facilities/import", content=GOOD_FILE.encode())
    assert r.status_code == 401
    assert await _count(rt, Facility) == 1


async def test_api_import_refuses_an_oversized_body_without_reading_it_all(rt, client):
    await _setup(rt)
    admin = await factories.staff(client, rt, "state_admin")
    sent = 0

    async def upload():
        # 40 MB offered in 64 KB chunks; the server should stop asking soon after 5 MB.
        nonlocal sent
        yield GOOD_FILE.encode() + b"\n"
        for _ in range(640):
            sent += 65536
            yield b"#" * 65536

    r = await client.post(
        "/api/v1/facilities/import", content=upload(), headers={**admin, "Content-Type": "text/csv"}
    )
    assert r.status_code == 422, r.text
    assert r.json()["error"]["code"] == "file_too_large"
    assert sent < 2 * place_service.MAX_IMPORT_BYTES, sent
    assert await _count(rt, Facility) == 1


# --- the real CLI --------------------------------------------------------------------------


def _details(stderr: str) -> dict:
    # The CLI prints one "error CODE: message" line and then the details as JSON.
    return json.loads(stderr[stderr.index("{") :])


async def test_cli_import(rt, db_url, tmp_path: Path):
    await _setup(rt)
    bad = tmp_path / "bad.csv"
    bad.write_text(BAD_FILE, encoding="utf-8")
    result = seba_command(db_url, "import", "facilities", str(bad))
    assert result.returncode != 0
    assert "import_failed" in result.stderr
    _assert_bad_lines(_details(result.stderr)["lines"])
    assert await _count(rt, Facility) == 1

    good = tmp_path / "good.csv"
    good.write_text(GOOD_FILE, encoding="utf-8")
    result = seba_command(db_url, "import", "facilities", str(good))
    assert result.returncode == 0, result.stderr
    assert "3 created, 0 updated" in result.stderr
    result = seba_command(db_url, "import", "facilities", str(good))
    assert result.returncode == 0, result.stderr
    assert "0 created, 0 updated" in result.stderr
    assert await _count(rt, Facility) == 4

    latin = tmp_path / "latin.csv"
    latin.write_bytes(GOOD_FILE.replace("Beta", "Bêta").encode("latin-1", errors="replace"))
    result = seba_command(db_url, "import", "facilities", str(latin))
    assert result.returncode != 0 and "UTF-8" in result.stderr
    assert (await _facilities(rt))["beta"].name == "Beta Nursing Home"


# --- demo ----------------------------------------------------------------------------------


async def _demo_state(rt) -> dict:
    async with rt.db.read() as s:
        facilities = list(await s.scalars(select(Facility).order_by(Facility.code)))
        return {
            "facilities": [place_service.facility_snapshot(f) for f in facilities],
            "census_versions": [f.census_version for f in facilities],
            "pools": await s.scalar(select(func.count()).select_from(BedPool)),
            "bed_events": await s.scalar(select(func.count()).select_from(BedEvent)),
            "audit": await s.scalar(select(func.count()).select_from(AuditEntry)),
            "users": sorted(await s.scalars(select(StaffUser.username))),
        }


async def test_demo_loader_is_idempotent(rt):
    first = await load_demo(rt)
    assert first == {
        "facilities_created": TARGET_HOSPITALS,
        "censuses": 264,
        # The staff logins, the demo doctor and the helpline's counsellors.
        "users": len(DEMO_USERS) + 1 + len(DEMO_COUNSELLORS),
        # The teleconsultation network at the real scale (DOMAIN §1.2).
        "hubs": 63,
        "spokes": 11_000,
        "doctors": 9_000,
        "ambulances_created": 131,
    }
    state = await _demo_state(rt)
    assert len(state["facilities"]) == TARGET_HOSPITALS == 264
    async with rt.db.read() as s:
        districts = set(await s.scalars(select(District.code)))
        with_facility = set(await s.scalars(select(Facility.district_code).distinct()))
        updated = list(await s.scalars(select(Facility.census_updated_at)))
    assert len(districts) == 23 and with_facility == districts
    now = utcnow()
    stale = sum(is_stale(at, now, rt.settings.stale_after_s) for at in updated)
    # "A few": the public pages must have stale hospitals to show, but most are fresh.
    assert 3 <= stale <= 60, stale
    named = [u for u in state["users"] if not u.startswith("dr-")]
    assert named == sorted(
        [
            *(u for u, _role, _scope, _mobile in DEMO_USERS),
            *(login for *_person, login in DEMO_COUNSELLORS),
            DEMO_DOCTOR[0],
        ]
    )
    assert len(state["users"]) == len(named) + 9_000

    second = await load_demo(rt)
    assert second == {
        "facilities_created": 0,
        "censuses": 0,
        "users": 0,
        "hubs": 0,
        "spokes": 0,
        "doctors": 0,
        "ambulances_created": 0,
    }
    assert await _demo_state(rt) == state

    # The shared hospitals file (no code column) over the demo: every hospital is found by
    # name, including SSKM whose demo code is not the one made from its name.
    text = (DATA_DIR / "hospitals.csv").read_text(encoding="utf-8")
    report = await place_service.import_facilities(rt, actor=SYSTEM, text=text)
    assert (report.created, report.updated) == (0, 0)
    assert await _demo_state(rt) == state


async def test_cli_demo_is_refused_in_prod(rt, db_url):
    result = seba_command(db_url, "demo", env={"SEBA_ENV": "prod", "SEBA_SECRET_KEY": "k" * 40})
    assert result.returncode != 0
    assert "SEBA_ENV=prod" in result.stderr
    assert await _count(rt, District) == 0
    assert await _count(rt, StaffUser) == 0


CONTACTS_HEADER = (
    "code,name,name_bn,district_code,ownership,kind,address,address_bn,"
    "reception_phone,emergency_phone,phones"
)


async def test_contacts_import_with_the_hospitals_own_numbers_and_bengali_address(rt):
    await _setup(rt)
    text = "\n".join(
        [
            CONTACTS_HEADER,
            "nrs,NRS Hospital,এনআরএস হাসপাতাল,kolkata,government,medical_college,"
            '"Sealdah, Kolkata","শিয়ালদহ, কলকাতা",(033) 2286 0033,+91 98300 12345,',
        ]
    )
    report = await place_service.import_facilities(rt, actor=SYSTEM, text=text)
    assert report.created == 1
    nrs = (await _facilities(rt))["nrs"]
    assert (nrs.address, nrs.address_bn) == ("Sealdah, Kolkata", "শিয়ালদহ, কলকাতা")
    assert (nrs.reception_phone, nrs.emergency_phone) == ("033 2286 0033", "98300 12345")


async def test_a_bad_number_names_its_line_and_nothing_is_imported(rt):
    await _setup(rt)
    before = await _count(rt, Facility)
    good = "ok,Good Hospital,ভালো হাসপাতাল,kolkata,government,medical_college,,,033 2286 0033,,"
    text = "\n".join(
        [
            CONTACTS_HEADER,
            good,
            # The state helpline is no hospital's number; a landline needs its STD code.
            "h1,Helpline Hospital,হেল্পলাইন,kolkata,government,medical_college,,,1800-313-444-222,,",
            "h2,City Hospital,শহর,kolkata,government,medical_college,,,,2204 1101,",
            "h3,Other Hospital,অন্য,kolkata,government,medical_college,,,,,033 2286 0033;12345",
        ]
    )
    with pytest.raises(ValidationFailed) as caught:
        await place_service.import_facilities(rt, actor=SYSTEM, text=text)
    lines = caught.value.details["lines"]
    assert [(e["line"], e["errors"][0].split(":")[0]) for e in lines] == [
        (3, "reception_phone"),
        (4, "emergency_phone"),
        (5, "phones"),
    ]
    assert "STD code" in lines[0]["errors"][0]
    assert await _count(rt, Facility) == before
