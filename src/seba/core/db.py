"""Engines, sessions and the one way to open a write transaction.

SQLite (embedded default) and PostgreSQL (production, CI) share one code path. On SQLite a
write transaction starts with ``BEGIN IMMEDIATE`` so that two writers queue on the database
lock instead of failing later with "database is locked"; reads use a second engine whose
transactions stay deferred, so readers never wait on writers (WAL).
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import MetaData, event
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.orm import DeclarativeBase
from sqlalchemy.pool import NullPool

log = logging.getLogger(__name__)
# aiosqlite logs every statement it runs with its bound values at DEBUG, below SQLAlchemy's
# hide_parameters (see make_engine): a log turned up to DEBUG would show one-time codes and
# patients' details. Its DEBUG lines say nothing SQLAlchemy's own do not.
logging.getLogger("aiosqlite").setLevel(logging.INFO)

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    # isolation_level=None hands transaction control to us (the "begin" listener below).
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def make_engine(url: str, *, immediate: bool = False, pool_size: int = 10) -> AsyncEngine:
    # hide_parameters: a failed statement's exception (which the error handler logs) would
    # otherwise carry its bound values into the log: a one-time code in an outbox message,
    # patients' names and phones. The SQL and the error still show what went wrong.
    if url.startswith("sqlite"):
        engine = create_async_engine(
            url, pool_size=pool_size, max_overflow=pool_size, hide_parameters=True
        )
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
        begin_sql = "BEGIN IMMEDIATE" if immediate else "BEGIN"

        @event.listens_for(engine.sync_engine, "begin")
        def _begin(conn: Any) -> None:
            conn.exec_driver_sql(begin_sql)

        return engine
    if url.startswith("postgresql"):
        return create_async_engine(
            url,
            pool_size=pool_size,
            max_overflow=pool_size * 2,
            pool_pre_ping=False,
            hide_parameters=True,
        )
    return create_async_engine(url, poolclass=NullPool, hide_parameters=True)


@dataclass
class Database:
    """Write and read engines for one database URL."""

    url: str
    pool_size: int = 10
    write_engine: AsyncEngine = field(init=False)
    read_engine: AsyncEngine = field(init=False)

    def __post_init__(self) -> None:
        self.write_engine = make_engine(self.url, immediate=True, pool_size=self.pool_size)
        self.read_engine = (
            make_engine(self.url, pool_size=self.pool_size) if self.is_sqlite else self.write_engine
        )
        self._write_sessions = async_sessionmaker(self.write_engine, expire_on_commit=False)
        self._read_sessions = async_sessionmaker(self.read_engine, expire_on_commit=False)

    @property
    def is_sqlite(self) -> bool:
        return self.url.startswith("sqlite")

    @property
    def is_postgresql(self) -> bool:
        return self.url.startswith("postgresql")

    async def dispose(self) -> None:
        await self.write_engine.dispose()
        if self.read_engine is not self.write_engine:
            await self.read_engine.dispose()

    @asynccontextmanager
    async def read(self) -> AsyncIterator[AsyncSession]:
        """A session for reads only; it never commits."""
        async with self._read_sessions() as session:
            yield session

    def write_session(self) -> AsyncSession:
        return self._write_sessions()


_in_transaction: contextvars.ContextVar[bool] = contextvars.ContextVar(
    "seba_in_transaction", default=False
)

AfterCommit = Callable[[], Awaitable[None]]
AFTER_COMMIT_RETRY_S = 1.0


def after_commit(session: AsyncSession, callback: AfterCommit) -> None:
    """Run ``callback`` once the transaction commits (never if it rolls back).

    Events and cache bumps go here, so nobody hears of a change that did not happen.
    """
    session.info.setdefault("after_commit", []).append(callback)


@asynccontextmanager
async def transactional(db: Database) -> AsyncIterator[AsyncSession]:
    """Open the one write transaction of a service call; commit on success, roll back on error.

    Refuses to nest: a service that calls another service's state change must pass its session
    to a helper instead, so that two calls can be one unit.
    """
    if _in_transaction.get():
        raise RuntimeError("transactional() does not nest: pass the session to a helper")
    token = _in_transaction.set(True)
    try:
        async with db.write_session() as session:
            async with session.begin():
                yield session
            callbacks = session.info.pop("after_commit", [])
    finally:
        _in_transaction.reset(token)
    for callback in callbacks:
        await _run_after_commit(callback)


async def _run_after_commit(callback: AfterCommit) -> None:
    """An after-commit step (a cache bump, a live event) never changes the answer: the write
    is committed whatever happens here. A failure is logged and tried once more shortly after,
    in the background; the next write or the version poll repairs what still fails."""
    try:
        await callback()
    except Exception as exc:
        log.warning("after-commit step failed (%s); retrying in the background", exc)
        _retries.add(task := asyncio.get_running_loop().create_task(_retry(callback)))
        task.add_done_callback(_retries.discard)


_retries: set[asyncio.Task[None]] = set()


async def _retry(callback: AfterCommit) -> None:
    await asyncio.sleep(AFTER_COMMIT_RETRY_S)
    try:
        await callback()
    except Exception as exc:
        log.warning("after-commit step failed again (%s); left to the next write", exc)
