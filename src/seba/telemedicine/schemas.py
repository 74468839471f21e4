"""Teleconsultation input and output, cut per purpose."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from seba.places.models import SPECIALTIES
from seba.telemedicine.models import LANGUAGES, PRIORITIES

Specialty = Literal[SPECIALTIES]  # type: ignore[valid-type]
Language = Literal[LANGUAGES]  # type: ignore[valid-type]
Priority = Literal[PRIORITIES]  # type: ignore[valid-type]
Text = Field(default="", max_length=4000)


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ConsultCreate(Strict):
    patient_id: int = Field(ge=1, le=2**31 - 1)
    chief_complaint: str = Field(min_length=2, max_length=500)
    consent: bool = Field(
        description="The patient's explicit consent to a teleconsultation (TPG 2020), "
        "recorded with the CHO and the time."
    )
    specialty: Specialty = "general_medicine"
    language: Language = "bn"
    priority: Priority = "routine"
    history: str = Text
    vitals: dict[str, Any] = Field(default_factory=dict)
    follow_up_of: int | None = Field(default=None, ge=1, le=2**31 - 1)
    adult_companion: str | None = Field(default=None, max_length=120)


class PresenceBody(Strict):
    status: Literal["online", "away", "offline"]


class RxItem(Strict):
    drug: str = Field(min_length=2, max_length=80)
    strength: str = Field(min_length=1, max_length=40)
    form: str = Field(min_length=2, max_length=30)
    dose: str = Field(min_length=1, max_length=60)
    frequency: str = Field(min_length=1, max_length=60)
    duration_days: int = Field(ge=1, le=365)


class AdmissionCreate(Strict):
    need: Literal["general", "oxygen", "hdu", "icu", "ventilator", "paediatric"]
    condition: Literal["severe", "moderate", "mild"] = "moderate"
    notes: str = Field(default="", max_length=300)


class PrescriptionCreate(Strict):
    mode: Literal["video", "audio", "text"]
    items: list[RxItem] = Field(min_length=1, max_length=20)
    diagnosis: str = Field(default="", max_length=500)
    findings: str = Field(default="", max_length=2000)
    investigations: list[str] = Field(default_factory=list, max_length=20)
    advice: str = Field(default="", max_length=2000)
    follow_up_on: date | None = None
    referral: str | None = Field(default=None, max_length=300)
    admission: AdmissionCreate | None = Field(
        default=None,
        description="Refer for admission: puts a request in the control room's queue.",
    )


class CompleteBody(Strict):
    mode: Literal["video", "audio", "text"] | None = None


class CancelBody(Strict):
    reason: str = Field(default="", max_length=200)


class ConsultOut(BaseModel):
    id: int
    status: str
    priority: str
    specialty: str
    language: str
    patient_id: int
    chief_complaint: str
    history: str
    vitals: dict[str, Any]
    adult_companion: str | None
    follow_up_of: int | None
    doctor_id: int | None
    queued_at: datetime
    offer_expires_at: datetime | None
    accepted_at: datetime | None
    join_deadline_at: datetime | None
    completed_at: datetime | None
    closed_reason: str | None
    mode: str | None


def consult_out(c) -> dict[str, Any]:
    return ConsultOut(
        id=c.id,
        status=c.status,
        priority=c.priority,
        specialty=c.specialty,
        language=c.language,
        patient_id=c.patient_id,
        chief_complaint=c.chief_complaint,
        history=c.history,
        vitals=c.vitals or {},
        adult_companion=c.adult_companion,
        follow_up_of=c.follow_up_of_id,
        doctor_id=c.doctor_id,
        queued_at=c.queued_at,
        offer_expires_at=c.offer_expires_at,
        accepted_at=c.accepted_at,
        join_deadline_at=c.join_deadline_at,
        completed_at=c.completed_at,
        closed_reason=c.closed_reason,
        mode=c.mode,
    ).model_dump(mode="json")


class DispensedLine(Strict):
    index: int = Field(ge=0, le=19, description="The prescription line (0-based)")
    quantity: int = Field(ge=0, le=10_000)
    note: str = Field(default="", max_length=200)


class DispensingCreate(Strict):
    items: list[DispensedLine] = Field(min_length=1, max_length=20)


class Shift(Strict):
    weekday: int = Field(ge=0, le=6, description="0 = Monday")
    starts_at: str = Field(pattern=r"^([01]\d|2[0-3]):[0-5]\d$", description="HH:MM, Asia/Kolkata")
    ends_at: str = Field(pattern=r"^([01]\d|2[0-3]):[0-5]\d$")
    hub: str = Field(min_length=2, max_length=80)


class RosterBody(Strict):
    shifts: list[Shift] = Field(max_length=42)
