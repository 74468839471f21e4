"""Error answers for people: a page in their language for browser paths, JSON for programs.

The core handlers (``core/http.py``) decide the status, code, message and headers of every
error; this module only chooses the form. A person who follows a stale link or mistypes an
address gets a Seba page with a way on (the bed list, the helpline), not raw JSON.

JSON stays for the API (``/api/``), the machine endpoints (health, OpenAPI, docs, static
files) and any client that asks for JSON without also accepting HTML.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable

from fastapi import Request
from fastapi.responses import Response

from seba.core import http
from seba.core.headers import api_headers, page_headers
from seba.web.render import render

log = logging.getLogger(__name__)
MACHINE_PREFIXES = (
    "/api/",
    "/ws/",
    "/static/",
    "/docs",
    "/redoc",
    "/openapi.json",
    "/healthz",
    "/readyz",
)
# Headers of the JSON answer that still mean something on the page.
_KEPT_HEADERS = ("retry-after", "allow", "www-authenticate")
# What a person sees first, by status; the message from the error itself follows.
TITLES = {
    400: "This request could not be understood",
    401: "Please log in",
    403: "You cannot open this page",
    404: "Page not found",
    405: "This page cannot be used that way",
    409: "This has changed in the meantime",
    413: "What was sent is too large",
    422: "Some details are not right",
    429: "Too many tries",
    500: "Something went wrong on our side",
    503: "The service is busy",
}


def wants_page(request: Request) -> bool:
    """A browser path whose client takes HTML (browsers, and clients that take anything)."""
    if request.url.path.startswith(MACHINE_PREFIXES):
        return False
    accept = request.headers.get("accept", "")
    return not accept or "text/html" in accept or "*/*" in accept


Handler = Callable[[Request, Exception], Awaitable[Response]]


def as_page(handler: Handler) -> Handler:
    """``handler``'s answer as a page when a person asked; unchanged otherwise."""

    async def answer(request: Request, exc: Exception) -> Response:
        response = _secured(request, await handler(request, exc))
        if not wants_page(request) or response.media_type != "application/json":
            return response
        try:
            error = json.loads(bytes(response.body))["error"]
        except (ValueError, KeyError, TypeError):
            return response
        status = response.status_code
        try:
            page = render(
                request,
                "error.html",
                status_code=status,
                status=status,
                title=TITLES.get(status, TITLES[400 if status < 500 else 500]),
                error=error,
                signed_in=http.SESSION_COOKIE in request.cookies,
            )
        except Exception:  # the error must still be answered: in its JSON form
            log.exception("error page could not be rendered")
            return response
        for name in _KEPT_HEADERS:
            if name in response.headers:
                page.headers[name] = response.headers[name]
        # An error page is about this moment: never cached, by browsers or proxies.
        page.headers["Cache-Control"] = "no-store"
        return _secured(request, page)

    return answer


def _secured(request: Request, response: Response) -> Response:
    """The security headers, on answers that bypass the middleware: an unhandled error is
    answered by Starlette's outermost layer, outside ``SecurityHeaders``."""
    settings = getattr(getattr(request.app.state, "runtime", None), "settings", None)
    https_only = getattr(settings, "env", None) == "prod"
    html = response.media_type == "text/html"
    wanted = (page_headers if html else api_headers)(https_only=https_only)
    for name, value in wanted:
        if name.decode() not in response.headers:
            response.headers[name.decode()] = value.decode()
    return response


domain_error_handler = as_page(http.domain_error_handler)
validation_error_handler = as_page(http.validation_error_handler)
http_error_handler = as_page(http.http_error_handler)
database_error_handler = as_page(http.database_error_handler)
unhandled_error_handler = as_page(http.unhandled_error_handler)
