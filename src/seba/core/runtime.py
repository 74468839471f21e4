"""Everything a running Seba process shares: settings, database, versions, event bus, caches."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from seba.core.db import Database
from seba.core.events import EventBus
from seba.core.loop_probe import probe_loop
from seba.core.versions import (
    VERSION_NAMES,
    DbVersions,
    LocalVersions,
    RedisVersions,
    ResilientVersions,
    VersionSource,
    shared,
)
from seba.settings import Settings

log = logging.getLogger(__name__)
# How often a worker without Redis looks for writes made by its siblings (live pages only:
# reads check the version on every request anyway).
SIBLING_POLL_S = 1.0


@dataclass
class Runtime:
    settings: Settings
    db: Database
    versions: VersionSource
    bus: EventBus
    redis: Any | None = None
    caches: dict[str, Any] = field(default_factory=dict)
    _poller: asyncio.Task[None] | None = None
    _closers: list[Callable[[], Awaitable[None]]] = field(default_factory=list)

    def __post_init__(self) -> None:
        # The version as requests read it: requests of one event-loop turn share one read
        # (``versions.SharedReads``), and a request never joins a read sent before it arrived.
        self.reads: VersionSource = shared(self.versions)

    def on_close(self, callback: Callable[[], Awaitable[None]]) -> None:
        """Run ``callback`` when the runtime closes (a domain's background tasks)."""
        self._closers.append(callback)

    async def start(self) -> None:
        await self.bus.start()
        if self.settings.loop_probe_s > 0:
            probe = asyncio.create_task(probe_loop(self.settings.loop_probe_s))

            async def stop_probe() -> None:
                probe.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await probe

            self.on_close(stop_probe)
        if isinstance(self.versions, ResilientVersions):
            for name in VERSION_NAMES:
                await self.versions.reconcile(name)
        if isinstance(self.versions, DbVersions | ResilientVersions):
            self._poller = asyncio.create_task(self._poll_siblings())

    async def _poll_siblings(self) -> None:
        """Without Redis (or while it is away), sibling workers' writes reach this worker's
        live pages by polling the version once a second per process (never per client). With
        Redis up the bus carries them; the poll still follows the number (one ``GET`` a
        second), so a write made just as Redis went away is noticed too."""
        seen: int | None = None
        with contextlib.suppress(Exception):  # the loop below reports a lasting failure
            seen = await self.versions.current("beds")
        while True:
            await asyncio.sleep(SIBLING_POLL_S)
            try:
                now = await self.versions.current("beds")
            except Exception as exc:
                log.warning("version poll failed: %s", exc)
                continue
            polling = not isinstance(self.versions, ResilientVersions) or self.versions.degraded
            if polling and seen is not None and now != seen:
                await self.bus.publish("beds", {"version": now}, local=True)
            seen = now

    async def close(self) -> None:
        for callback in self._closers:
            await callback()
        if self._poller is not None:
            self._poller.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._poller
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
        namespace = str(redis.connection_pool.connection_kwargs.get("db", 0))
        versions = ResilientVersions(RedisVersions(redis), DbVersions(db))
    elif max(workers, settings.workers) > 1:
        versions = DbVersions(db)
    else:
        versions = LocalVersions()
    bus = EventBus(redis, namespace=namespace) if redis is not None else EventBus()
    return Runtime(settings=settings, db=db, versions=versions, bus=bus, redis=redis)
