"""One input schema per ambulance action, shared by the API, the CSV import and the pages."""

from __future__ import annotations

import re
from typing import Annotated, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, WithJsonSchema, model_validator
from pydantic_core import PydanticCustomError

from seba.ambulances.models import AMBULANCE_KINDS, AMBULANCE_STATUSES, TRIP_STATUSES
from seba.core.formats import Code, DistrictCode, IndianMobile, PersonName, RowId, free_text
from seba.core.ids import ascii_digits
from seba.referrals.models import CONDITIONS

# --- registration numbers -----------------------------------------------------------------
# The Indian format: state code, RTO number (1–2 digits), series (0–3 letters), number (1–4
# digits): "WB 06 AB 1234", also typed "wb06ab1234" or "WB-6-AB-1234". Stored as "WB 06 AB
# 1234" (RTO two digits, number four), so one vehicle has one spelling and the UNIQUE holds.
STATE_CODES = frozenset(
    {
        "AN",
        "AP",
        "AR",
        "AS",
        "BR",
        "CG",
        "CH",
        "DD",
        "DL",
        "DN",
        "GA",
        "GJ",
        "HP",
        "HR",
        "JH",
        "JK",
        "KA",
        "KL",
        "LA",
        "LD",
        "MH",
        "ML",
        "MN",
        "MP",
        "MZ",
        "NL",
        "OD",
        "OR",
        "PB",
        "PY",
        "RJ",
        "SK",
        "TN",
        "TR",
        "TS",
        "UK",
        "UP",
        "WB",
    }
)
REGISTRATION_PATTERN = r"^[A-Za-z]{2}[ -]?[0-9]{1,2}[ -]?(?:[A-Za-z]{1,3}[ -]?)?[0-9]{1,4}$"
_REGISTRATION = re.compile(r"([A-Z]{2})([0-9]{1,2})([A-Z]{0,3})([0-9]{1,4})")
REGISTRATION_MESSAGE = "must be an Indian registration number, e.g. WB 06 AB 1234"


def registration(raw: object) -> str:
    """``raw`` as "WB 06 AB 1234"; raises PydanticCustomError ``registration_format``."""
    if not isinstance(raw, str) or len(raw) > 20:
        raise PydanticCustomError("registration_format", REGISTRATION_MESSAGE)
    compact = re.sub(r"[ \-]", "", ascii_digits(raw.strip())).upper()
    match = _REGISTRATION.fullmatch(compact)
    if match is None or match[1] not in STATE_CODES or int(match[2]) == 0 or int(match[4]) == 0:
        raise PydanticCustomError("registration_format", REGISTRATION_MESSAGE)
    state, rto, series, number = match.groups()
    return " ".join(p for p in (state, f"{int(rto):02d}", series, f"{int(number):04d}") if p)


Registration = Annotated[
    str,
    BeforeValidator(registration),
    WithJsonSchema(
        {
            "type": "string",
            "pattern": REGISTRATION_PATTERN,
            "maxLength": 20,
            "examples": ["WB 06 AB 1234"],
            "description": "An Indian registration number; answered as `WB 06 AB 1234`",
        }
    ),
]

# --- places in West Bengal ------------------------------------------------------------------
# The state's bounding box, as facilities and admission requests have it: a point outside it is
# a typo (a swapped pair, a lost digit), never a pickup Seba can serve.
Latitude = Annotated[float, Field(ge=21.0, le=27.5, description="Latitude in West Bengal")]
Longitude = Annotated[float, Field(ge=85.5, le=90.0, description="Longitude in West Bengal")]

AmbulanceKind = Literal[AMBULANCE_KINDS]  # type: ignore[valid-type]
AmbulanceStatus = Literal[AMBULANCE_STATUSES]  # type: ignore[valid-type]
Condition = Literal[CONDITIONS]  # type: ignore[valid-type]
TripStatus = Literal[TRIP_STATUSES]  # type: ignore[valid-type]


class _In(BaseModel):
    model_config = ConfigDict(str_strip_whitespace=True, extra="forbid")


class AmbulanceIn(_In):
    """A vehicle of the fleet. Its district is its base facility's."""

    registration: Registration
    kind: AmbulanceKind
    base_facility: Code = Field(description="code of the facility it is based at")
    driver_name: PersonName
    driver_phone: IndianMobile
    status: Literal["free", "off_duty"] = "free"


class AmbulanceUpdate(_In):
    """What an admin may change; the registration is the vehicle's identity. ``busy`` is set
    only by dispatch."""

    kind: AmbulanceKind | None = None
    base_facility: Code | None = None
    driver_name: PersonName | None = None
    driver_phone: IndianMobile | None = None
    status: Literal["free", "off_duty"] | None = None

    @model_validator(mode="after")
    def _no_nulls(self) -> AmbulanceUpdate:
        for name in self.model_fields_set:
            if getattr(self, name) is None:
                raise ValueError(f"{name} may be left out, not null")
        return self


class Location(_In):
    lat: Latitude
    lon: Longitude


class _Pickup(_In):
    district: DistrictCode
    lat: Latitude | None = None
    lon: Longitude | None = None
    address: free_text(400) = ""  # type: ignore[valid-type]
    condition: Condition
    notes: free_text(500) = ""  # type: ignore[valid-type]
    destination_facility: Code | None = None

    @model_validator(mode="after")
    def _where(self) -> _Pickup:
        if (self.lat is None) != (self.lon is None):
            raise ValueError("give both lat and lon, or neither")
        if self.lat is None and not self.address.strip():
            raise ValueError("give the pickup's lat and lon, or its address")
        return self


class StaffRequestIn(_Pickup):
    """A request the helpline or control room takes on the phone; from a referral, the
    destination is the hospital that holds the patient's bed."""

    source: Literal["helpline", "control_room"] = "control_room"
    contact_phone: IndianMobile
    referral_id: RowId | None = None

    @model_validator(mode="after")
    def _one_destination(self) -> StaffRequestIn:
        if self.referral_id is not None and self.destination_facility is not None:
            raise ValueError("give destination_facility or referral_id, not both")
        return self


class CitizenRequestIn(_Pickup):
    """A family's own request, behind a verified phone (which is the contact phone)."""


class AssignIn(_In):
    ambulance_id: RowId


class TripStep(_In):
    """Move a trip to its next status, with where the ambulance is if known."""

    to: TripStatus
    lat: Latitude | None = None
    lon: Longitude | None = None
    reason: free_text(400) = ""  # type: ignore[valid-type]

    @model_validator(mode="after")
    def _pair(self) -> TripStep:
        if (self.lat is None) != (self.lon is None):
            raise ValueError("give both lat and lon, or neither")
        return self


class CancelIn(_In):
    reason: free_text(400) = ""  # type: ignore[valid-type]
