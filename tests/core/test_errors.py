"""One error shape for every failure, no leaked tracebacks, and every error message in Bengali."""

from __future__ import annotations

import ast
from pathlib import Path

import httpx
import pytest

from seba.app import create_app
from seba.core.http import _HTTP_CODES
from seba.core.i18n import translations

SRC = Path(__file__).resolve().parents[2] / "src" / "seba"


def assert_error_shape(r: httpx.Response, status: int, code: str | None = None) -> dict:
    assert r.status_code == status, r.text
    assert r.headers["content-type"].startswith("application/json")
    body = r.json()
    assert set(body) == {"error"}, body
    error = body["error"]
    assert set(error) == {"code", "message", "details"}, error
    assert isinstance(error["code"], str) and error["code"]
    assert isinstance(error["message"], str) and error["message"]
    if code is not None:
        assert error["code"] == code, error
    return error


async def test_unknown_route_and_static_file_are_404(client):
    assert_error_shape(await client.get("/api/v1/no-such-thing"), 404, "not_found")
    assert_error_shape(await client.get("/static/no-such-file.css"), 404, "not_found")


async def test_wrong_method_is_405_with_allow(client):
    r = await client.delete("/api/v1/auth/token")
    assert_error_shape(r, 405, "method_not_allowed")
    assert "POST" in r.headers["allow"]


async def test_bad_json_and_bad_parameters_are_422(client):
    headers = {"Content-Type": "application/json"}
    r = await client.post("/api/v1/auth/token", content=b"{not json", headers=headers)
    error = assert_error_shape(r, 422, "validation_failed")
    assert isinstance(error["details"], list) and error["details"]
    r = await client.post("/api/v1/auth/token", content=b"\xff\xfe", headers=headers)
    assert_error_shape(r, 422, "validation_failed")
    assert_error_shape(await client.get("/api/v1/facilities/0"), 422, "validation_failed")
    r = await client.get("/api/v1/facilities/99999999999999999999")
    assert_error_shape(r, 422, "validation_failed")


@pytest.mark.parametrize(
    "header",
    [
        "Bearer",
        "Bearer    ",
        "Basic dXNlcjpwYXNzd29yZA==",
        "Token abc",
        "abc",
        "Bearer not-a-real-token",
        "Bearer two words",
        "Bearer " + "x" * 5000,
    ],
)
async def test_malformed_authorization_is_401(client, header: str):
    r = await client.get("/api/v1/auth/me", headers={"Authorization": header})
    error = assert_error_shape(r, 401)
    assert error["code"] in ("not_authenticated", "invalid_token")
    assert r.headers["www-authenticate"] == "Bearer"


async def test_non_ascii_authorization_bytes_are_401(client):
    r = await client.get("/api/v1/auth/me", headers={"Authorization": b"Bearer \xff\xfe\x80"})
    assert_error_shape(r, 401, "invalid_token")


async def test_english_on_request_bengali_by_default(client):
    bn = (await client.get("/api/v1/no-such-thing")).json()["error"]["message"]
    en = (await client.get("/api/v1/no-such-thing?lang=en")).json()["error"]["message"]
    assert en == "Not found."
    assert bn == translations("bn").gettext("Not found.") != en


async def test_unhandled_exception_is_a_500_without_the_traceback(rt, settings):
    app = create_app(settings, runtime=rt)

    @app.get("/api/test-only/boom")
    async def boom():
        raise RuntimeError("secret-detail: password=hunter2")

    # Starlette re-raises after answering (so servers log it); we want the answer.
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
        r = await c.get("/api/test-only/boom?lang=en")
    error = assert_error_shape(r, 500, "internal_error")
    assert error["details"] is None
    assert "secret-detail" not in r.text and "hunter2" not in r.text
    assert "Traceback" not in r.text and "RuntimeError" not in r.text


