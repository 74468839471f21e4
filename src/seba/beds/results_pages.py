"""The kept parts of the public bed page: hospital cards and the district totals' rows.

A census moves the bed data version and every page (district × language × filter) is rebuilt
on its next request (``pages.py``); what a census leaves alone is kept here apart from the
pages, so a rebuild renders only what changed: each hospital's card with its snapshot row (a
card near a place too, with its distance put in per request), each district's totals row by
everything it shows, and the districts' totals once per data version.
"""

from __future__ import annotations

import math
import re
import secrets
from collections.abc import Callable
from typing import Any
from urllib.parse import urlencode

from fastapi import Request
from markupsafe import Markup

from seba.beds.models import SEXES
from seba.beds.snapshot import Availability, Selection
from seba.core.http import request_language
from seba.core.i18n import number
from seba.core.runtime import Runtime
from seba.places.contacts import call_numbers
from seba.vocabulary import (
    BED_SEX_LABELS,
    BED_TYPE_LABELS,
    FACILITY_KIND_LABELS,
    OWNERSHIP_LABELS,
)
from seba.web.render import env, page_context

# The templates' words for the codes they show, all from the one vocabulary.
LABELS = {
    "bed_type": BED_TYPE_LABELS,
    "sex": BED_SEX_LABELS,
    "ownership": OWNERSHIP_LABELS,
    "kind": FACILITY_KIND_LABELS,
}

DIRECTIONS_URL = "https://www.google.com/maps/dir/?api=1&"
CARD_TEMPLATE = "beds/_card.html"
# Times on the list, per language: Bengali readers say "সকাল ৯:৩৫", not "9:35 AM".
TIME_FORMATS = {"bn": "d MMMM, B h:mm", "en": "d MMM, h:mm a"}
TOTALS_ROW_TEMPLATE = "beds/_totals_row.html"
# Rendered rows of the district totals, by all they show (``totals_rows``); emptied when full.
_TOTALS_ROWS: dict[tuple[Any, ...], Markup] = {}
MAX_TOTALS_ROWS = 4096
TOTALS_CACHE = "beds.page_totals"
# Where a kept card near a place takes its distance, and a kept totals row its link: text no
# one can type.
_KM_AT = f"\x00{secrets.token_hex(8)}\x00"
_URL_AT = f"\x00{secrets.token_hex(8)}\x00"


def band(available: int) -> str:
    """The state's colour bands on a hospital's free beds: >20 green, 1–20 light blue, 0 pink."""
    if available > 20:
        return "green"
    return "blue" if available > 0 else "pink"


def tel_href(phone: str) -> str:
    return "tel:" + re.sub(r"[^0-9+]", "", phone)


def directions_href(item: dict[str, Any]) -> str:
    if item["lat"] is not None and item["lon"] is not None:
        destination = f"{item['lat']},{item['lon']}"
    else:
        destination = item["address"] or item["name"]
    return DIRECTIONS_URL + urlencode({"destination": destination})


def bed_rows(beds: list[dict[str, Any]]) -> tuple[list[str], list[tuple[str, dict[str, Any]]]]:
    """The sexes this hospital has pools for, and one row per bed type with a pool per sex."""
    sexes = [s for s in SEXES if any(b["sex"] == s for b in beds)]
    rows: dict[str, dict[str, Any]] = {}
    for b in beds:
        rows.setdefault(b["bed_type"], {})[b["sex"]] = b
    return sexes, list(rows.items())


TEMPLATE_HELPERS = {
    "labels": LABELS,
    "band": band,
    "bed_rows": bed_rows,
    "tel_href": tel_href,
    "directions_href": directions_href,
    "call_numbers": call_numbers,
}


def card_context(request: Request, stale_after_s: int) -> dict[str, Any]:
    """What a hospital card reads besides its facility: all of it follows from the language
    and the stale threshold (part of each card's memo key)."""
    lang = request_language(request)
    return page_context(
        request,
        **TEMPLATE_HELPERS,
        time_format=TIME_FORMATS[lang],
        stale_hours=stale_after_s // 3600,
    )


