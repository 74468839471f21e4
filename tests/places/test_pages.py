"""Facility pages of the staff console: the scoped list, add, edit, and the CSV import."""

from __future__ import annotations

from markupsafe import escape
from sqlalchemy import func, select

from seba.core.audit import AuditEntry
from seba.places import pages as place_pages
from seba.places.models import Facility
from tests import factories
from tests.pages import bn, csrf_of, page_csrf, staff_session

NEW = {
    "code": "new-hospital",
    "name": "New Hospital",
    "name_bn": "নতুন হাসপাতাল",
    "district_code": "kolkata",
    "ownership": "government",
    "kind": "district_hospital",
    "covid": "on",
    "address": "1 Hospital Road",
    "phones": "033 2204 1101\n033 2204 1102",
    "lat": "22.57",
    "lon": "88.36",
    "hfr_id": "",
}
HEADER = "code,name,name_bn,district_code,ownership,kind,phones,lat,lon,hfr_id\n"


async def _written(rt) -> tuple[int, int]:
    async with rt.db.read() as s:
        return (
            await s.scalar(select(func.count()).select_from(Facility)),
            await s.scalar(select(func.count()).select_from(AuditEntry)),
        )


async def _facility(rt, code: str) -> Facility | None:
    async with rt.db.read() as s:
        return await s.scalar(select(Facility).where(Facility.code == code))


async def test_list_is_scoped_and_shows_census_freshness(rt, client):
    await factories.districts(rt)
    alpha = await factories.facility(rt, code="alpha", name="Alpha Hospital")
    fresh = await factories.facility(rt, code="fresh", name="Fresh Hospital")
    await factories.facility(rt, code="beta", name="Beta Hospital", district_code="howrah")
    await factories.census(rt, fresh, [("icu", "male", 4, 1)])

    await staff_session(client, rt, "district_admin", "district:kolkata")
    page = await client.get("/staff/facilities?lang=en")
    assert page.status_code == 200
    assert "Alpha Hospital" in page.text and "Fresh Hospital" in page.text
    assert "Beta Hospital" not in page.text
    alpha_row = page.text.split("Alpha Hospital", 1)[1].split("</tr>", 1)[0]
    fresh_row = page.text.split("Fresh Hospital", 1)[1].split("</tr>", 1)[0]
    assert "Never updated" in alpha_row and "Out of date" in alpha_row
    assert "Out of date" not in fresh_row
    assert f'href="/staff/facilities/{alpha.id}/edit"' in page.text
    assert 'href="/staff/facilities/new"' in page.text
    assert 'href="/staff/facilities/import"' not in page.text  # state admins only
    narrowed = await client.get("/staff/facilities", params={"q": "fresh"})
    assert "Fresh Hospital" in narrowed.text and "Alpha Hospital" not in narrowed.text
    for bad in ({"q": "x" * 101}, {"district": "kol\x00kata"}, {"district": "a" * 41}):
        assert (await client.get("/staff/facilities", params=bad)).status_code == 422

    await staff_session(client, rt, "hospital_staff", "facility:alpha")
    page = await client.get("/staff/facilities?lang=en")
    assert "Alpha Hospital" in page.text and "Fresh Hospital" not in page.text

    await staff_session(client, rt, "viewer")
    page = await client.get("/staff/facilities?lang=en")
    assert "Beta Hospital" in page.text
    assert "/edit" not in page.text and "/staff/facilities/new" not in page.text


async def test_admin_adds_a_facility_with_an_audit_row(rt, client):
    await factories.districts(rt)
    admin = await staff_session(client, rt, "district_admin", "district:kolkata")
    form = await client.get("/staff/facilities/new")
    assert form.status_code == 200
    # The district picker offers only the admin's district.
    assert form.text.count('<option value="kolkata"') == 1
    assert '<option value="howrah"' not in form.text
    r = await client.post("/staff/facilities/new", data={**NEW, "csrf": csrf_of(form.text)})
    assert r.status_code == 303
    made = await _facility(rt, "new-hospital")
    assert r.headers["location"] == f"/staff/facilities/{made.id}/edit?saved=1"
    assert made.phones == ["033 2204 1101", "033 2204 1102"] and made.covid is True
    assert made.lat == 22.57 and made.hfr_id is None
    async with rt.db.read() as s:
        entry = await s.scalar(select(AuditEntry).where(AuditEntry.action == "facility.create"))
    assert entry.actor_id == admin.id and entry.after["code"] == "new-hospital"
    saved = await client.get(r.headers["location"])
    assert bn("Saved.") in saved.text


