"""Vital signs the CHO records at the spoke, range-checked, and the red flags a doctor must see.

Every field is optional (a spoke may have no glucometer), but each value given is checked
against ``RANGES``: the limits of what a person can have and still be sitting at a health &
wellness centre, so a value outside them is a typing or unit mistake, not a finding. Bounds are
inclusive. A temperature between 86 and 111 is almost certainly °F typed into the °C box (the
form is in °C): it is refused with the °C value it probably meant.

``validate_vitals`` reports every bad field at once (``ValidationFailed`` ``invalid_vitals``
with ``details = {field: message}``) so the CHO fixes the form in one go.

``flags`` lists red flags for the doctor console to highlight. The thresholds are screening
cut-offs that call for the doctor's attention (and often in-person care, TPG: emergencies are
referred), not diagnoses.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Annotated, Any

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    ValidationError,
    ValidationInfo,
    field_validator,
)
from pydantic_core import PydanticCustomError

from seba.core.errors import ValidationFailed
from seba.core.i18n import gettext, number


@dataclass(frozen=True)
class Range:
    low: float
    high: float
    msgid: str  # takes {min} and {max}


RANGES: Mapping[str, Range] = MappingProxyType(
    {
        "bp_systolic": Range(50, 260, "Systolic blood pressure must be from {min} to {max} mmHg."),
        "bp_diastolic": Range(
            30, 160, "Diastolic blood pressure must be from {min} to {max} mmHg."
        ),
        "pulse": Range(20, 250, "Pulse must be from {min} to {max} beats a minute."),
        "temperature_c": Range(30.0, 44.0, "Temperature must be from {min} to {max} °C."),
        "spo2": Range(50, 100, "SpO2 must be from {min} to {max} %."),
        "weight_kg": Range(0.5, 300, "Weight must be from {min} to {max} kg."),
        "blood_glucose_mg_dl": Range(20, 600, "Blood glucose must be from {min} to {max} mg/dL."),
        "respiratory_rate": Range(
            5, 80, "Respiratory rate must be from {min} to {max} breaths a minute."
        ),
    }
)

FAHRENHEIT_LOOKALIKE = (86.0, 111.0)  # 30–44 °C in °F

MSG_INVALID_VITALS = "Some vital signs are not valid."
MSG_DIASTOLIC_NOT_BELOW = (
    "Diastolic blood pressure ({diastolic} mmHg) must be lower than systolic ({systolic} mmHg)."
)
MSG_FAHRENHEIT = (
    "Temperature {value} looks like degrees Fahrenheit: enter it in °C (about {celsius} °C)."
)
MSG_NUMBER = "Enter a number."
MSG_WHOLE_NUMBER = "Enter a whole number for this vital sign."
MSG_UNKNOWN_FIELD = "Seba does not record this vital sign."
MSG_NOT_AN_OBJECT = "Vital signs must be given as named values."

# Red flags: screening thresholds for the doctor's attention, not diagnoses.
SPO2_LOW = 94  # below: hypoxaemia (the Covid home-isolation referral threshold)
SYSTOLIC_VERY_HIGH = 180  # at or above: hypertensive urgency or emergency
SYSTOLIC_LOW = 90  # below: hypotension, possible shock
FEVER_HIGH_C = 39.5  # at or above: high fever
GLUCOSE_LOW = 70  # below: hypoglycaemia
GLUCOSE_HIGH = 300  # above: severe hyperglycaemia (think ketoacidosis)

FLAG_MESSAGES: Mapping[str, str] = MappingProxyType(
    {
        "low_spo2": "Low oxygen saturation (SpO2 below 94%).",
        "very_high_bp": "Very high blood pressure (systolic 180 mmHg or more).",
        "low_bp": "Low blood pressure (systolic below 90 mmHg).",
        "high_fever": "High fever (39.5 °C or more).",
        "low_glucose": "Low blood glucose (below 70 mg/dL).",
        "high_glucose": "Very high blood glucose (above 300 mg/dL).",
    }
)


def _reject_bool(value: Any) -> Any:
    # Pydantic would read True as 1; a checkbox value in a number field is a form bug.
    if isinstance(value, bool):
        raise PydanticCustomError("vital_not_number", MSG_NUMBER)
    return value


# Whole numbers where devices show them (mmHg, beats, %, breaths); 98.5 there is a typo.
Whole = Annotated[int | None, BeforeValidator(_reject_bool)]
Measure = Annotated[float | None, BeforeValidator(_reject_bool)]


def _fmt(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else str(value)


class Vitals(BaseModel):
    """Vital signs; any may be missing, each one present is within ``RANGES``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    bp_systolic: Whole = None  # mmHg
    bp_diastolic: Whole = None  # mmHg, lower than systolic
    pulse: Whole = None  # beats a minute
    temperature_c: Measure = None  # °C
    spo2: Whole = None  # %
    weight_kg: Measure = None
    blood_glucose_mg_dl: Measure = None
    respiratory_rate: Whole = None  # breaths a minute

    @field_validator("*")
    @classmethod
    def _in_range(cls, value: float | None, info: ValidationInfo) -> float | None:
        if value is None:
            return None
        name = info.field_name or ""
        limits = RANGES[name]
        if not math.isfinite(value):
            raise PydanticCustomError("vital_not_number", MSG_NUMBER)
        if name == "temperature_c" and FAHRENHEIT_LOOKALIKE[0] <= value <= FAHRENHEIT_LOOKALIKE[1]:
            raise PydanticCustomError(
                "vital_fahrenheit",
                MSG_FAHRENHEIT,
                {"value": _fmt(value), "celsius": _fmt(round((value - 32) * 5 / 9, 1))},
            )
        if not limits.low <= value <= limits.high:
            raise PydanticCustomError(
                "vital_out_of_range",
                limits.msgid,
                {"min": _fmt(limits.low), "max": _fmt(limits.high)},
            )
        # Cross-field: systolic is validated first (field order), so it is in info.data only
        # when it was valid; a bad systolic is reported on its own field.
        systolic = info.data.get("bp_systolic")
        if name == "bp_diastolic" and systolic is not None and value >= systolic:
            raise PydanticCustomError(
                "vital_diastolic_not_below",
                MSG_DIASTOLIC_NOT_BELOW,
                {"diastolic": _fmt(value), "systolic": _fmt(systolic)},
            )
        return value


