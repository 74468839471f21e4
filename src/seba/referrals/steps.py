"""The steps every referral transaction is made of, shared by the request and hold service
(``service.py``) and the admissions (``admissions.py``).

Helpers here take the caller's session and never commit. The frame of a step on one referral
is ``act``: one transaction that releases expired holds, loads the referral the actor may act
on, runs the step, audits it, announces it and bumps the bed version last.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from seba.beds import ledger
from seba.beds.live import beds_changed
from seba.core import audit, idempotency
from seba.core.access import SYSTEM, Principal, can, covers, covers_district, require
from seba.core.db import after_commit
from seba.core.errors import Conflict, NotFound, ValidationFailed
from seba.core.runtime import Runtime
from seba.core.types import utcnow
from seba.places.models import District, Facility
from seba.referrals import notices
from seba.referrals.models import HOLDING, AdmissionRequest, Referral
from seba.referrals.shapes import referral_dict

SEVERITY = {"severe": 0, "moderate": 1, "mild": 2}
# No 0/O, 1/I/L: references are read out on the phone.
_REF_ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"
MAX_SWEEP = 200


def citizen_actor(phone: str) -> Principal:
    """A family acting behind a verified phone (for the audit log: last digits only)."""
    return Principal(
        user_id=None, username=f"citizen:…{phone[-4:]}", role="citizen", scope_kind="state"
    )


def new_reference(prefix: str = "WB") -> str:
    """A reference read out on the phone: ``WB-7K3M9QX`` (an ambulance request: ``AM-…``)."""
    return f"{prefix}-" + "".join(secrets.choice(_REF_ALPHABET) for _ in range(7))


def reference_pattern(prefix: str = "WB") -> re.Pattern[str]:
    """Exactly the references ``new_reference(prefix)`` makes (to check one from a query)."""
    return re.compile(rf"{re.escape(prefix)}-[{_REF_ALPHABET}]{{7}}")


# ---------------------------------------------------------------- after commit


def announce(rt: Runtime, session: AsyncSession, **data: Any) -> None:
    """After commit: live consoles hear of the referral or request."""

    async def _after() -> None:
        await rt.bus.publish("referrals", data)

    after_commit(session, _after)


def beds_moved(session: AsyncSession, facility_id: int) -> None:
    """Note that a facility's beds moved; ``publish_moved_beds`` bumps the version at the end."""
    moved = session.info.setdefault("beds_moved", [])
    if facility_id not in moved:
        moved.append(facility_id)


async def publish_moved_beds(rt: Runtime, session: AsyncSession) -> None:
    """Bump the public bed version once, as the transaction's last write.

    Lock order: every bed pool row first, the one ``data_version`` row last (as a census does).
    Bumping after each movement deadlocked on PostgreSQL: a reservation that swept an expired
    hold in pool X held X and the version row, then waited for pool Y, held by another
    reservation that was waiting for the version row.
    """
    for facility_id in session.info.pop("beds_moved", []):
        await beds_changed(rt, session, facility_id=facility_id)


# ---------------------------------------------------------------- rows


async def release_expired_holds(rt: Runtime, session: AsyncSession, now: datetime) -> int:
    """Release every hold that has run out; its request goes back to the top of its class."""
    query = (
        select(Referral.id)
        .where(Referral.status.in_(HOLDING), Referral.expires_at <= now)
        # Pools are released in pool order, so two sweeps never lock them crosswise.
        .order_by(Referral.pool_id, Referral.id)
        .limit(MAX_SWEEP)
    )
    if rt.db.is_postgresql:
        query = query.with_for_update(skip_locked=True)
    released = 0
    for referral_id in list(await session.scalars(query)):
        ref = await transition(session, referral_id, HOLDING, "expired", ended_at=now)
        if ref is None:
            continue  # someone else moved it first
        await ledger.release(
            session, pool_id=ref.pool_id, actor=SYSTEM, reason="hold expired", at=now
        )
        await requeue(session, ref.request_id, now)
        audit.record(
            session,
            actor=SYSTEM,
            action="referral.expire",
            entity_type="referral",
            entity_id=ref.id,
            after={"status": "expired"},
        )
        beds_moved(session, ref.facility_id)
        announce(rt, session, referral_id=ref.id, facility_id=ref.facility_id, status="expired")
        released += 1
    return released


