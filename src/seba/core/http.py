"""FastAPI glue shared by every domain: the runtime, the caller, the language, error answers."""

from __future__ import annotations

import errno
import json
import logging
from typing import Any

from fastapi import Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from seba.core import fast_path
from seba.core.errors import DomainError
from seba.core.i18n import gettext, negotiate
from seba.core.response_cache import CachedBody, accepts_gzip, etag_matches
from seba.core.runtime import Runtime

log = logging.getLogger(__name__)
LANG_COOKIE = "seba_lang"
SESSION_COOKIE = "seba_session"


def runtime_of(request: Request) -> Runtime:
    return request.app.state.runtime


async def get_runtime(request: Request) -> Runtime:
    """The dependency form. ``async`` on purpose: FastAPI runs a plain ``def`` dependency in
    its thread pool, a hand-off and two thread switches on every request for an attribute read.
    """
    return request.app.state.runtime


def request_language(request: Request) -> str:
    """Bengali unless the person chose English (``?lang=``, remembered in a cookie).

    Pages ignore Accept-Language: many phones in West Bengal are set to en-US by default, and
    Bengali first is the point. API clients state their language with Accept-Language.
    """
    accept = (
        request.headers.get("accept-language") if request.url.path.startswith("/api/") else None
    )
    return negotiate(request.cookies.get(LANG_COOKIE), accept, request.query_params.get("lang"))