def cards(
    snap: Availability, chosen: Selection, stale: list[bool], context: dict[str, Any]
) -> list[Markup]:
    """The page's hospital cards, each rendered once per row state and kept with its row.

    A census bumps the data version, and every page (each district × language × filter) is
    rebuilt on its next request; the cards were most of that rebuild (each with its bed table
    and a few dozen Babel number and date formats). The snapshot empties a row's memo when the
    row changes, so after a census only the changed hospital's card is rendered again. A card
    near a place is kept too, with a mark where its distance goes: a page "near me" is a new
    list for every phone, and rendering its twenty cards cost ~6 ms; the distance is put in
    per request.
    """
    template = env.get_template(CARD_TEMPLATE)
    variant, distances = chosen.variant, chosen.distances
    lang, stale_hours = context["lang"], context["stale_hours"]
    found = []
    for n, (index, is_stale) in enumerate(zip(chosen.rows, stale, strict=True)):
        km = None if distances is None else distances[n]
        key = ("card", lang, variant, is_stale, stale_hours, km is not None)
        card = snap.memo(index).get(key)
        if card is None:
            row = snap.rows[index]
            assert row is not None
            item = row.public(snap.districts[row.district], variant, stale=is_stale)
            if km is not None:
                item["distance_km"] = 0.0  # its words, with the mark where the number goes
            card = Markup(template.render(context | {"h": item, "km_at": _KM_AT}))
            snap.remember(index, key, card)
        if km is not None:
            card = card.replace(_KM_AT, number(f"{km:.1f}", lang))  # Markup escapes it
        found.append(card)
    return found


def totals_rows(context: dict[str, Any], current: str | None) -> Callable[[dict], Markup]:
    """A district's row of the totals, rendered once per everything it shows (its name, its
    numbers, whether it is the page's district) and kept by that, for any page; its link
    (the page's filter with that district) is put in per page.

    Every page carries the totals of all 23 districts and every census changes them, so every
    page rebuilt after a census rendered the whole table again (~0.4 ms, as much as the rest of
    the results together); a census changes one district's row, and the pages of one language
    and bed type share the other rows.
    """
    template = env.get_template(TOTALS_ROW_TEMPLATE)
    lang, url_of = context["lang"], context["district_url"]

    def row(d: dict[str, Any]) -> Markup:
        is_current = d["code"] == current
        key = (lang, is_current, d["name"], d["name_bn"], d["facilities"])
        key += (d["shown_available"], d["shown_total"], d["stale_facilities"])
        found = _TOTALS_ROWS.get(key)
        if found is None:
            if len(_TOTALS_ROWS) >= MAX_TOTALS_ROWS:
                _TOTALS_ROWS.clear()
            context_of_row = context | {"d": d, "current": is_current, "url": _URL_AT}
            found = _TOTALS_ROWS[key] = Markup(template.render(context_of_row))
        # The link keeps the page's other filters (a place near= too): put in per page.
        return found.replace(_URL_AT, url_of(d["code"]))  # Markup escapes the link

    return row


def district_totals(
    rt: Runtime, snap: Availability, now_ts: float, stale_after_s: int
) -> list[dict[str, Any]]:
    """The districts' totals now, computed once per data version for all the pages rebuilt
    after a census (each asked for them: ~0.15 ms a page with 264 facilities, more with more).

    They stay true until the version moves or the clock turns a fresh facility stale (the
    stale counts move with the clock): then they are computed again.
    """
    kept = rt.caches.get(TOTALS_CACHE)  # (snapshot, (version, stale_after_s), until, totals)
    if kept and kept[0] is snap and kept[1] == (snap.version, stale_after_s) and now_ts <= kept[2]:
        return kept[3]
    totals = snap.district_totals(now_ts, stale_after_s)
    _, changes_at = snap.staleness(list(range(snap.size)), now_ts, stale_after_s)
    until = math.inf if changes_at is None else changes_at
    rt.caches[TOTALS_CACHE] = (snap, (snap.version, stale_after_s), until, totals)
    return totals