async def transition(
    session: AsyncSession,
    referral_id: int,
    from_statuses: Sequence[str],
    to_status: str,
    **values: Any,
) -> Referral | None:
    """Move a referral between statuses if it is still in one of ``from_statuses``."""
    result = await session.execute(
        update(Referral)
        .where(Referral.id == referral_id, Referral.status.in_(from_statuses))
        .values(status=to_status, **values)
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:
        return None
    return await session.get(Referral, referral_id, populate_existing=True)


def not_in_state(ref_status: str, expected: Sequence[str]) -> Conflict:
    if ref_status == "expired":
        return Conflict(
            "The reservation expired and the bed was released.",
            code="reservation_expired",
            details={"status": ref_status},
        )
    return Conflict(
        "This referral cannot do that now.",
        code="invalid_referral_state",
        details={"status": ref_status, "expected": list(expected)},
    )


async def must(
    session: AsyncSession, ref: Referral, frm: Sequence[str], to: str, **values: Any
) -> Referral:
    """``transition``, or the Conflict that says why the referral cannot move now."""
    moved = await transition(session, ref.id, frm, to, **values)
    if moved is None:
        current = await session.get(Referral, ref.id, populate_existing=True)
        raise not_in_state(current.status, frm)
    return moved


async def requeue(session: AsyncSession, request_id: int, now: datetime) -> None:
    await session.execute(
        update(AdmissionRequest)
        .where(AdmissionRequest.id == request_id)
        .values(status="waiting", requeued_at=now)
        .execution_options(synchronize_session=False)
    )


def can_see_request(actor: Principal, req: AdmissionRequest) -> bool:
    if not can(actor, "request.read"):
        return False
    return covers_district(actor, req.district_code)


async def facility_row(session: AsyncSession, facility_id: int) -> Facility:
    facility = await session.get(Facility, facility_id)
    if facility is None:
        raise NotFound("No such facility.", code="facility_not_found")
    return facility


async def referral_for(
    session: AsyncSession, actor: Principal, referral_id: int, action: str
) -> tuple[Referral, AdmissionRequest, Facility]:
    """Load a referral the actor may act on. A forbidden one answers like a missing one."""
    require(actor, action)
    ref = await session.get(Referral, referral_id)
    if ref is None:
        raise NotFound("No such referral.", code="referral_not_found")
    req = await session.get(AdmissionRequest, ref.request_id)
    facility = await session.get(Facility, ref.facility_id)
    allowed = covers(actor, facility) or (
        action in ("referral.read", "referral.cancel") and can_see_request(actor, req)
    )
    if not allowed:
        raise NotFound("No such referral.", code="referral_not_found")
    return ref, req, facility


def new_request(
    *,
    source: str,
    actor_name: str,
    patient,
    district: str,
    condition: str,
    need: str,
    covid_status: str,
    now: datetime,
    lang: str = "bn",
    lat=None,
    lon=None,
    abha=None,
    notes: str = "",
    consent: bool = True,
) -> AdmissionRequest:
    return AdmissionRequest(
        reference=new_reference(),
        source=source,
        status="waiting",
        patient_name=patient.name,
        patient_age=patient.age,
        patient_sex=patient.sex,
        phone=patient.phone,
        district_code=district,
        lat=lat,
        lon=lon,
        condition=condition,
        severity=SEVERITY[condition],
        need=need,
        covid_status=covid_status,
        abha_number=abha,
        notes=notes,
        consent_to_share=consent,
        created_at=now,
        created_by=actor_name,
        lang=lang,
    )


async def check_district(session: AsyncSession, code: str) -> None:
    if await session.get(District, code) is None:
        raise ValidationFailed(
            "Unknown district.", code="unknown_district", details={"district": code}
        )


async def reserve_bed(
    rt: Runtime,
    session: AsyncSession,
    *,
    actor: Principal,
    req: AdmissionRequest,
    facility: Facility,
    bed_type: str,
    now: datetime,
) -> Referral:
    """Hold one matching free bed at ``facility`` for ``req`` until the hold time from now;
    the family and the hospital are told by SMS. Raises Conflict ``no_bed_available``."""
    moved = await ledger.reserve(
        session,
        facility_id=facility.id,
        bed_type=bed_type,
        patient_sex=req.patient_sex,
        actor=actor,
        reason=f"referral {req.reference}",
        at=now,
    )
    if moved is None:
        raise Conflict(
            "No matching bed is free at this hospital now. Choose another hospital.",
            code="no_bed_available",
            details={"facility_id": facility.id, "bed_type": bed_type, "sex": req.patient_sex},
        )
    ref = Referral(
        request_id=req.id,
        facility_id=facility.id,
        pool_id=moved.pool_id,
        bed_type=bed_type,
        sex=moved.sex,
        status="reserved",
        created_by=actor.username,
        created_at=now,
        expires_at=now + timedelta(seconds=rt.settings.reservation_hold_s),
    )
    session.add(ref)
    await session.flush()
    req.status = "reserved"
    if req.reserved_at is None:
        req.reserved_at = now
    audit.record(
        session,
        actor=actor,
        action="referral.reserve",
        entity_type="referral",
        entity_id=ref.id,
        after={
            "request": req.reference,
            "facility": facility.code,
            "bed_type": bed_type,
            "pool_sex": moved.sex,
            "expires_at": ref.expires_at.isoformat(),
        },
    )
    await notices.bed_reserved(session, ref, req, facility)
    beds_moved(session, facility.id)
    announce(rt, session, referral_id=ref.id, facility_id=facility.id, status="reserved")
    return ref


# ---------------------------------------------------------------- the frame of a step


async def act(
    rt: Runtime,
    *,
    actor: Principal,
    referral_id: int,
    action: str,
    audit_action: str,
    idempotency_key: str | None,
    step,
    payload: Any = None,
) -> tuple[dict[str, Any], bool]:
    """Shared frame of every hospital/control-room step on one referral."""
    key = idempotency.check_key(idempotency_key)

    async def work(session: AsyncSession) -> dict[str, Any]:
        now = utcnow()
        await release_expired_holds(rt, session, now)
        ref, req, facility = await referral_for(session, actor, referral_id, action)
        before = ref.status
        ref = await step(session, ref, req, facility, now)
        audit.record(
            session,
            actor=actor,
            action=audit_action,
            entity_type="referral",
            entity_id=ref.id,
            before={"status": before},
            after={"status": ref.status, "reason": ref.reason},
        )
        announce(rt, session, referral_id=ref.id, facility_id=facility.id, status=ref.status)
        await publish_moved_beds(rt, session)
        return referral_dict(ref, req, facility)

    return await idempotency.run_once(
        rt.db,
        scope=f"{audit_action}:{referral_id}:{actor.user_id or actor.username}",
        key=key,
        fingerprint=idempotency.request_fingerprint([audit_action, referral_id, payload]),
        work=work,
    )
