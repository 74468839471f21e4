"""Login and user-management input and output."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, field_validator

from seba.core import phones


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

    username: str = Field(min_length=1, max_length=60)
    password: str = Field(min_length=1, max_length=200)
    role: str = Field(max_length=30)
    scope: str = Field(default="state", max_length=100)
    full_name: str = Field(default="", max_length=120)
    # Where the SMS alerts of the user's facility go (hospital staff): an Indian mobile.
    mobile: str | None = Field(default=None, max_length=20)

    @field_validator("mobile")
    @classmethod
    def _mobile(cls, value: str | None) -> str | None:
        return phones.mobile(value) if value and value.strip() else None

    @field_validator("username", "role", "scope", "full_name")
    @classmethod
    def _strip(cls, value: str) -> str:
        return _no_nul(value.strip())


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
