"""Formats shared by the request schemas: what the OpenAPI document says is what the server
checks, because both come from the same annotated type.

A generated client (or schemathesis) builds its requests from the document; if the document
said "any string" where the server wants a mobile number, every generated request would be
refused and no client could be generated that works. So each type carries its pattern, lengths
or range into the JSON schema and checks exactly that at runtime, with the same regular
expression (Python ``re``, not pydantic's Rust engine, whose ``\\d`` and ``\\s`` differ).

Surrounding whitespace is the one leniency: types that trim (names) accept " Ram " and store
"Ram"; the document states the trimmed form.
"""

from __future__ import annotations

import re
from typing import Annotated, Any

from fastapi import Path
from pydantic import AfterValidator, BeforeValidator, Field, WithJsonSchema
from pydantic_core import PydanticCustomError

from seba.core.ids import ascii_digits

MAX_ID = 2**31 - 1

# --- ids ------------------------------------------------------------------------------------
# Row ids are PostgreSQL ``integer``: a larger number is not a row, and would overflow the query.
RowId = Annotated[int, Field(ge=1, le=MAX_ID)]
PathId = Annotated[int, Path(ge=1, le=MAX_ID)]

# --- codes ----------------------------------------------------------------------------------
# Facility, hub and spoke codes (stable slugs used by imports and scopes).
CODE_PATTERN = r"^[a-z0-9][a-z0-9-]{1,79}$"
Code = Annotated[str, Field(pattern=CODE_PATTERN, examples=["kolkata-mch"])]
DISTRICT_PATTERN = r"^[a-z0-9][a-z0-9-]{1,39}$"
DistrictCode = Annotated[str, Field(pattern=DISTRICT_PATTERN, examples=["kolkata"])]

# --- Indian mobile numbers --------------------------------------------------------------------
# Ten digits starting 6–9, written as people write them: "98300 12345", "98300-12345",
# "+91 98300 12345", "919830012345", "09830012345", in ASCII or Bengali digits. Stored as
# +91XXXXXXXXXX.
_D = "[0-9০-৯]"
MOBILE_PATTERN = rf"^(?:\+?91[ -]?|[0০])?[6-9৬-৯]{_D}{{4}}[ -]?{_D}{{5}}$"
_MOBILE = re.compile(MOBILE_PATTERN)
MOBILE_MESSAGE = "must be a 10-digit Indian mobile number, e.g. 98300 12345"


def indian_mobile(raw: object) -> str:
    """``raw`` as ``+91XXXXXXXXXX``; raises PydanticCustomError ``phone_format``."""
    if not isinstance(raw, str):
        raise PydanticCustomError("phone_format", "Phone must be text.")
    text = raw.strip()
    if not _MOBILE.fullmatch(text):
        raise PydanticCustomError("phone_format", MOBILE_MESSAGE)
    return "+91" + re.sub(r"[^0-9]", "", ascii_digits(text))[-10:]


_MOBILE_SCHEMA = {
    "type": "string",
    "pattern": MOBILE_PATTERN,
    "maxLength": 20,
    "examples": ["98300 12345", "+91 98300 12345"],
    "description": "An Indian mobile number (10 digits from 6–9; +91, 91 or 0 before it, one "
    "space or dash after the fifth digit); answered as +91XXXXXXXXXX",
}
IndianMobile = Annotated[str, BeforeValidator(indian_mobile), WithJsonSchema(_MOBILE_SCHEMA)]

# --- text -----------------------------------------------------------------------------------
# C0 and C1 control characters: PostgreSQL cannot store NUL, and none belongs in a name.
_CONTROL = "\\x00-\\x1f\\x7f-\\x9f"
# No control characters and no whitespace at either end (the stored, trimmed form).
NAME_PATTERN = rf"^[^\s{_CONTROL}](?:[^{_CONTROL}]*[^\s{_CONTROL}])?$"
_NAME = re.compile(NAME_PATTERN)
# Free text (notes, reasons, addresses): anything but control characters; newlines and tabs
# are written by people.
TEXT_PATTERN = r"^[^\x00-\x08\x0b\x0c\x0e-\x1f\x7f]*$"
_TEXT = re.compile(TEXT_PATTERN)


def _name(min_length: int, max_length: int):
    def check(raw: Any) -> Any:
        if not isinstance(raw, str):
            return raw  # the str type reports it
        value = raw.strip()
        if not _NAME.fullmatch(value) or not min_length <= len(value) <= max_length:
            raise PydanticCustomError(
                "name_format",
                "{min}–{max} characters, no control characters",
                {"min": min_length, "max": max_length},
            )
        return value

    return check


def _text(raw: Any) -> Any:
    if isinstance(raw, str) and not _TEXT.fullmatch(raw):
        raise PydanticCustomError("text_characters", "Must not hold control characters.")
    return raw


def name_type(min_length: int = 2, max_length: int = 120) -> Any:
    """A person's or place's name: trimmed, ``min_length``–``max_length`` characters, no
    control characters."""
    return Annotated[
        str,
        BeforeValidator(_name(min_length, max_length)),
        WithJsonSchema(
            {
                "type": "string",
                "minLength": min_length,
                "maxLength": max_length,
                "pattern": NAME_PATTERN,
            }
        ),
    ]


PersonName = name_type(2, 120)


def free_text(max_length: int) -> Any:
    """Free text of at most ``max_length`` characters, without control characters."""
    return Annotated[
        str,
        Field(max_length=max_length, json_schema_extra={"pattern": TEXT_PATTERN}),
        AfterValidator(_text),
    ]
