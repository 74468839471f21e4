"""Staff page sessions: the session cookie, the page principal, CSRF, and the staff route class.

A page session is the same opaque token the API hands out (``account_service.issue_token``),
kept in an HttpOnly cookie. The token is checked on every request, as the API's bearer token
is (``accounts/principals.py``: a worker's cache, invalidated on every worker by logout and
account changes, else the database), so logout and expiry end a page session at once.

CSRF: every staff POST form carries ``csrf``, an HMAC of the session token under
``settings.secret_key`` (``web.csrf``, which also guards the login and citizen forms);
``staff_form`` checks it. ``CsrfRejected`` is importable from here as well as from there.

Staff routers use ``StaffRoute``: a missing or ended session becomes a redirect to the login
page, and a domain error that a page did not handle itself becomes an error page in the user's
language (never the JSON error shape, never a 500).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any
from urllib.parse import urlencode, urlsplit

from fastapi import Depends, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.routing import APIRoute
from starlette.datastructures import FormData
from starlette.exceptions import HTTPException as StarletteHTTPException

from seba.accounts import service as account_service
from seba.core.access import Principal, can, require
from seba.core.errors import (
    DomainError,
    NotAuthenticated,
    NotFound,
    ValidationFailed,
)
from seba.core.http import SESSION_COOKIE, request_language, runtime_of
from seba.core.i18n import gettext, number
from seba.core.runtime import Runtime
from seba.web import csrf
from seba.web.csrf import CsrfRejected as CsrfRejected
from seba.web.render import render

LOGIN_PATH = "/staff/login"
HOME_PATH = "/staff"
# Staff pages outside the console a login may return to (the API reference, web/api_docs.py).
RETURN_PATHS = ("/docs", "/redoc")
ERROR_TEMPLATE = "accounts/error.html"
_HTTP_MESSAGES = {413: "The request is too large."}


class LoginRequired(Exception):
    """No live page session: ``StaffRoute`` answers with a redirect to the login page."""

    def __init__(self, *, expired: bool) -> None:
        self.expired = expired
        super().__init__("login required")


def safe_next(value: object) -> str:
    """Where to go after login: only a path inside the staff console (no open redirect)."""
    if not isinstance(value, str) or "\\" in value:
        return HOME_PATH
    parts = urlsplit(value)
    if parts.scheme or parts.netloc:
        return HOME_PATH
    if not parts.path.startswith(HOME_PATH) and parts.path not in RETURN_PATHS:
        return HOME_PATH
    if parts.path.startswith(LOGIN_PATH):
        return HOME_PATH
    return value


def login_url(next_path: str | None = None, **flags: str) -> str:
    query = {**({"next": next_path} if next_path and next_path != HOME_PATH else {}), **flags}
    return LOGIN_PATH + ("?" + urlencode(query) if query else "")


async def session_principal(request: Request) -> Principal | None:
    """The staff member behind the session cookie, or None (no cookie, or the session ended)."""
    token = request.cookies.get(SESSION_COOKIE)
    if not token:
        return None
    try:
        principal = await account_service.principal_for_token(runtime_of(request), token)
    except NotAuthenticated:
        return None
    request.state.principal = principal
    request.state.session_token = token
    return principal


async def session_alive(rt: Runtime, token: str) -> bool:
    """Whether a page session is still open (for long-lived responses such as event streams)."""
    try:
        await account_service.principal_for_token(rt, token)
    except NotAuthenticated:
        return False
    return True


async def page_principal(request: Request) -> Principal:
    """Dependency for staff pages: the signed-in principal, else a redirect to the login page."""
    principal = await session_principal(request)
    if principal is None:
        raise LoginRequired(expired=SESSION_COOKIE in request.cookies)
    return principal


def permitted(action: str) -> Callable[..., Awaitable[Principal]]:
    """Coarse role gate as a dependency: the page's principal, if its role may take ``action``."""

    async def dependency(principal: Principal = Depends(page_principal)) -> Principal:
        require(principal, action)
        return principal

    return dependency


async def staff_form(
    request: Request, principal: Principal = Depends(page_principal)
) -> AsyncIterator[FormData]:
    """The posted form of a signed-in page, after its CSRF value was checked (403 otherwise)."""
    expected = csrf.staff_token(runtime_of(request).settings, request.state.session_token)
    async with request.form() as form:
        csrf.check(form, expected)
        yield form


def form_text(form: FormData, name: str) -> str:
    """A posted text field; missing, repeated-as-file or non-text values read as empty."""
    value = form.get(name)
    return value if isinstance(value, str) else ""


def start_session(request: Request, response: Response, token: str, max_age: int) -> None:
    response.set_cookie(
        SESSION_COOKIE,
        token,
        max_age=max_age,
        path="/",
        httponly=True,
        samesite="lax",
        secure=csrf.secure_cookies(request),
    )
    csrf.LOGIN.forget(response)


def end_session(request: Request, response: Response) -> None:
    response.delete_cookie(
        SESSION_COOKIE, path="/", httponly=True, samesite="lax", secure=csrf.secure_cookies(request)
    )


def say(request: Request, message: str, **params: Any) -> str:
    """``message`` in the request's language, numbers in its digits (for messages built in
    pages, such as form errors and domain errors)."""
    lang = request_language(request)
    shown = {k: number(v, lang) if isinstance(v, int) else v for k, v in params.items()}
    return gettext(lang, message, **shown)


def render_staff(
    request: Request, template: str, status_code: int = 200, **context: Any
) -> HTMLResponse:
    """Render a console page: the principal, its CSRF value and ``can(action)`` are in scope.

    Staff pages are never stored by browsers or proxies: after logout, Back must not show them.
    """
    principal: Principal | None = getattr(request.state, "principal", None)
    token: str | None = getattr(request.state, "session_token", None)
    response = render(
        request,
        template,
        status_code,
        principal=principal,
        csrf=csrf.staff_token(runtime_of(request).settings, token) if token else "",
        can=lambda action: principal is not None and can(principal, action),
        **context,
    )
    response.headers["Cache-Control"] = "no-store"
    return response


def error_page(request: Request, exc: DomainError) -> HTMLResponse:
    return render_staff(
        request,
        ERROR_TEMPLATE,
        exc.status_code,
        message=say(request, exc.message, **exc.params),
    )


class StaffRoute(APIRoute):
    """Route class for staff pages: redirects to login, and renders errors as pages."""

    def get_route_handler(self) -> Callable[[Request], Awaitable[Response]]:
        handler = super().get_route_handler()

        async def staff_handler(request: Request) -> Response:
            try:
                return await handler(request)
            except LoginRequired as exc:
                flags = {"expired": "1"} if exc.expired else {}
                target = request.url.path if request.method == "GET" else None
                if target and request.url.query:
                    target += "?" + request.url.query
                response = RedirectResponse(login_url(target, **flags), status_code=303)
                if exc.expired:
                    end_session(request, response)
                return response
            except DomainError as exc:
                return error_page(request, exc)
            except RequestValidationError as exc:
                # Pages declare only path and query parameters: a bad path is a page that does
                # not exist, a bad query is a link typed wrong.
                in_path = any(err.get("loc", ("",))[0] == "path" for err in exc.errors())
                return error_page(request, NotFound() if in_path else ValidationFailed())
            except StarletteHTTPException as exc:
                # Malformed or oversized form bodies end up here.
                failed = DomainError(_HTTP_MESSAGES.get(exc.status_code))
                failed.status_code = exc.status_code if 400 <= exc.status_code < 500 else 400
                return error_page(request, failed)

        return staff_handler
