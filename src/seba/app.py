"""Application factory: routers, error handlers, lifespan. Wiring only."""

from __future__ import annotations

import asyncio
import gc
import logging
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DBAPIError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import Receive, Scope, Send

from seba.accounts import api as accounts_api
from seba.accounts import pages as accounts_pages
from seba.accounts.bearer import current_principal
from seba.ambulances import api as ambulances_api
from seba.ambulances import board_pages as ambulance_board
from seba.ambulances import fleet_pages as ambulance_fleet
from seba.ambulances import pages as ambulance_pages
from seba.beds import api as beds_api
from seba.beds import census_pages, hospital_pages
from seba.beds import pages as beds_pages
from seba.beds.refresh import keeper as availability_keeper
from seba.core import health, http
from seba.core.errors import DomainError
from seba.core.fast_path import PublicFastPath
from seba.core.headers import SecurityHeaders, api_headers, page_headers
from seba.core.limits import KB, BodyLimit, RouteClass
from seba.core.openapi import document_errors
from seba.core.runtime import Runtime, build_runtime
from seba.helpline import answer_admin_pages as helpline_answer_admin_pages
from seba.helpline import api as helpline_api
from seba.helpline import callback_pages as helpline_callback_pages
from seba.helpline import counselling_pages as helpline_counselling_pages
from seba.helpline import counsellor_pages as helpline_counsellor_pages
from seba.helpline import number_admin_pages as helpline_number_admin_pages
from seba.helpline import pages as helpline_pages
from seba.helpline import queries as helpline_queries
from seba.helpline import staff_pages as helpline_staff_pages
from seba.notifications import api as notifications_api
from seba.patients import api as patients_api
from seba.places import api as places_api
from seba.places import pages as places_pages
from seba.places import service as place_service
from seba.referrals import api as referrals_api
from seba.referrals import pages as referral_pages
from seba.settings import Settings, get_settings
from seba.telemedicine import api as telemedicine_api
from seba.telemedicine import pages as telemedicine_pages
from seba.telemedicine.calls import api as calls_api
from seba.web import api_docs
from seba.web import errors as web_errors
from seba.web.assets import ASSETS

# Every JSON body and form of the app is far smaller: a prescription of 20 medicines with
# findings and advice is under 16 KB.
JSON_AND_FORMS_MAX_BYTES = 64 * KB
# Public views answered by ``http.cached_response`` that depend on nothing but path and query
# (no caller, cookie or language): the fast path may answer them from their stored bytes.
PUBLIC_VIEWS = (
    "/api/v1/beds/availability",
    "/api/v1/districts",
    "/api/v1/facilities/{facility_id}",
)


class SebaApp(FastAPI):
    """FastAPI with the public fast path (``core/fast_path.py``) in front of everything.

    A hit is answered before FastAPI's own per-request work (telemetry checks, middleware,
    routing, dependencies, validation), which costs many times more than sending the bytes.
    """

    fast_path: PublicFastPath | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self.fast_path is not None and await self.fast_path.answer(scope, send):
            return
        await super().__call__(scope, receive, send)


