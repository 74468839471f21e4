"""Everything a running Seba process shares: settings, database, versions, event bus, caches."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from seba.core.db import Database
from seba.core.events import EventBus
from seba.core.versions import DbVersions, LocalVersions, RedisVersions, VersionSource
from seba.settings import Settings


@dataclass
class Runtime:
    settings: Settings
    db: Database
    versions: VersionSource
    bus: EventBus
    redis: Any | None = None
    caches: dict[str, Any] = field(default_factory=dict)

    async def start(self) -> None:
        await self.bus.start()

    async def close(self) -> None:
        await self.bus.stop()
        if self.redis is not None:
            await self.redis.aclose()
        await self.db.dispose()


def build_runtime(settings: Settings, *, workers: int = 1) -> Runtime:
    db = Database(settings.database_url, pool_size=settings.db_pool_size)
    redis = None
    versions: VersionSource
    if settings.redis_url:
        import redis.asyncio as redis_asyncio

        redis = redis_asyncio.from_url(settings.redis_url)
        versions = RedisVersions(redis)
    elif max(workers, settings.workers) > 1:
        versions = DbVersions(db)
    else:
        versions = LocalVersions()
    return Runtime(settings=settings, db=db, versions=versions, bus=EventBus(redis), redis=redis)
