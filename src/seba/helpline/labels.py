"""The helpline's order of topics (their words are ``seba.vocabulary``)."""

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
