"""The principal cache: who a bearer token (or a call ticket's user) is, without a database
transaction on every request.

Every API request and staff page used to check its token against the database: one read
transaction before the route's own work (about a third of the SQL of the teleconsult's
cheapest requests). Each worker now keeps what it has checked: the token's SHA-256 → the
principal and the token's expiry, bounded (``MAX_ENTRIES``) and for a short while
(``settings.principal_cache_s``, 30 s by default) as a safety net.

What keeps it right:

- **Expiry** is the token's own ``expires_at``, kept beside the principal and compared on every
  hit: a token stops working at the same instant as before.
- **Logout and account changes** (deactivation, role, scope, password) forget the token or all
  of the user's entries in this worker at once, and are published after commit on the event
  bus's ``principals`` topic, which every worker's cache handles as it arrives (Redis pub/sub;
  in-process without Redis). A service that changes a staff account calls ``forget_user``.
- **A read racing an invalidation** is not cached: every invalidation moves ``epoch``, and a
  principal read from the database before it is not stored after it.
- **When an invalidation might not arrive**, the cache is not used and every request asks the
  database, as before: several workers without Redis (the bus is in-process only), or Redis
  configured but the bus's listener not subscribed (Redis away). When the listener subscribes
  again the cache starts empty: it may have missed events meanwhile. What is left is a silent
  network partition the listener has not noticed, and a change made in the database by hand
  (SQL, not the services): those are bounded by the cache's lifetime.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from seba.core.access import Principal
from seba.core.runtime import Runtime
from seba.core.types import utcnow

TOPIC = "principals"
MAX_ENTRIES = 20_000
_CACHE = "principals"


@dataclass(frozen=True, slots=True)
class _Entry:
    principal: Principal
    expires_at: datetime | None  # the token's; None for a user entry (call tickets)
    fresh_until: float  # monotonic seconds


class PrincipalCache:
    """Per process: token hash (or ``user:ID``) → principal. Not shared between workers."""

    def __init__(
        self,
        *,
        ttl_s: float,
        max_entries: int = MAX_ENTRIES,
        usable: Callable[[], bool] = lambda: True,
        generation: Callable[[], int] = lambda: 0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.ttl_s, self.max_entries = ttl_s, max_entries
        self._usable, self._generation, self._clock = usable, generation, clock
        self._entries: OrderedDict[str, _Entry] = OrderedDict()
        self._by_user: dict[int, set[str]] = {}
        self._seen_generation = generation()
        self.epoch = 0
        self.hits = self.misses = 0

    @property
    def enabled(self) -> bool:
        if self.ttl_s <= 0 or not self._usable():
            return False
        generation = self._generation()
        if generation != self._seen_generation:
            # The bus subscribed anew: events may have been missed while it was away.
            self._seen_generation = generation
            self.clear()
        return True

    def get(self, key: str, now: datetime | None = None) -> Principal | None:
        if not self.enabled:
            return None
        entry = self._entries.get(key)
        if entry is None or entry.fresh_until <= self._clock():
            self.misses += 1
            return None
        if entry.expires_at is not None and entry.expires_at <= (now or utcnow()):
            self._drop(key)
            self.misses += 1
            return None
        self.hits += 1
        return entry.principal

    def put(
        self, key: str, principal: Principal, *, expires_at: datetime | None, epoch: int
    ) -> None:
        """Keep ``principal`` unless something was invalidated since ``epoch`` was read."""
        if epoch != self.epoch or not self.enabled or principal.user_id is None:
            return
        self._drop(key)
        self._entries[key] = _Entry(principal, expires_at, self._clock() + self.ttl_s)
        self._by_user.setdefault(principal.user_id, set()).add(key)
        while len(self._entries) > self.max_entries:
            self._drop(next(iter(self._entries)))

    def forget_token(self, key: str) -> None:
        self.epoch += 1
        self._drop(key)

    def forget_user(self, user_id: int) -> None:
        self.epoch += 1
        for key in list(self._by_user.get(user_id, ())):
            self._drop(key)

    def clear(self) -> None:
        self.epoch += 1
        self._entries.clear()
        self._by_user.clear()

    def handle(self, data: dict[str, Any]) -> None:
        """An event of the ``principals`` topic, from this worker or another."""
        if "token" in data:
            self.forget_token(str(data["token"]))
        elif "user" in data:
            self.forget_user(int(data["user"]))
        else:
            self.clear()

    def _drop(self, key: str) -> None:
        entry = self._entries.pop(key, None)
        if entry is not None and entry.principal.user_id is not None:
            keys = self._by_user.get(entry.principal.user_id)
            if keys is not None:
                keys.discard(key)
                if not keys:
                    del self._by_user[entry.principal.user_id]

    def __len__(self) -> int:
        return len(self._entries)


def cache_of(rt: Runtime) -> PrincipalCache:
    """This runtime's cache, made (and subscribed to the bus) on first use."""
    cache = rt.caches.get(_CACHE)
    if cache is None:
        shared = rt.redis is not None or rt.settings.workers <= 1
        cache = PrincipalCache(
            ttl_s=rt.settings.principal_cache_s if shared else 0.0,
            usable=lambda: rt.bus.everywhere,
            generation=lambda: rt.bus.generation,
        )
        rt.bus.on(TOPIC, cache.handle)
        rt.caches[_CACHE] = cache
    return cache


def user_key(user_id: int) -> str:
    return f"user:{user_id}"


async def forget_token(rt: Runtime, token_hash: str) -> None:
    """After a logout commits: the token stops working here now, elsewhere as the event lands."""
    cache_of(rt).forget_token(token_hash)
    await rt.bus.publish(TOPIC, {"token": token_hash})


async def forget_user(rt: Runtime, user_id: int) -> None:
    """After a change to a staff account commits (deactivated, role, scope or password
    changed): every worker asks the database again for all of the user's tokens."""
    cache_of(rt).forget_user(user_id)
    await rt.bus.publish(TOPIC, {"user": user_id})
