"""Serialise a public view once per data version; serve the stored bytes.

Each entry holds the JSON bytes, a pre-compressed gzip copy and an ETag. The cache is tied to
one data version (``core/versions.py``): when a write moves the version, the next request
empties the cache, so a change is visible on the very next request on every worker. An entry
also expires by time when its view would change on its own (a census turning stale).
"""

from __future__ import annotations

import asyncio
import gzip
import hashlib
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from seba.core.versions import VersionSource


@dataclass(frozen=True)
class CachedBody:
    body: bytes
    gzip_body: bytes
    etag: str
    expires_at: float  # time.monotonic()
    # The data version the bytes were built at (name and number, read before the build): the
    # fast path (core/fast_path.py) serves them only while that is still the current version.
    source: str = ""
    version: int = 0


def make_cached(body: bytes, ttl_s: float, *, source: str = "", version: int = 0) -> CachedBody:
    return CachedBody(
        body=body,
        gzip_body=gzip.compress(body, compresslevel=6, mtime=0),
        etag='"' + hashlib.blake2b(body, digest_size=12).hexdigest() + '"',
        expires_at=time.monotonic() + ttl_s,
        source=source,
        version=version,
    )


def etag_matches(etag: str, if_none_match: str | None) -> bool:
    """Whether an ``If-None-Match`` value names this ETag (or ``*``): answer 304."""
    if not if_none_match:
        return False
    return if_none_match.strip() == "*" or etag in {t.strip() for t in if_none_match.split(",")}


def accepts_gzip(accept_encoding: str | None) -> bool:
    return "gzip" in (accept_encoding or "")


Builder = Callable[[], Awaitable[tuple[bytes, float]]]


class ResponseCache:
    def __init__(self, versions: VersionSource, name: str, max_entries: int = 512) -> None:
        self._versions = versions
        self._name = name
        self._max = max_entries
        self._version: int | None = None
        self._entries: OrderedDict[str, CachedBody] = OrderedDict()
        self._building: dict[str, asyncio.Future[CachedBody]] = {}

    async def get(self, key: str, build: Builder) -> CachedBody:
        version = await self._versions.current(self._name)
        if version != self._version:
            self._entries.clear()
            self._building.clear()
            self._version = version
        entry = self._entries.get(key)
        if entry is not None and entry.expires_at > time.monotonic():
            self._entries.move_to_end(key)
            return entry
        pending = self._building.get(key)
        if pending is not None:
            return await asyncio.shield(pending)
        future: asyncio.Future[CachedBody] = asyncio.get_running_loop().create_future()
        self._building[key] = future
        try:
            body, ttl_s = await build()
            entry = make_cached(body, ttl_s, source=self._name, version=version)
            future.set_result(entry)
        except BaseException as exc:
            future.set_exception(exc)
            future.exception()  # mark retrieved: waiters re-raise it themselves
            raise
        finally:
            if self._building.get(key) is future:
                del self._building[key]
        # Store only if no write moved the version while we built: the bytes may predate it.
        if self._version == version:
            self._entries[key] = entry
            if len(self._entries) > self._max:
                self._entries.popitem(last=False)
        return entry

    def peek(self, key: str) -> CachedBody | None:
        """The entry for ``key`` if present and unexpired, without checking the version."""
        entry = self._entries.get(key)
        if entry is not None and entry.expires_at > time.monotonic():
            return entry
        return None

    @property
    def version(self) -> int | None:
        return self._version
