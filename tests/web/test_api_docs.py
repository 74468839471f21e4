"""The API reference: open outside production, staff-only in production, served offline (every
script and style it links is ours and answers), under a CSP that still runs no foreign or
inline script."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator

import httpx
import pytest

from seba.app import create_app
from seba.core.access import ROLES
from seba.core.runtime import Runtime, build_runtime
from seba.settings import Settings
from tests import factories
from tests.pages import staff_session

ASSET_RE = re.compile(r'(?:src|href)="([^"]+)"')


@pytest.fixture
async def prod_rt(settings: Settings) -> AsyncIterator[Runtime]:
    runtime = build_runtime(
        settings.model_copy(update={"env": "prod", "secret_key": "a-production-secret-" * 3})
    )
    await runtime.start()
    try:
        yield runtime
    finally:
        await runtime.close()


@pytest.fixture
async def prod(prod_rt: Runtime) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(prod_rt.settings, runtime=prod_rt)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="https://testserver") as c:
        yield c


async def _assets_answer(client: httpx.AsyncClient, html: str) -> list[str]:
    urls = ASSET_RE.findall(html)
    assert urls
    for url in urls:
        # Local: no scheme, no host (a CDN URL would need the network).
        assert url.startswith("/") and not url.startswith("//"), url
        answer = await client.get(url)
        assert answer.status_code == 200, url
    return urls


async def test_dev_reference_is_open_and_offline(client: httpx.AsyncClient) -> None:
    for path in ("/docs", "/redoc"):
        page = await client.get(path)
        assert page.status_code == 200
        urls = await _assets_answer(client, page.text)
        assert any(u.endswith(".js") for u in urls)
        csp = page.headers["content-security-policy"]
        assert "script-src 'self';" in csp and "unsafe-eval" not in csp
        assert "<script>" not in page.text  # no inline script
    swagger = (await client.get("/docs")).text
    assert "/docs-assets/swagger-ui-bundle.js" in swagger
    assert "/docs-assets/swagger-ui.css" in swagger
    assert "/docs-assets/redoc.standalone.js" in (await client.get("/redoc")).text
    spec = await client.get("/openapi.json")
    assert spec.status_code == 200
    assert spec.json()["components"]["schemas"]["ErrorBody"]["required"] == ["error"]


async def test_prod_refuses_anonymous(prod: httpx.AsyncClient) -> None:
    spec = await prod.get("/openapi.json")
    assert spec.status_code == 401
    assert spec.json()["error"]["code"] == "not_authenticated"
    for path in ("/docs", "/redoc"):
        page = await prod.get(path)
        assert page.status_code == 303
        assert page.headers["location"] == f"/staff/login?next=%2F{path[1:]}"


async def test_prod_admits_any_staff_role(prod: httpx.AsyncClient, prod_rt: Runtime) -> None:
    await factories.districts(prod_rt)
    # The least privileged role: a viewer may read the reference too.
    await staff_session(prod, prod_rt, "viewer", "district:kolkata")
    page = await prod.get("/docs")
    assert page.status_code == 200
    await _assets_answer(prod, page.text)
    assert (await prod.get("/redoc")).status_code == 200
    assert (await prod.get("/openapi.json")).status_code == 200


async def test_prod_document_takes_a_bearer_token(
    prod: httpx.AsyncClient, prod_rt: Runtime
) -> None:
    user = await factories.user(prod_rt, "state_admin")
    token = await factories.token(prod, user.username)
    spec = await prod.get("/openapi.json", headers={"Authorization": f"Bearer {token}"})
    assert spec.status_code == 200
    wrong = await prod.get("/openapi.json", headers={"Authorization": "Bearer nope"})
    assert wrong.status_code == 401


async def test_login_returns_to_the_reference(prod: httpx.AsyncClient, prod_rt: Runtime) -> None:
    from tests.pages import csrf_of

    user = await factories.user(prod_rt, "state_admin")
    form = await prod.get("/staff/login?next=/docs")
    answer = await prod.post(
        "/staff/login",
        data={
            "csrf": csrf_of(form.text),
            "username": user.username,
            "password": factories.PASSWORD,
            "next": "/docs",
        },
    )
    assert answer.status_code == 303
    assert answer.headers["location"] == "/docs"


@pytest.mark.parametrize("role", ROLES)
async def test_prod_every_staff_role_reads_the_document(
    prod: httpx.AsyncClient, prod_rt: Runtime, role: str
) -> None:
    codes = await factories.network(prod_rt)
    hospital = await factories.facility(prod_rt)
    scope = {
        "district_admin": "district:kolkata",
        "hospital_staff": f"facility:{hospital.code}",
        "cho": f"spoke:{codes['kolkata_spoke']}",
    }.get(role, "state")
    if role == "doctor":
        await factories.doctor(prod_rt, codes["kolkata_hub"], username="docs-doctor")
        username = "docs-doctor"
    else:
        username = (await factories.user(prod_rt, role, scope)).username
    token = await factories.token(prod, username)
    spec = await prod.get("/openapi.json", headers={"Authorization": f"Bearer {token}"})
    assert spec.status_code == 200
