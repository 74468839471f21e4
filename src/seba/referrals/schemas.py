"""Referral input: patients, requests, reservations, outcomes; phone and ABHA validation."""

from __future__ import annotations

import re
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from seba.core import phones
from seba.core.formats import DISTRICT_PATTERN, IndianMobile, PersonName, RowId, free_text
from seba.referrals.models import BED_NEEDS, CONDITIONS, COVID_STATUSES, PATIENT_SEXES

PatientSex = Literal[PATIENT_SEXES]  # type: ignore[valid-type]
Condition = Literal[CONDITIONS]  # type: ignore[valid-type]
CovidStatus = Literal[COVID_STATUSES]  # type: ignore[valid-type]
BedNeed = Literal[BED_NEEDS]  # type: ignore[valid-type]

_ABHA = re.compile(r"^(\d{2})-?(\d{4})-?(\d{4})-?(\d{4})$")


def normalise_phone(raw: str) -> str:
    """An Indian mobile number as +91XXXXXXXXXX; spaces, dashes, +91, 91 or 0 prefixes accepted."""
    return phones.mobile(raw)


def luhn_ok(digits: str) -> bool:
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch)
        if i % 2 == 1:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return total % 10 == 0


def normalise_abha(raw: str) -> str:
    """ABHA number as XX-XXXX-XXXX-XXXX (DOMAIN.md §2.3). The checksum is checked elsewhere
    and only warned about: real numbers are known to pass Luhn, but it is not documented."""
    match = _ABHA.match((raw or "").strip())
    if not match:
        raise ValueError("ABHA number must be 14 digits as XX-XXXX-XXXX-XXXX")
    return "-".join(match.groups())


def abha_warnings(abha: str | None) -> list[str]:
    if abha and not luhn_ok(abha.replace("-", "")):
        return ["abha_checksum_mismatch"]
    return []


class Patient(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    name: PersonName
    age: int = Field(ge=0, le=125)
    sex: PatientSex
    phone: IndianMobile


class RequestDetails(BaseModel):
    """What the family (or the operator taking a call) says about the need."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    district: str = Field(pattern=DISTRICT_PATTERN)
    condition: Condition = "moderate"
    need: BedNeed = "general"
    covid_status: CovidStatus = "unknown"
    lat: float | None = Field(default=None, ge=21.0, le=27.5)
    lon: float | None = Field(default=None, ge=85.5, le=90.0)
    abha_number: str | None = None
    notes: free_text(500) = ""

    @field_validator("abha_number", mode="before")
    @classmethod
    def _abha(cls, value: object) -> object:
        if value in (None, ""):
            return None
        if not isinstance(value, str):
            raise ValueError("ABHA number must be text")
        return normalise_abha(value)


class CitizenRequest(RequestDetails):
    patient: Patient
    consent: bool = Field(description="consent to share these details with the hospital")

    @field_validator("consent")
    @classmethod
    def _consent(cls, value: bool) -> bool:
        if not value:
            raise ValueError("consent is needed to share the request with hospitals")
        return value


class CallerRequest(RequestDetails):
    """A request an operator takes on the phone (the caller consents verbally; recorded)."""

    patient: Patient
    consent: bool = True


class ReferralCreate(BaseModel):
    """Reserve a bed: for a waiting request (``request_id``) or a new patient (``patient``)."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    facility_id: RowId
    bed_type: BedNeed
    request_id: RowId | None = None
    patient: Patient | None = None
    district: str | None = Field(default=None, pattern=DISTRICT_PATTERN)
    condition: Condition = "moderate"
    covid_status: CovidStatus = "unknown"
    notes: free_text(500) = ""


class Reason(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    reason: free_text(400) = ""


class RejectBody(Reason):
    reason: free_text(400) = Field(min_length=3)


class MoveBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    facility_id: RowId
    bed_type: BedNeed | None = None


class WalkIn(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    patient: Patient
    bed_type: BedNeed
    district: str | None = Field(default=None, pattern=DISTRICT_PATTERN)
    condition: Condition = "moderate"
    covid_status: CovidStatus = "unknown"


class DischargeBody(Reason):
    outcome: Literal["discharged", "died"] = "discharged"


class TransferBody(Reason):
    need: BedNeed
    condition: Condition = "moderate"


class OtpStart(BaseModel):
    model_config = ConfigDict(extra="forbid")

    phone: IndianMobile


class OtpVerify(BaseModel):
    model_config = ConfigDict(extra="forbid")

    challenge_id: RowId
    code: str = Field(pattern=r"^\d{6}$")
