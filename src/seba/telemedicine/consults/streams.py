"""What the consoles' live streams share in a process: their sessions, and the presence a
doctor's open stream keeps.

A doctor's console and a CHO's consult page each hold one server-sent-event stream
(``telemedicine.pages.events``) of the topics in ``events``; on an event (and once after a
reconnect) the page fetches its state once. Nothing on these pages polls the database.

Presence by stream: while a doctor's stream is open on a process, that process keeps the
doctor present. Each process holds the set of open console streams (``LiveConsoles``) and, every
``min(sse_heartbeat_s, presence_timeout_s / 3)`` seconds, does two statements whatever the
number of streams: one read of which of their sessions are still open (a logout or a
deactivated account ends the stream at its next heartbeat), and one UPDATE of the presence rows
of their doctors (``last_heartbeat_at``). Two ticks may be lost before the sweep would take a
doctor offline. An idle doctor thus costs the database nothing of their own between offers.

A stream that closes is not taken offline at once: a page navigation (accept, prescribe)
closes and reopens it within a second, and a weak network drops it now and then. The sweep's
silent-doctor rule (``doctors.mark_silent_doctors_offline``) takes the doctor offline once no
process has refreshed them for ``presence_timeout_s``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import Counter
from collections.abc import AsyncIterator
from datetime import datetime
from typing import NamedTuple

from sqlalchemy import select, update

from seba.accounts import service as account_service
from seba.core.db import transactional
from seba.core.runtime import Runtime
from seba.core.types import utcnow
from seba.telemedicine.consults import events, watch
from seba.telemedicine.models import Consultation, DoctorPresence

log = logging.getLogger(__name__)
CACHE_KEY = "tele_live_consoles"


class Stream(NamedTuple):
    token: str
    doctor_id: int | None
    consult_id: int | None
    queue: events.Queue | None


class LiveConsoles:
    """This process's open console streams: their sessions, and the doctors they keep present."""

    def __init__(self, rt: Runtime) -> None:
        self.rt = rt
        # (session token, doctor kept present, consult followed, its queue) per open stream.
        self._streams: Counter[Stream] = Counter()
        self._ended: set[str] = set()
        self._task: asyncio.Task[None] | None = None
        self._watch_task: asyncio.Task[None] | None = None
        self._watch = watch.Watch()

    @property
    def interval_s(self) -> float:
        s = self.rt.settings
        return min(s.sse_heartbeat_s, s.presence_timeout_s / 3)

    def doctors(self) -> list[int]:
        """The doctors with an open stream here (each listed once, however many tabs)."""
        return sorted({s.doctor_id for s in self._streams if s.doctor_id is not None})

    @contextlib.asynccontextmanager
    async def hold(
        self,
        token: str,
        doctor_id: int | None = None,
        consult_id: int | None = None,
        queue: events.Queue | None = None,
    ) -> AsyncIterator[None]:
        """For the life of one stream: its session is checked, its doctor kept present (and,
        without Redis across workers, what it follows watched: ``watch``)."""
        key = Stream(token, doctor_id, consult_id, queue)
        self._streams[key] += 1
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._run())
        if self._watch_task is None or self._watch_task.done():
            self._watch_task = asyncio.create_task(self._run_watch())
        try:
            yield
        finally:
            self._streams[key] -= 1
            if self._streams[key] <= 0:
                del self._streams[key]

    async def still_allowed(self, token: str) -> bool:
        """The stream's heartbeat question, answered from the last tick (no query)."""
        return token not in self._ended

    async def _run(self) -> None:
        while self._streams:
            await asyncio.sleep(self.interval_s)
            try:
                await self.tick()
            except Exception as exc:  # the next tick tries again; two may be lost
                log.warning("console streams: presence refresh failed (%s)", exc)

    async def _run_watch(self) -> None:
        while self._streams:
            await asyncio.sleep(watch.WATCH_S)
            if not watch.needed(self.rt):
                continue
            try:
                await self.look()
            except Exception as exc:
                log.warning("console streams: sibling watch failed (%s)", exc)

    async def look(self) -> int:
        """One look at what this process's streams follow (``watch``); events published."""
        streams = list(self._streams)
        return await self._watch.look(
            self.rt,
            doctors=self.doctors(),
            consults=sorted({s.consult_id for s in streams if s.consult_id is not None}),
            queues=sorted({s.queue for s in streams if s.queue is not None}),
        )

    async def tick(self, now: datetime | None = None) -> int:
        """One session check and one presence refresh for every open stream; returns how many
        doctors were refreshed."""
        tokens = {s.token for s in self._streams}
        if not tokens:
            return 0
        live = await account_service.live_tokens(self.rt, tokens)
        self._ended = tokens - live
        doctors = sorted(
            {s.doctor_id for s in self._streams if s.doctor_id is not None and s.token in live}
        )
        if doctors:
            await refresh_presence(self.rt, doctors, now or utcnow())
        return len(doctors)

    async def stop(self) -> None:
        for task in (self._task, self._watch_task):
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        self._task = self._watch_task = None


async def refresh_presence(rt: Runtime, doctor_ids: list[int], now: datetime) -> None:
    """Mark ``doctor_ids`` heard from now, in one statement.

    The rows are locked in id order, skipping any a request holds right now (a doctor's accept,
    an offer): two processes' refreshes never wait on each other, nor on dispatch (which locks a
    consult, then one presence row). A row skipped now is refreshed at the next tick.
    """
    mine = (
        select(DoctorPresence.doctor_id)
        .where(DoctorPresence.doctor_id.in_(doctor_ids))
        .order_by(DoctorPresence.doctor_id)
        .with_for_update(skip_locked=True)
    )
    async with transactional(rt.db) as session:
        await session.execute(
            update(DoctorPresence)
            .where(DoctorPresence.doctor_id.in_(mine))
            .values(last_heartbeat_at=now)
            .execution_options(synchronize_session=False)
        )


def consoles_of(rt: Runtime) -> LiveConsoles:
    consoles = rt.caches.get(CACHE_KEY)
    if consoles is None:
        consoles = rt.caches[CACHE_KEY] = LiveConsoles(rt)
        rt.on_close(consoles.stop)
    return consoles


async def standing_offer(rt: Runtime, doctor_id: int) -> int | None:
    """The consult offered to the doctor now and not yet accepted, if any (one read)."""
    async with rt.db.read() as session:
        return await session.scalar(
            select(Consultation.id)
            .join(DoctorPresence, DoctorPresence.consult_id == Consultation.id)
            .where(DoctorPresence.doctor_id == doctor_id, Consultation.status == "offered")
        )
