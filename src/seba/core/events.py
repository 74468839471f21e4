"""The event bus for live pages: in-process fan-out, or Redis pub/sub across workers and nodes.

Services publish only after commit (``db.after_commit``). A subscriber is a bounded queue; a
slow client that falls behind loses old events, which is safe because every event only says
"this changed, fetch again". A *handler* (``on``) is a plain function called as each event
arrives, for in-process caches that must not lose one (``accounts/principals.py``); such a cache
reads ``generation`` and ``everywhere`` to know whether it may have missed events.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections import defaultdict
from collections.abc import AsyncIterator, Callable
from typing import Any

log = logging.getLogger(__name__)

CHANNEL_PREFIX = "seba:events:"
PUBLISH_TIMEOUT_S = 0.5
LISTEN_RETRY_S = 1.0


class EventBus:
    def __init__(self, redis: Any | None = None, namespace: str = "0") -> None:
        self._redis = redis
        # Pub/sub channels are global to a Redis server whatever the db number: the namespace
        # (the db number by default) keeps two deployments sharing a server apart.
        self._prefix = f"{CHANNEL_PREFIX}{namespace}:"
        self._subscribers: dict[str, set[asyncio.Queue[dict[str, Any]]]] = defaultdict(set)
        self._listener: asyncio.Task[None] | None = None
        self._redis_down = False
        self._handlers: dict[str, list[Callable[[dict[str, Any]], None]]] = defaultdict(list)
        # Whether the Redis listener is subscribed now, and how many times it has subscribed:
        # a handler's cache may have missed events while it was not (``everywhere``).
        self._listening = False
        self.generation = 0

    @property
    def everywhere(self) -> bool:
        """Whether what any worker publishes reaches this process now: always without Redis
        (one process), with Redis only while the listener is subscribed."""
        return self._redis is None or self._listening

    def on(self, topic: str, handler: Callable[[dict[str, Any]], None]) -> None:
        """Call ``handler(data)`` for every event of ``topic`` this process receives."""
        self._handlers[topic].append(handler)

    async def start(self) -> None:
        if self._redis is not None and self._listener is None:
            ready = asyncio.Event()
            self._listener = asyncio.create_task(self._listen(ready))
            await asyncio.wait_for(ready.wait(), timeout=5)

    async def stop(self) -> None:
        self._listening = False
        if self._listener is not None:
            self._listener.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._listener
            self._listener = None

    async def publish(self, topic: str, data: dict[str, Any], *, local: bool = False) -> None:
        """Deliver ``data`` to every subscriber of ``topic``: on every worker through Redis, or
        in this process only (``local``, no Redis, or Redis away). Never raises: a lost
        live-page nudge must not fail the write that caused it."""
        if self._redis is None or local:
            self._deliver(topic, data)
            return
        try:
            await asyncio.wait_for(
                self._redis.publish(self._prefix + topic, json.dumps(data)), PUBLISH_TIMEOUT_S
            )
        except Exception as exc:
            self._warn_once(exc)
            self._deliver(topic, data)
        else:
            self._redis_down = False

    def _warn_once(self, exc: BaseException) -> None:
        # One line per outage, not one per event: a flood of tracebacks helps nobody.
        if not self._redis_down:
            self._redis_down = True
            log.warning("Redis unavailable for live events (%s): this worker's pages only", exc)

    @contextlib.asynccontextmanager
    async def subscribe(self, topic: str) -> AsyncIterator[asyncio.Queue[dict[str, Any]]]:
        queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue(maxsize=100)
        self._subscribers[topic].add(queue)
        try:
            yield queue
        finally:
            self._subscribers[topic].discard(queue)

    def _deliver(self, topic: str, data: dict[str, Any]) -> None:
        for handler in self._handlers.get(topic, ()):
            try:
                handler(data)
            except Exception:
                log.exception("event handler for %s failed", topic)
        for queue in list(self._subscribers.get(topic, ())):
            if queue.full():
                with contextlib.suppress(asyncio.QueueEmpty):
                    queue.get_nowait()
            queue.put_nowait(data)

    async def _listen(self, ready: asyncio.Event) -> None:
        while True:
            try:
                pubsub = self._redis.pubsub()
                await pubsub.psubscribe(self._prefix + "*")
                if self._redis_down:
                    log.warning("Redis is back: live events across workers again")
                self._redis_down = False
                self._listening = True
                self.generation += 1
                ready.set()
                async for message in pubsub.listen():
                    if message.get("type") != "pmessage":
                        continue
                    topic = message["channel"]
                    if isinstance(topic, bytes):
                        topic = topic.decode()
                    self._deliver(topic.removeprefix(self._prefix), json.loads(message["data"]))
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                self._listening = False
                self._warn_once(exc)
                ready.set()
                await asyncio.sleep(LISTEN_RETRY_S)
