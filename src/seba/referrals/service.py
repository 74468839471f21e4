"""Central referral: requests, bed reservations, hospital responses, admissions, discharges.

Every function here is one transaction (``transactional`` or ``idempotency.run_once``) that
checks access, moves the bed ledger with a conditional update (``beds.ledger``), writes the
referral rows, an audit row, and the outbox messages (SMS to the family, notice to the
hospital) — all or nothing. Before any reservation, holds that have run out are released in the
same transaction, so correctness never depends on the worker running.
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from seba.beds import ledger
from seba.beds.live import beds_changed
from seba.core import audit, idempotency, outbox
from seba.core.access import SYSTEM, Principal, can, covers, covers_district, require
from seba.core.db import after_commit, transactional
from seba.core.errors import Conflict, NotFound, PermissionDenied, ValidationFailed
from seba.core.i18n import gettext, local_time
from seba.core.runtime import Runtime
from seba.core.types import utcnow
from seba.places.models import District, Facility
from seba.referrals.models import HOLDING, AdmissionRequest, Referral
from seba.referrals.schemas import (
    CallerRequest,
    CitizenRequest,
    DischargeBody,
    MoveBody,
    Patient,
    ReferralCreate,
    TransferBody,
    WalkIn,
    abha_warnings,
)

SEVERITY = {"severe": 0, "moderate": 1, "mild": 2}
# No 0/O, 1/I/L: references are read out on the phone.
_REF_ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"
MAX_SWEEP = 200


def citizen_actor(phone: str) -> Principal:
    """A family acting behind a verified phone (for the audit log: last digits only)."""
    return Principal(
        user_id=None, username=f"citizen:…{phone[-4:]}", role="citizen", scope_kind="state"
    )


def new_reference() -> str:
    return "WB-" + "".join(secrets.choice(_REF_ALPHABET) for _ in range(7))


def local_hhmm(at: datetime, lang: str) -> str:
    return local_time(at, lang)


# ---------------------------------------------------------------- answers


def request_dict(req: AdmissionRequest) -> dict[str, Any]:
    return {
        "id": req.id,
        "reference": req.reference,
        "source": req.source,
        "status": req.status,
        "patient": {
            "name": req.patient_name,
            "age": req.patient_age,
            "sex": req.patient_sex,
            "phone": req.phone,
        },
        "district": req.district_code,
        "lat": req.lat,
        "lon": req.lon,
        "condition": req.condition,
        "need": req.need,
        "covid_status": req.covid_status,
        "abha_number": req.abha_number,
        "notes": req.notes,
        "created_at": req.created_at.isoformat(),
        "requeued_at": req.requeued_at.isoformat() if req.requeued_at else None,
        "reserved_at": req.reserved_at.isoformat() if req.reserved_at else None,
        "admitted_at": req.admitted_at.isoformat() if req.admitted_at else None,
    }


def referral_dict(ref: Referral, req: AdmissionRequest, facility: Facility) -> dict[str, Any]:
    return {
        "id": ref.id,
        "status": ref.status,
        "request_id": req.id,
        "reference": req.reference,
        "facility_id": facility.id,
        "facility_code": facility.code,
        "facility_name": facility.name,
        "facility_name_bn": facility.name_bn,
        "bed_type": ref.bed_type,
        "sex": ref.sex,
        "patient": {
            "name": req.patient_name,
            "age": req.patient_age,
            "sex": req.patient_sex,
            "phone": req.phone,
        },
        "condition": req.condition,
        "expires_at": ref.expires_at.isoformat() if ref.expires_at else None,
        "reason": ref.reason,
        "created_by": ref.created_by,
        "created_at": ref.created_at.isoformat(),
        "confirmed_at": ref.confirmed_at.isoformat() if ref.confirmed_at else None,
        "admitted_at": ref.admitted_at.isoformat() if ref.admitted_at else None,
        "ended_at": ref.ended_at.isoformat() if ref.ended_at else None,
        "transfer_request_id": ref.transfer_request_id,
    }


# ---------------------------------------------------------------- shared steps


def _announce(rt: Runtime, session: AsyncSession, **data: Any) -> None:
    """After commit: public availability moves, live consoles hear of the referral."""

    async def _after() -> None:
        await rt.bus.publish("referrals", data)

    after_commit(session, _after)


async def _beds_moved(rt: Runtime, session: AsyncSession, facility_id: int) -> None:
    """Note that a facility's beds moved; ``_publish_moved_beds`` bumps the version at the end."""
    moved = session.info.setdefault("beds_moved", [])
    if facility_id not in moved:
        moved.append(facility_id)