_MSGID_BY_TYPE = {
    "vital_fahrenheit": MSG_FAHRENHEIT,
    "vital_diastolic_not_below": MSG_DIASTOLIC_NOT_BELOW,
    "vital_not_number": MSG_NUMBER,
    "extra_forbidden": MSG_UNKNOWN_FIELD,
    "int_from_float": MSG_WHOLE_NUMBER,
    "int_parsing": MSG_WHOLE_NUMBER,
    "int_type": MSG_WHOLE_NUMBER,
    "model_type": MSG_NOT_AN_OBJECT,
}


def _message(error: Mapping[str, Any], field: str, lang: str) -> str:
    kind = error["type"]
    if kind == "vital_out_of_range":
        msgid = RANGES[field].msgid
    else:
        msgid = _MSGID_BY_TYPE.get(kind, MSG_NUMBER)
    ctx = error.get("ctx") or {}
    params = {k: number(v, lang) for k, v in ctx.items() if isinstance(v, str)}
    return gettext(lang, msgid, **params)


def validate_vitals(data: Mapping[str, Any], lang: str = "en") -> Vitals:
    """Check the vitals a CHO entered; ``None`` values mean "not measured".

    Raises ValidationFailed ``invalid_vitals`` whose ``details`` maps every bad field (or
    ``vitals`` when ``data`` is not a mapping) to its message in ``lang``.
    """
    try:
        return Vitals.model_validate(data)
    except ValidationError as exc:
        details: dict[str, str] = {}
        for error in exc.errors():
            field = str(error["loc"][0]) if error["loc"] else "vitals"
            details.setdefault(field, _message(error, field, lang))
        raise ValidationFailed(MSG_INVALID_VITALS, code="invalid_vitals", details=details) from None


def flags(vitals: Vitals) -> list[str]:
    """Red-flag codes (keys of ``FLAG_MESSAGES``) in a fixed order; screening, not diagnosis."""
    found: list[str] = []
    if vitals.spo2 is not None and vitals.spo2 < SPO2_LOW:
        found.append("low_spo2")
    if vitals.bp_systolic is not None and vitals.bp_systolic >= SYSTOLIC_VERY_HIGH:
        found.append("very_high_bp")
    if vitals.bp_systolic is not None and vitals.bp_systolic < SYSTOLIC_LOW:
        found.append("low_bp")
    if vitals.temperature_c is not None and vitals.temperature_c >= FEVER_HIGH_C:
        found.append("high_fever")
    glucose = vitals.blood_glucose_mg_dl
    if glucose is not None and glucose < GLUCOSE_LOW:
        found.append("low_glucose")
    if glucose is not None and glucose > GLUCOSE_HIGH:
        found.append("high_glucose")
    return found
