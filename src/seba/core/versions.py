"""Data versions: every write bumps one, every cached view is keyed by it.

The ``data_version`` row is bumped inside the writing transaction, so it is exact on any
number of processes, and its value is *the* version everywhere: the other sources only carry
it faster. Readers ask a ``VersionSource`` for the current number on every request:

- ``LocalVersions`` (one process, no Redis): the highest committed value this process saw.
- ``RedisVersions`` (``SEBA_REDIS_URL`` set): after commit the value is raised in Redis (never
  lowered: two writers finishing out of order still leave the higher one), ``GET`` per request;
  every worker on every node sees a change on its very next request.
- ``DbVersions`` (several workers, no Redis): reads the row itself.
- ``ResilientVersions``: Redis while it answers, the row while it does not (a warning once per
  outage, a retry every few seconds); when Redis is back the row's value is raised into it
  first, so no worker trusts a number from before the outage.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Protocol

from sqlalchemy import Integer, String, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from seba.core.db import Base, Database

log = logging.getLogger(__name__)


class DataVersion(Base):
    __tablename__ = "data_version"

    name: Mapped[str] = mapped_column(String(40), primary_key=True)
    value: Mapped[int] = mapped_column(Integer, default=0)


VERSION_NAMES = ("beds",)


async def bump_in_transaction(session: AsyncSession, name: str) -> int:
    """Add one to the version in the caller's transaction; the new value."""
    value = await session.scalar(
        update(DataVersion)
        .where(DataVersion.name == name)
        .values(value=DataVersion.value + 1)
        .returning(DataVersion.value)
    )
    return int(value or 0)


class VersionSource(Protocol):
    async def current(self, name: str) -> int: ...
    async def committed(self, name: str, value: int) -> None: ...


class LocalVersions:
    def __init__(self) -> None:
        self._values: dict[str, int] = {}

    async def current(self, name: str) -> int:
        return self._values.get(name, 0)

    async def committed(self, name: str, value: int) -> None:
        self._values[name] = max(self._values.get(name, 0), value)


# Raise the stored value to ARGV[1] unless it is already higher: atomic in Redis.
_RAISE_TO = """
local now = tonumber(redis.call('GET', KEYS[1]) or '0')
if tonumber(ARGV[1]) > now then redis.call('SET', KEYS[1], ARGV[1]) end
return 0
"""


# Lower the stored value to ARGV[1] if it is higher (a database restored or recreated beside an
# old Redis): in normal running Redis never gets ahead of the row it copies.
_LOWER_TO = """
local now = tonumber(redis.call('GET', KEYS[1]) or '0')
if now > tonumber(ARGV[1]) then redis.call('SET', KEYS[1], ARGV[1]) end
return 0
"""


class RedisVersions:
    def __init__(self, redis: object, prefix: str = "seba:version:") -> None:
        self._redis = redis
        self._prefix = prefix

    async def current(self, name: str) -> int:
        value = await self._redis.get(self._prefix + name)  # type: ignore[attr-defined]
        return int(value or 0)

    async def committed(self, name: str, value: int) -> None:
        await self._redis.eval(_RAISE_TO, 1, self._prefix + name, value)  # type: ignore[attr-defined]

    async def lower_to(self, name: str, value: int) -> None:
        await self._redis.eval(_LOWER_TO, 1, self._prefix + name, value)  # type: ignore[attr-defined]


class DbVersions:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def current(self, name: str) -> int:
        async with self._db.read() as session:
            value = await session.scalar(select(DataVersion.value).where(DataVersion.name == name))
        return int(value or 0)

    async def committed(self, name: str, value: int) -> None:
        return None


class ResilientVersions:
    """Redis in front of the database row, degrading to the row while Redis is away."""

    def __init__(
        self,
        primary: RedisVersions,
        fallback: DbVersions,
        *,
        timeout_s: float = 0.5,
        retry_after_s: float = 5.0,
    ) -> None:
        self.primary = primary
        self.fallback = fallback
        self.timeout_s = timeout_s
        self.retry_after_s = retry_after_s
        self._down_since: float | None = None
        self._next_try = 0.0

    @property
    def degraded(self) -> bool:
        return self._down_since is not None

    def _went_down(self, exc: BaseException) -> None:
        now = time.monotonic()
        if self._down_since is None:
            self._down_since = now
            log.warning("Redis unavailable (%s): versions from the database until it returns", exc)
        self._next_try = now + self.retry_after_s

    async def _recovered(self, name: str) -> bool:
        """Try Redis again; on success raise the row's value into it before trusting it."""
        if time.monotonic() < self._next_try:
            return False
        try:
            truth = await self.fallback.current(name)
            await asyncio.wait_for(self.primary.committed(name, truth), self.timeout_s)
        except Exception as exc:
            self._went_down(exc)
            return False
        log.warning(
            "Redis is back after %.0f s: versions from Redis again",
            time.monotonic() - (self._down_since or time.monotonic()),
        )
        self._down_since = None
        return True

    async def reconcile(self, name: str) -> None:
        """At start: Redis may not be ahead of the row (a restored or recreated database beside
        an old Redis would otherwise have every worker trust numbers the row never had)."""
        try:
            truth = await self.fallback.current(name)
            await asyncio.wait_for(self.primary.lower_to(name, truth), self.timeout_s)
            await asyncio.wait_for(self.primary.committed(name, truth), self.timeout_s)
        except Exception as exc:
            self._went_down(exc)

    async def current(self, name: str) -> int:
        if self.degraded and not await self._recovered(name):
            return await self.fallback.current(name)
        try:
            return await asyncio.wait_for(self.primary.current(name), self.timeout_s)
        except Exception as exc:
            self._went_down(exc)
            return await self.fallback.current(name)

    async def committed(self, name: str, value: int) -> None:
        if self.degraded:
            return  # the row has it; Redis is raised to it on recovery
        try:
            await asyncio.wait_for(self.primary.committed(name, value), self.timeout_s)
        except Exception as exc:
            self._went_down(exc)


class SharedReads:
    """Data-version reads shared by the requests that arrived before the read was sent.

    A hit must see the data version as of its arrival or later (a census change is visible on
    the very next request, on every worker). Any read *sent after* a request arrived does that
    for it. So the requests that ask within one turn of the event loop share one read, sent at
    the start of the next turn, instead of one round trip each to Redis or the database; a
    request never joins a read that is already on its way.
    """

    def __init__(self, versions: VersionSource) -> None:
        self._versions = versions
        self._next: dict[str, asyncio.Future[int]] = {}
        self._reading: set[asyncio.Task[None]] = set()

    async def current(self, name: str) -> int:
        read = self._next.get(name)
        if read is None:
            loop = asyncio.get_running_loop()
            read = self._next[name] = loop.create_future()
            loop.call_soon(self._send, name, read)
        # Shielded: a request that goes away must not cancel the read the others wait for.
        return await asyncio.shield(read)

    def _send(self, name: str, read: asyncio.Future[int]) -> None:
        del self._next[name]  # whoever asks from now on waits for the next read
        task = asyncio.ensure_future(self._read(name, read))
        self._reading.add(task)
        task.add_done_callback(self._reading.discard)

    async def _read(self, name: str, read: asyncio.Future[int]) -> None:
        try:
            read.set_result(await self._versions.current(name))
        except Exception as exc:
            read.set_exception(exc)


def shared(versions: VersionSource) -> VersionSource:
    """Versions read over the network are shared per loop turn; in-process ones cost nothing."""
    if isinstance(versions, LocalVersions | SharedReads):
        return versions
    return SharedReads(versions)
