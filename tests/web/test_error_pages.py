"""Errors on browser paths are pages in the reader's language; the API keeps its JSON."""

from __future__ import annotations

import errno

import httpx
import pytest

from seba.app import create_app
from seba.core.errors import PermissionDenied
from tests.core.test_errors import assert_error_shape

BROWSER = {"Accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"}


def assert_page(r: httpx.Response, status: int, *texts: str) -> None:
    assert r.status_code == status, r.text
    assert r.headers["content-type"].startswith("text/html")
    assert r.headers["cache-control"] == "no-store"
    # The site's own page: its security headers, its way back to the bed list and helpline.
    assert "default-src" in r.headers["content-security-policy"]
    assert 'href="/"' in r.text and "tel:1800313444222" in r.text
    for text in texts:
        assert text in r.text, text


async def test_an_unknown_address_is_a_bengali_page(client):
    r = await client.get("/facility/40", headers=BROWSER)
    assert_page(r, 404, 'lang="bn"', "পাতাটি পাওয়া যায়নি", "ঠিকানাটি হয়তো ভুল লেখা হয়েছে")
    assert "{" not in r.text.split("<main", 1)[1].split("</main>")[0]  # no JSON in the page


async def test_in_english_when_chosen(client):
    r = await client.get("/facility/40?lang=en", headers=BROWSER)
    assert_page(r, 404, 'lang="en"', "Page not found", "may be mistyped", "See free beds")


async def test_the_api_and_machine_paths_keep_json(client):
    for path in ("/api/v1/no-such-thing", "/static/no-such-file.css", "/openapi.jsonx"):
        r = await client.get(path, headers=BROWSER)
        assert r.headers["content-type"].startswith("application/json"), path
    # A program that asks for JSON gets JSON anywhere.
    r = await client.get("/facility/40", headers={"Accept": "application/json"})
    assert_error_shape(r, 404, "not_found")


async def test_a_wrong_method_page_keeps_allow(client):
    r = await client.delete("/verify", headers=BROWSER)
    assert_page(r, 405, "এই পাতাটি এভাবে ব্যবহার করা যায় না")
    assert "GET" in r.headers["allow"]


async def test_any_pasted_verification_code_gets_the_pages_own_answer(client):
    r = await client.get("/verify/" + "A" * 300, headers=BROWSER)
    assert r.status_code == 404 and r.headers["content-type"].startswith("text/html")
    main = r.text.split('<main id="main">')[1]
    assert "A" * 40 in main and "A" * 41 not in main  # shown cut to a code's length
    assert "String should have at most" not in r.text  # never pydantic's English
    r = await client.get("/verify/" + "A" * 2500, headers=BROWSER)
    assert_page(r, 422, "কিছু তথ্য ঠিক নেই")
    assert "String should have" not in r.text.split("error-details")[0]


@pytest.fixture
async def failing(rt, settings):
    app = create_app(settings, runtime=rt)

    @app.get("/test-only/boom")
    async def boom():
        raise RuntimeError("secret-detail: password=hunter2")

    @app.get("/test-only/busy")
    async def busy():
        raise OSError(errno.ECONNREFUSED, "connection refused")  # the database is down

    @app.get("/test-only/not-yours")
    async def not_yours():
        raise PermissionDenied()

    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
        yield c


async def test_a_crash_is_a_page_without_the_traceback(failing):
    r = await failing.get("/test-only/boom", headers=BROWSER)
    assert_page(r, 500, "আমাদের দিকে একটি সমস্যা হয়েছে", "internal_error")
    assert "secret-detail" not in r.text and "Traceback" not in r.text


async def test_forbidden_offers_the_login_to_a_stranger(failing):
    r = await failing.get("/test-only/not-yours", headers=BROWSER)
    assert_page(r, 403, "এই পাতাটি আপনি খুলতে পারবেন না", 'href="/staff/login"')


async def test_an_outage_page_says_wait_and_keeps_retry_after(failing):
    r = await failing.get("/test-only/busy", headers=BROWSER)
    assert_page(r, 503, "পরিষেবা এখন ব্যস্ত", "একটু অপেক্ষা করে আবার চেষ্টা করুন।")
    assert r.headers["retry-after"] == "5"
