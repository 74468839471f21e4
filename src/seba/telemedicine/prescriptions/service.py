"""Prescriptions: issue (checked against TPG 2020 and frozen as a document), print, verify,
and record what the spoke dispensed.

``prescribe`` runs the rules engine (``rules``), builds the frozen document (``document``) and
refers for admission through the central referral service when the doctor asks for a bed; the
PDF (``pdf``) and the public check are made from the frozen record only.
"""

from __future__ import annotations

import asyncio

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from seba.accounts.models import StaffUser
from seba.core import audit
from seba.core.access import Principal
from seba.core.db import transactional
from seba.core.errors import Conflict, NotFound, ValidationFailed
from seba.core.runtime import Runtime
from seba.core.types import utcnow
from seba.patients.models import Patient
from seba.patients.schemas import today_in_india
from seba.places.models import Facility, Hub, Spoke
from seba.referrals import service as referral_service
from seba.referrals.models import AdmissionRequest
from seba.referrals.schemas import Patient as ReferralPatient
from seba.telemedicine.calls import service as call_service
from seba.telemedicine.consults import events
from seba.telemedicine.consults.access import access_consult
from seba.telemedicine.consults.offers import held_by_me
from seba.telemedicine.models import Consultation, Dispensing, DoctorHub, Prescription
from seba.telemedicine.prescriptions import document, rules
from seba.telemedicine.prescriptions.formulary import load_formulary
from seba.telemedicine.prescriptions.pdf import render_prescription
from seba.telemedicine.prescriptions.schemas import DispensingIn, PrescriptionIn


def verify_url(rt: Runtime, code: str) -> str:
    """The public check page a prescription's QR code points to."""
    return f"{rt.settings.public_base_url.rstrip('/')}/verify/{code}"


async def prescribe(
    rt: Runtime, *, actor: Principal, consult_id: int, data: PrescriptionIn
) -> Prescription:
    """Issue the e-prescription of a consult the doctor holds, checked against TPG 2020.

    ``data`` is already valid in shape (``PrescriptionIn``). The mode the rules apply (and the
    prescription prints) is the call record's (``calls.record``): ``data.mode`` is only
    audited as what the doctor claimed. Side effects: the prescription with its frozen
    document; the consult in progress with its recorded mode (a prescription means the
    consult happened, perhaps by phone: never a no-show); with ``data.admission`` a request in the
    control room's queue; an audit row. Raises ValidationFailed ``prescription_not_allowed``
    with a reason per refused item, Conflict ``already_prescribed`` / ``not_in_consult``,
    NotFound.
    """
    now = utcnow()
    async with transactional(rt.db) as session:
        doctor, consult = await held_by_me(session, actor, consult_id)
        if consult.status not in ("accepted", "in_progress"):
            raise Conflict("This consult is not in progress.", code="not_in_consult")
        if await session.scalar(
            select(Prescription.id).where(Prescription.consultation_id == consult_id)
        ):
            raise Conflict("This consult already has a prescription.", code="already_prescribed")
        patient = await session.get(Patient, consult.patient_id)
        # Only the follow-up rules (refills, add-ons) look at earlier medicines; the read grows
        # with the patient's history, so a first consult skips it.
        earlier = (
            await _earlier_drugs(session, consult.patient_id, consult_id)
            if consult.follow_up_of_id is not None
            else frozenset()
        )
        # TPG 2020 ties list A to video: the mode is what the call record shows really
        # flowed, not what the doctor ticked (``calls.record``).
        on_record = await call_service.record_in(session, consult_id, rt.settings.video_min_seconds)
        ctx = rules.PrescribingContext(
            mode=on_record.mode,
            follow_up=consult.follow_up_of_id is not None,
            patient_age_years=patient.age_on(today_in_india()),
            adult_companion=consult.adult_companion,
            doctor_registration=doctor.registration,
            earlier_drugs=earlier,
            current_therapy=earlier,
        )
        formulary = load_formulary()
        check = rules.check_prescription(ctx, data.items, formulary)
        rules.raise_if_refused(check, call={"mode": on_record.mode, **on_record.seconds})
        items = []
        for item, verdict in zip(data.items, check.items, strict=True):
            drug = formulary.get(verdict.drug)
            # Stored under the formulary's generic name, whatever alias the doctor typed.
            items.append(
                {
                    **item.model_dump(),
                    "drug": drug.generic,
                    "name_bn": drug.name_bn,
                    "tpg_list": drug.tpg_list,
                }
            )
        spoke = await session.get(Spoke, consult.spoke_id)
        referral_text = data.referral
        if data.admission is not None:
            request = await _refer_for_admission(rt, session, actor, consult, patient, spoke, data)
            referral_text = " — ".join(
                p
                for p in (
                    referral_text,
                    f"Admission requested ({data.admission.need} bed), "
                    f"control room reference {request.reference}",
                )
                if p
            )
        issuer = await _issuer(session, consult, doctor, spoke)
        rx = Prescription(
            consultation_id=consult_id,
            doctor_id=doctor.id,
            patient_id=consult.patient_id,
            verification_code=document.new_verification_code(),
            mode=on_record.mode,
            items=items,
            document=document.build_document(
                consult=consult,
                patient=patient,
                issuer=issuer,
                data=data,
                referral=referral_text,
                day=today_in_india(),
            ),
            issued_at=now,
        )
        session.add(rx)
        consult.mode = on_record.mode
        if consult.status == "accepted":
            consult.status, consult.joined_at = "in_progress", consult.joined_at or now
        # The centre's page shows the prescription (and the status) at once.
        events.changed(rt, session, consult_id=consult_id, status=consult.status)
        consult.updated_at = now
        await session.flush()
        audit.record(
            session,
            actor=actor,
            action="prescription.issue",
            entity_type="prescription",
            entity_id=rx.id,
            # What the doctor ticked is kept beside what the record showed.
            after={
                "consult": consult_id,
                "drugs": [i["drug"] for i in items],
                "mode": on_record.mode,
                "mode_claimed": data.mode,
            },
        )
    return rx


