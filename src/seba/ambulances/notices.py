"""The SMS texts of ambulance dispatch, in the family's language, through the outbox."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from seba.ambulances.models import Ambulance, AmbulanceRequest, AmbulanceTrip
from seba.core import outbox
from seba.core.i18n import bn_digits, gettext, number


def _digits(text: str, lang: str) -> str:
    return bn_digits(text) if lang == "bn" else text


def _phone(phone: str) -> str:
    """+919830012345 as people dial it: 98300 12345."""
    national = phone.removeprefix("+91")
    return f"{national[:5]} {national[5:]}"


def request_received(session: AsyncSession, req: AmbulanceRequest) -> None:
    outbox.enqueue(
        session,
        channel="sms",
        recipient=req.contact_phone,
        body=gettext(
            req.lang,
            "Seba: your ambulance request {reference} is received. The control room will call you.",
            reference=req.reference,
        ),
        topic={"ambulance_request_id": req.id},
    )


def assigned(
    session: AsyncSession, req: AmbulanceRequest, amb: Ambulance, trip: AmbulanceTrip
) -> None:
    """To the family: which vehicle, its driver's phone, and about when."""
    lang = req.lang
    outbox.enqueue(
        session,
        channel="sms",
        recipient=req.contact_phone,
        body=gettext(
            lang,
            "Seba {reference}: ambulance {vehicle} is on its way, about {minutes} min. "
            "Driver: {phone}.",
            reference=req.reference,
            vehicle=amb.registration,
            minutes=number(max(1, round(trip.eta_min)), lang),
            phone=_digits(_phone(amb.driver_phone), lang),
        ),
        topic={"ambulance_request_id": req.id, "ambulance_trip_id": trip.id},
    )


def driver_link(session: AsyncSession, req: AmbulanceRequest, amb: Ambulance, link: str) -> None:
    """To the driver (in English: the link is the point): where to go, the trip's page."""
    where = f"{req.lat:.5f},{req.lon:.5f}" if req.lat is not None else req.address[:60]
    outbox.enqueue(
        session,
        channel="sms",
        recipient=amb.driver_phone,
        body=f"Seba {req.reference}: pickup {where}, family {_phone(req.contact_phone)}. {link}",
        topic={"ambulance_request_id": req.id, "ambulance_id": amb.id},
        # The link is the driver's key to the trip: blanked once delivered, like a code.
        redact_after_send=True,
    )


def trip_cancelled(session: AsyncSession, req: AmbulanceRequest, amb: Ambulance) -> None:
    """To the driver (in English, like their link): the trip is off, the vehicle free."""
    outbox.enqueue(
        session,
        channel="sms",
        recipient=amb.driver_phone,
        body=f"Seba {req.reference}: cancelled. Do not go; you are free for the next call.",
        topic={"ambulance_request_id": req.id, "ambulance_id": amb.id},
    )
