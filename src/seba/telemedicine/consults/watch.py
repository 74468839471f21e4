"""Console events across workers without Redis: one look a second per process, never per client.

With Redis the event bus carries every offer and change to every worker. Several workers
without Redis (or while Redis is away) share only the database: an offer made by one worker
would never reach a doctor whose stream another worker holds. So each process that holds
console streams looks, once a second, at what its streams follow, in three statements whatever
their number — its doctors' held consults, its consults' statuses, its queues' waiting sets —
and nudges its own streams of what changed (``bus.publish(local=True)``), as the bed pages do
with the version row (``Runtime._poll_siblings``). One process alone needs none of it.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select, tuple_

from seba.core.runtime import Runtime
from seba.core.versions import ResilientVersions
from seba.telemedicine.consults import events
from seba.telemedicine.models import Consultation, DoctorPresence

WATCH_S = 1.0


def needed(rt: Runtime) -> bool:
    """Whether this process must look for its siblings' changes itself."""
    if rt.redis is None:
        return rt.settings.workers > 1
    return isinstance(rt.versions, ResilientVersions) and rt.versions.degraded


class Watch:
    """What this process's streams saw last; ``look`` publishes the differences locally."""

    def __init__(self) -> None:
        self.doctors: dict[int, tuple[int | None, str | None]] = {}
        self.consults: dict[int, str] = {}
        self.queues: dict[events.Queue, tuple[int, int]] = {}

    async def look(
        self,
        rt: Runtime,
        doctors: list[int],
        consults: list[int],
        queues: list[events.Queue],
    ) -> int:
        """One read of each kind; returns how many events were published."""
        found_doctors: dict[int, tuple[int | None, str | None]] = {}
        found_consults: dict[int, str] = {}
        found_queues: dict[events.Queue, tuple[int, int]] = {}
        # The consults the doctors held at the last look too: what became of them is news.
        held_before = {c for (c, _) in self.doctors.values() if c is not None}
        consults = sorted(set(consults) | held_before)
        async with rt.db.read() as session:
            if doctors:
                rows = await session.execute(
                    select(DoctorPresence.doctor_id, DoctorPresence.consult_id, Consultation.status)
                    .outerjoin(Consultation, Consultation.id == DoctorPresence.consult_id)
                    .where(DoctorPresence.doctor_id.in_(doctors))
                )
                found_doctors = {d: (c, s) for d, c, s in rows}
            if consults:
                rows = await session.execute(
                    select(Consultation.id, Consultation.status).where(
                        Consultation.id.in_(consults)
                    )
                )
                found_consults = {c: st for c, st in rows}
            if queues:
                rows = await session.execute(
                    select(
                        Consultation.pool_code,
                        Consultation.specialty,
                        Consultation.language,
                        func.count(),
                        func.sum(Consultation.id),
                    )
                    .where(
                        Consultation.status == "queued",
                        tuple_(
                            Consultation.pool_code, Consultation.specialty, Consultation.language
                        ).in_(queues),
                    )
                    .group_by(Consultation.pool_code, Consultation.specialty, Consultation.language)
                )
                found_queues = {(p, s, lang): (n, int(ids or 0)) for p, s, lang, n, ids in rows}
        sent: list[tuple[str, dict[str, Any]]] = []
        for doctor_id, now in found_doctors.items():
            before = self.doctors.get(doctor_id)
            if before is not None and before != now:
                sent.extend(_doctor_events(doctor_id, before, now, found_consults))
        for consult_id, status in found_consults.items():
            before_status = self.consults.get(consult_id)
            if before_status is not None and before_status != status:
                data = {"consult_id": consult_id, "status": events.shown_status(status)}
                sent.append((events.consult_topic(consult_id), {events.EVENT_KEY: "state", **data}))
        for queue in queues:
            now_q = found_queues.get(queue, (0, 0))
            if queue in self.queues and self.queues[queue] != now_q:
                sent.append((events.queue_topic(*queue), {events.EVENT_KEY: "position"}))
            self.queues[queue] = now_q
        self.doctors, self.consults = found_doctors, found_consults
        self.queues = {q: v for q, v in self.queues.items() if q in queues}
        for topic, data in sent:
            await rt.bus.publish(topic, data, local=True)
        return len(sent)


def _doctor_events(
    doctor_id: int,
    before: tuple[int | None, str | None],
    now: tuple[int | None, str | None],
    statuses: dict[int, str],
) -> list[tuple[str, dict[str, Any]]]:
    topic = events.doctor_topic(doctor_id)
    out: list[tuple[str, dict[str, Any]]] = []
    old_id, _ = before
    new_id, new_status = now
    if old_id is not None and old_id != new_id:
        # Theirs no longer: taken back, cancelled or finished.
        data = {"consult_id": old_id, "status": statuses.get(old_id, "queued")}
        out.append((topic, {events.EVENT_KEY: "consult", **data}))
    if new_id is not None and new_status == "offered" and (old_id != new_id or before != now):
        out.append((topic, {events.EVENT_KEY: "offer", "consult_id": new_id}))
    elif new_id is not None and before != now:
        data = {"consult_id": new_id, "status": new_status}
        out.append((topic, {events.EVENT_KEY: "consult", **data}))
    return out
