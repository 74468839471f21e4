"""Words and small parsers shared by the teleconsultation pages (CHO, doctor, public check).

Labels are English msgids, translated in the templates with ``_()``; the Bengali text is in
``locale/bn/LC_MESSAGES/telemedicine_pages.po``. Nothing here touches the database.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

from seba.telemedicine.consults.vitals import RANGES
from seba.vocabulary import (
    CONSULT_STATUS_FOR_DOCTOR_LABELS,
    CONSULT_STATUS_LABELS,
    PATIENT_SEX_LABELS,
)

# Statuses and the patient's sex are words of the one vocabulary; the pages know them by these
# names.
STATUS_LABELS = CONSULT_STATUS_LABELS
DOCTOR_STATUS_LABELS = CONSULT_STATUS_FOR_DOCTOR_LABELS
SEX_LABELS = PATIENT_SEX_LABELS

WAITING = ("queued", "offered")
LIVE = ("queued", "offered", "accepted", "in_progress")

PRIORITY_LABELS: Mapping[str, str] = MappingProxyType(
    {
        "emergency": "Emergency",
        "urgent": "Urgent",
        "routine": "Routine",
        "follow_up": "Follow-up",
    }
)
PRIORITY_HINTS: Mapping[str, str] = MappingProxyType(
    {
        "emergency": "Life at risk now. Also arrange transfer to a hospital: a teleconsult "
        "does not replace emergency care.",
        "urgent": "Needs a doctor today.",
        "routine": "Can wait for its turn.",
        "follow_up": "A review of an earlier consult.",
    }
)
SPECIALTY_LABELS: Mapping[str, str] = MappingProxyType(
    {
        "general_medicine": "General medicine",
        "paediatrics": "Children's health (paediatrics)",
        "obstetrics_gynaecology": "Pregnancy and women's health",
        "cardiology": "Heart (cardiology)",
        "neurology": "Nerves and brain (neurology)",
        "stroke": "Stroke",
        "dermatology": "Skin (dermatology)",
        "psychiatry": "Mental health (psychiatry)",
        "ent": "Ear, nose and throat",
        "ophthalmology": "Eyes (ophthalmology)",
        "orthopaedics": "Bones and joints (orthopaedics)",
        "pulmonology_tb": "Lungs and TB",
        "nephrology": "Kidneys (nephrology)",
        "oncology": "Cancer (oncology)",
        "endocrinology": "Diabetes and hormones (endocrinology)",
    }
)
# Each language in its own script: a CHO recognises the patient's language by its own name.
LANGUAGE_NAMES: Mapping[str, str] = MappingProxyType(
    {
        "bn": "বাংলা",
        "en": "English",
        "hi": "हिन्दी",
        "ne": "नेपाली",
        "ur": "اردو",
        "sat": "ᱥᱟᱱᱛᱟᱲᱤ",
    }
)
RELATION_LABELS: Mapping[str, str] = MappingProxyType(
    {
        "self": "The phone's owner",
        "spouse": "Husband or wife of the phone's owner",
        "child": "Child of the phone's owner",
        "parent": "Parent of the phone's owner",
        "sibling": "Brother or sister of the phone's owner",
        "other": "Other relation",
    }
)
MODE_LABELS: Mapping[str, str] = MappingProxyType(
    {"video": "Video", "audio": "Audio (phone call)", "text": "Text (chat)"}
)
PRESENCE_LABELS: Mapping[str, str] = MappingProxyType(
    {
        "online": "Online: ready for the next patient",
        "busy": "With a patient",
        "away": "Away: no patients are offered",
        "offline": "Offline",
    }
)
TPG_LIST_LABELS: Mapping[str, str] = MappingProxyType(
    {
        "O": "List O: any mode",
        "A": "List A: video first consult, or refill",
        "B": "List B: follow-up add-on only",
        "prohibited": "Prohibited on teleconsultation",
    }
)

# TPG 2020: a consult started by a health worker needs the patient's explicit consent, which
# Seba records with the CHO and the time. This is the sentence the CHO confirms.
CONSENT_TEXT = (
    "The patient agrees to a teleconsultation: a doctor at the hub will see the patient's "
    "details, complaint and vital signs, advise by video, audio or text, and may write a "
    "prescription that is kept on record. I have explained this to the patient (or to the "
    "adult with them) and they agreed."
)


@dataclass(frozen=True)
class VitalField:
    name: str
    label: str
    unit: str
    low: float
    high: float
    decimals: bool  # whether a decimal point makes sense (°C, kg, mg/dL)


def _vital(name: str, label: str, unit: str, decimals: bool) -> VitalField:
    limits = RANGES[name]
    return VitalField(name, label, unit, limits.low, limits.high, decimals)


VITAL_FIELDS: tuple[VitalField, ...] = (
    _vital("bp_systolic", "Blood pressure, systolic (upper)", "mmHg", False),
    _vital("bp_diastolic", "Blood pressure, diastolic (lower)", "mmHg", False),
    _vital("pulse", "Pulse", "beats a minute", False),
    _vital("temperature_c", "Temperature", "°C", True),
    _vital("spo2", "Oxygen saturation (SpO2)", "%", False),
    _vital("weight_kg", "Weight", "kg", True),
    _vital("blood_glucose_mg_dl", "Blood glucose", "mg/dL", True),
    _vital("respiratory_rate", "Breathing rate", "breaths a minute", False),
)
VITAL_BY_NAME: Mapping[str, VitalField] = MappingProxyType({v.name: v for v in VITAL_FIELDS})

_LATIN_DIGITS = str.maketrans("০১২৩৪৫৬৭৮৯", "0123456789")


def latin_digits(text: str) -> str:
    """Bengali digits typed on a Bengali keyboard read as the same numbers."""
    return text.translate(_LATIN_DIGITS)


def fmt_number(value: float | int) -> str:
    return str(int(value)) if float(value).is_integer() else str(value)


def vital_rows(vitals: Mapping[str, object]) -> list[tuple[str, str, str]]:
    """(label msgid, value, unit) for each recorded vital; blood pressure as one row."""
    rows: list[tuple[str, str, str]] = []
    for field in VITAL_FIELDS:
        if field.name not in vitals or field.name == "bp_diastolic":
            continue
        value = vitals[field.name]
        if field.name == "bp_systolic":
            low = vitals.get("bp_diastolic")
            shown = f"{value}/{low}" if low is not None else f"{value}"
            rows.append(("Blood pressure", shown, "mmHg"))
        else:
            rows.append((field.label, fmt_number(value), field.unit))  # type: ignore[arg-type]
    if "bp_diastolic" in vitals and "bp_systolic" not in vitals:
        rows.insert(0, ("Blood pressure", f"–/{vitals['bp_diastolic']}", "mmHg"))
    return rows