def create_app(settings: Settings | None = None, runtime: Runtime | None = None) -> FastAPI:
    settings = settings or get_settings()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        rt = runtime or build_runtime(settings)
        app.state.runtime = rt
        await rt.start()
        # What start-up built (modules, the app, templates: ~170,000 objects) lives as long as
        # the process: leave it out of garbage collections, whose full passes otherwise hold
        # the event loop for 100+ ms on this machine (measured by the loop probe).
        gc.collect()
        gc.freeze()
        availability_keeper(rt).start()
        # The footer's helpline numbers: this process's copy, re-read once a minute.
        footer = asyncio.create_task(helpline_queries.keep_footer(rt))
        worker = None
        if settings.worker_in_process:
            from seba.notifications.worker import run_worker

            stop = asyncio.Event()
            worker = asyncio.create_task(run_worker(rt, stop=stop))
        try:
            yield
        finally:
            footer.cancel()
            if worker is not None:
                stop.set()
                await worker
            if runtime is None:
                await rt.close()

    app = SebaApp(
        title="Seba (সেবা)",
        version="0.1.0",
        description="West Bengal's public-health service platform: live bed availability, "
        "central referral, teleconsultation. Errors always have the shape "
        '`{"error": {"code", "message", "details"}}`.',
        lifespan=lifespan,
        # The reference and its document are ours (web/api_docs.py): offline, staff-only in
        # production.
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
    )
    if runtime is not None:
        app.state.runtime = runtime
    # A page in the reader's language for browser paths, JSON for the API (``web/errors.py``).
    app.add_exception_handler(DomainError, web_errors.domain_error_handler)
    app.add_exception_handler(RequestValidationError, web_errors.validation_error_handler)
    app.add_exception_handler(StarletteHTTPException, web_errors.http_error_handler)
    # Handled here, inside Starlette's error middleware, so a handled database error is not
    # re-raised and logged as a traceback by the server.
    app.add_exception_handler(DBAPIError, web_errors.database_error_handler)
    app.add_exception_handler(OSError, web_errors.database_error_handler)
    app.add_exception_handler(Exception, web_errors.unhandled_error_handler)

    @app.get("/healthz", tags=["ops"], summary="Liveness: the process answers")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get(
        "/readyz",
        tags=["ops"],
        summary="Readiness: the database (503 if unreachable), Redis, the worker's heartbeat",
        response_model=health.ReadinessOut,
        responses={
            503: {"description": "Not ready: the checks say why", "model": health.ReadinessOut}
        },
    )
    async def readyz() -> JSONResponse:
        rt = app.state.runtime
        state = await health.readiness(rt.db, rt.redis)
        return JSONResponse(
            {"ready": state.ready, "checks": state.checks},
            status_code=200 if state.ready else 503,
            headers={"Cache-Control": "no-store"},
        )

    app.include_router(accounts_api.router)
    app.include_router(beds_api.router)
    app.include_router(places_api.router)
    app.include_router(referrals_api.router)
    app.include_router(notifications_api.router)
    app.include_router(patients_api.router)
    app.include_router(telemedicine_api.router)
    app.include_router(calls_api.router)
    app.include_router(ambulances_api.router)
    app.include_router(calls_api.sockets)
    app.include_router(helpline_api.router)
    app.include_router(beds_pages.router)
    app.include_router(hospital_pages.router)
    app.include_router(accounts_pages.router)
    app.include_router(places_pages.router)
    app.include_router(census_pages.router)
    app.include_router(referral_pages.router)
    app.include_router(telemedicine_pages.router)
    app.include_router(ambulance_pages.router)
    app.include_router(ambulance_board.router)
    app.include_router(ambulance_fleet.router)
    app.include_router(helpline_pages.router)
    app.include_router(helpline_callback_pages.router)
    app.include_router(helpline_counselling_pages.router)
    app.include_router(helpline_staff_pages.router)
    app.include_router(helpline_counsellor_pages.router)
    app.include_router(helpline_number_admin_pages.router)
    app.include_router(helpline_answer_admin_pages.router)
    api_docs.install(app)
    app.mount("/static", ASSETS, name="static")
    # Every error each route can answer, in the one error shape (``core/openapi.py``).
    document_errors(app, authenticated=(current_principal,), database=(http.get_runtime,))
    app.add_middleware(
        BodyLimit,
        default_bytes=JSON_AND_FORMS_MAX_BYTES,
        classes=(
            # A photo or PDF for a consult, with room for the multipart envelope.
            RouteClass.of(
                r"^/api/v1/consultations/\d+/attachments$",
                settings.attachment_max_bytes + 64 * KB,
            ),
            # A facility CSV; the page refuses a declared oversize itself with its reason.
            # A facility CSV: the route refuses one over its limit itself, with its reason.
            RouteClass.of(r"^/api/v1/facilities/import$", place_service.MAX_IMPORT_BYTES + 64 * KB),
            RouteClass.of(r"^/api/v1/ambulances/import$", place_service.MAX_IMPORT_BYTES + 64 * KB),
            RouteClass.of(r"^/staff/facilities/import$", 2 * places_pages.MAX_IMPORT_BODY),
        ),
    )
    https_only = settings.env == "prod"
    app.add_middleware(SecurityHeaders, https_only=https_only)

    def running() -> Runtime:
        return app.state.runtime

    app.fast_path = PublicFastPath(
        paths=PUBLIC_VIEWS,
        versions=lambda: running().reads,
        extra_headers=api_headers(https_only=https_only),
        page_headers=page_headers(https_only=https_only),
        # Answered from memory whatever the query: "near me" from any location, and the
        # page (and its live-refreshed results) in the reader's language.
        computed={
            "/api/v1/beds/availability": lambda scope: beds_api.fast_near(running(), scope),
            "/": lambda scope: beds_pages.fast_answer(running(), scope),
            "/beds/list": lambda scope: beds_pages.fast_answer(running(), scope),
        },
    )
    return app


def asgi() -> FastAPI:
    """Entry point for the ASGI server (``seba serve``): settings from the environment."""
    return create_app()