async def _publish_moved_beds(rt: Runtime, session: AsyncSession) -> None:
    """Bump the public bed version once, as the transaction's last write.

    Lock order: every bed pool row first, the one ``data_version`` row last (as a census does).
    Bumping after each movement deadlocked on PostgreSQL: a reservation that swept an expired
    hold in pool X held X and the version row, then waited for pool Y, held by another
    reservation that was waiting for the version row.
    """
    for facility_id in session.info.pop("beds_moved", []):
        await beds_changed(rt, session, facility_id=facility_id)


async def _release_expired(rt: Runtime, session: AsyncSession, now: datetime) -> int:
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
        ref = await _transition(session, referral_id, HOLDING, "expired", ended_at=now)
        if ref is None:
            continue  # someone else moved it first
        await ledger.release(
            session, pool_id=ref.pool_id, actor=SYSTEM, reason="hold expired", at=now
        )
        await _requeue(session, ref.request_id, now)
        audit.record(
            session,
            actor=SYSTEM,
            action="referral.expire",
            entity_type="referral",
            entity_id=ref.id,
            after={"status": "expired"},
        )
        await _beds_moved(rt, session, ref.facility_id)
        _announce(rt, session, referral_id=ref.id, facility_id=ref.facility_id, status="expired")
        released += 1
    return released


async def release_expired(rt: Runtime) -> int:
    """Worker step: release holds that ran out. Returns how many."""
    async with transactional(rt.db) as session:
        released = await _release_expired(rt, session, utcnow())
        await _publish_moved_beds(rt, session)
        return released


