"""Bounded requests: a hostile body is refused before it is parsed, cheaply, in the error shape;
a body under its ceiling but full of junk gets a short, capped list of errors."""

from __future__ import annotations

import asyncio
import json

from seba.app import JSON_AND_FORMS_MAX_BYTES
from seba.core.http import MAX_FIELD_ERRORS
from seba.core.limits import KB, BodyLimit, RouteClass

TEN_MB = 10 * 1024 * 1024


class Body:
    """A request body sent in 64 KB pieces, counting how much of it the server pulled."""

    def __init__(self, size: int, piece: bytes = b" ") -> None:
        self.size, self.piece, self.pulled = size, piece, 0

    async def __aiter__(self):
        chunk = self.piece * (64 * KB // len(self.piece))
        while self.pulled < self.size:
            self.pulled += len(chunk)
            yield chunk


async def test_a_declared_10_mb_body_is_refused_before_a_byte_is_read(client):
    body = b"{" + b'"k": 1,' * (TEN_MB // 7) + b'"x": 1}'
    r = await client.post("/api/v1/otp", content=body, headers={"Content-Type": "application/json"})
    assert r.status_code == 413
    error = r.json()["error"]
    assert error["code"] == "too_large" and error["message"] == "অনুরোধটি খুব বড়।"
    assert len(r.content) < 1000


async def test_a_chunked_body_is_cut_off_at_the_ceiling(client):
    body = Body(TEN_MB, b'"k",')
    r = await client.post("/api/v1/otp", content=body, headers={"Content-Type": "application/json"})
    assert r.status_code == 413 and r.json()["error"]["code"] == "too_large"
    # The server stopped pulling soon after the ceiling, not at the end of 10 MB.
    assert body.pulled <= JSON_AND_FORMS_MAX_BYTES + 2 * 64 * KB


async def test_many_unknown_keys_under_the_ceiling_get_a_short_answer(client):
    keys = {f"k{i}": i for i in range(4000)}
    body = json.dumps({"phone": "9830012345", **keys}).encode()
    assert len(body) < JSON_AND_FORMS_MAX_BYTES
    r = await client.post("/api/v1/otp", content=body, headers={"Content-Type": "application/json"})
    assert r.status_code == 422
    details = r.json()["error"]["details"]
    assert len(details) == MAX_FIELD_ERRORS + 1
    assert details[-1]["type"] == "more_errors"
    assert len(r.content) < 8 * KB


async def test_deep_nesting_is_a_bad_request_not_a_crash(client):
    body = b"[" * 60_000 + b"]" * 60_000
    r = await client.post("/api/v1/otp", content=body, headers={"Content-Type": "application/json"})
    assert r.status_code in (400, 413, 422), r.text
    assert "error" in r.json()


async def test_a_form_over_the_ceiling_is_a_page_in_the_readers_language(client):
    r = await client.post(
        "/staff/login",
        content=b"username=" + b"a" * (200 * KB),
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert r.status_code == 413
    assert r.headers["content-type"].startswith("text/html")
    assert "অনুরোধটি খুব বড়" in r.text


async def test_a_public_read_is_answered_while_hostile_bodies_arrive(client):
    hostile = [
        client.post(
            "/api/v1/otp",
            content=Body(TEN_MB, b"["),
            headers={"Content-Type": "application/json"},
        )
        for _ in range(5)
    ]
    read = client.get("/api/v1/districts")
    *refused, answered = await asyncio.gather(*hostile, read)
    assert all(r.status_code == 413 for r in refused)
    assert answered.status_code == 200


async def test_route_classes_pick_the_first_match():
    async def app(scope, receive, send):
        raise AssertionError("not called")

    limit = BodyLimit(
        app,
        default_bytes=10,
        classes=(RouteClass.of(r"^/up/\d+$", 100), RouteClass.of(r"^/up/", 50)),
    )
    assert limit.limit_for("/up/7") == 100
    assert limit.limit_for("/up/x") == 50
    assert limit.limit_for("/other") == 10


async def test_uploads_have_their_own_ceiling(rt, client):
    # An attachment may be megabytes (photos), far over the JSON ceiling: not refused by size.
    size = 2 * 1024 * 1024
    files = {"file": ("x.png", b"\x89PNG\r\n\x1a\n" + b"0" * size, "image/png")}
    r = await client.post("/api/v1/consultations/1/attachments", files=files)
    assert r.status_code == 401  # it reached the route: no login
