"""The prescription as a document: the frozen snapshot of every printed field, built once at
issue (``build_document``), and what is made from it later — the PDF's fields
(``document_for``) and the public check a pharmacist sees (``verification_for``).

Pure: no database, no runtime. A prescription is an immutable record, so a later change to a
doctor's or patient's record never changes a prescription already handed out: everything the
PDF and ``/verify`` show comes from ``Prescription.document`` and ``Prescription.items``.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from seba.core.ids import format_abha
from seba.patients.models import Patient
from seba.telemedicine.models import Consultation, Doctor, Prescription
from seba.telemedicine.prescriptions.schemas import PrescriptionIn

# Unambiguous characters for codes people read aloud or type (no 0/O, 1/I/L).
CODE_ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"
VERIFICATION_CODE = "XXXX-XXXX-XXXX"


@dataclass(frozen=True)
class RxLine:
    """One medicine. ``generic`` is printed in capitals whatever its case (TPG)."""

    generic: str
    strength: str
    form: str
    dose: str
    frequency: str
    duration_days: int
    tpg_list: str
    name_bn: str | None = None


@dataclass(frozen=True)
class PrescriptionDocument:
    """Everything printed on one e-prescription. Free texts may be Bengali, English or both."""

    verification_code: str
    verify_url: str
    issued_at: datetime
    mode: str
    consult_kind: str
    doctor_name: str
    doctor_qualification: str
    doctor_registration: str
    doctor_hpr_id: str | None
    hub_name: str
    hub_name_bn: str
    patient_name: str
    patient_age: str
    patient_sex: str
    patient_phone: str
    patient_address: str
    patient_abha: str | None
    adult_companion: str | None
    spoke_name: str
    spoke_name_bn: str
    cho_name: str
    chief_complaint: str
    history: str
    vitals: list[tuple[str, str]]
    findings: str
    diagnosis: str
    investigations: list[str]
    items: list[RxLine]
    advice: str
    follow_up_on: date | None
    referral: str | None


def new_verification_code() -> str:
    """Three groups of four unambiguous characters: 31^12 ≈ 8·10^17 codes, so a guessed code
    finds nothing (the public check shows initials only, never a name)."""
    return "-".join("".join(secrets.choice(CODE_ALPHABET) for _ in range(4)) for _ in range(3))


def patient_identity(patient: Patient, day: date) -> dict[str, Any]:
    """The patient as TPG 2020 asks a prescription to identify them, frozen at issue."""
    address = ", ".join(p for p in (patient.village, patient.address) if p)
    return {
        "name": patient.name,
        "age": str(patient.age_on(day)),
        "sex": patient.sex,
        "phone": patient.phone,
        "address": address,
        "abha": format_abha(patient.abha_number) if patient.abha_number else None,
    }


@dataclass(frozen=True)
class Issuer:
    """Where and by whom a prescription was issued, as printed."""

    doctor: Doctor
    hub_name: str
    hub_name_bn: str
    spoke_name: str
    spoke_name_bn: str
    cho_name: str


def build_document(
    *,
    consult: Consultation,
    patient: Patient,
    issuer: Issuer,
    data: PrescriptionIn,
    referral: str | None,
    day: date,
) -> dict[str, Any]:
    """Every field the prescription prints besides its medicines (TPG 2020: the doctor with
    qualification and registration, the patient's identity, complaints, findings, diagnosis,
    investigations, advice, follow-up, referral), frozen as issued on ``day``."""
    doctor = issuer.doctor
    return {
        "consult_kind": "follow_up" if consult.follow_up_of_id else "first",
        "doctor_name": doctor.name,
        "doctor_qualification": doctor.qualification,
        "doctor_registration": doctor.registration,
        "doctor_hpr_id": doctor.hpr_id,
        "hub_name": issuer.hub_name,
        "hub_name_bn": issuer.hub_name_bn,
        "patient": patient_identity(patient, day),
        "adult_companion": consult.adult_companion,
        "spoke_name": issuer.spoke_name,
        "spoke_name_bn": issuer.spoke_name_bn,
        "cho_name": issuer.cho_name,
        "chief_complaint": consult.chief_complaint,
        "history": consult.history,
        "vitals": consult.vitals,
        "findings": data.findings,
        "diagnosis": data.diagnosis,
        "investigations": list(data.investigations),
        "advice": data.advice,
        "follow_up_on": data.follow_up_on.isoformat() if data.follow_up_on else None,
        "referral": referral,
    }


VITAL_LABELS = {
    "bp_systolic": ("BP", "mmHg"),
    "pulse": ("Pulse", "/min"),
    "temperature_c": ("Temp", "°C"),
    "spo2": ("SpO2", "%"),
    "weight_kg": ("Weight", "kg"),
    "blood_glucose_mg_dl": ("Glucose", "mg/dL"),
    "respiratory_rate": ("Resp. rate", "/min"),
}


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


def document_for(rx: Prescription, verify_url: str) -> PrescriptionDocument:
    """The PDF's fields, from the snapshot frozen at issue."""
    d = rx.document
    p = d["patient"]
    return PrescriptionDocument(
        verification_code=rx.verification_code,
        verify_url=verify_url,
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


def verification_for(rx: Prescription) -> Verification:
    """What the public check shows: enough for a pharmacist to match the paper (doctor,
    registration, date, medicines, patient's initials, age and sex), no more."""
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
            # The Bengali name, for the Bengali check page (older records may lack it).
            | {"name_bn": i.get("name_bn")}
            for i in rx.items
        ],
        mode=rx.mode,
    )
