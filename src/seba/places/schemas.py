"""Facility input, as typed by an admin or read from a CSV line."""

from __future__ import annotations

import re
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from seba.places.models import FACILITY_KINDS, OWNERSHIPS

CODE_RE = r"^[a-z0-9][a-z0-9-]{1,79}$"
# HFR facility IDs are "IN" followed by 10 digits (DOMAIN.md §2.3).
HFR_RE = re.compile(r"^IN\d{10}$")
PHONE_RE = re.compile(r"^\+?[0-9][0-9 \-]{5,18}[0-9]$")

Ownership = Literal[OWNERSHIPS]  # type: ignore[valid-type]
FacilityKind = Literal[FACILITY_KINDS]  # type: ignore[valid-type]


class FacilityIn(BaseModel):
    model_config = ConfigDict(str_strip_whitespace=True, extra="forbid")

    code: str = Field(pattern=CODE_RE, description="stable slug used by imports and scopes")
    name: str = Field(min_length=2, max_length=200)
    name_bn: str = Field(min_length=2, max_length=200)
    district_code: str = Field(min_length=2, max_length=40)
    ownership: Ownership
    kind: FacilityKind
    covid: bool = True
    address: str = Field(default="", max_length=400)
    phones: list[str] = Field(default_factory=list, max_length=6)
    lat: float | None = Field(default=None, ge=21.0, le=27.5)
    lon: float | None = Field(default=None, ge=85.5, le=90.0)
    hfr_id: str | None = None

    @field_validator("hfr_id", mode="before")
    @classmethod
    def _hfr(cls, value: object) -> object:
        if value in (None, ""):
            return None
        if not isinstance(value, str) or not HFR_RE.match(value.strip()):
            raise ValueError("HFR ID must be IN followed by 10 digits, e.g. IN2710000011")
        return value.strip()

    @field_validator("phones")
    @classmethod
    def _phones(cls, phones: list[str]) -> list[str]:
        cleaned = [p.strip() for p in phones if p.strip()]
        for phone in cleaned:
            if not PHONE_RE.match(phone):
                raise ValueError(f"not a phone number: {phone!r}")
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
    phones: list[str] | None = Field(default=None, max_length=6)
    lat: float | None = Field(default=None, ge=21.0, le=27.5)
    lon: float | None = Field(default=None, ge=85.5, le=90.0)
    hfr_id: str | None = None

    _hfr = field_validator("hfr_id", mode="before")(FacilityIn._hfr.__func__)  # type: ignore[attr-defined]
    _phones = field_validator("phones")(FacilityIn._phones.__func__)  # type: ignore[attr-defined]
