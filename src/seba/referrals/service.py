"""Central referral: admission requests and bed holds (reserve, confirm, reject, cancel, move).

Every function here is one transaction (``transactional`` or ``idempotency.run_once``) that
checks access, moves the bed ledger with a conditional update (``beds.ledger``), writes the
referral rows, an audit row, and the outbox messages (SMS to the family, notice to the
hospital) — all or nothing. Before any reservation, holds that have run out are released in the
same transaction, so correctness never depends on the worker running.

What happens after a patient arrives (admit, discharge, transfer, walk-in) is
``admissions.py``; the lists the control room and hospitals watch are ``board.py``; the steps
all of them share are ``steps.py``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from seba.beds import ledger
from seba.core import audit, idempotency
from seba.core.access import Principal, covers_district, require
from seba.core.db import transactional
from seba.core.errors import Conflict, NotFound, PermissionDenied, ValidationFailed
from seba.core.runtime import Runtime
from seba.core.types import utcnow
from seba.referrals import notices, queries, steps
from seba.referrals.models import HOLDING, AdmissionRequest
from seba.referrals.schemas import (
    CallerRequest,
    CitizenRequest,
    MoveBody,
    Patient,
    ReferralCreate,
    abha_warnings,
)
from seba.referrals.shapes import referral_dict, request_dict

# ---------------------------------------------------------------- requests


def _queued(
    data: CitizenRequest | CallerRequest,
    *,
    source: str,
    actor_name: str,
    now: datetime,
    lang: str = "bn",
) -> AdmissionRequest:
    """A new waiting request from a family's form or an operator's (the same fields)."""
    return steps.new_request(
        source=source,
        actor_name=actor_name,
        patient=data.patient,
        district=data.district,
        condition=data.condition,
        need=data.need,
        covid_status=data.covid_status,
        now=now,
        lang=lang,
        lat=data.lat,
        lon=data.lon,
        abha=data.abha_number,
        notes=data.notes,
        consent=data.consent,
    )


async def submit_citizen_request(
    rt: Runtime, *, phone: str, data: CitizenRequest, lang: str = "bn"
) -> dict[str, Any]:
    """A family asks for a bed (phone already verified by a code). Returns the request and any
    warnings (an ABHA number whose checksum looks wrong is kept, with a warning).

    The patient's phone must be the verified phone. Raises ValidationFailed, PermissionDenied.
    """
    if data.patient.phone != phone:
        raise PermissionDenied(
            "The patient's phone must be the phone you verified.", code="phone_mismatch"
        )
    now = utcnow()
    async with transactional(rt.db) as session:
        await steps.check_district(session, data.district)
        req = _queued(
            data,
            source="citizen",
            actor_name=steps.citizen_actor(phone).username,
            now=now,
            lang=lang,
        )
        session.add(req)
        await session.flush()
        audit.record(
            session,
            actor=steps.citizen_actor(phone),
            action="request.submit",
            entity_type="admission_request",
            entity_id=req.id,
            after={"reference": req.reference, "need": req.need, "condition": req.condition},
        )
        notices.request_received(session, req)
        steps.announce(rt, session, request_id=req.id, status="waiting")
    return {**request_dict(req), "warnings": abha_warnings(req.abha_number)}


async def create_caller_request(
    rt: Runtime, *, actor: Principal, data: CallerRequest
) -> dict[str, Any]:
    """An operator records a phone caller's request into the queue."""
    require(actor, "request.create")
    if not covers_district(actor, data.district):
        raise PermissionDenied("This district is outside your scope.", code="out_of_scope")
    now = utcnow()
    async with transactional(rt.db) as session:
        await steps.check_district(session, data.district)
        req = _queued(data, source="control_room", actor_name=actor.username, now=now)
        session.add(req)
        await session.flush()
        audit.record(
            session,
            actor=actor,
            action="request.create",
            entity_type="admission_request",
            entity_id=req.id,
            after={"reference": req.reference},
        )
        steps.announce(rt, session, request_id=req.id, status="waiting")
    return {**request_dict(req), "warnings": abha_warnings(req.abha_number)}