def bearer_token(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() == "bearer" and token.strip():
        return token.strip()
    return None


def error_body(lang: str, code: str, message: str, details: Any = None, **params: Any) -> dict:
    return {
        "error": {
            "code": code,
            "message": gettext(lang, message, **params),
            "details": translate_reasons(lang, details),
        }
    }


def translate_reasons(lang: str, details: Any) -> Any:
    """Per-item reasons in ``details`` that carry their ``msgid`` and ``params`` (e.g. each
    refused medicine of a prescription) are answered in the request's language too."""
    if isinstance(details, list):
        return [translate_reasons(lang, d) for d in details]
    if isinstance(details, dict):
        out = {k: translate_reasons(lang, v) for k, v in details.items()}
        if isinstance(details.get("msgid"), str) and "reason" in details:
            out["reason"] = gettext(lang, details["msgid"], **(details.get("params") or {}))
        return out
    return details


def _json(status: int, body: dict, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse(body, status_code=status, headers=headers)


async def domain_error_handler(request: Request, exc: DomainError) -> Response:
    lang = request_language(request)
    headers = {"WWW-Authenticate": "Bearer"} if exc.status_code == 401 else None
    if exc.status_code == 429 and isinstance(exc.details, dict) and "retry_after_s" in exc.details:
        headers = {"Retry-After": str(exc.details["retry_after_s"])}
    return _json(
        exc.status_code,
        error_body(lang, exc.code, exc.message, exc.details, **exc.params),
        headers,
    )


# A body with thousands of wrong keys gets the first few explained, not a megabyte of errors:
# the answer stays small whatever was sent.
MAX_FIELD_ERRORS = 20
MAX_ERROR_TEXT = 200


def _clean_validation_errors(errors: list[dict[str, Any]]) -> list[dict[str, Any]]:
    cleaned = []
    for err in errors[:MAX_FIELD_ERRORS]:
        field = ".".join(str(p) for p in err.get("loc", ()) if p not in ("body", "query"))
        item = {
            "field": field[:MAX_ERROR_TEXT],
            "type": err.get("type"),
            "message": str(err.get("msg", "")).removeprefix("Value error, ")[:MAX_ERROR_TEXT],
        }
        cleaned.append(item)
    if len(errors) > MAX_FIELD_ERRORS:
        more = len(errors) - MAX_FIELD_ERRORS
        cleaned.append({"field": "", "type": "more_errors", "message": f"{more} more"})
    # Inputs may hold anything (bytes, NaN); make sure the answer is always JSON.
    return json.loads(json.dumps(cleaned, default=str))


async def validation_error_handler(request: Request, exc: RequestValidationError) -> Response:
    lang = request_language(request)
    return _json(
        422,
        error_body(
            lang,
            "validation_failed",
            "Some fields are not valid.",
            _clean_validation_errors(list(exc.errors())),
        ),
    )


_HTTP_CODES = {
    404: ("not_found", "Not found."),
    405: ("method_not_allowed", "This method is not allowed here."),
    400: ("bad_request", "The request could not be processed."),
    413: ("too_large", "The request is too large."),
}


async def http_error_handler(request: Request, exc: StarletteHTTPException) -> Response:
    lang = request_language(request)
    code, message = _HTTP_CODES.get(
        exc.status_code, ("http_error", "The request could not be processed.")
    )
    return _json(exc.status_code, error_body(lang, code, message), getattr(exc, "headers", None))


# PostgreSQL refuses some text SQLite takes (a NUL character, invalid byte sequences). Schemas
# refuse NUL where we know of it; this is the net under every other free-text field: the
# transaction has rolled back, so the answer is a clean 422, never a 500.
_BAD_TEXT_SQLSTATES = {"22021", "22P05"}


def bad_text(exc: Exception) -> bool:
    return getattr(getattr(exc, "orig", None), "sqlstate", None) in _BAD_TEXT_SQLSTATES


# A transaction that lost a race inside the database (deadlock victim, serialization failure,
# lock wait cut off; SQLite's busy timeout) has rolled back whole: nothing was written and the
# same request will most likely succeed a moment later. Lock order is designed so these do not
# happen; this is the net, and it says "try again" rather than "we broke".
_TRANSIENT_SQLSTATES = {"40P01", "40001", "55P03"}


def transient_conflict(exc: Exception) -> bool:
    orig = getattr(exc, "orig", None)
    if getattr(orig, "sqlstate", None) in _TRANSIENT_SQLSTATES:
        return True
    return "database is locked" in str(orig or "")


# The database cannot be reached right now (stopped, restarting, failing over, the network
# between): connection refused or reset, or PostgreSQL saying it is not accepting connections.
_UNREACHABLE_ERRNOS = {
    errno.ECONNREFUSED,
    errno.ECONNRESET,
    errno.ECONNABORTED,
    errno.ETIMEDOUT,
    errno.EHOSTUNREACH,
    errno.ENETUNREACH,
    errno.EPIPE,
}
_UNREACHABLE_SQLSTATES = {"57P01", "57P02", "57P03", "08000", "08001", "08003", "08004", "08006"}
RETRY_AFTER_UNAVAILABLE_S = 5


def _chain(exc: BaseException):
    seen: set[int] = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        yield exc
        exc = exc.__cause__ or getattr(exc, "orig", None) or exc.__context__


def database_unreachable(exc: BaseException) -> bool:
    for link in _chain(exc):
        if isinstance(link, OSError) and link.errno in _UNREACHABLE_ERRNOS:
            return True
        if isinstance(link, ConnectionError | TimeoutError):
            return True
        if getattr(link, "connection_invalidated", False):
            return True
        if getattr(link, "sqlstate", None) in _UNREACHABLE_SQLSTATES:
            return True
        if type(link).__name__ in ("InterfaceError", "ConnectionDoesNotExistError"):
            return True
    return False


async def database_error_handler(request: Request, exc: Exception) -> Response:
    """Errors of the database and the network to it, answered without a traceback: the
    transaction rolled back whole, so each is an honest answer, not a crash.

    Text PostgreSQL refuses → 422; a race lost (deadlock, serialization, SQLite busy) → 503
    ``try_again`` in a second; the database unreachable → 503 ``try_again`` in a few seconds
    (a load balancer or the client retries; nothing was half-written). Anything else is a bug:
    500 with the traceback in the log.
    """
    lang = request_language(request)
    if bad_text(exc):
        return _json(
            422,
            error_body(
                lang, "invalid_text", "Text must not contain control characters such as NUL."
            ),
        )
    busy = error_body(lang, "try_again", "The system is busy. Please try again in a moment.")
    if transient_conflict(exc):
        log.warning(
            "transient database conflict on %s %s: %s",
            getattr(request, "method", "WEBSOCKET"),
            request.url.path,
            type(getattr(exc, "orig", exc)).__name__,
        )
        return _json(503, busy, {"Retry-After": "1"})
    if database_unreachable(exc):
        # The driver's first line only: the SQL and its parameters may carry patient data.
        cause = str(getattr(exc, "orig", None) or exc).splitlines()[0][:200]
        method = getattr(request, "method", "WEBSOCKET")
        log.warning("database unreachable on %s %s: %s", method, request.url.path, cause)
        return _json(503, busy, {"Retry-After": str(RETRY_AFTER_UNAVAILABLE_S)})
    return await unhandled_error_handler(request, exc)


async def unhandled_error_handler(request: Request, exc: Exception) -> Response:
    if bad_text(exc) or transient_conflict(exc) or database_unreachable(exc):
        # Reached through a wrapper the specific handler did not see (e.g. an ExceptionGroup).
        return await database_error_handler(request, exc)
    # A WebSocket has no method: its handshake was a GET.
    method = getattr(request, "method", "WEBSOCKET")
    log.exception("unhandled error on %s %s", method, request.url.path)
    return _json(
        500,
        error_body(
            request_language(request),
            "internal_error",
            "Something went wrong on our side. Please try again.",
        ),
    )


def cached_response(
    request: Request, entry: CachedBody, media_type: str = "application/json"
) -> Response:
    """Answer from stored bytes: 304 on a matching ETag, gzip when the client takes it.

    On a public path the fast path (``core/fast_path.py``) learns here which entry answers this
    exact URL, and answers the next GET of it with the same bytes and headers by itself.
    """
    fast_path.remember(request.scope, entry, media_type)
    headers = {
        "ETag": entry.etag,
        "Cache-Control": "no-cache",
        "Vary": "Accept-Encoding",
    }
    if etag_matches(entry.etag, request.headers.get("if-none-match")):
        return Response(status_code=304, headers=headers)
    if accepts_gzip(request.headers.get("accept-encoding")):
        headers["Content-Encoding"] = "gzip"
        return Response(entry.gzip_body, media_type=media_type, headers=headers)
    return Response(entry.body, media_type=media_type, headers=headers)
