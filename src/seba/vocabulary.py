"""Seba's one vocabulary: the word for each coded thing people read, on every page, SMS and PDF.

One name per thing everywhere: a bed manager who types "ICU" into the census form must find
"ICU" on the public page, in the family's SMS and in the control room, never "CCU without
ventilator" in one place and "ICU" in another. Values are English msgids; the Bengali is in
``locale/bn/LC_MESSAGES/vocabulary.po`` (``tests/test_vocabulary.py`` checks that every entry
has both, and that no other module keeps words for these codes).

This module sits beside ``core`` rather than in it: it knows the domains' codes (bed types,
statuses, roles), and ``core`` knows no domain. It imports only ``core.i18n``, so every
domain, page, notice and PDF may import it without a cycle.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from types import MappingProxyType

from seba.core.i18n import LANGUAGES, bn_digits, gettext


def _table(entries: dict[str, str]) -> Mapping[str, str]:
    return MappingProxyType(entries)


# --- beds ------------------------------------------------------------------------------------
# The words families use (DOMAIN.md §1.1 lists the state's official "CCU without / with
# ventilator"; the public page, where most people read them, said ICU, and so does everyone now).
BED_TYPE_LABELS = _table(
    {
        "general": "General",
        "oxygen": "With oxygen",
        "hdu": "HDU",
        "icu": "ICU",
        "ventilator": "ICU with ventilator",
        "paediatric": "Children's",
    }
)
# Who a bed pool is for (not a patient's sex: a mixed pool takes anyone).
BED_SEX_LABELS = _table({"male": "Men", "female": "Women", "any": "Anyone"})
# The numbers of a pool, as the census form, the staff table and the public page name them.
BED_COUNT_LABELS = _table(
    {
        "total": "Total",
        "occupied": "Occupied",
        "reserved": "Reserved",
        "available": "Free now",
    }
)
OWNERSHIP_LABELS = _table(
    {
        "government": "Government",
        "govt_requisitioned_private": "Government-requisitioned private",
        "private": "Private",
    }
)
FACILITY_KIND_LABELS = _table(
    {
        "medical_college": "Medical college",
        "district_hospital": "District hospital",
        "sub_divisional_hospital": "Sub-divisional hospital",
        "state_general_hospital": "State general hospital",
        "specialty": "Specialty hospital",
        "rural_hospital": "Rural hospital",
        "private_hospital": "Private hospital",
        "satellite_centre": "Satellite Covid centre",
        "safe_home": "Safe home",
    }
)

# --- referrals -------------------------------------------------------------------------------
REFERRAL_STATUS_LABELS = _table(
    {
        "reserved": "Bed reserved",
        "confirmed": "Confirmed by the hospital",
        "admitted": "Admitted",
        "rejected": "Hospital could not take",
        "cancelled": "Cancelled",
        "expired": "Hold ran out",
        "discharged": "Discharged",
        "died": "Died",
        "transferred": "Transferred",
    }
)
PATIENT_SEX_LABELS = _table({"male": "Male", "female": "Female", "other": "Other"})

# --- ambulances ------------------------------------------------------------------------------
AMBULANCE_KIND_LABELS = _table(
    {
        "bls": "Basic life support",
        "als": "Advanced life support",
        "patient_transport": "Patient transport",
        "free_govt": "Free government ambulance",
    }
)
AMBULANCE_STATUS_LABELS = _table({"free": "Free", "busy": "On a trip", "off_duty": "Off duty"})
AMBULANCE_REQUEST_STATUS_LABELS = _table(
    {
        "open": "Waiting for an ambulance",
        "assigned": "Ambulance sent",
        "closed": "Reached the hospital",
        "cancelled": "Cancelled",
    }
)
TRIP_STATUS_LABELS = _table(
    {
        "assigned": "Assigned",
        "en_route": "On the way",
        "at_scene": "With the patient",
        "transporting": "Going to the hospital",
        "at_hospital": "At the hospital",
        "closed": "Trip ended",
        "cancelled": "Cancelled",
    }
)

# --- consults --------------------------------------------------------------------------------
# The consult as the CHO reads it: an offer not yet accepted is still "waiting for a doctor".
CONSULT_STATUS_LABELS = _table(
    {
        "queued": "Waiting for a doctor",
        "offered": "Waiting for a doctor",
        "accepted": "A doctor is ready: join now",
        "in_progress": "The doctor is with the patient",
        "completed": "Completed",
        "no_show": "Missed: the centre did not join in time",
        "cancelled": "Cancelled",
    }
)
# The same states as the doctor reads them: one consult, seen from the other end of the call.
CONSULT_STATUS_FOR_DOCTOR_LABELS = _table(
    {
        "offered": "Offered to you",
        "accepted": "Waiting for the health centre to join",
        "in_progress": "The health centre has joined",
        "completed": "Completed",
        "no_show": "Missed: the centre did not join in time",
        "cancelled": "Cancelled",
        "queued": "Waiting for a doctor",
    }
)

# --- the helpline ----------------------------------------------------------------------------
# What an answer, and a callback request, is about (``helpline.models.ANSWER_TOPICS``).
ANSWER_TOPIC_LABELS = _table(
    {
        "home_care": "Care at home",
        "warning_signs": "Warning signs",
        "testing": "Testing",
        "vaccination": "Vaccination",
        "beds": "Hospital beds",
        "ambulance": "Ambulance",
        "telemedicine": "Doctor on the phone",
        "counselling": "Counselling",
    }
)
CALLBACK_TOPIC_LABELS = _table({**ANSWER_TOPIC_LABELS, "other": "Something else"})
CALLBACK_STATUS_LABELS = _table(
    {
        "waiting": "Waiting for a call",
        "taken": "An agent is calling",
        "answered": "Called back",
        "closed": "Closed",
    }
)
CALLBACK_OUTCOME_LABELS = _table(
    {
        "answered": "Answered",
        "no_answer": "No answer",
        "busy": "Line busy",
        "wrong_number": "Wrong number",
    }
)

# --- staff -----------------------------------------------------------------------------------
ROLE_LABELS = _table(
    {
        "state_admin": "State admin",
        "district_admin": "District admin",
        "control_room": "Control room",
        "hospital_staff": "Hospital staff",
        "viewer": "Viewer",
        "cho": "Community health officer (CHO)",
        "doctor": "Hub doctor",
        "counsellor": "Counsellor",
    }
)
# The kind of place a scope names, shown before the place's own name ("Spoke: …"); a scope is
# never shown to people as its code (``spoke:hwc-kolkata-0001``).
SCOPE_KIND_LABELS = _table(
    {
        "state": "Whole state",
        "district": "District",
        "facility": "Hospital",
        "spoke": "Spoke",
        "hub": "Hub",
    }
)

# --- medicines -------------------------------------------------------------------------------
# Dosage forms of the formulary (``prescriptions/formulary.FORMS``) and a few a doctor may type.
DOSAGE_FORM_LABELS = _table(
    {
        "tablet": "Tablet",
        "dispersible tablet": "Dispersible tablet",
        "capsule": "Capsule",
        "sachet": "Sachet",
        "pessary": "Pessary",
        "syrup": "Syrup",
        "suspension": "Suspension",
        "respirator solution": "Respirator solution",
        "injection": "Injection",
        "drops": "Drops",
        "eye drops": "Eye drops",
        "ear drops": "Ear drops",
        "solution": "Solution",
        "lotion": "Lotion",
        "cream": "Cream",
        "ointment": "Ointment",
        "gel": "Gel",
        "inhaler": "Inhaler",
        "powder": "Powder",
    }
)
# What one dose is counted in ("1 tablet", "5 mL"): read from the typed dose so a Bengali page
# says "১ ট্যাবলেট", never "1 tablet".
DOSE_UNIT_LABELS = _table(
    {
        "tablet": "tablet",
        "capsule": "capsule",
        "sachet": "sachet",
        "drop": "drop",
        "puff": "puff",
        "teaspoon": "teaspoon",
        "ml": "mL",
        "mg": "mg",
        "application": "application",
    }
)
# The units of a formulary strength (``prescriptions/formulary.STRENGTH_PATTERN``).
STRENGTH_UNIT_LABELS = _table(
    {
        "mg": "mg",
        "mcg": "mcg",
        "g": "g",
        "IU": "IU",
        "mmol": "mmol",
        "mL": "mL",
        "L": "L",
        "dose": "dose",
    }
)
# How often, as the doctor's form offers it. A doctor may type anything else; what matches one
# of these in either language is shown in the reader's language.
FREQUENCY_LABELS = _table(
    {
        "once a day": "once a day",
        "twice a day": "twice a day",
        "three times a day": "three times a day",
        "four times a day": "four times a day",
        "at night": "at night",
        "in the morning": "in the morning",
        "when needed": "when needed",
        "before food": "before food",
        "after food": "after food",
    }
)


def word(table: Mapping[str, str], code: str, lang: str) -> str:
    """The word for ``code`` in ``lang``; an unknown code as it is (data from before a code was
    named must still show)."""
    msgid = table.get(code)
    return code if msgid is None else gettext(lang, msgid)


def bilingual(table: Mapping[str, str], code: str) -> str:
    """``বাংলা / English`` for ``code`` (the PDF's cells); an unknown code as it is."""
    if code not in table:
        return code
    bn, en = word(table, code, "bn"), word(table, code, "en")
    return bn if bn == en else f"{bn} / {en}"


def read_term(table: Mapping[str, str], text: str) -> str | None:
    """The code whose word ``text`` is, in any language, ignoring case and outer spaces
    ("Twice a day", "দিনে দুবার" → ``twice a day``); None when it is no known word (a doctor's
    own phrase, kept and shown as typed)."""
    wanted = " ".join(text.split()).casefold()
    for code, msgid in table.items():
        if wanted == code.casefold() or any(
            wanted == gettext(lang, msgid).casefold() for lang in LANGUAGES
        ):
            return code
    return None


def term_in(table: Mapping[str, str], text: str, lang: str) -> str:
    """A typed term (dosage form, how often) in ``lang`` when it is a known one, else as typed:
    a Bengali page never shows "twice a day" for a phrase the vocabulary knows."""
    code = read_term(table, text)
    return text if code is None else word(table, code, lang)


# A dose as doctors type it: an amount (1, 0.5, 1/2, ১) and one unit word, maybe plural.
_DOSE = re.compile(r"^\s*(\d+(?:\.\d+)?|\d+/\d+)\s*([^\d\s]+?)(?:s|es)?\.?\s*$")
_UNCOUNTED = frozenset({"ml", "mg"})
_LATIN = str.maketrans("০১২৩৪৫৬৭৮৯", "0123456789")


def dose_in(text: str, lang: str) -> str:
    """A typed dose in ``lang`` when it is an amount and a known unit ("1 tablet" →
    "১ ট্যাবলেট", "5 mL" → "৫ মিলি"); anything else as typed."""
    match = _DOSE.match(text.translate(_LATIN))
    code = read_term(DOSE_UNIT_LABELS, match[2]) if match else None
    if match is None or code is None:
        return text
    if lang == "bn":
        return f"{bn_digits(match[1])} {word(DOSE_UNIT_LABELS, code, lang)}"
    if match[2].isascii():
        return text  # typed in English: the doctor's own words
    plural = "s" if match[1] != "1" and code not in _UNCOUNTED else ""
    return f"{match[1]} {word(DOSE_UNIT_LABELS, code, lang)}{plural}"


_UNIT = re.compile(r"[A-Za-z]+")


def strength_in(text: str, lang: str) -> str:
    """A strength in ``lang``: "500 mg" → "৫০০ মিগ্রা", "125 mg/5 mL" → "১২৫ মিগ্রা/৫ মিলি";
    in English as written. An unknown unit stays as it is."""
    if lang != "bn":
        return text
    shown = _UNIT.sub(lambda m: word(STRENGTH_UNIT_LABELS, m[0], lang), text)
    return bn_digits(shown)