async def test_bad_facility_input_is_explained_in_bengali_and_nothing_written(rt, client):
    await factories.districts(rt)
    await factories.facility(rt, code="taken", hfr_id="IN2710000011")
    await staff_session(client, rt, "district_admin", "district:kolkata")
    csrf = await page_csrf(client, "/staff/facilities/new")
    before = await _written(rt)
    messages = place_pages.FIELD_MESSAGES
    cases = [
        ({"code": "Bad Code!"}, 422, [bn(messages["code"])]),
        ({"name": "", "name_bn": "x"}, 422, [bn(messages["name"])]),
        ({"name": "Nul\x00Hospital"}, 422, [bn(messages["name"])]),
        ({"ownership": "", "kind": "castle"}, 422, [bn(messages["ownership"])]),
        ({"lat": "north", "lon": "200"}, 422, [bn(messages["lat"]), bn(messages["lon"])]),
        ({"lat": "nan"}, 422, [bn(messages["lat"])]),
        ({"phones": "call me"}, 422, [bn(messages["phones"])]),
        ({"phones": "\n".join(["033 2204 1101"] * 7)}, 422, [bn(messages["phones"])]),
        ({"hfr_id": "XX1"}, 422, [bn(messages["hfr_id"])]),
        ({"address": "x" * 401}, 422, [bn(messages["address"])]),
        ({"district_code": ""}, 422, [bn(messages["district_code"])]),
        ({"code": "taken"}, 409, [bn("A facility with this code exists.")]),
        ({"hfr_id": "IN2710000011"}, 409, [bn("This HFR ID belongs to another facility.")]),
        ({"district_code": "atlantis"}, 403, [bn("This district is outside your scope.")]),
        ({"district_code": "howrah"}, 403, [bn("This district is outside your scope.")]),
    ]
    for change, status, expected in cases:
        r = await client.post("/staff/facilities/new", data={**NEW, "csrf": csrf, **change})
        assert r.status_code == status, (change, r.text[-600:])
        for message in expected:
            assert str(escape(message)) in r.text, (change, message)
    # Without the CSRF value, even good input is refused.
    assert (await client.post("/staff/facilities/new", data=NEW)).status_code == 403
    assert await _written(rt) == before


async def test_unknown_district_for_a_state_admin_is_a_field_error(rt, client):
    await factories.districts(rt)
    await staff_session(client, rt, "state_admin")
    csrf = await page_csrf(client, "/staff/facilities/new")
    r = await client.post(
        "/staff/facilities/new", data={**NEW, "csrf": csrf, "district_code": "atlantis"}
    )
    assert r.status_code == 422 and bn("Unknown district.") in r.text
    assert await _facility(rt, "new-hospital") is None


async def test_admin_edits_a_facility_in_scope_only(rt, client):
    await factories.districts(rt)
    alpha = await factories.facility(rt, code="alpha", name="Alpha Hospital")
    beta = await factories.facility(rt, code="beta", district_code="howrah", hfr_id="IN2710000012")
    admin = await staff_session(client, rt, "district_admin", "district:kolkata")
    url = f"/staff/facilities/{alpha.id}/edit"
    form = await client.get(url)
    assert form.status_code == 200 and 'value="Alpha Hospital"' in form.text
    csrf = csrf_of(form.text)
    values = {**NEW, "csrf": csrf, "name": "Alpha General Hospital", "code": "hijack"}
    r = await client.post(url, data=values)
    assert r.status_code == 303 and r.headers["location"] == url + "?saved=1"
    changed = await _facility(rt, "alpha")
    assert changed.name == "Alpha General Hospital" and changed.code == "alpha"
    async with rt.db.read() as s:
        entry = await s.scalar(select(AuditEntry).where(AuditEntry.action == "facility.update"))
    assert entry.actor_id == admin.id
    assert entry.before["name"] == "Alpha Hospital"
    assert entry.after["name"] == "Alpha General Hospital"

    before = await _written(rt)
    for change, status in [
        ({"name": ""}, 422),
        ({"lat": "99"}, 422),
        ({"ownership": ""}, 422),
        ({"hfr_id": "IN2710000012"}, 409),
    ]:
        r = await client.post(url, data={**values, **change})
        assert r.status_code == status, (change, r.text[-600:])
    assert await _written(rt) == before
    assert (await _facility(rt, "alpha")).name == "Alpha General Hospital"

    other = f"/staff/facilities/{beta.id}/edit"
    r = await client.get(other)
    assert r.status_code == 403 and bn("This facility is outside your scope.") in r.text
    assert (await client.post(other, data={**values, "name": "Mine now"})).status_code == 403
    assert (await client.get("/staff/facilities/999999/edit")).status_code == 404
    r = await client.get("/staff/facilities/nope/edit")
    assert r.status_code == 404 and bn("Not found.") in r.text
    assert await _written(rt) == before


