"""Facility input, as typed by an admin or read from a CSV line."""

from __future__ import annotations

import re
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from seba.core import phones as phone_numbers
from seba.places.models import FACILITY_KINDS, OWNERSHIPS

CODE_RE = r"^[a-z0-9][a-z0-9-]{1,79}$"
DISTRICT_CODE_RE = r"^[a-z0-9][a-z0-9-]{1,39}$"
# HFR facility IDs are "IN" followed by 10 digits (DOMAIN.md §2.3). ASCII digits only: ``\d``
# would also take Bengali digits, which are not an HFR ID.
HFR_RE = re.compile(r"IN[0-9]{10}")

Ownership = Literal[OWNERSHIPS]  # type: ignore[valid-type]
FacilityKind = Literal[FACILITY_KINDS]  # type: ignore[valid-type]
# Columns that are NOT NULL in the table: an update may leave them out, never set them to null.
REQUIRED_ON_UPDATE = (
    "name",
    "name_bn",
    "ownership",
    "kind",
    "covid",
    "address",
    "address_bn",
    "phones",
)


def _no_nul(value: object) -> object:
    # PostgreSQL text cannot hold U+0000: refuse it here as bad input, not later as a 500.
    texts = value if isinstance(value, list) else [value]
    if any(isinstance(t, str) and "\x00" in t for t in texts):
        raise ValueError("must not contain a NUL character")
    return value


class FacilityIn(BaseModel):
    model_config = ConfigDict(str_strip_whitespace=True, extra="forbid")

    code: str = Field(pattern=CODE_RE, description="stable slug used by imports and scopes")
    name: str = Field(min_length=2, max_length=200)
    name_bn: str = Field(min_length=2, max_length=200)
    district_code: str = Field(pattern=DISTRICT_CODE_RE)
    ownership: Ownership
    kind: FacilityKind
    covid: bool = True
    address: str = Field(default="", max_length=400)
    address_bn: str = Field(default="", max_length=400)
    reception_phone: str | None = None
    emergency_phone: str | None = None
    phones: list[str] = Field(default_factory=list, max_length=6)
    lat: float | None = Field(default=None, ge=21.0, le=27.5)
    lon: float | None = Field(default=None, ge=85.5, le=90.0)
    hfr_id: str | None = None

    _text = field_validator("*", mode="before")(_no_nul)

    @field_validator("hfr_id", mode="before")
    @classmethod
    def _hfr(cls, value: object) -> object:
        if value in (None, ""):
            return None
        if not isinstance(value, str) or not HFR_RE.fullmatch(value.strip()):
            raise ValueError("HFR ID must be IN followed by 10 digits, e.g. IN2710000011")
        return value.strip()

    @field_validator("reception_phone", "emergency_phone", mode="before")
    @classmethod
    def _own_phone(cls, value: object) -> object:
        # An Indian mobile or a landline with its STD code, stored as people read it.
        if value is None or (isinstance(value, str) and not value.strip()):
            return None
        if not isinstance(value, str):
            raise ValueError(phone_numbers.HOSPITAL_HINT)
        return phone_numbers.hospital_phone(value)

    @field_validator("phones")
    @classmethod
    def _phones(cls, phones: list[str]) -> list[str]:
        cleaned = []
        for phone in (p.strip() for p in phones if p.strip()):
            try:
                cleaned.append(phone_numbers.hospital_phone(phone))
            except ValueError:
                raise ValueError(
                    f"not a phone number: {phone!r}: {phone_numbers.HOSPITAL_HINT}"
                ) from None
        return cleaned


class FacilityUpdate(BaseModel):
    """Fields an admin may change; ``code`` and ``district_code`` are the facility's identity."""

    model_config = ConfigDict(str_strip_whitespace=True, extra="forbid")

    name: str | None = Field(default=None, min_length=2, max_length=200)
    name_bn: str | None = Field(default=None, min_length=2, max_length=200)
    ownership: Ownership | None = None
    kind: FacilityKind | None = None
    covid: bool | None = None
    address: str | None = Field(default=None, max_length=400)
    address_bn: str | None = Field(default=None, max_length=400)
    reception_phone: str | None = None
    emergency_phone: str | None = None
    phones: list[str] | None = Field(default=None, max_length=6)
    lat: float | None = Field(default=None, ge=21.0, le=27.5)
    lon: float | None = Field(default=None, ge=85.5, le=90.0)
    hfr_id: str | None = None

    _text = field_validator("*", mode="before")(_no_nul)
    _hfr = field_validator("hfr_id", mode="before")(FacilityIn._hfr.__func__)  # type: ignore[attr-defined]
    _phones = field_validator("phones")(FacilityIn._phones.__func__)  # type: ignore[attr-defined]
    _own_phone = field_validator("reception_phone", "emergency_phone", mode="before")(
        FacilityIn._own_phone.__func__  # type: ignore[attr-defined]
    )

    @field_validator(*REQUIRED_ON_UPDATE, mode="before")
    @classmethod
    def _not_null(cls, value: object) -> object:
        # Runs only for fields the caller sent: leaving one out is fine, null is not.
        if value is None:
            raise ValueError("may be left out, not null")
        return value
