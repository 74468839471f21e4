"""Prescription input: one schema per action (issue, dispense), shared by the JSON API, the
doctor's and the CHO's pages and the service.

The schema checks the shape (lengths, numbers, known codes); whether a medicine may be given in
this consult is the rules engine's judgement (``rules.check_prescription``), which answers every
item at once.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StringConstraints,
    field_validator,
)
from pydantic_core import PydanticCustomError

from seba.patients.schemas import today_in_india
from seba.referrals.models import BED_NEEDS, CONDITIONS
from seba.telemedicine.consults.schemas import Mode
from seba.telemedicine.prescriptions.rules import MAX_DURATION_DAYS, MAX_ITEMS, MAX_TEXT_CHARS

BedNeed = Literal[BED_NEEDS]  # type: ignore[valid-type]
Condition = Literal[CONDITIONS]  # type: ignore[valid-type]

MAX_DIAGNOSIS = 500
MAX_FINDINGS = 2000
MAX_ADVICE = 2000
MAX_REFERRAL = 300
MAX_INVESTIGATIONS = 20
MAX_INVESTIGATION = 200
MAX_ADMIT_NOTES = 300
MAX_QUANTITY = 10_000
MAX_NOTE = 200


def _text(max_length: int, min_length: int = 0):
    return Annotated[
        str,
        StringConstraints(strip_whitespace=True, min_length=min_length, max_length=max_length),
    ]


def _no_nul(value: object) -> object:
    # A NUL cannot be stored by PostgreSQL in a text column: refuse it as bad input.
    if isinstance(value, str) and "\x00" in value:
        raise ValueError("Text may not contain NUL characters.")
    return value


def _blank_is_none(value: object) -> object:
    if isinstance(value, str) and not value.strip():
        return None
    return value


Text = Annotated[str, BeforeValidator(_no_nul)]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class MedicineIn(Strict):
    """One medicine line as typed: the formulary name (generic or Bengali), form, strength,
    dose, frequency and days. The rules engine judges it against TPG 2020."""

    drug: Annotated[Text, _text(80, 1)]
    strength: Annotated[Text, _text(40, 1)]
    form: Annotated[Text, _text(30, 1)]
    dose: Annotated[Text, _text(MAX_TEXT_CHARS, 1)]
    frequency: Annotated[Text, _text(MAX_TEXT_CHARS, 1)]
    duration_days: int = Field(ge=1, le=MAX_DURATION_DAYS)


class AdmissionIn(Strict):
    """Refer for admission: puts a request in the control room's queue (central referral)."""

    need: BedNeed
    condition: Condition = "moderate"
    notes: Annotated[Text, _text(MAX_ADMIT_NOTES)] = ""


class PrescriptionIn(Strict):
    """The e-prescription of a consult (``prescriptions.service.prescribe``)."""

    # The mode the doctor claims: optional, and only kept in the audit row (``mode_claimed``);
    # the prescription takes the call record's mode (``calls.record``).
    mode: Mode | None = None
    items: list[MedicineIn] = Field(min_length=1, max_length=MAX_ITEMS)
    diagnosis: Annotated[Text, _text(MAX_DIAGNOSIS)] = ""
    findings: Annotated[Text, _text(MAX_FINDINGS)] = ""
    investigations: list[Annotated[Text, _text(MAX_INVESTIGATION, 1)]] = Field(
        default_factory=list, max_length=MAX_INVESTIGATIONS
    )
    advice: Annotated[Text, _text(MAX_ADVICE)] = ""
    follow_up_on: date | None = None
    referral: Annotated[Text | None, BeforeValidator(_blank_is_none), _text(MAX_REFERRAL)] = None
    admission: AdmissionIn | None = Field(
        default=None,
        description="Refer for admission: puts a request in the control room's queue.",
    )

    @field_validator("follow_up_on")
    @classmethod
    def _follow_up_ahead(cls, value: date | None) -> date | None:
        if value is not None and value < today_in_india():
            raise PydanticCustomError(
                "follow_up_in_past", "The follow-up date must be today or later."
            )
        return value


class DispensedLine(Strict):
    index: int = Field(ge=0, lt=MAX_ITEMS, description="The prescription line (0-based)")
    quantity: int = Field(ge=0, le=MAX_QUANTITY)
    note: Annotated[Text, _text(MAX_NOTE)] = ""


class DispensingIn(Strict):
    """What the spoke handed over, line by line (``prescriptions.service.record_dispensing``)."""

    items: list[DispensedLine] = Field(min_length=1, max_length=MAX_ITEMS)
