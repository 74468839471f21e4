"""National digital-health identifiers (ABDM, ``DOMAIN.md`` §2.3): ABHA number, HPR ID, HFR ID.

- **ABHA number**: 14 digits, shown ``XX-XXXX-XXXX-XXXX``. Optional for care, never required.
  The format is checked strictly (digit count, and separators only between the four groups).
  The last digit appears to be a Luhn check digit — every real example passes Luhn, while
  Verhoeff, which some code claims, rejects real numbers — but it is not documented, so a Luhn
  failure is a *warning* carried with the parsed number, never a rejection.
- An **ABHA address** (``name@abdm``) is a different identifier; typed into a number field it is
  refused with its own error so the health worker knows what to ask for instead.
- **HPR ID** (professionals): 14 digits. **HFR ID** (facilities): ``IN`` + 10 digits.

Digits typed on a Bengali keyboard (০–৯, or any other Unicode decimal digit) are read as the
ASCII digits they stand for; what is returned is always ASCII. ``\\d`` is never used on input:
in Python it matches every script's digits and would let them into the database.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

ABHA_SYSTEM = "https://healthid.abdm.gov.in"
HFR_SYSTEM = "https://facility.ndhm.gov.in"
HPR_SYSTEM = "https://doctor.ndhm.gov.in"

ABHA_CHECKSUM_WARNING = "abha_checksum_mismatch"

# Between groups: nothing, spaces, or one hyphen with optional spaces round it.
_SEP = r"(?:[ \t]*-[ \t]*|[ \t]+)?"
_GROUPED_14 = re.compile(rf"([0-9]{{2}}){_SEP}([0-9]{{4}}){_SEP}([0-9]{{4}}){_SEP}([0-9]{{4}})")
_HFR = re.compile(r"IN[0-9]{10}")
# ABHA addresses are "handle@abdm" (and "handle@sbx" in the sandbox); we only need to recognise
# the shape well enough to say "that is an address", so any handle@word counts.
_ABHA_ADDRESS = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*@[A-Za-z][A-Za-z0-9.]*")


class InvalidId(ValueError):
    """An identifier that cannot be accepted. ``code`` is stable; the message is English."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass(frozen=True)
class AbhaNumber:
    """A well-formed ABHA number: 14 ASCII digits, and warnings about it (e.g. its checksum)."""

    digits: str
    warnings: tuple[str, ...] = ()

    @property
    def display(self) -> str:
        return format_abha(self.digits)


def ascii_digits(text: str) -> str:
    """Replace every Unicode decimal digit (Bengali ০–৯ and others) by its ASCII digit."""
    return "".join(
        str(unicodedata.digit(ch)) if not ch.isascii() and unicodedata.category(ch) == "Nd" else ch
        for ch in text
    )


def luhn_ok(digits: str) -> bool:
    """Luhn (mod 10) check over ASCII digits, the last being the check digit."""
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = ord(ch) - 48
        if i % 2 == 1:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return total % 10 == 0


def format_abha(digits: str) -> str:
    """``XX-XXXX-XXXX-XXXX`` from 14 digits (precondition: already validated)."""
    return f"{digits[:2]}-{digits[2:6]}-{digits[6:10]}-{digits[10:]}"


def abha_warnings(digits: str) -> tuple[str, ...]:
    """Warnings about a valid ABHA number's digits: a failed Luhn check is the only one."""
    return () if luhn_ok(digits) else (ABHA_CHECKSUM_WARNING,)


def is_abha_address(raw: str) -> bool:
    return bool(_ABHA_ADDRESS.fullmatch(raw.strip()))


_ASCII_DIGITS = frozenset("0123456789")


def _fourteen_digits(raw: object, *, what: str, prefix: str, address_message: str) -> str:
    """Shared strict parse of a 14-digit identifier grouped 2-4-4-4 or ungrouped.

    ``what`` names the identifier with its article, as a sentence starts ("An ABHA number").
    """
    if not isinstance(raw, str):
        raise InvalidId(f"{prefix}_characters", f"{what} must be text.")
    text = ascii_digits(raw.strip())
    if "@" in text:
        raise InvalidId(f"{prefix}_address_not_number", address_message)
    match = _GROUPED_14.fullmatch(text)
    if match:
        return "".join(match.groups())
    digits = sum(ch in _ASCII_DIGITS for ch in text)
    if any(not (ch in _ASCII_DIGITS or ch in " \t-") for ch in text):
        raise InvalidId(
            f"{prefix}_characters", f"{what} has only digits (and optional hyphens or spaces)."
        )
    if digits != 14:
        raise InvalidId(f"{prefix}_length", f"{what} has 14 digits; this has {digits}.")
    raise InvalidId(
        f"{prefix}_grouping",
        f"{what} is written as 14 digits, or grouped as XX-XXXX-XXXX-XXXX.",
    )


def parse_abha_number(raw: object) -> AbhaNumber:
    """Validate an ABHA number strictly and normalise it to 14 digits.

    Accepts ``12-3456-7890-1234``, ``12 3456 7890 1234`` or ``12345678901234`` (Bengali digits
    too). Raises InvalidId with code ``abha_address_not_number`` (any ``@``: an ABHA address),
    ``abha_characters``, ``abha_length`` or ``abha_grouping``. A Luhn failure is returned in
    ``warnings``, not raised.
    """
    digits = _fourteen_digits(
        raw,
        what="An ABHA number",
        prefix="abha",
        # Any "@": an ABHA address, or a mistyped one. Either way, not the number.
        address_message="This is an ABHA address (like name@abdm), not an ABHA number: "
        "enter the 14-digit ABHA number, or leave it empty.",
    )
    return AbhaNumber(digits=digits, warnings=abha_warnings(digits))


def parse_hpr_id(raw: object) -> str:
    """A Healthcare Professionals Registry ID: 14 digits (grouped like an ABHA number or not).

    Raises InvalidId (``hpr_characters``, ``hpr_length``, ``hpr_grouping``,
    ``hpr_address_not_number``).
    """
    return _fourteen_digits(
        raw,
        what="An HPR ID",
        prefix="hpr",
        address_message="This looks like an address (name@...), not an HPR ID: "
        "enter the 14-digit HPR ID.",
    )


def parse_hfr_id(raw: object) -> str:
    """A Health Facility Registry ID: ``IN`` followed by 10 digits, e.g. ``IN2710000011``.

    Case of the prefix and surrounding spaces are forgiven. Raises InvalidId (``hfr_format``).
    """
    if not isinstance(raw, str):
        raise InvalidId("hfr_format", "HFR ID must be text.")
    text = ascii_digits(raw.strip()).upper()
    if not _HFR.fullmatch(text):
        raise InvalidId("hfr_format", "HFR ID must be IN followed by 10 digits, e.g. IN2710000011.")
    return text
