"""Login and user-management input and output."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class TokenRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    username: str = Field(min_length=1, max_length=60)
    password: str = Field(min_length=1, max_length=200)


class TokenOut(BaseModel):
    access_token: str
    token_type: str = "bearer"
    expires_in: int


class UserCreate(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    username: str = Field(min_length=1, max_length=60)
    password: str = Field(min_length=1, max_length=200)
    role: str = Field(max_length=30)
    scope: str = Field(default="state", max_length=100)
    full_name: str = Field(default="", max_length=120)


class UserOut(BaseModel):
    id: int
    username: str
    full_name: str
    role: str
    scope: str
    active: bool


class Me(BaseModel):
    username: str
    role: str
    scope: str
