"""Login, throttling, logout, token expiry and staff-user creation (API and the real CLI)."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest
from sqlalchemy import func, select, update

from seba.accounts import service as account_service
from seba.accounts.models import ApiToken, StaffUser
from seba.core.audit import AuditEntry
from seba.core.errors import NotAuthenticated, TooManyRequests
from seba.core.ratelimit import RateLimit
from seba.core.types import utcnow
from tests import factories

TOKEN = "/api/v1/auth/token"
USERS = "/api/v1/users"


def creds(username: str, password: str = factories.PASSWORD) -> dict:
    return {"username": username, "password": password}


def bearer(token: str) -> dict:
    return {"Authorization": f"Bearer {token}"}


async def _users(rt) -> dict[str, StaffUser]:
    async with rt.db.read() as s:
        return {u.username: u for u in await s.scalars(select(StaffUser))}


async def _count(rt, model) -> int:
    async with rt.db.read() as s:
        return await s.scalar(select(func.count()).select_from(model))


async def _hits(rt) -> dict[tuple[str, str], int]:
    async with rt.db.read() as s:
        rows = await s.execute(select(RateLimit.kind, RateLimit.key, RateLimit.hits))
        return {(kind, key): hits for kind, key, hits in rows}


# --- login ---------------------------------------------------------------------------------


async def test_token_contract_and_login_audit(rt, client):
    await factories.districts(rt)
    user = await factories.user(rt, "viewer", "district:nadia")
    r = await client.post(TOKEN, json=creds(user.username))
    assert r.status_code == 200, r.text
    data = r.json()
    assert set(data) == {"access_token", "token_type", "expires_in"}
    assert data["token_type"] == "bearer"
    assert data["expires_in"] == rt.settings.token_ttl_s
    assert len(data["access_token"]) >= 32
    async with rt.db.read() as s:
        audit = await s.scalar(select(AuditEntry).where(AuditEntry.action == "auth.login"))
        stored = list(await s.scalars(select(ApiToken.token_hash)))
    assert audit.actor_id == user.id and audit.entity_id == str(user.id)
    # Only a hash of the token is kept: a database leak must not leak live sessions.
    assert stored and data["access_token"] not in stored

    me = await client.get("/api/v1/auth/me", headers=bearer(data["access_token"]))
    assert me.status_code == 200
    assert me.json() == {"username": user.username, "role": "viewer", "scope": "district:nadia"}


async def test_wrong_password_and_unknown_user_look_the_same(rt, client):
    user = await factories.user(rt, "viewer")
    wrong = await client.post(TOKEN, json=creds(user.username, "not-the-password"))
    unknown = await client.post(TOKEN, json=creds("nobody-here", factories.PASSWORD))
    for r in (wrong, unknown):
        assert r.status_code == 401
        assert r.json()["error"]["code"] == "invalid_credentials"
        assert r.headers["www-authenticate"] == "Bearer"
    assert wrong.json() == unknown.json()
    # Both count as failures: per username (known or not) and per address.
    assert await _hits(rt) == {
        ("login.username", user.username): 1,
        ("login.username", "nobody-here"): 1,
        ("login.client", "127.0.0.1"): 2,
    }


async def test_login_input_is_validated(rt, client):
    for body in ({"username": "x"}, {"username": "x", "password": "y", "otp": 1}, {}, []):
        r = await client.post(TOKEN, json=body)
        assert r.status_code == 422, (body, r.text)
    # PostgreSQL text cannot hold NUL: it must be refused as input or fail as a login, not 500.
    r = await client.post(TOKEN, json=creds("ad\u0000min", "whatever-pass"))
    assert r.status_code in (401, 422), r.text


async def test_throttling_refuses_even_the_right_password(rt, client):
    user = await factories.user(rt, "viewer")
    limit = rt.settings.login_max_failures
    for _ in range(limit):
        r = await client.post(TOKEN, json=creds(user.username, "guess-guess"))
        assert r.status_code == 401
    r = await client.post(TOKEN, json=creds(user.username))
    assert r.status_code == 429, r.text
    assert r.json()["error"]["code"] == "too_many_attempts"
    assert int(r.headers["retry-after"]) > 0
    # Others behind the same address (a hub's NAT) still log in: the limit is per account.
    colleague = await factories.user(rt, "viewer")
    assert (await client.post(TOKEN, json=creds(colleague.username))).status_code == 200
    # Once the window of the failures has passed, the right password works again.
    async with rt.db.write_session() as s, s.begin():
        await s.execute(
            update(RateLimit).values(
                started_at=utcnow() - timedelta(seconds=rt.settings.login_window_s + 1),
                ends_at=utcnow() - timedelta(seconds=1),
            )
        )
    r = await client.post(TOKEN, json=creds(user.username))
    assert r.status_code == 200, r.text
    # A right password gives its slot back: it is no failure.
    assert (await _hits(rt))[("login.username", user.username)] == 0


async def test_one_address_guessing_across_usernames_is_refused(rt, client):
    per_client = rt.settings.login_max_failures_per_client
    for n in range(per_client):
        r = await client.post(TOKEN, json=creds(f"nobody-{n}", "guess-guess"))
        assert r.status_code == 401, (n, r.text)
    user = await factories.user(rt, "viewer")
    r = await client.post(TOKEN, json=creds(user.username))
    assert r.status_code == 429 and r.json()["error"]["code"] == "too_many_attempts"


async def test_many_right_logins_at_once_from_one_address_all_succeed(rt, client):
    # A shift starting at a hub: its doctors log in together from one NAT address.
    users = [await factories.user(rt, "viewer") for _ in range(12)]
    results = await asyncio.gather(*(client.post(TOKEN, json=creds(u.username)) for u in users))
    assert [r.status_code for r in results] == [200] * len(users), [r.text for r in results]


async def test_concurrent_guesses_cannot_exceed_the_limit(rt, client):
    # Each guess is checked against the count of earlier failures; fired together they must
    # not all see "no failures yet" and get a password check each.
    user = await factories.user(rt, "viewer")
    limit = rt.settings.login_max_failures
    results = await asyncio.gather(
        *(client.post(TOKEN, json=creds(user.username, f"guess-{n}")) for n in range(limit * 3))
    )
    codes = [r.status_code for r in results]
    assert set(codes) <= {401, 429}, codes
    assert codes.count(401) <= limit, codes


async def test_parallel_wrong_passwords_are_counted_up_to_the_limit_only(rt):
    # Service calls, each its own transactions: on PostgreSQL they truly run at once. The
    # database lets exactly the limit through to a password check; the rest are refused
    # unchecked and not counted.
    user = await factories.user(rt, "viewer")
    limit = rt.settings.login_max_failures

    async def guess(n: int) -> str:
        try:
            await account_service.issue_token(
                rt, username=user.username, password=f"guess-{n}", client="198.51.100.9"
            )
        except (NotAuthenticated, TooManyRequests) as exc:
            return exc.code
        return "logged_in"

    results = await asyncio.gather(*(guess(n) for n in range(limit * 6)))
    assert results.count("invalid_credentials") == limit, results
    assert results.count("too_many_attempts") == limit * 5, results
    hits = await _hits(rt)
    assert hits[("login.username", user.username)] == limit
    assert hits[("login.client", "198.51.100.9")] == limit
    # And now even the right password waits for the window.
    try:
        await account_service.issue_token(
            rt, username=user.username, password=factories.PASSWORD, client="198.51.100.10"
        )
    except TooManyRequests as exc:
        assert 0 < exc.details["retry_after_s"] <= rt.settings.login_window_s
    else:
        raise AssertionError("the right password got in past the limit")


async def test_logout_revokes_only_that_token(rt, client):
    user = await factories.user(rt, "viewer")
    first = await factories.token(client, user.username)
    second = await factories.token(client, user.username)
    r = await client.post("/api/v1/auth/logout", headers=bearer(first))
    assert r.status_code == 204
    r = await client.get("/api/v1/auth/me", headers=bearer(first))
    assert r.status_code == 401 and r.json()["error"]["code"] == "invalid_token"
    assert (await client.get("/api/v1/auth/me", headers=bearer(second))).status_code == 200
    async with rt.db.read() as s:
        audit = await s.scalar(select(AuditEntry).where(AuditEntry.action == "auth.logout"))
    assert audit.actor_id == user.id


async def test_expired_token_and_deactivated_user_are_refused(rt, client, monkeypatch):
    user = await factories.user(rt, "viewer")
    token = await factories.token(client, user.username)
    assert (await client.get("/api/v1/auth/me", headers=bearer(token))).status_code == 200
    # The token is now in the worker's principal cache: its expiry is honoured there too.
    async with rt.db.read() as s:
        expires_at = await s.scalar(select(ApiToken.expires_at))
    monkeypatch.setattr(account_service, "utcnow", lambda: expires_at)
    r = await client.get("/api/v1/auth/me", headers=bearer(token))
    assert r.status_code == 401 and r.json()["error"]["code"] == "invalid_token"
    monkeypatch.undo()
    async with rt.db.write_session() as s, s.begin():
        await s.execute(update(ApiToken).values(expires_at=utcnow() - timedelta(seconds=1)))
    r = await client.get("/api/v1/auth/me", headers=bearer(token))
    assert r.status_code == 401 and r.json()["error"]["code"] == "invalid_token"

    token = await factories.token(client, user.username)
    async with rt.db.write_session() as s, s.begin():
        await s.execute(update(StaffUser).values(active=False))
    r = await client.get("/api/v1/auth/me", headers=bearer(token))
    assert r.status_code == 401 and r.json()["error"]["code"] == "invalid_token"
    r = await client.post(TOKEN, json=creds(user.username))
    assert r.status_code == 401 and r.json()["error"]["code"] == "invalid_credentials"


async def test_me_without_a_token(client):
    r = await client.get("/api/v1/auth/me")
    assert r.status_code == 401 and r.json()["error"]["code"] == "not_authenticated"


# --- creating users ------------------------------------------------------------------------


async def test_state_admin_creates_a_user_with_a_hashed_password(rt, client):
    await factories.districts(rt)
    await factories.facility(rt, code="alpha")
    admin = await factories.staff(client, rt, "state_admin")
    password = "  spaces count too  "
    r = await client.post(
        USERS,
        json={
            "username": "alpha-nurse",
            "password": password,
            "role": "hospital_staff",
            "scope": "facility:alpha",
            "full_name": "Alpha Nurse",
        },
        headers=admin,
    )
    assert r.status_code == 201, r.text
    out = r.json()
    assert out["username"] == "alpha-nurse" and out["scope"] == "facility:alpha"
    assert "password" not in str(out) and "hash" not in str(out)
    stored = (await _users(rt))["alpha-nurse"]
    assert stored.password_hash.startswith("$argon2id$")
    assert password.strip() not in stored.password_hash
    async with rt.db.read() as s:
        audit = await s.scalar(
            select(AuditEntry).where(
                AuditEntry.action == "user.create", AuditEntry.entity_id == str(stored.id)
            )
        )
    assert audit.actor_name.startswith("state-admin") and audit.actor_id is not None
    assert audit.after == {
        "username": "alpha-nurse",
        "role": "hospital_staff",
        "scope": "facility:alpha",
        "mobile": None,
    }
    # The password is exactly what was typed, spaces included.
    r = await client.post(TOKEN, json=creds("alpha-nurse", password))
    assert r.status_code == 200, r.text
    # The list shows the new user.
    listed = (await client.get(USERS, headers=admin)).json()
    assert "alpha-nurse" in {u["username"] for u in listed}


async def test_a_staff_mobile_is_an_indian_mobile_stored_as_plus_91(rt, client):
    await factories.districts(rt)
    await factories.facility(rt, code="alpha")
    admin = await factories.staff(client, rt, "state_admin")
    body = {"password": "long-enough-1", "role": "hospital_staff", "scope": "facility:alpha"}
    for bad in ("033 2204 1101", "1800-313-444-222", "12345"):
        r = await client.post(
            USERS, json=body | {"username": "bad-mobile", "mobile": bad}, headers=admin
        )
        assert r.status_code == 422, (bad, r.text)
    assert "bad-mobile" not in await _users(rt)
    r = await client.post(
        USERS, json=body | {"username": "ward-manager", "mobile": "98300 12345"}, headers=admin
    )
    assert r.status_code == 201 and r.json()["mobile"] == "+919830012345"
    assert (await _users(rt))["ward-manager"].mobile == "+919830012345"


async def test_user_creation_rules(rt, client):
    await factories.districts(rt)
    await factories.facility(rt, code="alpha")
    admin = await factories.staff(client, rt, "state_admin")
    before = await _count(rt, StaffUser)

    def user(**overrides):
        return {"username": "new-user", "password": "long-enough-pw", "role": "viewer"} | overrides

    cases = [
        (user(username="No Spaces"), "validation_failed", "username"),
        (user(username="ab"), "validation_failed", "username"),
        (user(username="-leading-dash"), "validation_failed", "username"),
        (user(password="short"), "validation_failed", "password"),
        (user(role="superuser"), "validation_failed", "role"),
        (user(role="hospital_staff"), "validation_failed", "scope"),  # needs facility:CODE
        (user(role="hospital_staff", scope="district:kolkata"), "validation_failed", "scope"),
        (user(role="district_admin"), "validation_failed", "scope"),  # needs district:CODE
        (user(role="state_admin", scope="district:kolkata"), "validation_failed", "scope"),
        (user(role="control_room", scope="facility:alpha"), "validation_failed", "scope"),
        # The format of a scope is the schema's (its pattern is in the OpenAPI document).
        (user(scope="region:north"), "validation_failed", "scope"),
        (user(scope="district:"), "validation_failed", "scope"),
        (user(scope="district:atlantis"), "unknown_district", None),
        (user(role="hospital_staff", scope="facility:nowhere"), "unknown_facility", None),
        (user(scope="district:kol\u0000kata"), None, None),
        (user(full_name="Nul\u0000Name"), None, None),
    ]
    for body, code, field in cases:
        r = await client.post(USERS, json=body, headers=admin)
        assert r.status_code == 422, (body, r.text)
        error = r.json()["error"]
        if code:
            assert error["code"] == code, (body, error)
        if field:
            # The schema's errors list fields; the service's name them in a mapping.
            details = error["details"]
            named = {d["field"] for d in details} if isinstance(details, list) else set(details)
            assert field in named, (body, error)
    assert await _count(rt, StaffUser) == before

    r = await client.post(USERS, json=user(), headers=admin)
    assert r.status_code == 201, r.text
    r = await client.post(USERS, json=user(password="another-long-one"), headers=admin)
    assert r.status_code == 409 and r.json()["error"]["code"] == "username_taken"
    assert await _count(rt, StaffUser) == before + 1


async def test_district_admin_grants_only_lower_roles_inside_their_district(rt, client):
    await factories.districts(rt)
    await factories.facility(rt, code="alpha")  # in kolkata
    await factories.facility(rt, code="beta", district_code="howrah")
    admin = await factories.staff(client, rt, "district_admin", "district:kolkata")
    before = await _count(rt, StaffUser)
    refused = [
        ("district_admin", "district:kolkata", "forbidden"),
        ("state_admin", "state", "forbidden"),
        ("viewer", "state", "out_of_scope"),
        ("control_room", "state", "out_of_scope"),
        ("control_room", "district:howrah", "out_of_scope"),
        ("hospital_staff", "facility:beta", "out_of_scope"),
    ]
    for n, (role, scope, code) in enumerate(refused):
        body = {"username": f"refused-{n}", "password": "long-enough-pw", "role": role}
        r = await client.post(USERS, json=body | {"scope": scope}, headers=admin)
        assert r.status_code == 403, (role, scope, r.text)
        assert r.json()["error"]["code"] == code
    assert await _count(rt, StaffUser) == before
    body = {"username": "alpha-desk", "password": "long-enough-pw", "role": "hospital_staff"}
    r = await client.post(USERS, json=body | {"scope": "facility:alpha"}, headers=admin)
    assert r.status_code == 201, r.text
    # The district admin's list holds their district's users only.
    await factories.user(rt, "viewer", "district:howrah", username="howrah-viewer")
    listed = {u["username"] for u in (await client.get(USERS, headers=admin)).json()}
    assert "alpha-desk" in listed and "howrah-viewer" not in listed


async def test_other_roles_cannot_manage_users(rt, client):
    await factories.districts(rt)
    await factories.facility(rt, code="alpha")
    body = {"username": "sneaky", "password": "long-enough-pw", "role": "viewer"}
    for role, scope in (("control_room", "state"), ("hospital_staff", "facility:alpha")):
        headers = await factories.staff(client, rt, role, scope)
        r = await client.post(USERS, json=body, headers=headers)
        assert r.status_code == 403 and r.json()["error"]["code"] == "forbidden"
        assert (await client.get(USERS, headers=headers)).status_code == 403
    assert (await client.post(USERS, json=body)).status_code == 401
    assert "sneaky" not in await _users(rt)


# --- the real CLI --------------------------------------------------------------------------


def _seba_user_add(db_url: str, *args: str, password: str | None = "cli-password-1"):
    environ = {k: v for k, v in os.environ.items() if not k.startswith("SEBA_")}
    environ.update({"SEBA_DATABASE_URL": db_url, "SEBA_ENV": "test"})
    argv = [sys.executable, "-m", "seba.cli", "user", "add", *args]
    if password is not None:
        argv.append("--password-stdin")
    return subprocess.run(
        argv,
        input=f"{password}\n" if password is not None else "",
        capture_output=True,
        text=True,
        env=environ,
        timeout=120,
    )


async def test_cli_user_add(rt, client, db_url):
    await factories.districts(rt)
    await factories.facility(rt, code="alpha")
    ok = _seba_user_add(
        db_url, "cli-nurse", "--role", "hospital_staff", "--scope", "facility:alpha"
    )
    assert ok.returncode == 0, ok.stderr
    r = await client.post(TOKEN, json=creds("cli-nurse", "cli-password-1"))
    assert r.status_code == 200, r.text
    me = await client.get("/api/v1/auth/me", headers=bearer(r.json()["access_token"]))
    assert me.json()["scope"] == "facility:alpha"
    assert (await _users(rt))["cli-nurse"].password_hash.startswith("$argon2id$")

    refused = [
        (("Bad Name", "--role", "viewer"), "cli-password-1", "validation_failed"),
        (("cli-short", "--role", "viewer"), "short", "validation_failed"),
        (("cli-mismatch", "--role", "hospital_staff"), "cli-password-1", "validation_failed"),
        (
            ("cli-far", "--role", "viewer", "--scope", "district:atlantis"),
            "cli-password-1",
            "unknown_district",
        ),
        (("cli-nurse", "--role", "viewer"), "cli-password-1", "username_taken"),
    ]
    # None of these writes, so they may run side by side (each is a fresh interpreter).
    with ThreadPoolExecutor(max_workers=3) as pool:
        results = list(
            pool.map(lambda case: _seba_user_add(db_url, *case[0], password=case[1]), refused)
        )
        no_stdin = pool.submit(
            _seba_user_add, db_url, "cli-nostdin", "--role", "viewer", password=None
        )
    for (args, _password, code), result in zip(refused, results, strict=True):
        assert result.returncode != 0, (args, result.stderr)
        assert code in result.stderr, (args, result.stderr)
    result = no_stdin.result()
    assert result.returncode != 0 and "--password-stdin" in result.stderr
    assert set(await _users(rt)) == {"cli-nurse"}


@pytest.mark.parametrize("username", ["trailing-newline\n", "UPPER-case", "x" * 61])
async def test_service_refuses_odd_usernames(rt, username):
    from seba.accounts import service as account_service
    from seba.core.access import SYSTEM
    from seba.core.errors import ValidationFailed

    with pytest.raises(ValidationFailed) as caught:
        await account_service.create_user(
            rt, actor=SYSTEM, username=username, password="long-enough-pw", role="viewer"
        )
    assert "username" in caught.value.details


async def test_a_token_carries_the_district_of_every_kind_of_scope(rt, client):
    """The one-statement token check finds the district of a district, facility, spoke or hub
    scope (what district-scoped access rules read), and none for the state."""
    from seba.accounts.service import principal_for_token
    from seba.telemedicine.models import Doctor

    codes = await factories.network(rt)  # Kolkata hub and spoke, Darjeeling hub and spoke
    fac = await factories.facility(rt, district_code="howrah")
    users = {
        "state": (await factories.user(rt, "state_admin")).username,
        "district": (await factories.user(rt, "district_admin", "district:nadia")).username,
        "facility": (await factories.user(rt, "hospital_staff", f"facility:{fac.code}")).username,
        "spoke": (await factories.cho(rt, codes["hills_spoke"])).username,
    }
    doc = await factories.doctor(rt, codes["kolkata_hub"])
    async with rt.db.read() as s:
        users["hub"] = (await s.get(StaffUser, (await s.get(Doctor, doc.id)).user_id)).username
    expected = {
        "state": None,
        "district": "nadia",
        "facility": "howrah",
        "spoke": "darjeeling",
        "hub": "kolkata",
    }
    for kind, username in users.items():
        principal = await principal_for_token(rt, await factories.token(client, username))
        assert (principal.scope_kind, principal.scope_district) == (kind, expected[kind])
