"""Staff console pages: login, logout, throttling, CSRF, the console home, users, audit log."""

from __future__ import annotations

import re
from pathlib import Path
from types import SimpleNamespace

from markupsafe import escape
from sqlalchemy import select

from seba.accounts import pages as account_pages
from seba.accounts import queries as account_queries
from seba.accounts.models import ApiToken, StaffUser
from seba.beds import census_pages
from seba.core.access import POLICY, ROLES, SYSTEM
from seba.core.audit import AuditEntry
from seba.core.http import SESSION_COOKIE
from seba.core.i18n import gettext
from seba.core.ratelimit import RateLimit
from seba.places import pages as place_pages
from tests import factories
from tests.pages import bn, count, csrf_of, login, page_csrf, staff_session

SCOPES = {
    "state_admin": "state",
    "district_admin": "district:kolkata",
    "control_room": "district:kolkata",
    "hospital_staff": "facility:alpha",
    "viewer": "state",
    "counsellor": "state",
}


def options(html: str, field: str) -> list[str]:
    """The non-empty option values of the form's select ``field``."""
    select = html.split(f'id="f-{field}"', 1)[1].split("</select>", 1)[0]
    return re.findall(r'<option value="([^"]+)"', select)


async def test_login_sets_cookie_and_logout_really_revokes(rt, client):
    user = await factories.user(rt, "viewer")
    r = await client.get("/staff")
    assert r.status_code == 303 and r.headers["location"] == "/staff/login"
    r = await login(client, user.username)
    assert r.status_code == 303 and r.headers["location"] == "/staff"
    cookie = next(c for c in r.headers.get_list("set-cookie") if c.startswith(SESSION_COOKIE))
    assert "HttpOnly" in cookie and "SameSite=lax" in cookie and "Secure" not in cookie
    token = client.cookies[SESSION_COOKIE]
    home = await client.get("/staff")
    assert home.status_code == 200 and user.username in home.text
    assert home.headers["cache-control"] == "no-store"

    r = await client.post("/staff/logout", data={"csrf": csrf_of(home.text)})
    assert r.status_code == 303 and r.headers["location"] == "/staff/login?bye=1"
    assert SESSION_COOKIE not in client.cookies
    bye = await client.get(r.headers["location"])
    assert bn("You have logged out.") in bye.text
    # The old cookie, replayed, no longer opens anything; nor does the token on the API.
    client.cookies.set(SESSION_COOKIE, token)
    r = await client.get("/staff")
    assert r.status_code == 303 and r.headers["location"] == "/staff/login?expired=1"
    headers = {"Authorization": f"Bearer {token}"}
    assert (await client.get("/api/v1/auth/me", headers=headers)).status_code == 401
    async with rt.db.read() as s:
        actions = list(
            await s.scalars(
                select(AuditEntry.action)
                .where(AuditEntry.actor_id == user.id)
                .order_by(AuditEntry.id)
            )
        )
    assert actions == ["auth.login", "auth.logout"]


async def test_session_cookie_is_secure_in_production(rt, client):
    user = await factories.user(rt, "viewer")
    page = await client.get("/staff/login")
    rt.settings.env = "prod"
    r = await client.post(
        "/staff/login",
        data={
            "csrf": csrf_of(page.text),
            "username": user.username,
            "password": factories.PASSWORD,
        },
    )
    assert r.status_code == 303
    cookie = next(c for c in r.headers.get_list("set-cookie") if c.startswith(SESSION_COOKIE))
    assert "Secure" in cookie and "HttpOnly" in cookie


async def test_wrong_password_and_throttling_shown_in_bengali(rt, client):
    user = await factories.user(rt, "viewer")
    for _ in range(rt.settings.login_max_failures):
        r = await login(client, user.username, "wrong-password")
        assert r.status_code == 401
        assert bn("Wrong username or password.") in r.text
        assert SESSION_COOKIE not in client.cookies
    # Throttled now, even with the right password.
    r = await login(client, user.username)
    assert r.status_code == 429
    assert bn("Too many attempts. Please wait and try again.") in r.text
    # Until the window of the first failure ends.
    assert 0 < int(r.headers["retry-after"]) <= rt.settings.login_window_s
    assert SESSION_COOKIE not in client.cookies
    assert await count(rt, ApiToken) == 0


async def test_empty_login_fields_are_asked_for(rt, client):
    page = await client.get("/staff/login")
    r = await client.post("/staff/login", data={"csrf": csrf_of(page.text), "username": " "})
    assert r.status_code == 422
    assert bn("Enter your username and password.") in r.text
    assert await count(rt, RateLimit) == 0


