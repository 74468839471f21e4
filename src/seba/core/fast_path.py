"""Answer hot public GETs from their stored bytes without entering FastAPI.

A public view (``core/response_cache.py``) depends on nothing but its path, its query string
and the data version. The first request for a URL goes through FastAPI as usual: the route
validates the input, finds or builds the entry and answers with ``http.cached_response``, which
also hands the entry to this fast path under the exact path and raw query string. The next GET
of that URL is answered here, in front of FastAPI's middleware, routing, dependencies and
validation: a data-version check (``versions.current``, as the route does on every request;
requests of one event-loop turn share one read, see ``SharedReads``), then the stored bytes with
the same headers as ``cached_response`` (ETag and 304, the gzip copy when the client takes gzip).

Everything else goes to FastAPI untouched: a URL not seen yet, a moved data version (a census
changed: the very next request on every worker rebuilds), an expired entry, any other method. So
bad input still gets the route's 422, and nothing is answered here that the route has not
answered itself for the same URL at the same data version.

Only the paths the app lists are eligible; list only views that depend on nothing but path and
query (no caller, no cookie, no language).

**Computed answers.** Some views vary per request too much for stored URLs to help: a list
"near" each phone's own location is a new URL every time, and a page depends on the language
cookie. For those the app registers a ``Computed`` function per path: it reads the query (and
the language cookie) exactly as the route would and answers from the domain's memory (for
beds, the in-memory availability at the request's data version, or later), or returns None when
anything is unusual, and the route answers as before (its 422s included). Tests hold each such
function to the route's answer for the same request.
"""

from __future__ import annotations

import re
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass

from starlette.types import Scope, Send

from seba.core.response_cache import CachedBody, accepts_gzip, etag_matches
from seba.core.versions import VersionSource, shared

# Set on a request the fast path passed on, so that ``remember`` can keep the route's answer.
SCOPE_KEY = "seba.fast_path"

Headers = tuple[tuple[bytes, bytes], ...]
RequestKey = tuple[str, bytes]


@dataclass(frozen=True, slots=True)
class Reply:
    """A computed answer: the entry, its media type and its ``Vary`` header."""

    entry: CachedBody
    media_type: str = "application/json"
    vary: bytes = b"Accept-Encoding"


Computed = Callable[[Scope], Awaitable[Reply | None]]


@dataclass(frozen=True, slots=True)
class StoredAnswer:
    """One entry with its three header sets, built once."""

    entry: CachedBody
    plain: Headers
    gzipped: Headers
    not_modified: Headers

    def headers(self, kind: str) -> Headers:
        return {"plain": self.plain, "gzip": self.gzipped, "304": self.not_modified}[kind]


def _validators(entry: CachedBody, vary: bytes) -> Headers:
    return (
        (b"etag", entry.etag.encode("latin-1")),
        (b"cache-control", b"no-cache"),
        (b"vary", vary),
    )


def _content_headers(
    entry: CachedBody, media_type: str, extra: Headers, vary: bytes, *, gzipped: bool
) -> Headers:
    # The headers Starlette's Response writes for ``http.cached_response``, in its order.
    content_type = media_type
    if media_type.startswith("text/") and "charset=" not in media_type.lower():
        content_type += "; charset=utf-8"
    body = entry.gzip_body if gzipped else entry.body
    return (
        *_validators(entry, vary),
        *(((b"content-encoding", b"gzip"),) if gzipped else ()),
        (b"content-length", str(len(body)).encode()),
        (b"content-type", content_type.encode("latin-1")),
        *extra,
    )


def stored_answer(entry: CachedBody, media_type: str, extra: Headers = ()) -> StoredAnswer:
    vary = b"Accept-Encoding"
    return StoredAnswer(
        entry=entry,
        plain=_content_headers(entry, media_type, extra, vary, gzipped=False),
        gzipped=_content_headers(entry, media_type, extra, vary, gzipped=True),
        not_modified=(*_validators(entry, vary), *extra),
    )


def _path_pattern(paths: Iterable[str]) -> re.Pattern[str]:
    """Route paths (``/api/v1/facilities/{facility_id}``) as one regex, a parameter per segment."""
    parts = [re.sub(r"\\\{[^/]*?\\\}", "[^/]+", re.escape(p)) for p in paths]
    return re.compile("(?:" + "|".join(parts) + ")")