async def _issuer(
    session: AsyncSession, consult: Consultation, doctor, spoke: Spoke
) -> document.Issuer:
    # The doctor's own hub, not the CHO's: a consult that overflowed to another hub's doctor
    # was raised to the CHO's home hub. The consult's hub when the doctor sits there too.
    hub_facility = await session.scalar(
        select(Facility)
        .join(Hub, Hub.facility_id == Facility.id)
        .join(DoctorHub, DoctorHub.hub_id == Hub.id)
        .where(DoctorHub.doctor_id == doctor.id)
        .order_by((Hub.id == consult.hub_id).desc(), Hub.id)
        .limit(1)
    )
    if hub_facility is None:  # a doctor without a hub cannot be offered consults; be safe
        hub_facility = await session.scalar(
            select(Facility)
            .join(Hub, Hub.facility_id == Facility.id)
            .where(Hub.id == consult.hub_id)
        )
    cho_full_name, cho_username = (
        await session.execute(
            select(StaffUser.full_name, StaffUser.username).where(
                StaffUser.id == consult.cho_user_id
            )
        )
    ).one()
    return document.Issuer(
        doctor=doctor,
        hub_name=hub_facility.name,
        hub_name_bn=hub_facility.name_bn,
        spoke_name=spoke.name,
        spoke_name_bn=spoke.name_bn,
        cho_name=cho_full_name or cho_username,
    )


