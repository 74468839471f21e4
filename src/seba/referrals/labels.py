"""Words for the referral codes and the referral pages' messages, as English msgids (the
catalogues translate them).

The telemedicine doctor's referral form uses ``CONDITION_LABELS`` too. Statuses, bed types and
the patient's sex are words of the one vocabulary (``seba.vocabulary``).
"""

from __future__ import annotations

CONDITION_LABELS = {"severe": "Severe", "moderate": "Moderate", "mild": "Mild"}
# The Covid severity classes of the national clinical guidance, in words a family can check.
CONDITION_HINTS = {
    "severe": "Very breathless, or oxygen level below 90%.",
    "moderate": "Breathless, or oxygen level 90 to 93%.",
    "mild": "Fever or cough, no breathlessness, oxygen level 94% or more.",
}
COVID_LABELS = {
    "positive": "Covid positive",
    "suspected": "Covid suspected",
    "negative": "Covid negative",
    "unknown": "Not tested or not known",
}
SOURCE_LABELS = {
    "citizen": "Online form",
    "control_room": "Phone call",
    "hospital": "Hospital",
    "walk_in": "Walk-in",
    "transfer": "Transfer",
}
# Pydantic explains problems in developer English; the forms say what to type instead.
FIELD_MESSAGES = {
    "name": "Write the patient's name (2 to 120 letters).",
    "age": "Write the age in years, from 0 to 125.",
    "sex": "Choose the patient's sex.",
    "phone": "Enter a 10-digit mobile number, like 98300 12345.",
    "district": "Choose a district from the list.",
    "condition": "Choose how ill the patient is.",
    "need": "Choose the kind of bed needed.",
    "bed_type": "Choose the kind of bed needed.",
    "covid_status": "Choose the Covid test result.",
    "abha_number": "An ABHA number has 14 digits, like 12-3456-7890-1234. Or leave it empty.",
    "location": "This location is not in West Bengal. Send the form without it.",
    "notes": "At most {max} characters.",
    "reason": "At most {max} characters.",
    "consent": "Tick the box to agree; without it the request cannot go to a hospital.",
}
FIX_BELOW = "Some answers need a change. See below."
NOTICES = {
    "reserved": "Bed reserved for {reference}. The family and the hospital get an SMS.",
    "cancelled": "The hold for {reference} was cancelled and the bed released.",
    "moved": "The hold for {reference} was moved to the new hospital.",
    "recorded": "Request {reference} is in the queue.",
    "confirmed": "Confirmed: {reference}. The control room sees it now.",
    "rejected": "Rejected: {reference}. The bed is free again; the request went back to the "
    "control room.",
    "admitted": "Admitted: {reference}.",
    "discharged": "Discharged: {reference}. The bed is free again.",
    "died": "Death recorded: {reference}. The bed is free again.",
    "transferred": "Transfer for {reference}: the bed is free again and the control room is "
    "finding a new one.",
    "walk_in": "Walk-in patient admitted: {reference}.",
}
