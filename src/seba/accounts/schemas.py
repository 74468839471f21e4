"""Login and user-management input and output."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from seba.core.access import ROLES, SCOPE_KINDS
from seba.core.formats import CODE_PATTERN, IndianMobile

# Doctors are added with their registration (``seba doctor add``), counsellors linked to their
# counsellor row (``seba user add --role counsellor --counsellor ID``), never through this route.
GrantableRole = Literal[tuple(r for r in ROLES if r not in ("doctor", "counsellor"))]  # type: ignore[valid-type]
USERNAME_PATTERN = r"^[a-z0-9][a-z0-9_.-]{2,59}$"
SCOPE_PATTERN = rf"^(?:state|(?:{'|'.join(SCOPE_KINDS[1:])}):{CODE_PATTERN[1:-1]})$"
MIN_PASSWORD = 8


def _no_nul(value: str) -> str:
    # PostgreSQL text cannot hold U+0000: refuse it as bad input instead of failing in the query.
    if "\x00" in value:
        raise ValueError("must not contain a NUL character")
    return value


class TokenRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    username: str = Field(min_length=1, max_length=60)
    password: str = Field(min_length=1, max_length=200)

    _text = field_validator("username")(_no_nul)


class TokenOut(BaseModel):
    access_token: str
    token_type: str = "bearer"
    expires_in: int


class UserCreate(BaseModel):
    # No blanket whitespace stripping: it would strip the password too, and the login (which
    # never strips) would then refuse the very password the admin typed.
    model_config = ConfigDict(extra="forbid")

    username: str = Field(pattern=USERNAME_PATTERN, description="3–60 of a-z 0-9 . _ -")
    password: str = Field(min_length=MIN_PASSWORD, max_length=200)
    role: GrantableRole
    scope: str = Field(
        default="state", pattern=SCOPE_PATTERN, examples=["state", "district:kolkata"]
    )
    full_name: str = Field(default="", max_length=120, pattern=r"^[^\x00-\x1f\x7f]*$")
    # Where the SMS alerts of the user's facility go (hospital staff): an Indian mobile.
    mobile: IndianMobile | None = None

    @field_validator("mobile", mode="before")
    @classmethod
    def _no_mobile(cls, value: object) -> object:
        # A form's empty box means "no mobile", not a wrong one.
        return None if isinstance(value, str) and not value.strip() else value

    @field_validator("username", "scope", "full_name", mode="before")
    @classmethod
    def _strip(cls, value: object) -> object:
        # Surrounding spaces typed by an admin are dropped before the format is checked.
        return value.strip() if isinstance(value, str) else value


class UserOut(BaseModel):
    id: int
    username: str
    full_name: str
    role: str
    scope: str
    active: bool
    mobile: str | None = None


class Me(BaseModel):
    username: str
    role: str
    scope: str
