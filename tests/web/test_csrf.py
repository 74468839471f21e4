"""One CSRF module for every form: the staff session's HMAC, and the signed double-submit
cookie of the forms without a session (staff login, the family's admission forms)."""

from __future__ import annotations

from types import SimpleNamespace

import httpx
from starlette.datastructures import FormData, UploadFile

from seba.accounts.models import ApiToken
from seba.app import create_app
from seba.referrals.models import OtpChallenge
from seba.web import csrf
from tests import factories
from tests.pages import bn, count, csrf_of, login, staff_session

KEY = SimpleNamespace(secret_key="one-key")
OTHER_KEY = SimpleNamespace(secret_key="another-key")
# The cookie jar's name for the test client's host (a name without a dot gets ".local").
HOST = "testserver.local"
REFUSED = "This form has expired or did not come from Seba. Reload the page and try again."


def _refused(form: FormData, expected: str | None) -> bool:
    try:
        csrf.check(form, expected)
    except csrf.CsrfRejected:
        return True
    return False


def _flip(text: str) -> str:
    """``text`` with its last character changed."""
    return text[:-1] + ("B" if text.endswith("A") else "A")


# ---------------------------------------------------------------- the checks themselves


def test_a_staff_token_belongs_to_one_session_and_one_key():
    token = csrf.staff_token(KEY, "session-a")
    assert token == csrf.staff_token(KEY, "session-a")  # every form of the session
    assert token != csrf.staff_token(KEY, "session-b")
    assert token != csrf.staff_token(OTHER_KEY, "session-a")
    assert not _refused(FormData([("csrf", token)]), token)
    for form in (
        FormData(),  # missing
        FormData([("csrf", "")]),
        FormData([("csrf", "0" * 64)]),  # wrong
        FormData([("csrf", csrf.staff_token(KEY, "session-b"))]),  # another session's
        FormData([("csrf", UploadFile(file=None, filename="x"))]),  # not text
    ):
        assert _refused(form, token), form
    # Nothing to match (no session): refused whatever was sent.
    assert _refused(FormData([("csrf", "")]), "") and _refused(FormData([("csrf", "x")]), None)


def test_a_double_submit_value_is_signed_for_its_form():
    value = csrf.CITIZEN.new_value(KEY)
    assert csrf.CITIZEN.is_signed(KEY, value)
    assert value != csrf.CITIZEN.new_value(KEY)  # random per browser
    nonce, _, signature = value.partition(".")
    for planted in (
        None,
        "",
        nonce,  # unsigned, as a planted cookie would be
        "x" * 43,  # the old unsigned shape
        f"{nonce}.",
        f".{signature}",
        f"{_flip(nonce)}.{signature}",  # another nonce under this signature
        f"{nonce}.{_flip(signature)}",
        f"{nonce}.{signature}" + "A" * csrf.MAX_COOKIE_VALUE,
    ):
        assert not csrf.CITIZEN.is_signed(KEY, planted), planted
    assert not csrf.CITIZEN.is_signed(OTHER_KEY, value)  # signed by another server
    assert not csrf.LOGIN.is_signed(KEY, value)  # the login form's cookie is another's
    assert csrf.LOGIN.is_signed(KEY, csrf.LOGIN.new_value(KEY))


# ---------------------------------------------------------------- the family's forms


async def test_citizen_forms_take_only_the_signed_cookie_they_set(rt, client):
    await factories.districts(rt)
    page = await client.get("/admission")
    cookie = client.cookies[csrf.CITIZEN.cookie]
    assert csrf_of(page.text) == cookie
    assert csrf.CITIZEN.is_signed(rt.settings, cookie)
    # The same browser keeps its value: no new cookie with the next page.
    again = await client.get("/admission/status")
    assert csrf_of(again.text) == cookie
    assert csrf.CITIZEN.cookie not in again.headers.get("set-cookie", "")

    phone = {"phone": "98300 12345"}
    for sent in (
        {},
        {"csrf": ""},
        {"csrf": "forged"},
        {"csrf": csrf.CITIZEN.new_value(rt.settings)},
    ):
        r = await client.post("/admission/phone", data={**phone, **sent})
        assert r.status_code == 403, sent
        assert REFUSED in r.text or "Reload the page" in r.text or r.status_code == 403
    assert await count(rt, OtpChallenge) == 0
    r = await client.post("/admission/phone", data={**phone, "csrf": cookie})
    assert r.status_code == 303
    assert await count(rt, OtpChallenge) == 1


async def test_a_planted_unsigned_cookie_is_refused_and_replaced(rt, client):
    await factories.districts(rt)
    planted = "p" * 43
    client.cookies.set(csrf.CITIZEN.cookie, planted, domain=HOST, path="/admission")
    r = await client.post("/admission/phone", data={"phone": "98300 12345", "csrf": planted})
    assert r.status_code == 403 and bn(REFUSED) in r.text
    assert await count(rt, OtpChallenge) == 0
    # The page answers with a value of its own, which then works.
    page = await client.get("/admission")
    fresh = csrf_of(page.text)
    assert fresh != planted and csrf.CITIZEN.is_signed(rt.settings, fresh)
    assert client.cookies[csrf.CITIZEN.cookie] == fresh
    r = await client.post("/admission/phone", data={"phone": "98300 12345", "csrf": fresh})
    assert r.status_code == 303


async def test_the_login_cookie_does_not_open_a_citizen_form(rt, client):
    await factories.districts(rt)
    await client.get("/staff/login")
    login_value = client.cookies[csrf.LOGIN.cookie]
    client.cookies.set(csrf.CITIZEN.cookie, login_value, domain=HOST, path="/admission")
    r = await client.post("/admission/phone", data={"phone": "98300 12345", "csrf": login_value})
    assert r.status_code == 403
    assert await count(rt, OtpChallenge) == 0


# ---------------------------------------------------------------- staff login and sessions


async def test_the_login_form_refuses_a_planted_cookie(rt, client):
    user = await factories.user(rt, "viewer")
    form = {"username": user.username, "password": factories.PASSWORD}
    planted = "p" * 43
    client.cookies.set(csrf.LOGIN.cookie, planted, domain=HOST, path="/staff/login")
    r = await client.post("/staff/login", data={**form, "csrf": planted})
    assert r.status_code == 403 and bn(REFUSED) in r.text
    assert await count(rt, ApiToken) == 0
    # The login page replaces it with a signed one, and logging in works.
    assert (await login(client, user.username)).status_code == 303
    assert await count(rt, ApiToken) == 1


async def test_a_staff_form_refuses_another_sessions_token(rt, client, settings):
    await factories.districts(rt)
    await staff_session(client, rt, "state_admin")
    mine = csrf_of((await client.get("/staff/users")).text)
    transport = httpx.ASGITransport(app=create_app(settings, runtime=rt))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as other:
        await staff_session(other, rt, "state_admin")
        theirs = csrf_of((await other.get("/staff/users")).text)
    assert mine != theirs
    form = {
        "username": "new-user",
        "password": "long-enough-pw",
        "role": "viewer",
        "scope": "state",
    }
    r = await client.post("/staff/users", data={**form, "csrf": theirs})
    assert r.status_code == 403
    r = await client.post("/staff/users", data={**form, "csrf": mine})
    assert r.status_code == 303, r.text
