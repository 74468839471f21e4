"""Bounded requests: a body larger than its route class allows is refused before anything
parses it.

A hostile 8 MB JSON body costs the server as much to parse, validate and answer as thousands
of honest requests, and the one event loop serves everyone while it does. So each route class
has a ceiling (JSON and forms small; uploads and imports their own, set where the app is
wired): a declared ``Content-Length`` over it is answered 413 at once, without reading a byte;
a body sent without one (chunked) is counted as it arrives and cut off at the ceiling.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

KB = 1024
MB = 1024 * KB
WITH_BODY = frozenset({"POST", "PUT", "PATCH", "DELETE"})


class BodyTooLarge(HTTPException):
    """Raised while reading a body that passed its ceiling; answered 413 in the error shape (the
    API) or as a page (forms), like any other HTTP error."""

    def __init__(self, limit: int) -> None:
        super().__init__(status_code=413, detail=f"body over {limit} bytes")
        self.limit = limit


@dataclass(frozen=True)
class RouteClass:
    """Paths matching ``pattern`` may send bodies of at most ``max_bytes``."""

    pattern: re.Pattern[str]
    max_bytes: int

    @classmethod
    def of(cls, pattern: str, max_bytes: int) -> RouteClass:
        return cls(re.compile(pattern), max_bytes)


class BodyLimit:
    """ASGI middleware enforcing the ceilings. The first route class whose pattern matches the
    path decides; otherwise ``default_bytes``."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        default_bytes: int,
        classes: Sequence[RouteClass] = (),
    ) -> None:
        self.app = app
        self.default_bytes = default_bytes
        self.classes = tuple(classes)

    def limit_for(self, path: str) -> int:
        for route_class in self.classes:
            if route_class.pattern.match(path):
                return route_class.max_bytes
        return self.default_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope.get("method") not in WITH_BODY:
            await self.app(scope, receive, send)
            return
        limit = self.limit_for(scope.get("path", ""))
        declared = _content_length(scope)
        received = 0

        async def counted() -> Message:
            nonlocal received
            if declared is not None and declared > limit:
                # Refused before a byte is read: the route's error handling answers 413.
                raise BodyTooLarge(limit)
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise BodyTooLarge(limit)
            return message

        await self.app(scope, counted, send)


def _content_length(scope: Scope) -> int | None:
    for name, value in scope.get("headers", ()):
        if name == b"content-length":
            text = value.decode("latin-1").strip()
            return int(text) if text.isdigit() and len(text) <= 18 else None
    return None
