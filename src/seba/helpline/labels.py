"""The helpline's order of topics (their words are ``seba.vocabulary``) and the sentences its
forms show beside a field."""

from __future__ import annotations

from seba.helpline.models import ANSWER_TOPICS

# The answers page lists topics in the order a worried family needs them.
TOPIC_ORDER = (
    "warning_signs",
    "beds",
    "ambulance",
    "home_care",
    "testing",
    "vaccination",
    "telemedicine",
    "counselling",
)
assert set(TOPIC_ORDER) == set(ANSWER_TOPICS)

# What the callback form says beside a field it could not take.
FIELD_MESSAGES = {
    "phone": "Enter a 10-digit mobile number, e.g. 98300 12345.",
    "topic": "Choose what you want to ask about.",
    "lang": "Choose a language.",
    "note": "At most 500 characters.",
}
FIX_BELOW = "Please correct the fields marked below."
