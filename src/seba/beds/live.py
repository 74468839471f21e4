"""The one way a write tells the public bed views they changed.

Every transaction that changes what the public bed views show (a census, a reservation, a new
facility, an import) calls ``beds_changed``: it bumps the ``beds`` data version in the
transaction, so cached bytes of the old version are never served again on any worker, and
after commit it moves the process's version source and publishes a ``beds`` event to the live
pages. Nothing is announced for a transaction that rolls back.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from seba.core.db import after_commit
from seba.core.runtime import Runtime
from seba.core.versions import bump_in_transaction

VERSION = "beds"
# The version this transaction bumped to, kept on the session (bumped once per transaction).
_BUMPED = "beds_version_bumped"


async def beds_changed(rt: Runtime, session: AsyncSession, **data: Any) -> None:
    """Bump the bed data version in this transaction (once, however often it is called) and,
    after commit, publish ``data`` as a ``beds`` event.

    The version is one row that every bed write updates, so call this as the transaction's
    last write: writers then lock bed pools first and the version row last, all in one order
    (a bump before a pool update deadlocked two reservations on PostgreSQL).
    """
    if _BUMPED not in session.info:
        session.info[_BUMPED] = await bump_in_transaction(session, VERSION)
    value = session.info[_BUMPED]

    async def _after() -> None:
        await rt.versions.committed(VERSION, value)
        await rt.bus.publish(VERSION, data)

    after_commit(session, _after)
