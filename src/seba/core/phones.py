"""Indian phone numbers: a mobile (for SMS) and a hospital's number (a mobile, or a landline
written with its STD code).

Every Indian number is ten digits after the trunk prefix: a mobile starts with 6–9, a landline
is the STD code (without its 0) followed by the subscriber number. People write them with
spaces, dashes or brackets, with ``+91``, ``91`` or ``0`` in front, sometimes in Bengali
digits; all of those are accepted. A landline without its STD code (``2204 1101``) cannot be
dialled from a mobile outside the city, and a toll-free number (``1800 …``) is no hospital's
own: both are refused for hospitals. A helpline's number (``helpline_phone``) may also be
toll-free (``1800``/``1860`` and 6–9 more digits, such as the state's 1800-313-444-222) or a
national short code (``108``, ``112``, ``1075``).
"""

from __future__ import annotations

import re

from seba.core.formats import MOBILE_MESSAGE as MOBILE_HINT  # one wording for both checks

_BENGALI_DIGITS = str.maketrans("০১২৩৪৫৬৭৮৯", "0123456789")
_SEPARATORS = re.compile(r"[\s\-().]")
_MOBILE = re.compile(r"[6-9][0-9]{9}")
# Ten digits; of the STD codes only Delhi's starts with 1 (a national number starting 1800 or
# 1860 is toll-free or shared-cost, no hospital's own line).
_NATIONAL = re.compile(r"(?:11|[2-9][0-9])[0-9]{8}")
_GROUPED = re.compile(r"[0-9]+(?:[ \-][0-9]+)*")

_TOLL_FREE = re.compile(r"18[06]0[0-9]{6,9}")
# National short codes: 100–199 style (108 ambulance, 112 emergency), four-digit 10xx/11xx
# (1075 Covid helpline, 1098 children) and five-digit 14xxx (14567 elders).
_SHORT_CODE = re.compile(r"1[01][0-9]{1,2}|14[0-9]{3}")
HELPLINE_HINT = (
    "must be a toll-free number (1800 …), a short code such as 108, an Indian mobile number "
    "or a landline with its STD code"
)
HOSPITAL_HINT = (
    "must be an Indian mobile number or a landline with its STD code, e.g. 033 2204 1101"
)


def _national(raw: str) -> tuple[str, str] | None:
    """The ten national digits and the rest as typed (without the prefix), or None."""
    text = re.sub(r"[().]", " ", (raw or "").translate(_BENGALI_DIGITS)).strip()
    digits = _SEPARATORS.sub("", text)
    if digits.startswith("+91"):
        digits, text = digits[3:], text[3:]
    elif len(digits) == 12 and digits.startswith("91"):
        digits, text = digits[2:], text.lstrip()[2:]
    elif len(digits) == 11 and digits.startswith("0"):
        digits, text = digits[1:], text.lstrip()[1:]
    if not _NATIONAL.fullmatch(digits):
        return None
    return digits, text.strip(" -")


def mobile(raw: str) -> str:
    """An Indian mobile number as ``+91XXXXXXXXXX``. Raises ValueError."""
    found = _national(raw)
    if found is None or not _MOBILE.fullmatch(found[0]):
        raise ValueError(MOBILE_HINT)
    return "+91" + found[0]


def is_mobile(phone: str) -> bool:
    try:
        mobile(phone)
    except ValueError:
        return False
    return True


def hospital_phone(raw: str) -> str:
    """A hospital's number as people read it: a mobile as ``98300 12345``, a landline with its
    leading 0 and the grouping it was typed with (``033 2204 1101``; the STD code's length
    varies, so a grouping we did not see is not guessed). Raises ValueError."""
    found = _national(raw)
    if found is None:
        raise ValueError(HOSPITAL_HINT)
    digits, typed = found
    if _MOBILE.fullmatch(digits):
        return f"{digits[:5]} {digits[5:]}"
    grouped = re.sub(r"\s+", " ", typed)
    if _GROUPED.fullmatch(grouped) and grouped.replace(" ", "").replace("-", "") == digits:
        return "0" + grouped
    return "0" + digits


def helpline_phone(raw: str) -> str:
    """A helpline's number as people read it: a toll-free number or short code with the
    grouping it was typed with (``1800-313-444-222``), otherwise as ``hospital_phone``.
    Raises ValueError."""
    text = re.sub(r"\s+", " ", (raw or "").translate(_BENGALI_DIGITS)).strip(" -")
    digits = _SEPARATORS.sub("", text)
    if _TOLL_FREE.fullmatch(digits) or _SHORT_CODE.fullmatch(digits):
        grouped = re.sub(r"[().]", "", text)
        return grouped if _GROUPED.fullmatch(grouped) else digits
    try:
        return hospital_phone(raw)
    except ValueError:
        raise ValueError(HELPLINE_HINT) from None


def tel_uri(phone: str) -> str:
    """``tel:`` URI of a stored number (national digits with the trunk 0, or +91…)."""
    return "tel:" + re.sub(r"[^0-9+]", "", phone)