async def _refer_for_admission(
    rt: Runtime,
    session: AsyncSession,
    actor: Principal,
    consult: Consultation,
    patient: Patient,
    spoke: Spoke,
    data: PrescriptionIn,
) -> AdmissionRequest:
    """A bed request in the control room's queue, in the prescribing transaction (TPG 2020:
    emergencies are referred, never treated by telemedicine alone)."""
    admission = data.admission
    assert admission is not None
    notes = " ".join(
        p for p in (f"Teleconsult #{consult.id}.", data.diagnosis, admission.notes) if p
    )
    return await referral_service.add_teleconsult_request(
        rt,
        session,
        actor=actor,
        patient=ReferralPatient(
            name=patient.name,
            age=patient.age_on(today_in_india()),
            sex=patient.sex,
            phone=patient.phone,
        ),
        district=spoke.district_code,
        condition=admission.condition,
        need=admission.need,
        notes=notes,
    )


async def _earlier_drugs(session: AsyncSession, patient_id: int, consult_id: int) -> frozenset:
    rows = await session.scalars(
        select(Prescription.items).where(
            Prescription.patient_id == patient_id, Prescription.consultation_id != consult_id
        )
    )
    return frozenset(item["drug"] for items in rows for item in items)


async def prescription_pdf(rt: Runtime, *, actor: Principal, consult_id: int) -> tuple[bytes, str]:
    """The PDF of a consult's prescription for the CHO, the doctor or an admin in scope.

    It carries the patient's details, so the read is audited. Raises NotFound (no such consult
    for this actor, or no prescription yet).
    """
    async with transactional(rt.db) as session:
        consult = await access_consult(session, actor, consult_id, "prescription.read")
        rx = await session.scalar(
            select(Prescription).where(Prescription.consultation_id == consult.id)
        )
        if rx is None:
            raise NotFound("This consult has no prescription yet.", code="no_prescription")
        audit.record(
            session,
            actor=actor,
            action="prescription.read",
            entity_type="patient",
            entity_id=consult.patient_id,
            after={"prescription": rx.id},
        )
        doc = document.document_for(rx, verify_url(rt, rx.verification_code))
    # Rendering is CPU work (text shaping): off the event loop.
    pdf = await asyncio.to_thread(render_prescription, doc)
    return pdf, rx.verification_code


async def verify(rt: Runtime, *, code: str) -> document.Verification:
    """Public check of a prescription by its code (no login): initials, never the name.
    Raises NotFound ``unknown_prescription``."""
    code = code.strip().upper()
    if len(code) > 20:
        raise NotFound("No prescription has this code.", code="unknown_prescription")
    async with rt.db.read() as session:
        rx = await session.scalar(
            select(Prescription).where(Prescription.verification_code == code)
        )
    if rx is None:
        raise NotFound("No prescription has this code.", code="unknown_prescription")
    return document.verification_for(rx)


async def record_dispensing(
    rt: Runtime, *, actor: Principal, consult_id: int, data: DispensingIn
) -> list[Dispensing]:
    """The CHO records what the spoke handed over, line by line of the prescription (partial
    dispensing is normal: a medicine out of stock is recorded as 0 with a note).

    Raises NotFound (no prescription), ValidationFailed ``invalid_dispensing`` (a line the
    prescription does not have).
    """
    async with transactional(rt.db) as session:
        consult = await access_consult(session, actor, consult_id, "prescription.dispense")
        rx = await session.scalar(
            select(Prescription).where(Prescription.consultation_id == consult.id)
        )
        if rx is None:
            raise NotFound("This consult has no prescription yet.", code="no_prescription")
        bad = [i.index for i in data.items if i.index >= len(rx.items)]
        if bad:
            raise ValidationFailed(
                "Each line must be one of the prescription's medicines, quantity 0–10000.",
                code="invalid_dispensing",
                details={"lines": bad},
            )
        rows = [
            Dispensing(
                prescription_id=rx.id,
                item_index=i.index,
                quantity=i.quantity,
                note=i.note,
                dispensed_by_user_id=actor.user_id,
            )
            for i in data.items
        ]
        session.add_all(rows)
        await session.flush()
        audit.record(
            session,
            actor=actor,
            action="prescription.dispense",
            entity_type="prescription",
            entity_id=rx.id,
            after=[{"line": i.index, "quantity": i.quantity} for i in data.items],
        )
    return rows
