"""Data versions: every write bumps one, every cached view is keyed by it.

The ``data_version`` row is bumped inside the writing transaction, so it is exact on any
number of processes. Readers ask a ``VersionSource`` for the current number on every request:

- ``LocalVersions`` (one process, no Redis): an in-memory counter bumped after commit.
- ``RedisVersions`` (``SEBA_REDIS_URL`` set): ``INCR`` after commit, ``GET`` per request; every
  worker on every node sees a change on its very next request.
- ``DbVersions`` (several workers, no Redis): reads the row itself.
"""

from __future__ import annotations

from typing import Protocol

from sqlalchemy import Integer, String, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from seba.core.db import Base, Database


class DataVersion(Base):
    __tablename__ = "data_version"

    name: Mapped[str] = mapped_column(String(40), primary_key=True)
    value: Mapped[int] = mapped_column(Integer, default=0)


VERSION_NAMES = ("beds",)


async def bump_in_transaction(session: AsyncSession, name: str) -> None:
    await session.execute(
        update(DataVersion).where(DataVersion.name == name).values(value=DataVersion.value + 1)
    )


class VersionSource(Protocol):
    async def current(self, name: str) -> int: ...
    async def committed(self, name: str) -> None: ...


class LocalVersions:
    def __init__(self) -> None:
        self._values: dict[str, int] = {}

    async def current(self, name: str) -> int:
        return self._values.get(name, 0)

    async def committed(self, name: str) -> None:
        self._values[name] = self._values.get(name, 0) + 1


class RedisVersions:
    def __init__(self, redis: object, prefix: str = "seba:version:") -> None:
        self._redis = redis
        self._prefix = prefix

    async def current(self, name: str) -> int:
        value = await self._redis.get(self._prefix + name)  # type: ignore[attr-defined]
        return int(value or 0)

    async def committed(self, name: str) -> None:
        await self._redis.incr(self._prefix + name)  # type: ignore[attr-defined]


class DbVersions:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def current(self, name: str) -> int:
        async with self._db.read() as session:
            value = await session.scalar(select(DataVersion.value).where(DataVersion.name == name))
        return int(value or 0)

    async def committed(self, name: str) -> None:
        return None
