"""Admissions: the held bed becomes occupied (admit, or a walk-in at the door), and the stay ends
(discharged, died, or transferred to another hospital through the control room).

An admission is the referral in status ``admitted``: ``admission_id`` is the referral's id.
Each function is one transaction like the holds in ``service.py``, built from ``steps.py``.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from seba.beds import ledger
from seba.core import audit, idempotency
from seba.core.access import Principal, covers, require
from seba.core.errors import Conflict, PermissionDenied
from seba.core.runtime import Runtime
from seba.core.types import utcnow
from seba.referrals import steps
from seba.referrals.models import HOLDING, AdmissionRequest, Referral
from seba.referrals.schemas import DischargeBody, TransferBody, WalkIn
from seba.referrals.shapes import referral_dict


async def admit_referral(
    rt: Runtime, *, actor: Principal, referral_id: int, idempotency_key: str | None = None
):
    """The patient arrived: the held bed becomes occupied."""

    async def step(session, ref, req, facility, now):
        ref = await steps.must(session, ref, HOLDING, "admitted", admitted_at=now, expires_at=None)
        await ledger.admit_reserved(
            session, pool_id=ref.pool_id, actor=actor, reason=f"admitted {req.reference}", at=now
        )
        req.status = "admitted"
        req.admitted_at = now
        steps.beds_moved(session, facility.id)
        return ref

    return await steps.act(
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
        ref = await steps.must(
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
        steps.beds_moved(session, facility.id)
        return ref

    return await steps.act(
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
        ref = await steps.must(
            session, ref, ("admitted",), "transferred", reason=data.reason, ended_at=now
        )
        await ledger.vacate(
            session, pool_id=ref.pool_id, actor=actor, reason=f"transfer {req.reference}", at=now
        )
        req.status = "closed"
        new_req = AdmissionRequest(
            reference=steps.new_reference(),
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
            severity=steps.SEVERITY[data.condition],
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
        steps.beds_moved(session, facility.id)
        return ref

    return await steps.act(
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
        await steps.release_expired_holds(rt, session, now)
        facility = await steps.facility_row(session, facility_id)
        require(actor, "referral.respond")
        if not covers(actor, facility):
            raise PermissionDenied("This facility is outside your scope.", code="out_of_scope")
        req = steps.new_request(
            source="walk_in",
            actor_name=actor.username,
            patient=data.patient,
            district=data.district or facility.district_code,
            condition=data.condition,
            need=data.bed_type,
            covid_status=data.covid_status,
            now=now,
        )
        await steps.check_district(session, req.district_code)
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
        steps.beds_moved(session, facility.id)
        steps.announce(rt, session, referral_id=ref.id, facility_id=facility.id, status="admitted")
        await steps.publish_moved_beds(rt, session)
        return referral_dict(ref, req, facility)

    return await idempotency.run_once(
        rt.db,
        scope=f"admission.walk_in:{actor.user_id or actor.username}",
        key=key,
        fingerprint=idempotency.request_fingerprint([facility_id, data.model_dump(mode="json")]),
        work=work,
    )