class PublicFastPath:
    """Stored answers for exact public URLs; the app calls ``answer`` before anything else."""

    def __init__(
        self,
        *,
        paths: Iterable[str],
        versions: Callable[[], VersionSource],
        max_entries: int = 1024,
        extra_headers: Headers = (),
        page_headers: Headers = (),
        computed: Mapping[str, Computed] | None = None,
    ) -> None:
        # Sent with every stored answer (the security headers the middleware adds elsewhere);
        # an HTML answer gets the page's (its content security policy differs).
        self._extra = tuple(extra_headers)
        self._page_extra = tuple(page_headers)
        self._computed = dict(computed or {})
        self._eligible = _path_pattern(paths).fullmatch
        self._get_versions = versions
        self._versions: VersionSource | None = None
        self._max = max_entries
        self._answers: dict[RequestKey, StoredAnswer] = {}

    async def answer(self, scope: Scope, send: Send) -> bool:
        """Answer the request from a stored entry if it may; True when it has."""
        if scope["type"] != "http" or scope["method"] != "GET":
            return False
        key = (scope["path"], scope["query_string"])
        stored = self._answers.get(key)
        if stored is not None and await self._send_stored(stored, key, scope, send):
            return True
        compute = self._computed.get(scope["path"])
        if compute is not None:
            try:
                reply = await compute(scope)
            except Exception:
                reply = None  # the route answers, or reports the failure its usual way
            if reply is not None:
                await self._send_reply(reply, scope, send)
                return True
        if self._eligible(scope["path"]):
            scope[SCOPE_KEY] = (self, key)
        return False

    async def _send_stored(
        self, stored: StoredAnswer, key: RequestKey, scope: Scope, send: Send
    ) -> bool:
        entry = stored.entry
        try:
            if self._versions is None:
                self._versions = shared(self._get_versions())
            current = await self._versions.current(entry.source)
        except Exception:
            return False  # the route answers, or reports the failure its usual way
        if entry.version < current:
            self._forget(entry.source, current)
            return False
        if entry.expires_at <= time.monotonic():
            if self._answers.get(key) is stored:
                del self._answers[key]
            return False
        await _send(stored.entry, stored.headers, scope, send)
        return True

    async def _send_reply(self, reply: Reply, scope: Scope, send: Send) -> None:
        html = reply.media_type.startswith("text/html")

        def headers(kind: str) -> Headers:
            # Only the set this answer needs: a one-off answer is sent once, and its gzip
            # copy is made only for a client that takes gzip.
            if kind == "304":
                # A 304 has no content type: the middleware gives it the API's headers.
                return (*_validators(reply.entry, reply.vary), *self._extra)
            return _content_headers(
                reply.entry,
                reply.media_type,
                self._page_extra if html else self._extra,
                reply.vary,
                gzipped=kind == "gzip",
            )

        await _send(reply.entry, headers, scope, send)

    def _forget(self, source: str, current: int) -> None:
        """The data moved on: drop every answer built from another version of it."""
        self._answers = {
            k: a
            for k, a in self._answers.items()
            if a.entry.source != source or a.entry.version >= current
        }

    def store(self, key: RequestKey, entry: CachedBody, media_type: str) -> None:
        if not entry.source:
            return  # not tied to a data version: nothing to check it against
        if key not in self._answers and len(self._answers) >= self._max:
            # Bounded against floods of distinct query strings; the oldest goes first.
            del self._answers[next(iter(self._answers))]
        self._answers[key] = stored_answer(entry, media_type, self._extra)


def remember(scope: Scope, entry: CachedBody, media_type: str) -> None:
    """Keep ``entry`` as the answer to this request's exact URL, if the fast path asked for it.

    Called by ``http.cached_response`` once the route has validated the request and found the
    entry: the fast path answers the next GET of the same path and query string from it.
    """
    marker = scope.get(SCOPE_KEY)
    if marker is not None:
        fast_path, key = marker
        fast_path.store(key, entry, media_type)


async def _send(
    entry: CachedBody, headers: Callable[[str], Headers], scope: Scope, send: Send
) -> None:
    """304 on a matching ETag, the gzip copy when the client takes gzip, else the bytes."""
    if_none_match = accept_encoding = None
    for name, value in scope["headers"]:
        # The first of repeated headers counts, as with Starlette's ``request.headers``.
        if name == b"if-none-match":
            if if_none_match is None:
                if_none_match = value.decode("latin-1")
        elif name == b"accept-encoding" and accept_encoding is None:
            accept_encoding = value.decode("latin-1")
    if etag_matches(entry.etag, if_none_match):
        status, kind, body = 304, "304", b""
    elif accepts_gzip(accept_encoding):
        status, kind, body = 200, "gzip", entry.gzip_body
    else:
        status, kind, body = 200, "plain", entry.body
    await send({"type": "http.response.start", "status": status, "headers": list(headers(kind))})
    await send({"type": "http.response.body", "body": body})
