"""Patient input and output.

Field errors carry a stable ``type`` (e.g. ``phone_format``, ``abha_address_not_number``,
``birth_date_in_future``, ``age_or_birth_date``) in the 422 answer's details, so a client can
react to a specific mistake.
"""

from __future__ import annotations

import unicodedata
from datetime import date, datetime
from typing import Any, Literal
from zoneinfo import ZoneInfo

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator
from pydantic_core import PydanticCustomError

from seba.core.formats import IndianMobile
from seba.core.ids import InvalidId, abha_warnings, ascii_digits, format_abha, parse_abha_number
from seba.patients.models import MAX_AGE_YEARS, Patient, age_between
from seba.patients.names import clean_name
from seba.referrals.schemas import normalise_phone

IST = ZoneInfo("Asia/Kolkata")

Sex = Literal["female", "male", "other"]
Relation = Literal["self", "spouse", "child", "parent", "sibling", "other"]


def today_in_india() -> date:
    """Ages and birth dates are reckoned on the Indian calendar day, not the UTC one."""
    return datetime.now(IST).date()


def patient_phone(raw: object) -> str:
    """An Indian mobile as ``+91XXXXXXXXXX`` (the referral domain's form); Bengali digits read.

    Raises PydanticCustomError ``phone_format``.
    """
    if not isinstance(raw, str):
        raise PydanticCustomError("phone_format", "Phone must be text.")
    try:
        return normalise_phone(ascii_digits(raw))
    except ValueError as exc:
        raise PydanticCustomError("phone_format", str(exc)) from None


def patient_abha(raw: object) -> str | None:
    """ABHA number as 14 digits, or None when left empty. Raises PydanticCustomError."""
    if raw is None or (isinstance(raw, str) and not raw.strip()):
        return None
    try:
        return parse_abha_number(raw).digits
    except InvalidId as exc:
        raise PydanticCustomError(exc.code, exc.message) from None


def patient_name(raw: object) -> object:
    if not isinstance(raw, str):
        return raw  # the str type check reports it
    name = clean_name(raw)
    if any(unicodedata.category(ch) == "Cc" for ch in name):
        raise PydanticCustomError("name_characters", "A name must not hold control characters.")
    if name and not any(unicodedata.category(ch)[0] in "LM" for ch in name):
        raise PydanticCustomError("name_letters", "A name needs letters.")
    return name


def _no_control(raw: object) -> object:
    if isinstance(raw, str) and any(
        unicodedata.category(ch) == "Cc" and ch not in "\n\t" for ch in raw
    ):
        raise PydanticCustomError("text_characters", "Must not hold control characters.")
    return raw


def check_birth_date(value: date | None) -> date | None:
    if value is None:
        return None
    today = today_in_india()
    if value > today:
        raise PydanticCustomError("birth_date_in_future", "The date of birth is in the future.")
    if age_between(value, today) > MAX_AGE_YEARS:
        raise PydanticCustomError(
            "birth_date_too_early", "The date of birth is more than 120 years ago."
        )
    return value


def estimated_birth_date(age_years: int, today: date) -> date:
    """The registration day ``age_years`` years back (28 February for a 29 February today)."""
    try:
        return today.replace(year=today.year - age_years)
    except ValueError:
        return today.replace(year=today.year - age_years, day=28)


class PatientIn(BaseModel):
    """A new patient. Give ``birth_date`` or, when it is not known, ``age_years`` (not both).

    A first submit that looks like a patient already registered under the same phone answers
    409 ``possible_duplicate`` with the candidates; send again with ``confirm_new: true`` to
    register a new patient all the same.
    """

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    name: str = Field(min_length=1, max_length=120)
    sex: Sex
    birth_date: date | None = None
    age_years: int | None = Field(default=None, ge=0, le=MAX_AGE_YEARS)
    phone: IndianMobile
    relation_to_phone_owner: Relation = "self"
    address: str = Field(default="", max_length=400)
    village: str = Field(default="", max_length=120)
    abha_number: str | None = Field(default=None, max_length=40)
    confirm_new: bool = False

    _name = field_validator("name", mode="before")(patient_name)
    _text = field_validator("address", "village", mode="before")(_no_control)
    _abha = field_validator("abha_number", mode="after")(patient_abha)
    _birth = field_validator("birth_date", mode="after")(check_birth_date)

    @model_validator(mode="after")
    def _age_or_birth_date(self) -> PatientIn:
        if (self.birth_date is None) == (self.age_years is None):
            raise PydanticCustomError(
                "age_or_birth_date",
                "Give the date of birth or, when it is not known, the age in years (one of them).",
            )
        return self

    def birth(self, today: date) -> tuple[date, bool]:
        """(birth date, whether it is estimated from the stated age)."""
        if self.birth_date is not None:
            return self.birth_date, False
        assert self.age_years is not None  # the model validator guarantees one of them
        return estimated_birth_date(self.age_years, today), True


