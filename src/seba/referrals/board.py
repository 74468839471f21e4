"""What the control room and the hospitals watch: the waiting queue with the holds in flight,
where a hold can move, a hospital's incoming referrals and admissions, and the board's counts
and timings.

The queue and a hospital's list show patients, so reading them writes an audit row (in a
transaction of its own); the board holds no patient data and is a plain read.
"""

from __future__ import annotations

from typing import Any

from seba.core import audit
from seba.core.access import Principal, covers, require
from seba.core.db import transactional
from seba.core.errors import PermissionDenied
from seba.core.runtime import Runtime
from seba.core.types import utcnow
from seba.referrals import queries, steps


async def control_queue(
    rt: Runtime, *, actor: Principal
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The waiting queue with ranked free beds, in the operator's scope (audited: patients).

    Raises PermissionDenied for roles that do not see requests (hospital staff may reserve, but
    the queue lists every waiting family and every hold in the state)."""
    require(actor, "request.read")
    async with transactional(rt.db) as session:
        # The queue must not show expired holds as active even if the worker is down.
        now = utcnow()
        await steps.release_expired_holds(rt, session, now)
        await steps.publish_moved_beds(rt, session)
        items = await queries.waiting_queue(
            session, actor, now=utcnow(), stale_after_s=rt.settings.stale_after_s
        )
        active = await queries.active_referrals(session, actor)
        audit.record(
            session,
            actor=actor,
            action="patient.list",
            entity_type="admission_request",
            entity_id="queue",
            after={"requests": [i["id"] for i in items], "referrals": [a["id"] for a in active]},
        )
    return items, active


async def move_choices(
    rt: Runtime, *, actor: Principal, facility_id: int, bed_type: str, patient_sex: str
) -> list[dict[str, Any]]:
    """Hospitals a hold at ``facility_id`` can move to, nearest first: a free bed of the type
    for the patient, in the actor's district when their scope is one (no patient data)."""
    require(actor, "referral.cancel")
    district = actor.scope_code if actor.scope_kind == "district" else None
    async with rt.db.read() as session:
        return await queries.move_choices(
            session,
            leaving=facility_id,
            bed_type=bed_type,
            patient_sex=patient_sex,
            district=district,
            now=utcnow(),
            stale_after_s=rt.settings.stale_after_s,
        )


async def facility_referrals(
    rt: Runtime, *, actor: Principal, facility_id: int
) -> list[dict[str, Any]]:
    """Incoming holds and current admissions of one facility (hospital staff, admins in scope).
    The listing shows patients, so it is audited."""
    require(actor, "referral.respond")
    async with transactional(rt.db) as session:
        facility = await steps.facility_row(session, facility_id)
        if not covers(actor, facility):
            raise PermissionDenied("This facility is outside your scope.", code="out_of_scope")
        items = await queries.referrals_for_facility(session, facility_id)
        audit.record(
            session,
            actor=actor,
            action="patient.list",
            entity_type="facility",
            entity_id=facility_id,
            after={"referrals": [i["id"] for i in items]},
        )
    return items


async def control_board(rt: Runtime, *, actor: Principal) -> dict[str, Any]:
    """Counts and timings for the control room (no patient data; scoped like the queue)."""
    require(actor, "request.read")
    async with rt.db.read() as session:
        return await queries.board(session, actor, now=utcnow())