async def test_login_form_needs_its_csrf_cookie(rt, client):
    user = await factories.user(rt, "viewer")
    form = {"username": user.username, "password": factories.PASSWORD}
    # A cross-site form: no cookie from our login page, so nothing to match.
    r = await client.post("/staff/login", data={**form, "csrf": "forged"})
    assert r.status_code == 403
    assert bn(
        "This form has expired or did not come from Seba. Reload the page and try again."
    ) in (r.text)
    await client.get("/staff/login")
    r = await client.post("/staff/login", data={**form, "csrf": "forged"})
    assert r.status_code == 403
    r = await client.post("/staff/login", data=form)
    assert r.status_code == 403
    assert SESSION_COOKIE not in client.cookies
    assert await count(rt, ApiToken) == 0 and await count(rt, RateLimit) == 0


async def test_login_returns_only_to_console_paths(rt, client):
    user = await factories.user(rt, "state_admin")
    r = await client.get("/staff/users?x=1")
    assert r.status_code == 303
    assert r.headers["location"] == "/staff/login?next=%2Fstaff%2Fusers%3Fx%3D1"
    for target, landing in [
        ("/staff/users?x=1", "/staff/users?x=1"),
        ("https://evil.example/staff", "/staff"),
        ("//evil.example/staff", "/staff"),
        ("/\\evil.example", "/staff"),
        ("/staff/login", "/staff"),
    ]:
        client.cookies.clear()
        page = await client.get("/staff/login", params={"next": target})
        r = await client.post(
            "/staff/login",
            data={
                "csrf": csrf_of(page.text),
                "username": user.username,
                "password": factories.PASSWORD,
                "next": target,
            },
        )
        assert r.status_code == 303 and r.headers["location"] == landing, target
    # Already signed in: the login page sends you on.
    r = await client.get("/staff/login")
    assert r.status_code == 303 and r.headers["location"] == "/staff"


async def test_staff_forms_refuse_missing_or_wrong_csrf(rt, client):
    await factories.districts(rt)
    await staff_session(client, rt, "state_admin")
    users_before = await count(rt, StaffUser)
    form = {"username": "new-user", "password": "long-enough-pw", "role": "viewer"}
    for extra in ({}, {"csrf": "0" * 64}, {"csrf": ""}):
        r = await client.post("/staff/users", data={**form, "scope": "state", **extra})
        assert r.status_code == 403
        assert "<form" not in r.text.split("<main", 1)[1].split("console-logout")[0]
    assert await count(rt, StaffUser) == users_before
    # A logout without its CSRF value does not end the session.
    assert (await client.post("/staff/logout")).status_code == 403
    assert (await client.get("/staff")).status_code == 200


async def test_console_home_links_follow_the_policy_table(rt, client):
    await factories.districts(rt)
    alpha = await factories.facility(rt, code="alpha")
    links = {
        "facility.read": "/staff/facilities",
        "facility.create": "/staff/facilities/new",
        "facility.import": "/staff/facilities/import",
        "user.read": "/staff/users",
        "audit.read": "/staff/audit",
    }
    codes = await factories.network(rt)
    for role in ROLES:
        if role == "doctor":
            client.cookies.clear()
            doctor = await factories.doctor(rt, codes["kolkata_hub"], username="home-doctor")
            assert (await login(client, "home-doctor")).status_code == 303
            principal = SimpleNamespace(username="home-doctor", id=doctor.user_id)
        else:
            scope = f"spoke:{codes['kolkata_spoke']}" if role == "cho" else SCOPES[role]
            principal = await staff_session(client, rt, role, scope)
        home = (await client.get("/staff")).text
        for action, href in links.items():
            assert (f'href="{href}"' in home) == (role in POLICY[action]), (role, action)
        census_link = f'href="/staff/facilities/{alpha.id}/census"'
        assert (census_link in home) == (role == "hospital_staff"), role
        assert principal.username in home


async def test_users_page_lists_scope_and_adds_only_grantable(rt, client):
    await factories.districts(rt)
    await factories.facility(rt, code="alpha")
    await factories.facility(rt, code="beta", district_code="howrah")
    kolkata_staff = await factories.user(rt, "hospital_staff", "facility:alpha")
    howrah_staff = await factories.user(rt, "hospital_staff", "facility:beta")
    admin = await staff_session(client, rt, "district_admin", "district:kolkata")
    page = await client.get("/staff/users")
    assert page.status_code == 200
    assert kolkata_staff.username in page.text and howrah_staff.username not in page.text
    assert options(page.text, "role") == ["control_room", "hospital_staff", "viewer"]
    scopes = options(page.text, "scope")
    assert scopes == ["district:kolkata", "facility:alpha"]

    r = await client.post(
        "/staff/users",
        data={
            "csrf": csrf_of(page.text),
            "username": "alpha-night",
            "full_name": "Night Nurse",
            "password": "long-enough-pw",
            "role": "hospital_staff",
            "scope": "facility:alpha",
        },
    )
    assert r.status_code == 303 and r.headers["location"] == "/staff/users?added=1"
    async with rt.db.read() as s:
        made = await s.scalar(select(StaffUser).where(StaffUser.username == "alpha-night"))
        entry = await s.scalar(
            select(AuditEntry).where(
                AuditEntry.action == "user.create", AuditEntry.entity_id == str(made.id)
            )
        )
    assert made.scope_code == "alpha" and made.full_name == "Night Nurse"
    assert entry.actor_id == admin.id and entry.after["scope"] == "facility:alpha"


