"""Who reaches which consult: the policy table's row rules (``core.access.POLICY``) applied to
consults, and the patients domain's hook for doctors.

``access_consult`` asks the table for the actor's reach over the action and applies it:

- ``SCOPE``: the consult's spoke is inside the actor's scope (a CHO's own spoke; a district
  admin's district; the state).
- ``ASSIGNED``: the consult was offered to or is held by the actor's doctor record (and stays
  readable to them once completed: it is their clinical record too).
- ``POOL``: the routing engine could offer the consult to this doctor now (``routing.may_take``:
  specialty, language, the pools its waiting time reaches, not one they let lapse). Whether it
  is still waiting is the consult's state, not its reach. A doctor cannot take a consult across
  the state by its id.

A consult outside one's reach answers exactly like a missing one (404 ``unknown_consult``): a
consult carries a patient's complaint.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from seba.core.access import Principal, Reach, covers, reach
from seba.core.errors import NotFound
from seba.patients import service as patient_service
from seba.places.models import Spoke
from seba.telemedicine.consults import dispatch, routing
from seba.telemedicine.models import Consultation, Doctor


def unknown_consult() -> NotFound:
    return NotFound("Unknown consult.", code="unknown_consult")


async def my_doctor_id(session: AsyncSession, actor: Principal) -> int | None:
    return await session.scalar(select(Doctor.id).where(Doctor.user_id == actor.user_id))


async def routing_could_offer(
    session: AsyncSession,
    consult: Consultation,
    doctor_id: int,
    now: datetime,
    policy: routing.RoutingPolicy,
) -> bool:
    """``Reach.POOL``: the engine could offer the consult to the doctor now (were it waiting)."""
    skills = (await dispatch.doctor_skills(session, [doctor_id])).get(doctor_id)
    if skills is None:
        return False
    neighbours = await dispatch.pool_neighbours(session)
    waiting = dispatch.waiting_consult(consult, neighbours)
    return routing.may_take(skills, waiting, dispatch.ts(now), policy)


async def reaches(
    session: AsyncSession,
    actor: Principal,
    consult: Consultation,
    action: str,
    *,
    now: datetime | None = None,
    policy: routing.RoutingPolicy | None = None,
) -> bool:
    """Whether ``actor`` reaches ``consult`` for ``action`` (PermissionDenied if the role may not
    take the action at all). ``now`` and ``policy`` are needed for ``Reach.POOL`` only."""
    rule = reach(actor, action)
    if rule is Reach.ANY or (rule is Reach.SCOPE and actor.scope_kind == "state"):
        return True
    if rule is Reach.SCOPE:
        spoke = await session.get(Spoke, consult.spoke_id)
        return spoke is not None and covers(actor, spoke)
    if rule in (Reach.ASSIGNED, Reach.POOL):
        me = await my_doctor_id(session, actor)
        if me is None:
            return False
        if rule is Reach.ASSIGNED:
            return consult.doctor_id == me
        if now is None or policy is None:
            raise TypeError("Reach.POOL needs the time and the routing policy")
        return await routing_could_offer(session, consult, me, now, policy)
    return False


async def access_consult(
    session: AsyncSession,
    actor: Principal,
    consult_id: int,
    action: str = "consult.read",
    *,
    now: datetime | None = None,
    policy: routing.RoutingPolicy | None = None,
) -> Consultation:
    """The consult if ``actor`` reaches it for ``action``; NotFound ``unknown_consult`` when it
    is missing or out of reach; PermissionDenied when the role may not take the action."""
    reach(actor, action)  # the role gate first: a forbidden role is told so, not "not found"
    consult = await session.get(Consultation, consult_id)
    if consult is None or not await reaches(
        session, actor, consult, action, now=now, policy=policy
    ):
        raise unknown_consult()
    return consult


async def doctor_sees_patient(session: AsyncSession, actor: Principal, patient_id: int) -> bool:
    """``Reach.ASSIGNED`` for patients: a doctor sees a patient only through a consult given to
    them (offered, held or done)."""
    me = await my_doctor_id(session, actor)
    if me is None:
        return False
    found = await session.scalar(
        select(Consultation.id)
        .where(Consultation.patient_id == patient_id, Consultation.doctor_id == me)
        .limit(1)
    )
    return found is not None


patient_service.register_assigned_check(doctor_sees_patient)
