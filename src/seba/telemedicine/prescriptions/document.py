"""Issued prescriptions as documents: the PDF (from the immutable snapshot) and the public
verification a pharmacist does by scanning the QR code.

The PDF is built from ``Prescription.document``, the fields as issued, so a later change to a
doctor's or patient's record never changes a prescription already handed out.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import select

from seba.core import audit
from seba.core.access import Principal
from seba.core.db import transactional
from seba.core.errors import NotFound
from seba.core.runtime import Runtime
from seba.telemedicine.models import Prescription
from seba.telemedicine.prescriptions.pdf import PrescriptionDocument, RxLine, render_prescription

VITAL_LABELS = {
    "bp_systolic": ("BP", "mmHg"),
    "pulse": ("Pulse", "/min"),
    "temperature_c": ("Temp", "°C"),
    "spo2": ("SpO2", "%"),
    "weight_kg": ("Weight", "kg"),
    "blood_glucose_mg_dl": ("Glucose", "mg/dL"),
    "respiratory_rate": ("Resp. rate", "/min"),
}


def verify_url(rt: Runtime, code: str) -> str:
    return f"{rt.settings.public_base_url.rstrip('/')}/verify/{code}"


def vitals_pairs(vitals: dict) -> list[tuple[str, str]]:
    pairs: list[tuple[str, str]] = []
    for key, (label, unit) in VITAL_LABELS.items():
        if key not in vitals:
            continue
        if key == "bp_systolic" and "bp_diastolic" in vitals:
            pairs.append((label, f"{vitals['bp_systolic']}/{vitals['bp_diastolic']} {unit}"))
        else:
            pairs.append((label, f"{vitals[key]} {unit}"))
    return pairs


def document_for(rt: Runtime, rx: Prescription) -> PrescriptionDocument:
    d = rx.document
    p = d["patient"]
    return PrescriptionDocument(
        verification_code=rx.verification_code,
        verify_url=verify_url(rt, rx.verification_code),
        issued_at=rx.issued_at,
        mode=rx.mode,
        consult_kind=d["consult_kind"],
        doctor_name=d["doctor_name"],
        doctor_qualification=d["doctor_qualification"],
        doctor_registration=d["doctor_registration"],
        doctor_hpr_id=d.get("doctor_hpr_id"),
        hub_name=d["hub_name"],
        hub_name_bn=d["hub_name_bn"],
        patient_name=p["name"],
        patient_age=p["age"],
        patient_sex=p["sex"],
        patient_phone=p["phone"],
        patient_address=p["address"],
        patient_abha=p.get("abha"),
        adult_companion=d.get("adult_companion"),
        spoke_name=d["spoke_name"],
        spoke_name_bn=d["spoke_name_bn"],
        cho_name=d["cho_name"],
        chief_complaint=d["chief_complaint"],
        history=d["history"],
        vitals=vitals_pairs(d.get("vitals") or {}),
        findings=d["findings"],
        diagnosis=d["diagnosis"],
        investigations=list(d["investigations"]),
        items=[
            RxLine(
                generic=i["drug"],
                strength=i["strength"],
                form=i["form"],
                dose=i["dose"],
                frequency=i["frequency"],
                duration_days=i["duration_days"],
                tpg_list=i["tpg_list"],
                name_bn=i.get("name_bn"),
            )
            for i in rx.items
        ],
        advice=d["advice"],
        follow_up_on=date.fromisoformat(d["follow_up_on"]) if d.get("follow_up_on") else None,
        referral=d.get("referral"),
    )


async def prescription_pdf(rt: Runtime, *, actor: Principal, consult_id: int) -> tuple[bytes, str]:
    """The PDF of a consult's prescription for the CHO, the doctor or an admin in scope.

    It carries the patient's details, so the read is audited. Raises NotFound (no such consult
    for this actor, or no prescription yet).
    """
    from seba.telemedicine.consults.service import access_consult

    async with transactional(rt.db) as session:
        consult = await access_consult(session, actor, consult_id)
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
        doc = document_for(rt, rx)
    # Rendering is CPU work (text shaping): off the event loop.
    pdf = await asyncio.to_thread(render_prescription, doc)
    return pdf, rx.verification_code


@dataclass(frozen=True)
class Verification:
    code: str
    issued_at: datetime
    doctor_name: str
    doctor_registration: str
    hub_name: str
    hub_name_bn: str
    patient_initials: str
    patient_age: str
    patient_sex: str
    items: list[dict]
    mode: str


def _initials(name: str) -> str:
    return " ".join(part[0] + "." for part in name.split() if part)


async def verify(rt: Runtime, *, code: str) -> Verification:
    """Public check of a prescription by its code: enough for a pharmacist to match the paper
    (doctor, registration, date, medicines, patient's initials, age and sex), no more."""
    code = code.strip().upper()
    if len(code) > 20:
        raise NotFound("No prescription has this code.", code="unknown_prescription")
    async with rt.db.read() as session:
        rx = await session.scalar(
            select(Prescription).where(Prescription.verification_code == code)
        )
    if rx is None:
        raise NotFound("No prescription has this code.", code="unknown_prescription")
    d = rx.document
    return Verification(
        code=rx.verification_code,
        issued_at=rx.issued_at,
        doctor_name=d["doctor_name"],
        doctor_registration=d["doctor_registration"],
        hub_name=d["hub_name"],
        hub_name_bn=d["hub_name_bn"],
        patient_initials=_initials(d["patient"]["name"]),
        patient_age=d["patient"]["age"],
        patient_sex=d["patient"]["sex"],
        items=[
            {k: i[k] for k in ("drug", "strength", "form", "dose", "frequency", "duration_days")}
            for i in rx.items
        ],
        mode=rx.mode,
    )
