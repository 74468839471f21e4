"""How the public reaches a hospital: the numbers its "call" buttons dial, its address in the
reader's language, and a map link. Pure functions over plain values, shared by the public
pages (from the in-memory snapshot), the family's status page and the SMS texts."""

from __future__ import annotations

from collections.abc import Iterable
from urllib.parse import urlencode

OSM_URL = "https://www.openstreetmap.org/"


def call_numbers(
    emergency: str | None, reception: str | None, others: Iterable[str] = ()
) -> list[str]:
    """The hospital's own numbers, emergency first, each once. Never a helpline: when a
    hospital has none, there is no call button for it (the page footer keeps the helpline)."""
    numbers = [n for n in (emergency, reception, *others) if n]
    return list(dict.fromkeys(numbers))


def address_in(lang: str, address: str, address_bn: str) -> str:
    """The address a page or SMS in ``lang`` shows: the Bengali one when there is one."""
    return address_bn if lang == "bn" and address_bn else address


def osm_url(lat: float, lon: float) -> str:
    """The spot on OpenStreetMap (any browser, no app needed)."""
    query = urlencode({"mlat": f"{lat:.5f}", "mlon": f"{lon:.5f}"})
    return f"{OSM_URL}?{query}#map=17/{lat:.5f}/{lon:.5f}"


def geo_uri(lat: float, lon: float, label: str = "") -> str:
    """A ``geo:`` URI: phones open their map app at the spot (RFC 5870, with the common
    ``q=lat,lon(label)`` so the pin is named)."""
    pin = f"{lat:.5f},{lon:.5f}"
    return f"geo:{pin}?" + urlencode({"q": f"{pin}({label})" if label else pin})
