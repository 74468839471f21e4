"""Security headers on pages, the API and the fast path's stored answers; and the templates
keep to what the page policy allows (no inline script or style), so the policy breaks nothing.
"""

from __future__ import annotations

import re
from pathlib import Path

import httpx

import seba
from seba.app import create_app
from seba.core.headers import HSTS

TEMPLATES = sorted(Path(seba.__file__).resolve().parent.glob("**/templates/**/*.html"))


def _csp(response: httpx.Response) -> dict[str, str]:
    policy = response.headers["content-security-policy"]
    return {part.split()[0]: part for part in (p.strip() for p in policy.split(";")) if part}


async def test_a_page_may_run_only_its_own_files(client):
    r = await client.get("/")
    assert r.status_code == 200
    csp = _csp(r)
    assert csp["script-src"] == "script-src 'self'" and csp["style-src"] == "style-src 'self'"
    assert csp["frame-ancestors"] == "frame-ancestors 'none'"
    assert r.headers["x-content-type-options"] == "nosniff"
    assert r.headers["referrer-policy"] == "same-origin"
    assert r.headers["x-frame-options"] == "DENY"
    assert "strict-transport-security" not in r.headers  # not in dev: plain HTTP on a laptop


async def test_the_api_and_its_errors_carry_them(client):
    for path in ("/api/v1/districts", "/api/v1/facilities/999999", "/healthz"):
        r = await client.get(path)
        assert _csp(r)["default-src"] == "default-src 'none'", path
        assert r.headers["x-content-type-options"] == "nosniff", path


async def test_the_fast_paths_stored_answers_carry_them(client):
    first = await client.get("/api/v1/beds/availability")
    second = await client.get("/api/v1/beds/availability")  # answered from the stored bytes
    assert first.status_code == second.status_code == 200
    for r in (first, second):
        assert r.headers["x-content-type-options"] == "nosniff"
        assert _csp(r)["frame-ancestors"] == "frame-ancestors 'none'"
    etag = second.headers["etag"]
    not_modified = await client.get("/api/v1/beds/availability", headers={"If-None-Match": etag})
    assert not_modified.status_code == 304
    assert not_modified.headers["x-content-type-options"] == "nosniff"


async def test_production_says_https_only(rt, settings):
    prod = settings.model_copy(update={"env": "prod", "secret_key": "x" * 40})
    app = create_app(prod, runtime=rt)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://testserver"
    ) as c:
        for path in ("/", "/api/v1/districts"):
            assert (await c.get(path)).headers["strict-transport-security"] == HSTS.decode()


def test_templates_have_no_inline_script_or_style():
    inline = []
    for path in TEMPLATES:
        text = path.read_text(encoding="utf-8")
        for pattern in (
            r"<script(?![^>]*\bsrc=)[^>]*>",  # a script block
            r"<style\b",
            r"\sstyle=\"",
            r"\son[a-z]+=\"",  # onclick="…" and friends
            r"href=\"javascript:",
        ):
            inline += [f"{path.name}: {m.group(0)}" for m in re.finditer(pattern, text)]
    assert inline == []
