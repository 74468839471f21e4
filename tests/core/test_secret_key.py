"""One stable secret key: production refuses to start without one, and ``seba serve --workers
N`` without one gives every worker the same random key, so a form signed by one worker is
accepted by the next."""

from __future__ import annotations

import re

import httpx
import pytest
from pydantic import ValidationError

from seba.settings import Settings
from tests import factories
from tests.cli import seba_command
from tests.servers import running_server

pytestmark = pytest.mark.server


def test_production_needs_a_stable_key_of_some_length(monkeypatch):
    monkeypatch.delenv("SEBA_SECRET_KEY", raising=False)
    with pytest.raises(ValidationError, match="SEBA_SECRET_KEY is not set"):
        Settings(env="prod")
    with pytest.raises(ValidationError, match="too short"):
        Settings(env="prod", secret_key="short")
    assert Settings(env="prod", secret_key="k" * 32).secret_key == "k" * 32
    # Dev and tests get a random one: nothing to configure on a laptop.
    assert len(Settings(env="dev").secret_key) >= 32


def test_serve_refuses_to_start_in_production_without_a_key(db_url):
    result = seba_command(db_url, "serve", "--port", "1", env={"SEBA_ENV": "prod"})
    assert result.returncode == 2
    assert "SEBA_SECRET_KEY is not set" in result.stdout + result.stderr
    assert "Traceback" not in result.stdout + result.stderr


async def test_forms_cross_workers_when_no_key_was_set(db_url, rt, tmp_path):
    user = await factories.user(rt, "viewer")
    with running_server(
        db_url, tmp_path=tmp_path, workers=2, extra_env={"SEBA_SECRET_KEY": ""}
    ) as server:
        # No keep-alive: every request is a new connection, spread over both workers.
        limits = httpx.Limits(max_keepalive_connections=0)
        for _ in range(8):
            async with httpx.AsyncClient(base_url=server.url, limits=limits) as c:
                page = await c.get("/staff/login")
                csrf = re.search(r'name="csrf" value="([^"]*)"', page.text)[1]
                r = await c.post(
                    "/staff/login",
                    data={"csrf": csrf, "username": user.username, "password": factories.PASSWORD},
                )
                assert r.status_code == 303, r.text
                home = await c.get("/staff")
                assert home.status_code == 200
                csrf = re.search(r'name="csrf" value="([^"]*)"', home.text)[1]
                out = await c.post("/staff/logout", data={"csrf": csrf})
                assert out.status_code == 303, out.text
