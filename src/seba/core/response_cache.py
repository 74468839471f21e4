"""Stored answers: bytes, a gzip copy and an ETag, tied to the data version they were built at.

A domain builds an entry once per data version (``core/versions.py``) and serves the stored
bytes until the version moves (a change is visible on the very next request on every worker)
or the entry's time runs out (its view changes by itself, e.g. a census turning stale). The gzip
copy is made when a client first asks for it.
"""

from __future__ import annotations

import asyncio
import gzip
import hashlib
import time
from dataclasses import dataclass
from functools import cached_property

from isal import isal_zlib

# A kept answer is compressed once and sent many times: compress it well (zlib level 6). A
# one-off answer (a list "near" one phone's location) is compressed for one client, so its
# compression is most of its cost: Intel's ISA-L (the ``isal`` package) at its level 1 does it
# in a quarter of zlib's time at no more bytes (50 facilities, 70 KB of JSON: zlib level 1
# 0.21 ms → 10.2 KB, level 6 1.2 ms → 7.3 KB; ISA-L level 1 0.06 ms → 10.1 KB; 2026-12-04).
KEPT_GZIP_LEVEL = 6
ONE_OFF_ISAL_LEVEL = 1
GZIP_WBITS = 31  # zlib's "gzip wrapper" (16 + a 32 KB window): header with mtime 0, CRC, size


@dataclass(frozen=True)
class CachedBody:
    body: bytes
    etag: str
    expires_at: float  # time.monotonic()
    # The data version the bytes were built at (name and number, read before the build): the
    # fast path (core/fast_path.py) serves them only while that is still the current version.
    source: str = ""
    version: int = 0
    # Sent to one client (``near=``): compressed fast rather than small.
    one_off: bool = False

    @cached_property
    def gzip_body(self) -> bytes:
        """The gzip copy, made when a client first takes gzip."""
        if self.one_off:
            return isal_zlib.compress(self.body, ONE_OFF_ISAL_LEVEL, GZIP_WBITS)
        return gzip.compress(self.body, compresslevel=KEPT_GZIP_LEVEL, mtime=0)


async def compressed(entry: CachedBody) -> CachedBody:
    """``entry`` with its kept gzip copy made, in a thread.

    zlib lets go of the GIL while it compresses, so the event loop goes on answering: after a
    census every kept list and page is rebuilt once, and their copies made on the loop (zlib
    level 6, ~0.2 ms for a district's JSON, ~0.8 ms for a page) held it for ~25 ms in a row
    under load. A one-off answer keeps its fast copy on the loop (a thread hop costs more).
    """
    if not entry.one_off and "gzip_body" not in entry.__dict__:
        body = await asyncio.to_thread(gzip.compress, entry.body, KEPT_GZIP_LEVEL, mtime=0)
        entry.__dict__.setdefault("gzip_body", body)  # what ``gzip_body`` would have made
    return entry


def make_cached(
    body: bytes,
    ttl_s: float,
    *,
    source: str = "",
    version: int = 0,
    one_off: bool = False,
    identity: bytes | None = None,
) -> CachedBody:
    """``identity``: what alone determines ``body`` (e.g. data version, query and build time),
    hashed for the ETag instead of the body when the caller has it (a one-off answer of 60 KB
    spends more on hashing its body than on finding its rows)."""
    return CachedBody(
        body=body,
        etag='"' + hashlib.blake2b(identity or body, digest_size=12).hexdigest() + '"',
        expires_at=time.monotonic() + ttl_s,
        source=source,
        version=version,
        one_off=one_off,
    )


def etag_matches(etag: str, if_none_match: str | None) -> bool:
    """Whether an ``If-None-Match`` value names this ETag (or ``*``): answer 304."""
    if not if_none_match:
        return False
    return if_none_match.strip() == "*" or etag in {t.strip() for t in if_none_match.split(",")}


def accepts_gzip(accept_encoding: str | None) -> bool:
    return "gzip" in (accept_encoding or "")
