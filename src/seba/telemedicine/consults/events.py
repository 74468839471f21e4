"""Live events of consults: what the doctor's console and the CHO's consult page hear.

Every change of a consult's status is published after commit (``db.after_commit``) on the
event bus (Redis pub/sub across workers and nodes, in-process without Redis). An event says
only "this changed": ids, a status, never patient data; the page fetches its state once.

Topics and the events on them (the ``event`` key names the SSE event, ``web.live``):

- ``doctor:<doctor id>``: ``offer`` ``{"consult_id"}`` when a consult is offered to the doctor;
  ``consult`` ``{"consult_id", "status"}`` when a consult offered to or held by them changes
  (taken back, lapsed, cancelled by the CHO, joined, prescribed, closed).
- ``consult:<consult id>``: ``state`` ``{"consult_id", "status"}`` on every status change, the
  status as the CHO sees it (an offer not yet accepted is still "queued" to the centre).
- ``queue:<pool>:<specialty>:<language>``: ``position`` ``{}`` when a consult enters or leaves
  that queue (raised, offered, returned, cancelled), so every CHO waiting in it looks again at
  their place. A new doctor online or gone does not nudge: the wait estimate moves with it,
  the place does not; the page shows the new estimate at its next event.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from seba.core.db import after_commit
from seba.core.runtime import Runtime

# The only keys a stream passes on (``web.live`` ``keep``): ids and a status.
KEEP = ("consult_id", "status")
# The data key that names the SSE event (``web.live`` ``event_key``).
EVENT_KEY = "event"

Queue = tuple[str, str, str]


def doctor_topic(doctor_id: int) -> str:
    return f"doctor:{doctor_id}"


def consult_topic(consult_id: int) -> str:
    return f"consult:{consult_id}"


def queue_topic(pool: str, specialty: str, language: str) -> str:
    return f"queue:{pool}:{specialty}:{language}"


def queue_of(consult: Any) -> Queue:
    """The queue a consult waits in: its pool, specialty and language (no patient data)."""
    return (consult.pool_code, consult.specialty, consult.language)


def shown_status(status: str) -> str:
    # An offer the doctor has not accepted yet is, for the centre, still waiting.
    return "queued" if status == "offered" else status


def _note(rt: Runtime, session: AsyncSession, topic: str, data: dict[str, Any]) -> None:
    """Publish after commit; events of one transaction go out in the order they were noted."""
    pending: list[tuple[str, dict[str, Any]]] | None = session.info.get("tele_events")
    if pending is None:
        pending = session.info["tele_events"] = []

        async def _publish() -> None:
            for name, body in session.info.pop("tele_events", ()):
                await rt.bus.publish(name, body)

        # The same session object runs its after-commit steps after it closed: the list is
        # read then, with every event of the transaction in it.
        after_commit(session, _publish)
    if (topic, data) not in pending:
        pending.append((topic, data))


def offered(
    rt: Runtime, session: AsyncSession, *, consult_id: int, doctor_id: int, queue: Queue
) -> None:
    """A queued consult was offered to ``doctor_id``: they hear ``offer``; it left its queue."""
    _note(rt, session, doctor_topic(doctor_id), {EVENT_KEY: "offer", "consult_id": consult_id})
    changed(rt, session, consult_id=consult_id, status="offered", queue=queue)


def changed(
    rt: Runtime,
    session: AsyncSession,
    *,
    consult_id: int,
    status: str,
    doctor_id: int | None = None,
    queue: Queue | None = None,
) -> None:
    """A consult's status changed. ``doctor_id``: the doctor it was offered to or held by
    (they hear ``consult``); ``queue``: the queue it entered or left (its waiters are nudged)."""
    _note(
        rt,
        session,
        consult_topic(consult_id),
        {EVENT_KEY: "state", "consult_id": consult_id, "status": shown_status(status)},
    )
    if doctor_id is not None:
        _note(
            rt,
            session,
            doctor_topic(doctor_id),
            {EVENT_KEY: "consult", "consult_id": consult_id, "status": status},
        )
    if queue is not None:
        _note(rt, session, queue_topic(*queue), {EVENT_KEY: "position"})