async def test_viewer_and_hospital_staff_get_no_facility_forms(rt, client):
    await factories.districts(rt)
    alpha = await factories.facility(rt, code="alpha", name="Alpha Hospital")
    for role, scope in (("viewer", "state"), ("hospital_staff", "facility:alpha")):
        await staff_session(client, rt, role, scope)
        csrf = await page_csrf(client)
        for path in ("/staff/facilities/new", f"/staff/facilities/{alpha.id}/edit"):
            assert (await client.get(path)).status_code == 403
            r = await client.post(path, data={**NEW, "csrf": csrf, "name": "Changed"})
            assert r.status_code == 403 and bn("You are not allowed to do this.") in r.text
    assert (await _facility(rt, "alpha")).name == "Alpha Hospital"
    assert await _facility(rt, "new-hospital") is None


async def test_import_reports_every_bad_line_and_writes_nothing(rt, client):
    await factories.districts(rt)
    await staff_session(client, rt, "state_admin")
    page = await client.get("/staff/facilities/import")
    assert page.status_code == 200
    csrf = csrf_of(page.text)
    before = await _written(rt)
    bad = (
        HEADER
        + "good-one,Good One,ভালো,kolkata,government,district_hospital,,,,\n"
        + "bad-district,Bad District,খারাপ,atlantis,government,district_hospital,,,,\n"
        + "Bad Code,Bad Code,খারাপ,kolkata,government,district_hospital,,,,\n"
        + "good-one,Twice,দুবার,kolkata,government,district_hospital,,,,\n"
    )
    r = await client.post(
        "/staff/facilities/import",
        data={"csrf": csrf},
        files={"file": ("facilities.csv", bad.encode(), "text/csv")},
    )
    assert r.status_code == 422
    assert bn("The file has bad lines; nothing was imported.") in r.text
    lines = [part.split("</th>")[0] for part in r.text.split('<th scope="row">')[1:]]
    assert lines == ["৩", "৪", "৫"]
    assert "unknown district" in r.text and "repeats line 2" in r.text
    assert await _written(rt) == before

    for name, content, message in [
        ("latin1.csv", "code,name\ncafé,x\n".encode("latin-1"), "The file must be UTF-8 text."),
        ("", b"", "Choose a CSV file to upload."),
        ("empty.csv", HEADER.encode(), None),
        (
            "huge.csv",
            HEADER.encode() + b"x" * place_pages.MAX_IMPORT_BODY,
            "The file is too large.",
        ),
    ]:
        files = {"file": (name, content, "text/csv")}
        r = await client.post("/staff/facilities/import", data={"csrf": csrf}, files=files)
        assert r.status_code == 422, name
        if message:
            assert bn(message) in r.text
    assert await _written(rt) == before


async def test_import_creates_and_updates(rt, client):
    await factories.districts(rt)
    await factories.facility(rt, code="old-one", name="Old Name")
    await staff_session(client, rt, "state_admin")
    csrf = await page_csrf(client, "/staff/facilities/import")
    good = (
        HEADER
        + "old-one,New Name,নতুন নাম,kolkata,government,district_hospital,033 2204 1101,,,\n"
        + "brand-new,Brand New,একদম নতুন,howrah,private,private_hospital,,22.6,88.3,\n"
    )
    r = await client.post(
        "/staff/facilities/import",
        data={"csrf": csrf},
        files={"file": ("facilities.csv", b"\xef\xbb\xbf" + good.encode(), "text/csv")},
    )
    assert r.status_code == 200, r.text[-800:]
    assert bn("Imported: {created} new, {updated} changed.", created=1, updated=1) in r.text
    assert (await _facility(rt, "old-one")).name == "New Name"
    assert (await _facility(rt, "brand-new")).district_code == "howrah"


async def test_import_is_for_state_admins_only(rt, client):
    await factories.districts(rt)
    await staff_session(client, rt, "district_admin", "district:kolkata")
    assert (await client.get("/staff/facilities/import")).status_code == 403
    csrf = await page_csrf(client)
    files = {
        "file": ("f.csv", (HEADER + "x1,X,X,kolkata,government,rural_hospital,,,,\n").encode())
    }
    r = await client.post("/staff/facilities/import", data={"csrf": csrf}, files=files)
    assert r.status_code == 403
    assert await _facility(rt, "x1") is None


async def test_facility_pages_switch_to_english(rt, client):
    await factories.districts(rt)
    await staff_session(client, rt, "state_admin")
    page = await client.get("/staff/facilities/new")
    assert bn("Add a facility") in page.text and '<html lang="bn">' in page.text
    page = await client.get("/staff/facilities/new?lang=en")
    assert "Add a facility" in page.text and "Name in Bengali" in page.text
    csrf = csrf_of(page.text)
    r = await client.post("/staff/facilities/new", data={**NEW, "csrf": csrf, "lat": "x"})
    assert r.status_code == 422 and place_pages.FIELD_MESSAGES["lat"] in r.text
