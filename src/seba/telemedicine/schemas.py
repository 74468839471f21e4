"""Doctors' rosters, in and out: one schema per action, shared by the JSON API and the service.

Consult and prescription schemas live with their rooms (``consults/schemas.py``,
``prescriptions/schemas.py``).
"""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator
from pydantic_core import PydanticCustomError

HHMM = r"^([01]\d|2[0-3]):[0-5]\d$"
MAX_SHIFTS = 42  # six a day: more is a typing mistake, not a roster


class ShiftIn(BaseModel):
    """One weekly shift at one of the doctor's hubs, in Asia/Kolkata time."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    weekday: int = Field(ge=0, le=6, description="0 = Monday")
    starts_at: str = Field(pattern=HHMM, description="HH:MM, Asia/Kolkata")
    ends_at: str = Field(pattern=HHMM, description="HH:MM, after starts_at")
    hub: Annotated[str, StringConstraints(strip_whitespace=True, min_length=2, max_length=80)]

    @model_validator(mode="after")
    def _starts_before_it_ends(self) -> ShiftIn:
        # A night shift is two shifts (before and after midnight): simpler for people and code.
        if self.starts_at >= self.ends_at:
            raise PydanticCustomError("shift_order", "A shift must start before it ends.")
        return self


class RosterIn(BaseModel):
    """A doctor's whole weekly roster (replaces the one kept)."""

    model_config = ConfigDict(extra="forbid")

    shifts: list[ShiftIn] = Field(max_length=MAX_SHIFTS)
