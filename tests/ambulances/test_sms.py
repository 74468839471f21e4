"""The family's SMS fit two Unicode segments (134 characters) in both languages with the
longest values (a 10-character reference, the longest registration, a 3-digit ETA); the
driver's (English, the link) fits two GSM segments (306)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from seba.ambulances import notices
from seba.ambulances.models import Ambulance, AmbulanceRequest, AmbulanceTrip

TWO_UCS2_SEGMENTS = 134
TWO_GSM_SEGMENTS = 306


class Outbox(list):
    def add(self, message) -> None:
        self.append(message)


def _request(lang: str, **values) -> AmbulanceRequest:
    return AmbulanceRequest(
        id=1,
        reference="AM-7K3M9QX",
        contact_phone="+919830012345",
        lang=lang,
        lat=None,
        lon=None,
        address="Flat 12B, Very Long Housing Estate Name, Near the Big Landmark, " * 3,
        created_at=datetime.now(UTC),
        **values,
    )


AMBULANCE = Ambulance(id=1, registration="WB 98 ABC 9999", driver_phone="+919830099999")


@pytest.mark.parametrize("lang", ["bn", "en"])
def test_the_family_sms_fit(lang: str):
    sent = Outbox()
    notices.request_received(sent, _request(lang))
    trip = AmbulanceTrip(id=1, eta_min=999.4)
    notices.assigned(sent, _request(lang), AMBULANCE, trip)
    for message in sent:
        assert len(message.body) <= TWO_UCS2_SEGMENTS, (len(message.body), message.body)
    assert "WB 98 ABC 9999" in sent[1].body


def test_the_driver_sms_fits_with_the_link():
    sent = Outbox()
    link = "https://seba.wb.gov.in/ambulance/trip/" + "x" * 32
    notices.driver_link(sent, _request("bn"), AMBULANCE, link)
    (message,) = sent
    assert link in message.body and len(message.body) <= TWO_GSM_SEGMENTS
    assert message.redact_after_send is True
