"""The page's static files: fingerprinted names cached for a year, compressed copies, and the
plain name still answered with revalidation."""

from __future__ import annotations

import gzip
import re

import brotli

from seba.web.assets import ASSETS, STATIC_DIR


async def test_the_page_links_fingerprinted_files_cached_for_a_year(client):
    page = (await client.get("/")).text
    links = re.findall(r'(?:src|href)="(/static/[^"]+)"', page)
    assert {link.rsplit("/", 1)[1].split(".")[0] for link in links} >= {"seba", "beds"}
    for link in links:
        assert re.fullmatch(r"/static/[a-z]+\.[0-9a-f]{10}\.(js|css)", link), link
        name = link.rsplit("/", 1)[1]
        original = (STATIC_DIR / (name.split(".")[0] + "." + name.rsplit(".", 1)[1])).read_bytes()
        plain = await client.get(link, headers={"Accept-Encoding": "identity"})
        assert plain.status_code == 200 and plain.content == original
        assert plain.headers["cache-control"] == "public, max-age=31536000, immutable"
        assert plain.headers["vary"] == "Accept-Encoding"
        assert plain.headers["x-content-type-options"] == "nosniff"
        async with client.stream("GET", link, headers={"Accept-Encoding": "br"}) as r:
            raw = b"".join([c async for c in r.aiter_raw()])
            assert r.headers["content-encoding"] == "br"
        assert brotli.decompress(raw) == original and len(raw) < len(original)
        async with client.stream("GET", link, headers={"Accept-Encoding": "gzip"}) as r:
            raw = b"".join([c async for c in r.aiter_raw()])
            assert r.headers["content-encoding"] == "gzip"
        assert gzip.decompress(raw) == original
        again = await client.get(link, headers={"If-None-Match": plain.headers["etag"]})
        assert again.status_code == 304 and again.content == b""


async def test_the_plain_name_revalidates_and_a_change_is_a_new_name(client):
    r = await client.get("/static/beds.js")
    assert r.status_code == 200 and r.headers["cache-control"] == "no-cache"
    assert (
        await client.get("/static/beds.js", headers={"If-None-Match": r.headers["etag"]})
    ).status_code == 304
    assert ASSETS.url("beds.js") != "/static/beds.js"
    assert (await client.get("/static/beds.0000000000.js")).status_code == 404
    assert (await client.post(ASSETS.url("beds.js"))).status_code == 405
