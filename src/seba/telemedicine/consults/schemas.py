"""Consult input and output: one input schema per action, shared by the JSON API, the pages
(which read a form into the same schema and show its errors beside their boxes) and the service.

Field errors are pydantic errors with stable ``type`` codes; the pages map each field to a
sentence in the reader's language (``pages/cho.py``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, StringConstraints
from pydantic_core import PydanticCustomError

from seba.places.models import SPECIALTIES
from seba.telemedicine.models import CONSULT_MODES, LANGUAGES, PRIORITIES, Consultation

Specialty = Literal[SPECIALTIES]  # type: ignore[valid-type]
Language = Literal[LANGUAGES]  # type: ignore[valid-type]
Priority = Literal[PRIORITIES]  # type: ignore[valid-type]
Mode = Literal[CONSULT_MODES]  # type: ignore[valid-type]
RowId = Annotated[int, Field(ge=1, le=2**31 - 1)]

MAX_COMPLAINT = 500
MAX_HISTORY = 4000
MAX_COMPANION = 120
MAX_REASON = 200


def _blank_is_none(value: object) -> object:
    if isinstance(value, str) and not value.strip():
        return None
    return value


def _consent_given(value: object) -> bool:
    # TPG 2020: a health worker starting the consult records the patient's explicit consent.
    if value is not True:
        raise PydanticCustomError("consent_required", "The patient's explicit consent is required.")
    return True


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ConsultIn(Strict):
    """A CHO asks a doctor to see a patient (``consults.service.raise_consult``)."""

    patient_id: RowId
    chief_complaint: Annotated[
        str, StringConstraints(strip_whitespace=True, min_length=2, max_length=MAX_COMPLAINT)
    ]
    consent: Annotated[
        bool,
        BeforeValidator(_consent_given),
        Field(
            description="The patient's explicit consent to a teleconsultation (TPG 2020), "
            "recorded with the CHO and the time. Must be true."
        ),
    ]
    specialty: Specialty = "general_medicine"
    language: Language = "bn"
    priority: Priority = "routine"
    history: Annotated[str, StringConstraints(strip_whitespace=True, max_length=MAX_HISTORY)] = ""
    vitals: dict[str, Any] = Field(
        default_factory=dict,
        description="Named vital signs (checked against clinical ranges by the service).",
        max_length=20,
    )
    follow_up_of: RowId | None = None
    adult_companion: Annotated[
        Annotated[
            str, StringConstraints(strip_whitespace=True, min_length=2, max_length=MAX_COMPANION)
        ]
        | None,
        BeforeValidator(_blank_is_none),
        Field(description="The identified adult with a minor (TPG 2020)."),
    ] = None


class PresenceIn(Strict):
    status: Literal["online", "away", "offline"]


class CancelIn(Strict):
    reason: Annotated[str, StringConstraints(strip_whitespace=True, max_length=MAX_REASON)] = ""


class CompleteIn(Strict):
    mode: Mode | None = None


@dataclass(frozen=True)
class QueueState:
    """Where a consult stands for its CHO: its place among the consults waiting for the same
    doctors, the wait that place means, and how many of those doctors are online."""

    consult: Consultation
    position: int
    estimated_wait_s: float | None
    doctors_online: int


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


def consult_out(c: Consultation) -> dict[str, Any]:
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