async def _transition(
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


async def _requeue(session: AsyncSession, request_id: int, now: datetime) -> None:
    await session.execute(
        update(AdmissionRequest)
        .where(AdmissionRequest.id == request_id)
        .values(status="waiting", requeued_at=now)
        .execution_options(synchronize_session=False)
    )


def _can_see_request(actor: Principal, req: AdmissionRequest) -> bool:
    if not can(actor, "request.read"):
        return False
    return covers_district(actor, req.district_code)


async def _facility(session: AsyncSession, facility_id: int) -> Facility:
    facility = await session.get(Facility, facility_id)
    if facility is None:
        raise NotFound("No such facility.", code="facility_not_found")
    return facility


async def _referral_for(
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
        action in ("referral.read", "referral.cancel") and _can_see_request(actor, req)
    )
    if not allowed:
        raise NotFound("No such referral.", code="referral_not_found")
    return ref, req, facility


def _notify_reserved(
    session: AsyncSession, rt: Runtime, ref: Referral, req: AdmissionRequest, facility: Facility
) -> None:
    lang = req.lang
    phone = facility.phones[0] if facility.phones else "1800-313-444-222"
    until = local_hhmm(ref.expires_at, lang)
    outbox.enqueue(
        session,
        channel="sms",
        recipient=req.phone,
        body=gettext(
            lang,
            "Seba {reference}: a {bed} bed is reserved for {patient} at {hospital}, {address}. "
            "Phone {phone}. Please reach by {until}.",
            reference=req.reference,
            bed=gettext(lang, ref.bed_type),
            patient=req.patient_name,
            hospital=facility.name_bn if lang == "bn" else facility.name,
            address=facility.address,
            phone=phone,
            until=until,
        ),
        topic={"referral_id": ref.id, "to": "family"},
    )
    for hospital_phone in facility.phones[:1]:
        outbox.enqueue(
            session,
            channel="sms",
            recipient=hospital_phone,
            body=gettext(
                "en",
                "Seba referral {reference}: {bed} bed reserved for {patient} ({age}, {sex}, "
                "{condition}) until {until}. Confirm in the Seba console.",
                reference=req.reference,
                bed=ref.bed_type,
                patient=req.patient_name,
                age=req.patient_age,
                sex=req.patient_sex,
                condition=req.condition,
                until=local_hhmm(ref.expires_at, "en"),
            ),
            topic={"referral_id": ref.id, "to": "hospital"},
        )


async def _reserve(
    rt: Runtime,
    session: AsyncSession,
    *,
    actor: Principal,
    req: AdmissionRequest,
    facility: Facility,
    bed_type: str,
    now: datetime,
) -> Referral:
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
    _notify_reserved(session, rt, ref, req, facility)
    await _beds_moved(rt, session, facility.id)
    _announce(rt, session, referral_id=ref.id, facility_id=facility.id, status="reserved")
    return ref


def _new_request(
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


async def _check_district(session: AsyncSession, code: str) -> None:
    if await session.get(District, code) is None:
        raise ValidationFailed(
            "Unknown district.", code="unknown_district", details={"district": code}
        )


# ---------------------------------------------------------------- requests


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
        await _check_district(session, data.district)
        req = _new_request(
            source="citizen",
            actor_name=f"citizen:…{phone[-4:]}",
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
        session.add(req)
        await session.flush()
        audit.record(
            session,
            actor=citizen_actor(phone),
            action="request.submit",
            entity_type="admission_request",
            entity_id=req.id,
            after={"reference": req.reference, "need": req.need, "condition": req.condition},
        )
        outbox.enqueue(
            session,
            channel="sms",
            recipient=phone,
            body=gettext(
                lang,
                "Seba: your bed request {reference} is received. The control room will call you.",
                reference=req.reference,
            ),
            topic={"request_id": req.id, "to": "family"},
        )
        _announce(rt, session, request_id=req.id, status="waiting")
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
        await _check_district(session, data.district)
        req = _new_request(
            source="control_room",
            actor_name=actor.username,
            patient=data.patient,
            district=data.district,
            condition=data.condition,
            need=data.need,
            covid_status=data.covid_status,
            now=now,
            lat=data.lat,
            lon=data.lon,
            abha=data.abha_number,
            notes=data.notes,
            consent=data.consent,
        )
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
        _announce(rt, session, request_id=req.id, status="waiting")
    return {**request_dict(req), "warnings": abha_warnings(req.abha_number)}


# ---------------------------------------------------------------- reservations


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
    await _check_district(session, district)
    req = _new_request(
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
    _announce(rt, session, request_id=req.id, status="waiting")
    return req


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
        await _release_expired(rt, session, now)
        facility = await _facility(session, data.facility_id)
        if data.request_id is not None:
            # Locked: on PostgreSQL two operators reserving for the same waiting request would
            # otherwise both read "waiting" and both hold a bed. The second now waits here and
            # then reads "reserved". (SQLite's BEGIN IMMEDIATE already serialised us.)
            req = await session.get(
                AdmissionRequest, data.request_id, with_for_update=True, populate_existing=True
            )
            if req is None or not _can_see_request(actor, req):
                raise NotFound("No such request.", code="request_not_found")
            if req.status != "waiting":
                raise Conflict(
                    "This request is not waiting for a bed.",
                    code="request_not_waiting",
                    details={"status": req.status},
                )
        else:
            district = data.district or facility.district_code
            await _check_district(session, district)
            req = _new_request(
                source="hospital" if actor.role == "hospital_staff" else "control_room",
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
        ref = await _reserve(
            rt, session, actor=actor, req=req, facility=facility, bed_type=data.bed_type, now=now
        )
        await _publish_moved_beds(rt, session)
        return referral_dict(ref, req, facility)

    return await idempotency.run_once(
        rt.db,
        scope=f"referral.create:{actor.user_id or actor.username}",
        key=key,
        fingerprint=idempotency.request_fingerprint(data.model_dump(mode="json")),
        work=work,
    )


async def _act(
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
        await _release_expired(rt, session, now)
        ref, req, facility = await _referral_for(session, actor, referral_id, action)
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
        _announce(rt, session, referral_id=ref.id, facility_id=facility.id, status=ref.status)
        await _publish_moved_beds(rt, session)
        return referral_dict(ref, req, facility)

    return await idempotency.run_once(
        rt.db,
        scope=f"{audit_action}:{referral_id}:{actor.user_id or actor.username}",
        key=key,
        fingerprint=idempotency.request_fingerprint([audit_action, referral_id, payload]),
        work=work,
    )


def _not_in_state(ref_status: str, expected: Sequence[str]) -> Conflict:
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


async def _must(
    session: AsyncSession, ref: Referral, frm: Sequence[str], to: str, **values: Any
) -> Referral:
    moved = await _transition(session, ref.id, frm, to, **values)
    if moved is None:
        current = await session.get(Referral, ref.id, populate_existing=True)
        raise _not_in_state(current.status, frm)
    return moved


async def confirm_referral(
    rt: Runtime, *, actor: Principal, referral_id: int, idempotency_key: str | None = None
):
    """The hospital accepts the incoming patient (the bed stays held until admission)."""

    async def step(session, ref, req, facility, now):
        return await _must(session, ref, ("reserved",), "confirmed", confirmed_at=now)

    return await _act(
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
        ref = await _must(session, ref, HOLDING, "rejected", reason=reason, ended_at=now)
        await ledger.release(
            session, pool_id=ref.pool_id, actor=actor, reason=f"rejected: {reason}", at=now
        )
        await _requeue(session, req.id, now)
        await _beds_moved(rt, session, facility.id)
        return ref

    return await _act(
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
        ref = await _must(session, ref, HOLDING, "cancelled", reason=reason, ended_at=now)
        await ledger.release(
            session, pool_id=ref.pool_id, actor=actor, reason=f"cancelled: {reason}", at=now
        )
        if close_request:
            req.status = "closed"
        else:
            await _requeue(session, req.id, now)
        await _beds_moved(rt, session, facility.id)
        return ref

    return await _act(
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
        await _release_expired(rt, session, now)
        ref, req, old_facility = await _referral_for(session, actor, referral_id, "referral.cancel")
        new_facility = await _facility(session, data.facility_id)
        ref = await _must(session, ref, HOLDING, "cancelled", reason="moved", ended_at=now)
        await ledger.release(session, pool_id=ref.pool_id, actor=actor, reason="moved", at=now)
        await _beds_moved(rt, session, old_facility.id)
        new_ref = await _reserve(
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
        await _publish_moved_beds(rt, session)
        return referral_dict(new_ref, req, new_facility)


async def admit_referral(
    rt: Runtime, *, actor: Principal, referral_id: int, idempotency_key: str | None = None
):
    """The patient arrived: the held bed becomes occupied."""

    async def step(session, ref, req, facility, now):
        ref = await _must(session, ref, HOLDING, "admitted", admitted_at=now, expires_at=None)
        await ledger.admit_reserved(
            session, pool_id=ref.pool_id, actor=actor, reason=f"admitted {req.reference}", at=now
        )
        req.status = "admitted"
        req.admitted_at = now
        await _beds_moved(rt, session, facility.id)
        return ref

    return await _act(
        rt,
        actor=actor,
        referral_id=referral_id,
        action="referral.respond",
        audit_action="referral.admit",
        idempotency_key=idempotency_key,
        step=step,
    )


async def discharge_admission(
    rt: Runtime,
    *,
    actor: Principal,
    admission_id: int,
    data: DischargeBody,
    idempotency_key: str | None = None,
):
    """The stay ends: discharged home, or died. The bed is freed."""

    async def step(session, ref, req, facility, now):
        ref = await _must(
            session, ref, ("admitted",), data.outcome, reason=data.reason, ended_at=now
        )
        await ledger.vacate(
            session,
            pool_id=ref.pool_id,
            actor=actor,
            reason=f"{data.outcome} {req.reference}",
            at=now,
        )
        req.status = "closed"
        await _beds_moved(rt, session, facility.id)
        return ref

    return await _act(
        rt,
        actor=actor,
        referral_id=admission_id,
        action="referral.respond",
        audit_action=f"admission.{data.outcome}",
        payload=data.model_dump(),
        idempotency_key=idempotency_key,
        step=step,
    )


async def transfer_admission(
    rt: Runtime,
    *,
    actor: Principal,
    admission_id: int,
    data: TransferBody,
    idempotency_key: str | None = None,
):
    """The patient must go elsewhere: the bed is freed and a new request opens in the control
    room's queue (with the new need), linked from this admission."""

    async def step(session, ref, req, facility, now):
        ref = await _must(
            session, ref, ("admitted",), "transferred", reason=data.reason, ended_at=now
        )
        await ledger.vacate(
            session, pool_id=ref.pool_id, actor=actor, reason=f"transfer {req.reference}", at=now
        )
        req.status = "closed"
        new_req = AdmissionRequest(
            reference=new_reference(),
            source="transfer",
            status="waiting",
            patient_name=req.patient_name,
            patient_age=req.patient_age,
            patient_sex=req.patient_sex,
            phone=req.phone,
            district_code=facility.district_code,
            lat=facility.lat,
            lon=facility.lon,
            condition=data.condition,
            severity=SEVERITY[data.condition],
            need=data.need,
            covid_status=req.covid_status,
            abha_number=req.abha_number,
            notes=f"transfer from {facility.name}: {data.reason}"[:500],
            consent_to_share=req.consent_to_share,
            created_at=now,
            created_by=actor.username,
            lang=req.lang,
        )
        session.add(new_req)
        await session.flush()
        ref.transfer_request_id = new_req.id
        await _beds_moved(rt, session, facility.id)
        return ref

    return await _act(
        rt,
        actor=actor,
        referral_id=admission_id,
        action="referral.respond",
        audit_action="admission.transfer",
        payload=data.model_dump(),
        idempotency_key=idempotency_key,
        step=step,
    )


async def admit_walk_in(
    rt: Runtime,
    *,
    actor: Principal,
    facility_id: int,
    data: WalkIn,
    idempotency_key: str | None = None,
) -> tuple[dict[str, Any], bool]:
    """A patient admitted at the door, without a referral: a free bed becomes occupied."""
    key = idempotency.check_key(idempotency_key)

    async def work(session: AsyncSession) -> dict[str, Any]:
        now = utcnow()
        await _release_expired(rt, session, now)
        facility = await _facility(session, facility_id)
        require(actor, "referral.respond")
        if not covers(actor, facility):
            raise PermissionDenied("This facility is outside your scope.", code="out_of_scope")
        req = _new_request(
            source="walk_in",
            actor_name=actor.username,
            patient=data.patient,
            district=data.district or facility.district_code,
            condition=data.condition,
            need=data.bed_type,
            covid_status=data.covid_status,
            now=now,
        )
        await _check_district(session, req.district_code)
        session.add(req)
        await session.flush()
        moved = await ledger.admit_walk_in(
            session,
            facility_id=facility.id,
            bed_type=data.bed_type,
            patient_sex=data.patient.sex,
            actor=actor,
            reason=f"walk-in {req.reference}",
            at=now,
        )
        if moved is None:
            raise Conflict(
                "No matching bed is free at this hospital now. Choose another hospital.",
                code="no_bed_available",
                details={
                    "facility_id": facility.id,
                    "bed_type": data.bed_type,
                    "sex": data.patient.sex,
                },
            )
        req.status = "admitted"
        req.admitted_at = now
        ref = Referral(
            request_id=req.id,
            facility_id=facility.id,
            pool_id=moved.pool_id,
            bed_type=data.bed_type,
            sex=moved.sex,
            status="admitted",
            created_by=actor.username,
            created_at=now,
            admitted_at=now,
        )
        session.add(ref)
        await session.flush()
        audit.record(
            session,
            actor=actor,
            action="admission.walk_in",
            entity_type="referral",
            entity_id=ref.id,
            after={"facility": facility.code, "bed_type": data.bed_type},
        )
        await _beds_moved(rt, session, facility.id)
        _announce(rt, session, referral_id=ref.id, facility_id=facility.id, status="admitted")
        await _publish_moved_beds(rt, session)
        return referral_dict(ref, req, facility)

    return await idempotency.run_once(
        rt.db,
        scope=f"admission.walk_in:{actor.user_id or actor.username}",
        key=key,
        fingerprint=idempotency.request_fingerprint([facility_id, data.model_dump(mode="json")]),
        work=work,
    )


# ---------------------------------------------------------------- reads (audited)


async def read_referral(rt: Runtime, *, actor: Principal, referral_id: int) -> dict[str, Any]:
    """One referral with its patient; the read is audited (patient data)."""
    async with transactional(rt.db) as session:
        ref, req, facility = await _referral_for(session, actor, referral_id, "referral.read")
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
        rows = (
            await session.execute(
                select(Referral, Facility)
                .join(Facility, Facility.id == Referral.facility_id)
                .where(Referral.request_id == req.id)
                .order_by(Referral.id.desc())
            )
        ).all()
    referrals = [
        {
            "status": ref.status,
            "facility_name": fac.name,
            "facility_name_bn": fac.name_bn,
            "address": fac.address,
            "phones": list(fac.phones or []),
            "lat": fac.lat,
            "lon": fac.lon,
            "bed_type": ref.bed_type,
            "expires_at": ref.expires_at.isoformat() if ref.expires_at else None,
            "reason": ref.reason,
        }
        for ref, fac in rows
    ]
    return {**request_dict(req), "referrals": referrals}


async def facility_referrals(
    rt: Runtime, *, actor: Principal, facility_id: int
) -> list[dict[str, Any]]:
    """Incoming holds and current admissions of one facility (hospital staff, admins in scope).
    The listing shows patients, so it is audited."""
    from seba.referrals import queries

    require(actor, "referral.respond")
    async with transactional(rt.db) as session:
        facility = await _facility(session, facility_id)
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


async def control_queue(
    rt: Runtime, *, actor: Principal
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The waiting queue with ranked free beds, in the operator's scope (audited: patients).

    Raises PermissionDenied for roles that do not see requests (hospital staff may reserve, but
    the queue lists every waiting family and every hold in the state)."""
    from seba.referrals import queries

    require(actor, "request.read")
    async with transactional(rt.db) as session:
        # The queue must not show expired holds as active even if the worker is down.
        now = utcnow()
        await _release_expired(rt, session, now)
        await _publish_moved_beds(rt, session)
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


async def control_board(rt: Runtime, *, actor: Principal) -> dict[str, Any]:
    """Counts and timings for the control room (no patient data; scoped like the queue)."""
    from seba.referrals import queries

    require(actor, "request.read")
    async with rt.db.read() as session:
        return await queries.board(session, actor, now=utcnow())
