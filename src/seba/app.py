"""Application factory: routers, error handlers, lifespan. Wiring only."""

from __future__ import annotations

import logging
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI
from fastapi.exceptions import RequestValidationError
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException

from seba.accounts import api as accounts_api
from seba.accounts import pages as accounts_pages
from seba.beds import api as beds_api
from seba.beds import pages as beds_pages
from seba.core import http
from seba.core.errors import DomainError
from seba.core.runtime import Runtime, build_runtime
from seba.places import api as places_api
from seba.places import pages as places_pages
from seba.settings import Settings, get_settings

STATIC_DIR = Path(__file__).resolve().parent / "web" / "static"


def create_app(settings: Settings | None = None, runtime: Runtime | None = None) -> FastAPI:
    settings = settings or get_settings()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        rt = runtime or build_runtime(settings)
        app.state.runtime = rt
        await rt.start()
        try:
            yield
        finally:
            if runtime is None:
                await rt.close()

    app = FastAPI(
        title="Seba (সেবা)",
        version="0.1.0",
        description="West Bengal's public-health service platform: live bed availability, "
        "central referral, teleconsultation. Errors always have the shape "
        '`{"error": {"code", "message", "details"}}`.',
        lifespan=lifespan,
    )
    if runtime is not None:
        app.state.runtime = runtime
    app.add_exception_handler(DomainError, http.domain_error_handler)
    app.add_exception_handler(RequestValidationError, http.validation_error_handler)
    app.add_exception_handler(StarletteHTTPException, http.http_error_handler)
    app.add_exception_handler(Exception, http.unhandled_error_handler)

    @app.get("/healthz", tags=["ops"])
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    app.include_router(accounts_api.router)
    app.include_router(beds_api.router)
    app.include_router(places_api.router)
    app.include_router(beds_pages.router)
    app.include_router(accounts_pages.router)
    app.include_router(places_pages.router)
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    return app


def asgi() -> FastAPI:
    """Entry point for the ASGI server (``seba serve``): settings from the environment."""
    return create_app()