async def add_teleconsult_request(
    rt: Runtime,
    session: AsyncSession,
    *,
    actor: Principal,
    patient: Patient,
    district: str,
    condition: str,
    need: str,
    notes: str,
) -> AdmissionRequest:
    """A hub doctor refers a teleconsult patient for admission: the request joins the control
    room's queue in the caller's transaction (the prescription and the request are one unit).

    The caller has checked that the actor holds the consult; the patient consented to the
    teleconsultation, whose referral this is.
    """
    await steps.check_district(session, district)
    req = steps.new_request(
        source="teleconsult",
        actor_name=actor.username,
        patient=patient,
        district=district,
        condition=condition,
        need=need,
        covid_status="unknown",
        now=utcnow(),
        notes=notes[:500],
    )
    session.add(req)
    await session.flush()
    audit.record(
        session,
        actor=actor,
        action="request.create",
        entity_type="admission_request",
        entity_id=req.id,
        after={"reference": req.reference, "source": "teleconsult"},
    )
    steps.announce(rt, session, request_id=req.id, status="waiting")
    return req


# ---------------------------------------------------------------- holds


async def create_referral(
    rt: Runtime, *, actor: Principal, data: ReferralCreate, idempotency_key: str | None = None
) -> tuple[dict[str, Any], bool]:
    """Reserve one matching free bed at a facility, for a waiting request or a new patient.

    Preconditions: the actor may ``referral.reserve``; a ``request_id`` must be waiting and in
    the actor's scope; otherwise ``patient`` is required. Side effects: bed held (reserved + 1)
    until ``reservation_hold_s`` from now; request → reserved; SMS to the family and the
    hospital via the outbox; audit; live events. Idempotent per actor with ``Idempotency-Key``.
    Returns (referral, replayed). Raises NotFound, ValidationFailed, Conflict
    ``no_bed_available`` / ``request_not_waiting``; nothing is written on any error.
    """
    require(actor, "referral.reserve")
    if (data.request_id is None) == (data.patient is None):
        raise ValidationFailed(
            "Give either request_id or patient.",
            code="request_or_patient",
        )
    key = idempotency.check_key(idempotency_key)

    async def work(session: AsyncSession) -> dict[str, Any]:
        now = utcnow()
        await steps.release_expired_holds(rt, session, now)
        facility = await steps.facility_row(session, data.facility_id)
        if data.request_id is not None:
            # Locked: on PostgreSQL two operators reserving for the same waiting request would
            # otherwise both read "waiting" and both hold a bed. The second now waits here and
            # then reads "reserved". (SQLite's BEGIN IMMEDIATE already serialised us.)
            req = await session.get(
                AdmissionRequest, data.request_id, with_for_update=True, populate_existing=True
            )
            if req is None or not steps.can_see_request(actor, req):
                raise NotFound("No such request.", code="request_not_found")
            if req.status != "waiting":
                raise Conflict(
                    "This request is not waiting for a bed.",
                    code="request_not_waiting",
                    details={"status": req.status},
                )
        else:
            district = data.district or facility.district_code
            await steps.check_district(session, district)
            req = steps.new_request(
                # Staff of one hospital reserving elsewhere: an outgoing referral.
                source="hospital" if actor.scope_kind == "facility" else "control_room",
                actor_name=actor.username,
                patient=data.patient,
                district=district,
                condition=data.condition,
                need=data.bed_type,
                covid_status=data.covid_status,
                now=now,
                notes=data.notes,
            )
            session.add(req)
            await session.flush()
        ref = await steps.reserve_bed(
            rt, session, actor=actor, req=req, facility=facility, bed_type=data.bed_type, now=now
        )
        await steps.publish_moved_beds(rt, session)
        return referral_dict(ref, req, facility)

    return await idempotency.run_once(
        rt.db,
        scope=f"referral.create:{actor.user_id or actor.username}",
        key=key,
        fingerprint=idempotency.request_fingerprint(data.model_dump(mode="json")),
        work=work,
    )


async def confirm_referral(
    rt: Runtime, *, actor: Principal, referral_id: int, idempotency_key: str | None = None
):
    """The hospital accepts the incoming patient (the bed stays held until admission)."""

    async def step(session, ref, req, facility, now):
        return await steps.must(session, ref, ("reserved",), "confirmed", confirmed_at=now)

    return await steps.act(
        rt,
        actor=actor,
        referral_id=referral_id,
        action="referral.respond",
        audit_action="referral.confirm",
        idempotency_key=idempotency_key,
        step=step,
    )


