"""Test fixtures: every data test runs on SQLite and on PostgreSQL.

- ``db_url`` is parametrised over both engines. SQLite gets a fresh copy of a migrated file per
  test; PostgreSQL is migrated once per run and truncated before each test.
- Without a reachable PostgreSQL/Redis/Chromium the tests that need them skip with the reason;
  with ``SEBA_TEST_REQUIRE_ALL=1`` (set by ``.ci/run``) such a skip is a failure instead.
"""

from __future__ import annotations

import asyncio
import os
import shutil
from collections.abc import AsyncIterator
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest

from seba.app import create_app
from seba.cli import upgrade_database
from seba.core.runtime import Runtime, build_runtime
from seba.settings import Settings

# The suite drops and recreates the schema of this database and flushes this Redis number:
# only names made for it are accepted (``seba_test``…; a Redis db other than 0), never a
# developer's data. The database is created when missing.
POSTGRES_URL = os.environ.get(
    "SEBA_TEST_POSTGRES_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/seba_test"
)
REDIS_URL = os.environ.get("SEBA_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
TEST_DATABASE_PREFIX = "seba_test"
REQUIRE_ALL = os.environ.get("SEBA_TEST_REQUIRE_ALL") == "1"
CHROMIUM = os.environ.get("SEBA_TEST_CHROMIUM", "/usr/bin/chromium")


def unavailable(reason: str) -> None:
    """Skip, or fail when CI requires every service."""
    if REQUIRE_ALL:
        pytest.fail(f"required by SEBA_TEST_REQUIRE_ALL but unavailable: {reason}")
    pytest.skip(reason)


def _test_database_name() -> str:
    name = urlsplit(POSTGRES_URL).path.lstrip("/")
    if not name.startswith(TEST_DATABASE_PREFIX):
        raise pytest.UsageError(
            f"SEBA_TEST_POSTGRES_URL names database {name!r}: the tests drop its schema, so "
            f"they only use a database whose name starts with {TEST_DATABASE_PREFIX!r}."
        )
    return name


async def _postgres_reachable() -> str | None:
    import asyncpg

    name = _test_database_name()
    dsn = POSTGRES_URL.replace("postgresql+asyncpg", "postgresql")
    try:
        conn = await asyncio.wait_for(asyncpg.connect(dsn), timeout=3)
    except asyncpg.InvalidCatalogNameError:
        # Not there yet: create it from the server's maintenance database.
        try:
            admin = await asyncio.wait_for(
                asyncpg.connect(dsn.rsplit("/", 1)[0] + "/postgres"), timeout=3
            )
            try:
                await admin.execute(f'CREATE DATABASE "{name}"')
            finally:
                await admin.close()
            conn = await asyncio.wait_for(asyncpg.connect(dsn), timeout=3)
        except Exception as exc:
            return f"PostgreSQL database {name} could not be created: {exc!r}"
    except Exception as exc:
        return f"PostgreSQL at {POSTGRES_URL} is not reachable: {exc!r}"
    await conn.close()
    return None


async def _reset_postgres_schema() -> None:
    import asyncpg

    conn = await asyncpg.connect(POSTGRES_URL.replace("postgresql+asyncpg", "postgresql"))
    try:
        await conn.execute("DROP SCHEMA public CASCADE; CREATE SCHEMA public;")
    finally:
        await conn.close()


async def _truncate_postgres() -> None:
    import asyncpg

    conn = await asyncpg.connect(POSTGRES_URL.replace("postgresql+asyncpg", "postgresql"))
    try:
        tables = [
            r["tablename"]
            for r in await conn.fetch(
                "SELECT tablename FROM pg_tables WHERE schemaname = 'public' "
                "AND tablename <> 'alembic_version'"
            )
        ]
        await conn.execute(f"TRUNCATE {', '.join(tables)} RESTART IDENTITY CASCADE")
        await conn.execute("INSERT INTO data_version (name, value) VALUES ('beds', 0)")
    finally:
        await conn.close()


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("template") / "seba.db"
    upgrade_database(f"sqlite+aiosqlite:///{path}")
    return path


_pg_state: dict[str, object] = {}


@pytest.fixture(scope="session")
def postgres_migrated() -> str | None:
    """None when PostgreSQL is ready (migrated once), else the reason it is not."""
    if "reason" not in _pg_state:
        reason = asyncio.run(_postgres_reachable())
        if reason is None:
            asyncio.run(_reset_postgres_schema())
            upgrade_database(POSTGRES_URL)
        _pg_state["reason"] = reason
    return _pg_state["reason"]  # type: ignore[return-value]


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        path = tmp_path / "seba.db"
        shutil.copy(request.getfixturevalue("sqlite_template"), path)
        return f"sqlite+aiosqlite:///{path}"
    reason = request.getfixturevalue("postgres_migrated")
    if reason:
        unavailable(reason)
    asyncio.run(_truncate_postgres())
    return POSTGRES_URL


@pytest.fixture
def postgres_url(postgres_migrated: str | None) -> str:
    """PostgreSQL only (for what SQLite has no counterpart of, e.g. a server going away)."""
    if postgres_migrated:
        unavailable(postgres_migrated)
    asyncio.run(_truncate_postgres())
    return POSTGRES_URL


@pytest.fixture
def settings(db_url: str, tmp_path: Path) -> Settings:
    return Settings(
        database_url=db_url,
        env="test",
        redis_url=None,
        secret_key="test-secret",
        attachment_dir=str(tmp_path / "attachments"),
    )


@pytest.fixture
async def rt(settings: Settings) -> AsyncIterator[Runtime]:
    runtime = build_runtime(settings)
    await runtime.start()
    try:
        yield runtime
    finally:
        await runtime.close()


@pytest.fixture
async def client(rt: Runtime, settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(settings, runtime=rt)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
        yield c


@pytest.fixture
def redis_url() -> str:
    import redis

    url = REDIS_URL
    if (urlsplit(url).path.lstrip("/") or "0") == "0":
        raise pytest.UsageError(
            "SEBA_TEST_REDIS_URL uses Redis db 0: the tests flush their db, so name another "
            "(the default is 15)."
        )
    try:
        redis.Redis.from_url(url, socket_connect_timeout=2).ping()
    except Exception as exc:
        unavailable(f"Redis at {url} is not reachable: {exc!r}")
    return url


@pytest.fixture(scope="session")
def chromium_path() -> str:
    if not Path(CHROMIUM).exists():
        unavailable(f"Chromium not found at {CHROMIUM} (Debian package chromium)")
    return CHROMIUM