class PatientUpdate(BaseModel):
    """Changes to a patient; fields left out stay as they are. ``abha_number: null`` removes it.

    ``birth_date`` makes the age exact; ``age_years`` replaces it with an estimate (not both).
    """

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    name: str | None = Field(default=None, min_length=1, max_length=120)
    sex: Sex | None = None
    birth_date: date | None = None
    age_years: int | None = Field(default=None, ge=0, le=MAX_AGE_YEARS)
    phone: IndianMobile | None = None
    relation_to_phone_owner: Relation | None = None
    address: str | None = Field(default=None, max_length=400)
    village: str | None = Field(default=None, max_length=120)
    abha_number: str | None = Field(default=None, max_length=40)

    _name = field_validator("name", mode="before")(patient_name)
    _text = field_validator("address", "village", mode="before")(_no_control)
    _birth = field_validator("birth_date", mode="after")(check_birth_date)

    @field_validator("abha_number", mode="after")
    @classmethod
    def _abha(cls, value: str | None) -> str | None:
        return patient_abha(value)

    @model_validator(mode="after")
    def _consistent(self) -> PatientUpdate:
        nullable = {"abha_number"}
        for name in self.model_fields_set - nullable:
            if getattr(self, name) is None:
                raise PydanticCustomError(
                    "not_nullable", "{field} cannot be emptied.", {"field": name}
                )
        if {"birth_date", "age_years"} <= self.model_fields_set:
            raise PydanticCustomError(
                "age_or_birth_date",
                "Give the date of birth or, when it is not known, the age in years (one of them).",
            )
        return self

    def changes(self) -> dict[str, Any]:
        """The fields given, by name (``birth_date``/``age_years`` still separate)."""
        return {name: getattr(self, name) for name in self.model_fields_set}


class PatientOut(BaseModel):
    """A patient as staff see it. ``birth_date`` is null when only an age was given;
    ``age_years`` is today's age either way. ``warnings`` e.g. ``abha_checksum_mismatch``."""

    id: int
    name: str
    sex: Sex
    birth_date: date | None
    age_years: int
    phone: str
    relation_to_phone_owner: Relation
    address: str
    village: str
    district_code: str
    registered_at_spoke: str | None
    abha_number: str | None = Field(description="XX-XXXX-XXXX-XXXX")
    created_at: datetime
    updated_at: datetime
    warnings: list[str]

    @classmethod
    def of(cls, patient: Patient, today: date | None = None) -> PatientOut:
        today = today or today_in_india()
        return cls(
            id=patient.id,
            name=patient.name,
            sex=patient.sex,  # type: ignore[arg-type]
            birth_date=None if patient.birth_date_estimated else patient.birth_date,
            age_years=patient.age_on(today),
            phone=patient.phone,
            relation_to_phone_owner=patient.relation_to_phone_owner,  # type: ignore[arg-type]
            address=patient.address,
            village=patient.village,
            district_code=patient.district_code,
            registered_at_spoke=patient.registered_at_spoke,
            abha_number=format_abha(patient.abha_number) if patient.abha_number else None,
            created_at=patient.created_at,
            updated_at=patient.updated_at,
            warnings=list(abha_warnings(patient.abha_number)) if patient.abha_number else [],
        )


class PatientList(BaseModel):
    patients: list[PatientOut]


def duplicate_candidate(patient: Patient, today: date) -> dict[str, Any]:
    """What a CHO sees of a possible duplicate: enough to recognise the person, no more."""
    return {
        "id": patient.id,
        "name": patient.name,
        "sex": patient.sex,
        "age_years": patient.age_on(today),
        "relation_to_phone_owner": patient.relation_to_phone_owner,
        "village": patient.village,
        "registered_at_spoke": patient.registered_at_spoke,
    }