async def test_a_lost_database_race_is_a_503_try_again_not_a_500(rt, settings):
    """A deadlock victim (PostgreSQL) or a busy database (SQLite) rolled back whole: the answer
    says try again, with Retry-After, in the user's language."""
    from sqlalchemy import text

    from seba.core.db import transactional

    app = create_app(settings, runtime=rt)

    @app.post("/api/test-only/lose-a-race")
    async def lose_a_race():
        async with transactional(rt.db) as session:
            if rt.db.is_postgresql:
                # The database itself raises the deadlock error, as its detector would.
                await session.execute(
                    text("DO $$ BEGIN RAISE EXCEPTION 'deadlock' USING ERRCODE = '40P01'; END $$")
                )
            else:
                import sqlite3

                from sqlalchemy.exc import OperationalError

                raise OperationalError("INSERT", {}, sqlite3.OperationalError("database is locked"))

    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
        bn = await c.post("/api/test-only/lose-a-race")
        en = await c.post("/api/test-only/lose-a-race?lang=en")
    assert_error_shape(bn, 503, "try_again")
    assert bn.headers["retry-after"] == "1"
    assert en.json()["error"]["message"] == "The system is busy. Please try again in a moment."
    assert bn.json()["error"]["message"] != en.json()["error"]["message"]


# --- every error message has a Bengali translation -----------------------------------------


def _sources() -> dict[Path, ast.Module]:
    return {path: ast.parse(path.read_text(encoding="utf-8")) for path in SRC.rglob("*.py")}


def _domain_error_classes(trees: dict[Path, ast.Module]) -> set[str]:
    """DomainError and every subclass defined anywhere in the source (by name, to a fixpoint)."""
    names = {"DomainError"}
    grew = True
    while grew:
        grew = False
        for tree in trees.values():
            for node in ast.walk(tree):
                if isinstance(node, ast.ClassDef) and node.name not in names:
                    bases = {getattr(b, "id", getattr(b, "attr", None)) for b in node.bases}
                    if bases & names:
                        names.add(node.name)
                        grew = True
    return names


def _literal(node: ast.AST | None) -> str | None:
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    return None


def error_messages() -> dict[str, str]:
    """Every English literal that becomes an error message: msgid -> where it is written.

    Messages looked up from tables at run time are not literals here; their tables' own
    tests cover them.
    """
    trees = _sources()
    classes = _domain_error_classes(trees)
    found: dict[str, str] = {}
    for path, tree in trees.items():
        where = str(path.relative_to(SRC.parent))
        for node in ast.walk(tree):
            if isinstance(node, ast.ClassDef) and node.name in classes:
                for stmt in node.body:
                    if (
                        isinstance(stmt, ast.Assign)
                        and any(getattr(t, "id", None) == "message" for t in stmt.targets)
                        and (text := _literal(stmt.value))
                    ):
                        found[text] = f"{where}:{stmt.lineno}"
            if not isinstance(node, ast.Call):
                continue
            called = getattr(node.func, "id", getattr(node.func, "attr", None))
            candidates: list[ast.AST | None] = []
            if called in classes:
                candidates = [node.args[0] if node.args else None]
                candidates += [k.value for k in node.keywords if k.arg == "message"]
            elif called == "error_body" and len(node.args) >= 3:
                candidates = [node.args[2]]  # error_body(lang, code, message, ...)
            for candidate in candidates:
                if text := _literal(candidate):
                    found[text] = f"{where}:{node.lineno}"
    for _code, text in _HTTP_CODES.values():
        found.setdefault(text, "seba/core/http.py:_HTTP_CODES")
    return found


def test_the_scan_finds_the_known_messages():
    # Guards the scanner itself: if it silently found nothing, the next test would pass.
    messages = error_messages()
    assert "Wrong username or password." in messages  # a call's first argument
    assert "Not found." in messages  # a class attribute
    assert "Something went wrong on our side. Please try again." in messages  # error_body
    # written as two adjacent literals in beds/service.py
    assert (
        "Someone else updated this census first. Check the current numbers and submit again."
        in messages
    )
    assert len(messages) >= 25


def test_every_error_message_has_a_bengali_translation():
    bn = translations("bn")
    missing = {
        text: where for text, where in sorted(error_messages().items()) if bn.gettext(text) == text
    }
    assert not missing, "add these to src/seba/locale/bn/LC_MESSAGES/web.po:\n" + "\n".join(
        f"  {where}: {text!r}" for text, where in missing.items()
    )
    for text in error_messages():
        # A translation must be Bengali text, not a copy of the English.
        assert any("\u0980" <= ch <= "\u09ff" for ch in bn.gettext(text)), text