async def test_bad_new_user_is_explained_and_nothing_written(rt, client):
    await factories.districts(rt)
    await factories.facility(rt, code="alpha")
    await factories.facility(rt, code="beta", district_code="howrah")
    await staff_session(client, rt, "district_admin", "district:kolkata")
    csrf = await page_csrf(client, "/staff/users")
    before = await count(rt, StaffUser), await count(rt, AuditEntry)
    good = {
        "csrf": csrf,
        "username": "alpha-day",
        "password": "long-enough-pw",
        "role": "hospital_staff",
        "scope": "facility:alpha",
    }
    field_messages = account_pages.USER_FIELD_MESSAGES
    cases = [
        (
            {"username": "A!", "password": "short"},
            422,
            [bn(field_messages["username"]), bn(field_messages["password"], min=8)],
        ),
        ({"scope": "district:kolkata"}, 422, [bn(field_messages["scope"])]),
        ({"full_name": "x" * 121}, 422, [bn(field_messages["full_name"], max=120)]),
        ({"full_name": "Nul\x00Name"}, 422, [bn(field_messages["full_name"], max=120)]),
        ({"role": ""}, 422, [bn(field_messages["role"])]),
        ({"scope": "facility:nowhere"}, 422, [bn("Unknown facility.")]),
        (
            {"scope": "garbage"},
            422,
            [bn("Scope must be state, district:CODE, facility:CODE, spoke:CODE or hub:CODE.")],
        ),
        ({"role": "state_admin", "scope": "state"}, 403, [bn("You cannot grant this role.")]),
        ({"scope": "facility:beta"}, 403, [bn("This scope is outside yours.")]),
    ]
    for change, status, messages in cases:
        r = await client.post("/staff/users", data={**good, **change})
        assert r.status_code == status, (change, r.text[-800:])
        for message in messages:
            assert escape(message) in r.text, (change, message)
    assert (await count(rt, StaffUser), await count(rt, AuditEntry)) == before
    # The same username twice: the second is a conflict on the username field.
    assert (await client.post("/staff/users", data=good)).status_code == 303
    r = await client.post("/staff/users", data=good)
    assert r.status_code == 409 and bn("This username is taken.") in r.text


async def test_users_and_audit_pages_are_for_admins_only(rt, client):
    await factories.districts(rt)
    await factories.facility(rt, code="alpha")
    for role in ("control_room", "hospital_staff", "viewer"):
        await staff_session(client, rt, role, SCOPES[role])
        for path in ("/staff/users", "/staff/audit"):
            r = await client.get(path)
            assert r.status_code == 403, (role, path)
            assert bn("You are not allowed to do this.") in r.text
        csrf = await page_csrf(client)
        r = await client.post(
            "/staff/users",
            data={"csrf": csrf, "username": "sneaky", "password": "long-enough-pw"},
        )
        assert r.status_code == 403
    async with rt.db.read() as s:
        assert await s.scalar(select(StaffUser.id).where(StaffUser.username == "sneaky")) is None


async def test_audit_page_shows_changes_in_scope(rt, client):
    await factories.districts(rt)
    alpha = await factories.facility(rt, code="alpha")
    beta = await factories.facility(rt, code="beta", name="Beta Hospital", district_code="howrah")
    await factories.census(rt, alpha, [("icu", "male", 10, 4)])
    await factories.census(rt, alpha, [("icu", "male", 12, 5)])
    await factories.census(rt, beta, [("oxygen", "female", 7, 1)])
    await staff_session(client, rt, "district_admin", "district:kolkata")
    page = await client.get("/staff/audit?lang=en")
    assert page.status_code == 200
    assert "Updated the bed census" in page.text
    assert "ICU · Men" in page.text
    assert "10 total, 4 occupied" in page.text and "12 total, 5 occupied" in page.text
    assert "Beta Hospital" not in page.text and "With oxygen" not in page.text
    await staff_session(client, rt, "state_admin")
    page = await client.get("/staff/audit?lang=en")
    assert "With oxygen · Women" in page.text and "Beta Hospital" in page.text
    assert (await client.get("/staff/audit?before=abc")).status_code == 422
    assert (await client.get("/staff/audit?before=0")).status_code == 422