async def reject_referral(
    rt: Runtime,
    *,
    actor: Principal,
    referral_id: int,
    reason: str,
    idempotency_key: str | None = None,
):
    """The hospital cannot take the patient: the bed is released and the request goes back to the
    control room at the top of its class."""

    async def step(session, ref, req, facility, now):
        ref = await steps.must(session, ref, HOLDING, "rejected", reason=reason, ended_at=now)
        await ledger.release(
            session, pool_id=ref.pool_id, actor=actor, reason=f"rejected: {reason}", at=now
        )
        await steps.requeue(session, req.id, now)
        steps.beds_moved(session, facility.id)
        return ref

    return await steps.act(
        rt,
        actor=actor,
        referral_id=referral_id,
        action="referral.respond",
        audit_action="referral.reject",
        payload=reason,
        idempotency_key=idempotency_key,
        step=step,
    )


async def cancel_referral(
    rt: Runtime,
    *,
    actor: Principal,
    referral_id: int,
    reason: str = "",
    close_request: bool = False,
    idempotency_key: str | None = None,
):
    """The control room (or the hospital) cancels a hold; the bed is released. The request goes
    back to the queue unless ``close_request`` (the family no longer needs a bed)."""

    async def step(session, ref, req, facility, now):
        ref = await steps.must(session, ref, HOLDING, "cancelled", reason=reason, ended_at=now)
        await ledger.release(
            session, pool_id=ref.pool_id, actor=actor, reason=f"cancelled: {reason}", at=now
        )
        if close_request:
            req.status = "closed"
        else:
            await steps.requeue(session, req.id, now)
        steps.beds_moved(session, facility.id)
        return ref

    return await steps.act(
        rt,
        actor=actor,
        referral_id=referral_id,
        action="referral.cancel",
        audit_action="referral.cancel",
        payload=[reason, close_request],
        idempotency_key=idempotency_key,
        step=step,
    )


async def move_referral(
    rt: Runtime, *, actor: Principal, referral_id: int, data: MoveBody
) -> dict[str, Any]:
    """Move a hold to another facility in one step: the new bed is taken first, then the old one
    released; if the new facility has no free bed nothing changes (409 ``no_bed_available``)."""
    require(actor, "referral.reserve")
    async with transactional(rt.db) as session:
        now = utcnow()
        await steps.release_expired_holds(rt, session, now)
        ref, req, old_facility = await steps.referral_for(
            session, actor, referral_id, "referral.cancel"
        )
        new_facility = await steps.facility_row(session, data.facility_id)
        ref = await steps.must(session, ref, HOLDING, "cancelled", reason="moved", ended_at=now)
        await ledger.release(session, pool_id=ref.pool_id, actor=actor, reason="moved", at=now)
        steps.beds_moved(session, old_facility.id)
        new_ref = await steps.reserve_bed(
            rt,
            session,
            actor=actor,
            req=req,
            facility=new_facility,
            bed_type=data.bed_type or ref.bed_type,
            now=now,
        )
        audit.record(
            session,
            actor=actor,
            action="referral.move",
            entity_type="referral",
            entity_id=ref.id,
            before={"facility": old_facility.code},
            after={"referral_id": new_ref.id, "facility": new_facility.code},
        )
        await steps.publish_moved_beds(rt, session)
        return referral_dict(new_ref, req, new_facility)


async def release_expired(rt: Runtime) -> int:
    """Worker step: release holds that ran out. Returns how many."""
    async with transactional(rt.db) as session:
        released = await steps.release_expired_holds(rt, session, utcnow())
        await steps.publish_moved_beds(rt, session)
        return released


# ---------------------------------------------------------------- one request or referral


async def read_referral(rt: Runtime, *, actor: Principal, referral_id: int) -> dict[str, Any]:
    """One referral with its patient; the read is audited (patient data)."""
    async with transactional(rt.db) as session:
        ref, req, facility = await steps.referral_for(session, actor, referral_id, "referral.read")
        audit.record(
            session, actor=actor, action="patient.read", entity_type="referral", entity_id=ref.id
        )
        return referral_dict(ref, req, facility)


async def citizen_status(rt: Runtime, *, phone: str, reference: str) -> dict[str, Any]:
    """What a family sees behind their verified phone: the request and where the bed is."""
    async with rt.db.read() as session:
        req = await session.scalar(
            select(AdmissionRequest).where(AdmissionRequest.reference == reference.strip().upper())
        )
        # Another phone's request answers exactly like a missing one.
        if req is None or req.phone != phone:
            raise NotFound(
                "No request with this reference for your phone.", code="request_not_found"
            )
        referrals = await queries.family_referrals(session, req.id)
    return {**request_dict(req), "referrals": referrals}
