"""Static files: fingerprinted names, compressed once, cached by browsers for a year.

Every file of ``web/static/`` is read once when the app starts. Pages link it by a name that
carries a hash of its content (``asset_url("beds.js")`` → ``/static/beds.3f9c2a1b7e.js``), so a
phone that has it never asks again (``Cache-Control: public, max-age=31536000, immutable``) and
a changed file is a new name. Each is kept with a gzip and a brotli copy made at the highest
level (a one-time cost at start), sent by ``Accept-Encoding``. The plain name still answers,
with ``no-cache`` and an ETag, for a page cached before a change.
"""

from __future__ import annotations

import gzip
import hashlib
import mimetypes
from dataclasses import dataclass
from pathlib import Path

import brotli
from starlette.exceptions import HTTPException
from starlette.types import Receive, Scope, Send

from seba.core.response_cache import etag_matches

IMMUTABLE = b"public, max-age=31536000, immutable"
REVALIDATE = b"no-cache"
# Smaller than this, compression saves less than its header costs.
MIN_COMPRESS_BYTES = 256


@dataclass(frozen=True, slots=True)
class Asset:
    name: str
    fingerprinted: str
    content_type: bytes
    body: bytes
    gzip_body: bytes | None
    brotli_body: bytes | None
    etag: bytes


def _asset(path: Path) -> Asset:
    body = path.read_bytes()
    digest = hashlib.blake2b(body, digest_size=5).hexdigest()
    content_type = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
    if content_type.startswith("text/") or content_type.endswith("javascript"):
        content_type += "; charset=utf-8"
    zipped = squeezed = None
    if len(body) >= MIN_COMPRESS_BYTES:
        zipped = gzip.compress(body, compresslevel=9, mtime=0)
        squeezed = brotli.compress(body, quality=11)
    return Asset(
        name=path.name,
        fingerprinted=f"{path.stem}.{digest}{path.suffix}",
        content_type=content_type.encode(),
        body=body,
        gzip_body=zipped if zipped and len(zipped) < len(body) else None,
        brotli_body=squeezed if squeezed and len(squeezed) < len(body) else None,
        etag=f'"{digest}"'.encode(),
    )


def _accepts(accept_encoding: str, coding: str) -> bool:
    for part in accept_encoding.split(","):
        name, _, params = part.strip().partition(";")
        if name.strip().lower() == coding:
            return params.replace(" ", "") not in ("q=0", "q=0.0", "q=0.00", "q=0.000")
    return False


class Assets:
    """The ASGI app mounted at ``/static``, and the URLs pages link."""

    def __init__(self, directory: Path, prefix: str = "/static") -> None:
        self.prefix = prefix
        assets = [_asset(p) for p in sorted(directory.iterdir()) if p.is_file()]
        self._by_name = {a.name: a for a in assets}
        self._by_fingerprint = {a.fingerprinted: a for a in assets}

    def url(self, name: str) -> str:
        """The fingerprinted URL of a file of ``web/static/`` (a KeyError for a missing one)."""
        return f"{self.prefix}/{self._by_name[name].fingerprinted}"

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["method"] not in ("GET", "HEAD"):
            raise HTTPException(405)
        name = scope["path"].removeprefix(scope.get("root_path", "")).lstrip("/")
        name = name.removeprefix(self.prefix.lstrip("/")).lstrip("/")
        asset = self._by_fingerprint.get(name)
        cache_control = IMMUTABLE
        if asset is None:
            asset = self._by_name.get(name)
            cache_control = REVALIDATE
        if asset is None:
            raise HTTPException(404)
        headers = dict(scope["headers"])
        common = [
            (b"etag", asset.etag),
            (b"cache-control", cache_control),
            (b"vary", b"Accept-Encoding"),
        ]
        if etag_matches(asset.etag.decode(), (headers.get(b"if-none-match") or b"").decode()):
            await send({"type": "http.response.start", "status": 304, "headers": common})
            await send({"type": "http.response.body", "body": b""})
            return
        accept = (headers.get(b"accept-encoding") or b"").decode("latin-1")
        body, coding = asset.body, None
        if asset.brotli_body is not None and _accepts(accept, "br"):
            body, coding = asset.brotli_body, b"br"
        elif asset.gzip_body is not None and _accepts(accept, "gzip"):
            body, coding = asset.gzip_body, b"gzip"
        response = [
            *common,
            *([(b"content-encoding", coding)] if coding else []),
            (b"content-length", str(len(body)).encode()),
            (b"content-type", asset.content_type),
        ]
        await send({"type": "http.response.start", "status": 200, "headers": response})
        await send(
            {"type": "http.response.body", "body": b"" if scope["method"] == "HEAD" else body}
        )


STATIC_DIR = Path(__file__).resolve().parent / "static"
# Read once per process; templates link ``asset_url(name)`` (``web/render.py``).
ASSETS = Assets(STATIC_DIR)
