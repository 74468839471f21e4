"""The one way a write tells the public bed views they changed.

Every transaction that changes what the public bed views show (a census, a reservation, a new
facility, an import) calls ``beds_changed``: it bumps the ``beds`` data version in the
transaction, so nothing built from the old version is served again on any worker, notes which
facility changed (``availability_change``: each worker's in-memory availability reads only
those), and after commit it moves the process's version source and publishes a ``beds`` event
to the live pages. Nothing is announced for a transaction that rolls back.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import delete, insert
from sqlalchemy.ext.asyncio import AsyncSession

from seba.beds.models import AvailabilityChange
from seba.core.db import after_commit
from seba.core.runtime import Runtime
from seba.core.versions import bump_in_transaction

VERSION = "beds"
# The version this transaction bumped to, kept on the session (bumped once per transaction).
_BUMPED = "beds_version_bumped"
_NOTED = "beds_facilities_noted"
# Change rows kept: a worker further behind than this rebuilds its availability from scratch
# (``beds.refresh.KEPT_VERSIONS`` is smaller, so it never reads a range that was pruned).
KEEP_CHANGES = 5000
PRUNE_EVERY = 500


async def beds_changed(
    rt: Runtime, session: AsyncSession, *, facility_id: int | None = None, **data: Any
) -> None:
    """Bump the bed data version in this transaction (once, however often it is called), note
    ``facility_id`` as changed (none: anything may have changed, e.g. an import) and, after
    commit, publish the event (``facility_id`` and ``data``) as a ``beds`` event.

    The version is one row that every bed write updates, so call this as the transaction's
    last write: writers then lock bed pools first and the version row last, all in one order
    (a bump before a pool update deadlocked two reservations on PostgreSQL).
    """
    if _BUMPED not in session.info:
        session.info[_BUMPED] = await bump_in_transaction(session, VERSION)
        if session.info[_BUMPED] % PRUNE_EVERY == 0:
            await session.execute(
                delete(AvailabilityChange).where(
                    AvailabilityChange.version <= session.info[_BUMPED] - KEEP_CHANGES
                )
            )
    value = session.info[_BUMPED]
    noted = session.info.setdefault(_NOTED, set())
    if facility_id not in noted:
        noted.add(facility_id)
        # New rows only: no lock that another writer waits for.
        await session.execute(
            insert(AvailabilityChange).values(version=value, facility_id=facility_id)
        )
    event = data if facility_id is None else {"facility_id": facility_id, **data}

    async def _after() -> None:
        await rt.versions.committed(VERSION, value)
        await rt.bus.publish(VERSION, event)

    after_commit(session, _after)
