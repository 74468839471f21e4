"""Domain errors and the one JSON error shape.

Services raise these; one handler in ``app.py`` turns them into
``{"error": {"code", "message", "details"}}`` with the matching status. ``message`` is an
English msgid translated into the request's language when answered.
"""

from __future__ import annotations

from typing import Any


class DomainError(Exception):
    status_code = 400
    code = "bad_request"
    message = "The request could not be processed."

    def __init__(
        self,
        message: str | None = None,
        *,
        code: str | None = None,
        details: Any = None,
        params: dict[str, Any] | None = None,
    ) -> None:
        self.message = message or self.message
        self.code = code or self.code
        self.details = details
        self.params = params or {}
        super().__init__(self.message)


class NotFound(DomainError):
    status_code = 404
    code = "not_found"
    message = "Not found."


class Conflict(DomainError):
    status_code = 409
    code = "conflict"
    message = "The request conflicts with the current state."


class PermissionDenied(DomainError):
    status_code = 403
    code = "forbidden"
    message = "You are not allowed to do this."


class NotAuthenticated(DomainError):
    status_code = 401
    code = "not_authenticated"
    message = "Please log in."


class ValidationFailed(DomainError):
    status_code = 422
    code = "validation_failed"
    message = "Some fields are not valid."


class TooManyRequests(DomainError):
    status_code = 429
    code = "too_many_attempts"
    message = "Too many attempts. Please wait and try again."