async def test_audit_log_pages_by_id(rt):
    await factories.districts(rt)
    for n in range(5):  # one audit entry each
        await factories.facility(rt, code=f"page-{n}")
    first = await account_queries.audit_log(rt, actor=SYSTEM, limit=2)
    second = await account_queries.audit_log(rt, actor=SYSTEM, before_id=first.older_than, limit=2)
    ids = [e.id for e in first.entries + second.entries]
    assert ids == sorted(ids, reverse=True) and len(set(ids)) == 4
    assert first.older_than == first.entries[-1].id
    last = await account_queries.audit_log(rt, actor=SYSTEM, before_id=ids[-1], limit=2)
    assert last.older_than is None


async def test_bengali_by_default_english_on_request(rt, client):
    page = await client.get("/staff/login")
    assert '<html lang="bn">' in page.text and "কর্মীদের লগ ইন" in page.text
    page = await client.get("/staff/login?lang=en")
    assert '<html lang="en">' in page.text and "Staff login" in page.text
    assert client.cookies.get("seba_lang") == "en"
    user = await factories.user(rt, "viewer")
    r = await login(client, user.username, "wrong-password")
    assert "Wrong username or password." in r.text
    home = await client.get("/staff/login?lang=bn")
    assert "কর্মীদের লগ ইন" in home.text


def test_every_console_string_has_a_bengali_translation():
    root = Path(census_pages.__file__).resolve().parents[1]
    templates = [
        *root.glob("accounts/templates/accounts/*.html"),
        *root.glob("places/templates/places/*.html"),
        *root.glob("beds/templates/census/*.html"),
    ]
    msgid = re.compile(r"""\b_\(\s*(?:"((?:[^"\\]|\\.)*)"|'((?:[^'\\]|\\.)*)')""")
    messages = {m[1] or m[2] for path in templates for m in msgid.finditer(path.read_text())}
    for labels in (
        account_pages.ROLE_LABELS,
        account_pages.SCOPE_KIND_LABELS,
        account_pages.ACTION_LABELS,
        account_pages.ENTITY_LABELS,
        account_pages.AUDIT_FIELD_LABELS,
        account_pages.USER_FIELD_MESSAGES,
        place_pages.OWNERSHIP_LABELS,
        place_pages.KIND_LABELS,
        place_pages.FIELD_MESSAGES,
        census_pages.BED_TYPE_LABELS,
        census_pages.BED_SEX_LABELS,
    ):
        messages.update(labels.values())
    assert len(messages) > 150
    missing = sorted(m for m in messages if gettext("bn", m) == m)
    assert missing == []


async def test_cho_and_doctor_land_on_their_console_and_the_home_names_role_and_scope(rt, client):
    """A login with no page to return to lands where the person works (``access.workplace``):
    a CHO on the teleconsultation desk, a doctor on the doctor's console, others on the
    staff home; the home names the role and the scope's place, never a code."""
    await factories.districts(rt)
    codes = await factories.network(rt)
    cho = await factories.user(rt, "cho", f"spoke:{codes['kolkata_spoke']}")
    await factories.doctor(rt, codes["kolkata_hub"], username="landing-doctor")
    viewer = await factories.user(rt, "viewer", "district:kolkata")
    for username, lands in (
        (cho.username, "/staff/tele"),
        ("landing-doctor", "/staff/tele/doctor"),
        (viewer.username, "/staff"),
    ):
        client.cookies.clear()
        r = await login(client, username)
        assert r.status_code == 303 and r.headers["location"] == lands, username
        home = (await client.get("/staff")).text
        assert "spoke:" not in home and "hub:" not in home and "district:" not in home
        if username == cho.username:
            assert bn("Community health officer (CHO)") in home
            assert f"{bn('Spoke')}: স্বাস্থ্য ও সুস্থতা কেন্দ্র" in home
            assert 'href="/staff/tele"' in home and bn("Teleconsultation") in home
        elif username == "landing-doctor":
            assert bn("Hub doctor") in home and f"{bn('Hub')}: " in home
            assert 'class="console-big-link" href="/staff/tele/doctor"' in home
        else:
            assert bn("Viewer") in home and f"{bn('District')}: কলকাতা" in home
            assert 'href="/staff/tele"' not in home and 'href="/staff/tele/doctor"' not in home
    # A page that sent the person to log in still wins over the workplace.
    client.cookies.clear()
    page = await client.get("/staff/login?next=/staff/facilities")
    r = await client.post(
        "/staff/login",
        data={
            "csrf": csrf_of(page.text),
            "username": cho.username,
            "password": factories.PASSWORD,
            "next": "/staff/facilities",
        },
    )
    assert r.headers["location"] == "/staff/facilities"
