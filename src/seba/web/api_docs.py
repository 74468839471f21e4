"""The API reference: Swagger UI (``/docs``), ReDoc (``/redoc``) and the OpenAPI document
(``/openapi.json``), served offline and, in production, to staff only.

Offline: the Swagger UI and ReDoc bundles come from the ``fastapi-offline`` package and are
served from ``/docs-assets`` (no CDN: control rooms and hub networks may have no Internet
route, and a page that loads third-party script is a page a CDN can change). Swagger UI is
started by ``static/api-docs.js``, a file, because pages run no inline script.

Who may read it is the policy table's ``api_docs.read`` (every staff role); outside production
(``SEBA_ENV`` dev or test) the reference is open, as it is for a developer on their machine. In
production an anonymous ``/docs`` or ``/redoc`` goes to the staff login and back; an anonymous
``/openapi.json`` answers 401 in the error shape (it is read by programs). The document is
read with the page session cookie (what Swagger UI sends) or a bearer token (tools).

CSP: these pages get their own policy (``DOCS_CSP``), which the security-headers middleware
keeps: scripts from this origin only, like every page, but inline *styles* are allowed, because
ReDoc writes its styles into ``<style>`` elements at run time (styled-components) and Swagger UI
sets style attributes; and ReDoc's search runs in a worker made from a ``blob:`` URL. ReDoc's
sidebar links its "powered by" logo from its CDN; ``img-src`` blocks it (a console line, no
request leaves), which is what offline means (``tests/e2e/test_api_docs.py``).
"""

from __future__ import annotations

from html import escape
from pathlib import Path

import fastapi_offline
from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.responses import HTMLResponse, JSONResponse
from fastapi.staticfiles import StaticFiles

from seba.accounts import service as account_service
from seba.core.access import Principal, require
from seba.core.errors import NotAuthenticated
from seba.core.http import bearer_token, runtime_of
from seba.web.assets import ASSETS
from seba.web.session import StaffRoute, page_principal, session_principal

DOCS_PATH = "/docs"
REDOC_PATH = "/redoc"
OPENAPI_PATH = "/openapi.json"
ASSETS_PATH = "/docs-assets"
BUNDLES_DIR = Path(fastapi_offline.__file__).resolve().parent / "static"
DOCS_CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; font-src 'self'; connect-src 'self'; worker-src 'self' blob:; "
    "base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)
ACTION = "api_docs.read"


def _open(request: Request) -> bool:
    """Outside production the reference is open (a developer's machine, tests)."""
    return runtime_of(request).settings.env != "prod"


async def page_reader(request: Request) -> None:
    """/docs and /redoc: in production a staff page session the policy lets read the docs;
    without one, ``StaffRoute`` redirects to the login page."""
    if _open(request):
        return
    require(await page_principal(request), ACTION)


async def document_reader(request: Request) -> None:
    """/openapi.json: in production a page session or a bearer token (401 JSON otherwise)."""
    if _open(request):
        return
    principal: Principal | None = await session_principal(request)
    if principal is None:
        token = bearer_token(request)
        if token is None:
            raise NotAuthenticated()
        principal = await account_service.principal_for_token(runtime_of(request), token)
    require(principal, ACTION)


pages = APIRouter(route_class=StaffRoute, include_in_schema=False)
document = APIRouter(include_in_schema=False)


def _page(title: str, head: str, body: str) -> HTMLResponse:
    html = (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{escape(title)}</title>"
        f'<link rel="icon" href="{ASSETS_PATH}/favicon.png">{head}</head>{body}</html>'
    )
    return HTMLResponse(
        html,
        headers={"Content-Security-Policy": DOCS_CSP, "Cache-Control": "no-store"},
    )


@pages.get(DOCS_PATH, dependencies=[Depends(page_reader)])
async def swagger_ui(request: Request) -> HTMLResponse:
    return _page(
        f"{request.app.title} — API",
        f'<link rel="stylesheet" href="{ASSETS_PATH}/swagger-ui.css">',
        f'<body data-openapi="{OPENAPI_PATH}"><div id="swagger-ui"></div>'
        f'<script src="{ASSETS_PATH}/swagger-ui-bundle.js"></script>'
        f'<script src="{ASSETS.url("api-docs.js")}"></script></body>',
    )


@pages.get(REDOC_PATH, dependencies=[Depends(page_reader)])
async def redoc(request: Request) -> HTMLResponse:
    # ReDoc's standalone bundle starts itself on the <redoc> element: no inline script.
    return _page(
        f"{request.app.title} — API",
        "",
        f'<body><redoc spec-url="{OPENAPI_PATH}"></redoc>'
        f'<script src="{ASSETS_PATH}/redoc.standalone.js"></script></body>',
    )


@document.get(OPENAPI_PATH, dependencies=[Depends(document_reader)])
async def openapi_document(request: Request) -> JSONResponse:
    return JSONResponse(request.app.openapi(), headers={"Cache-Control": "no-store"})


def install(app: FastAPI) -> None:
    """Add the reference to an app made with ``docs_url=None, redoc_url=None, openapi_url=None``
    (FastAPI's own routes would be open and load their bundles from a CDN)."""
    app.include_router(pages)
    app.include_router(document)
    app.mount(ASSETS_PATH, StaticFiles(directory=BUNDLES_DIR), name="docs-assets")
