"""CSRF for every form Seba serves: one module, two kinds of proof.

- **Staff forms** (a signed-in session): the form's ``csrf`` value is an HMAC of the session
  token under ``settings.secret_key``. It dies with the session and no other site can compute
  it. ``web.session.staff_form`` checks it.
- **Forms without a session** (the staff login, the family's admission forms): a double-submit
  cookie. The page sets a random value in an HttpOnly cookie scoped to its path and echoes it
  in the form; a cross-site form can neither read the cookie nor set it. The value is signed
  with the server key, so a cookie planted by a neighbouring host (cookie tossing) is refused
  even when the form carries the same value.

Every comparison is constant-time. A refusal is ``CsrfRejected`` (403), shown as a page.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from collections.abc import AsyncIterator
from dataclasses import dataclass

from fastapi import Request
from fastapi.responses import Response
from starlette.datastructures import FormData

from seba.core.errors import PermissionDenied
from seba.core.http import runtime_of
from seba.settings import Settings

FIELD = "csrf"
# A signed cookie value: 43 characters of randomness, a dot, 43 of signature.
MAX_COOKIE_VALUE = 100


class CsrfRejected(PermissionDenied):
    code = "csrf_failed"
    message = "This form has expired or did not come from Seba. Reload the page and try again."


def _mac(settings: Settings, message: str) -> bytes:
    return hmac.new(settings.secret_key.encode(), message.encode(), hashlib.sha256).digest()


def same(sent: object, expected: str | None) -> bool:
    """Whether a posted value equals the expected one, compared in constant time."""
    if not isinstance(sent, str) or not expected:
        return False
    return hmac.compare_digest(sent.encode(), expected.encode())


def check(form: FormData, expected: str | None) -> None:
    """Raise CsrfRejected unless the form's ``csrf`` value is ``expected``."""
    if not same(form.get(FIELD), expected):
        raise CsrfRejected()


def secure_cookies(request: Request) -> bool:
    """Cookies are HTTPS-only in production (a dev server is plain HTTP)."""
    return runtime_of(request).settings.env == "prod"


# ---------------------------------------------------------------- staff forms


def staff_token(settings: Settings, session_token: str) -> str:
    """The CSRF value of every form of one staff session."""
    return _mac(settings, "csrf:" + session_token).hex()


# ---------------------------------------------------------------- forms without a session


@dataclass(frozen=True)
class DoubleSubmit:
    """A double-submit cookie for the forms under ``path``; ``purpose`` goes into the signature,
    so one form's cookie is no good for another's."""

    cookie: str
    path: str
    purpose: str

    def _signature(self, settings: Settings, nonce: str) -> str:
        mac = _mac(settings, f"csrf-cookie:{self.purpose}:{nonce}")
        return base64.urlsafe_b64encode(mac).rstrip(b"=").decode()

    def new_value(self, settings: Settings) -> str:
        nonce = secrets.token_urlsafe(32)
        return f"{nonce}.{self._signature(settings, nonce)}"

    def is_signed(self, settings: Settings, value: str | None) -> bool:
        """Whether ``value`` is one this server issued for this purpose."""
        if not value or len(value) > MAX_COOKIE_VALUE:
            return False
        nonce, dot, signature = value.partition(".")
        if not dot or not nonce:
            return False
        return same(signature, self._signature(settings, nonce))

    def value_for(self, request: Request) -> str:
        """The value for the form: the browser's cookie if this server signed it, else a new one
        (so a page opened in two tabs keeps one value)."""
        settings = runtime_of(request).settings
        value = request.cookies.get(self.cookie)
        return value if self.is_signed(settings, value) else self.new_value(settings)

    def remember(self, request: Request, response: Response, value: str) -> None:
        """Set the cookie along with the page, unless the browser already holds this value."""
        if request.cookies.get(self.cookie) == value:
            return
        response.set_cookie(
            self.cookie,
            value,
            path=self.path,
            httponly=True,
            samesite="lax",
            secure=secure_cookies(request),
        )

    def forget(self, response: Response) -> None:
        response.delete_cookie(self.cookie, path=self.path)

    async def form(self, request: Request) -> AsyncIterator[FormData]:
        """Dependency: the posted form, if its value matches the signed cookie (403 otherwise)."""
        cookie = request.cookies.get(self.cookie)
        async with request.form() as form:
            if not self.is_signed(runtime_of(request).settings, cookie):
                raise CsrfRejected()
            check(form, cookie)
            yield form


LOGIN = DoubleSubmit(cookie="seba_login_csrf", path="/staff/login", purpose="login")
CITIZEN = DoubleSubmit(cookie="seba_admission_csrf", path="/admission", purpose="admission")
# The helpline's "call me back" form (no session either).
CALLBACK = DoubleSubmit(cookie="seba_callback_csrf", path="/callback", purpose="callback")
