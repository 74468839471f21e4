"""The public "Hospital bed availability" page, Bengali first.

``GET /`` is the whole page: a plain GET form with the JSON API's filters, so it works without
JavaScript. ``GET /beds/list`` answers only the results part for the same query string; the
page's script fetches it when the live event stream says the beds changed, so every open page
asks for it after every census change.

Both are rendered once per (language, filter, bed data version) and kept in the beds response
cache like the JSON views: a request is answered from stored bytes (gzip copy, ETag, 304).
Nothing in them depends on the request beyond its language and its filter; the language
cookie is set per request. A census moves the version, so every page is rebuilt on its next
request: the parts a census leaves alone are kept apart (each hospital's card with its snapshot
row, each district's totals row by what it shows, the page around the results per language and
filter), and a rebuild renders only what changed: ~0.6 ms a page instead of ~7 (2026-12-04).
"""

from __future__ import annotations

import inspect
import secrets
import time
from collections import OrderedDict
from typing import Any
from urllib.parse import quote_plus, urlencode

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, Response
from markupsafe import Markup, escape
from pydantic import ValidationError, validate_call
from starlette.requests import cookie_parser
from starlette.types import Scope

from seba.beds import public
from seba.beds import results_pages as parts
from seba.beds.api import availability_filter
from seba.beds.filter_query import FILTER_NAMES, query_items, read_filter
from seba.beds.live import VERSION
from seba.beds.queries import AvailabilityFilter
from seba.beds.snapshot import Availability
from seba.core.errors import ValidationFailed
from seba.core.fast_path import Reply
from seba.core.http import LANG_COOKIE, cached_response, get_runtime, request_language
from seba.core.i18n import LANGUAGES, negotiate
from seba.core.response_cache import CachedBody, compressed, make_cached
from seba.core.runtime import Runtime
from seba.core.types import utcnow
from seba.web.render import LANG_COOKIE_AGE, env, page_context, render

router = APIRouter(include_in_schema=False)

FILTER_PARAMS = tuple(inspect.signature(availability_filter).parameters)
# The API's own dependency, validated by pydantic against the same Query() constraints that
# FastAPI applies to the JSON route: one definition of what a valid filter is.
_validated_filter = validate_call(availability_filter)

# A person who edited the address by hand is told which field is wrong, in their language.
FIELD_ERRORS = {
    "district": "Choose a district from the list.",
    "ownership": "Choose a type of hospital from the list.",
    "bed_type": "Choose a bed type from the list.",
    "sex": "Choose whether the beds are for men or women.",
    "covid": "Choose Covid or other hospitals from the list.",
    "available_only": "The “only hospitals with free beds” choice is not valid.",
    "q": "The hospital name is too long: use at most 100 letters.",
    "near": "The location must be latitude,longitude, for example 22.57,88.36.",
    "limit": "Hospitals per page must be a number from 1 to 500.",
    "offset": "The page number is not valid.",
}

# Hospitals per page when the query names no limit: twenty cards keep the first view of the
# page small on a phone over 3G (the JSON API's default is larger).
PAGE_LIMIT = 20
FRAMES_CACHE = "beds.page_frames"
# Where a kept frame (``_frame``) takes its page's results and their ETag: text no one can type.
_ETAG_AT = f"\x00{secrets.token_hex(8)}\x00"
_RESULTS_AT = f"\x00{secrets.token_hex(8)}\x00"


def page_filter(request: Request) -> AvailabilityFilter:
    """The filter in the query string, validated exactly as the JSON API validates it.

    A GET form sends its empty fields as ``name=``; on the page an empty field means "any".
    Raises ValidationFailed whose details name the bad fields.
    """
    given = {k: v for k, v in request.query_params.items() if k in FILTER_PARAMS and v.strip()}
    given.setdefault("limit", str(PAGE_LIMIT))
    try:
        return _validated_filter(**given)
    except ValidationError as exc:
        fields = sorted({str(e["loc"][0]) for e in exc.errors()}, key=FILTER_PARAMS.index)
    except ValidationFailed:  # parse_near's own check of LAT,LON
        fields = ["near"]
    raise ValidationFailed(FIELD_ERRORS[fields[0]], code="invalid_filter", details=fields)


def query_url(path: str, params: dict[str, Any]) -> str:
    kept = {k: v for k, v in params.items() if v not in (None, "")}
    return path + ("?" + urlencode(kept) if kept else "")


def form_values(f: AvailabilityFilter) -> dict[str, str | None]:
    """The filter as the form's field values (and the query string of paging links)."""
    return {
        "district": f.district,
        "ownership": f.ownership,
        "bed_type": f.bed_type,
        "sex": f.sex,
        "covid": None if f.covid is None else str(f.covid).lower(),
        "available_only": "true" if f.available_only else None,
        "q": f.q,
        "near": f"{f.near[0]},{f.near[1]}" if f.near else None,
        "limit": str(f.limit) if f.limit != PAGE_LIMIT else None,
    }


def results_context(
    f: AvailabilityFilter,
    data: dict[str, Any],
    cards: list[Markup],
    districts: list[dict[str, Any]],
) -> dict[str, Any]:
    values = form_values(f)
    # District totals for the chosen bed type when the page is filtered by one (on copies: the
    # totals are shared by every page of this version, ``results_pages.district_totals``).
    shown = []
    for d in districts:
        counts = d["by_bed_type"][f.bed_type] if f.bed_type else d
        shown.append(d | {"shown_total": counts["total"], "shown_available": counts["available"]})

    def at(offset: int) -> str:
        return query_url("/", values | {"offset": offset or None})

    # The page shown: past the end, the snapshot answered with the last page.
    offset = data["offset"]
    # A district's link is the filter with that district (the first field): the rest is
    # encoded once, not once per row of the totals (``query_url`` for each cost ~0.1 ms a page).
    rest = urlencode({k: v for k, v in values.items() if k != "district" and v not in (None, "")})
    others = "&" + rest if rest else ""
    return {
        "data": data,
        "cards": cards,
        "filter": f,
        "offset": offset,
        "districts": shown,
        "prev_url": at(max(0, offset - f.limit)) if offset > 0 else None,
        "next_url": at(offset + f.limit) if offset + f.limit < data["count"] else None,
        "district_url": lambda code: "/?district=" + quote_plus(code) + others,
    }


def _render(request: Request, template: str, **context: Any) -> str:
    return env.get_template(template).render(
        page_context(request, **parts.TEMPLATE_HELPERS, **context)
    )


async def _checked_filter(request: Request, snap: Availability) -> AvailabilityFilter:
    """The page's filter; raises ValidationFailed for bad input or a district that is not ours."""
    f = page_filter(request)
    if f.district and f.district not in snap.districts:
        raise ValidationFailed(
            FIELD_ERRORS["district"], code="invalid_filter", details=["district"]
        )
    return f


def _results(
    request: Request, rt: Runtime, snap: Availability, f: AvailabilityFilter
) -> tuple[str, float]:
    """The results part for ``f``: HTML and how long it stays true by itself (seconds)."""
    stale_after_s = rt.settings.stale_after_s
    now = utcnow()
    now_ts = now.timestamp()
    chosen = snap.select(f)
    stale, changes_at = snap.staleness(chosen.rows, now_ts, stale_after_s)
    context = parts.card_context(request, stale_after_s)
    cards = parts.cards(snap, chosen, stale, context)
    data = {"as_of": now, "count": chosen.count, "offset": chosen.offset}
    districts = parts.district_totals(rt, snap, now_ts, stale_after_s)
    context |= results_context(f, data, cards, districts)
    context["totals_row"] = parts.totals_rows(context, f.district)
    html = env.get_template("beds/_results.html").render(context)
    return html, min(public.ttl_s(now_ts, changes_at), public.DISTRICTS_TTL_S)


def _kept(rt: Runtime, key: str, f: AvailabilityFilter, snap: Availability, build) -> CachedBody:
    """A page or its results from this snapshot, kept per data version unless one-off (near)."""
    views = public.views(rt)
    found = views.get(key, snap.version)
    if found is None:
        html, ttl = build()
        # A page near a place is for one request: compressed fast, on the loop, if asked.
        one_off = f.near is not None
        found = make_cached(
            html.encode(), ttl, source=VERSION, version=snap.version, one_off=one_off
        )
        if not one_off:
            views.put(key, found)
    return found


def _results_entry(
    request: Request, rt: Runtime, f: AvailabilityFilter, snap: Availability, lang: str
) -> CachedBody:
    """``lang``: ``request_language(request)``, which the fast path finds more cheaply."""
    key = f"list:{lang}:{public.filter_key(f)}"
    return _kept(rt, key, f, snap, lambda: _results(request, rt, snap, f))


def _frame(
    request: Request, rt: Runtime, f: AvailabilityFilter, snap: Availability, lang: str
) -> tuple[str, str, str]:
    """The page around its results, in three pieces: before the results' ETag, between it
    and the results, after them.

    Only the results move with a census; the rest (the form for this filter, the districts'
    names, the footer's numbers: ~0.35 ms of Jinja, a third of a rebuild) is rendered once per
    language and filter and kept while the districts and the footer are the same, at most
    ``MAX_TTL_S`` (belt and braces). A ``near=`` frame is one-off: not kept.
    """
    footer_of = env.globals.get("helpline_footer")
    footer = footer_of(lang) if footer_of is not None else None
    frames = rt.caches.setdefault(FRAMES_CACHE, OrderedDict())
    key = (lang, public.filter_key(f))
    kept = frames.get(key)
    now = time.monotonic()
    if kept is not None and kept[0] is snap.districts and kept[1] == footer and now < kept[2]:
        return kept[3]
    values = form_values(f)
    other = "en" if lang == "bn" else "bn"
    html = _render(
        request,
        "beds/availability.html",
        values=values,
        # The form lists the districts by name: no totals needed (the results have them).
        districts=list(snap.districts.values()),
        results=Markup(_RESULTS_AT),
        results_etag=_ETAG_AT,
        # From the parsed filter, not the raw query, so that the page is the same bytes
        # for every way of writing the same filter.
        switch_url=query_url("/", values | {"offset": f.offset or None, "lang": other}),
    )
    # The last marks: typed text (the name searched for) comes before them, in the form.
    head, after = html.rsplit(_RESULTS_AT, 1)
    before, between = head.rsplit(_ETAG_AT, 1)
    if f.near is None:
        frames[key] = (snap.districts, footer, now + public.MAX_TTL_S, (before, between, after))
        frames.move_to_end(key)
        if len(frames) > public.MAX_VIEWS:
            frames.popitem(last=False)
    return before, between, after


def _page_entry(
    request: Request, rt: Runtime, f: AvailabilityFilter, snap: Availability, lang: str
) -> CachedBody:
    def build() -> tuple[str, float]:
        results = _results_entry(request, rt, f, snap, lang)
        before, between, after = _frame(request, rt, f, snap, lang)
        html = before + str(escape(results.etag)) + between + results.body.decode() + after
        return html, max(0.0, results.expires_at - time.monotonic())

    key = f"page:{lang}:{public.filter_key(f)}"
    return _kept(rt, key, f, snap, build)


_LANG_COOKIE = LANG_COOKIE.encode()


def page_language(scope: Scope) -> str:
    """``request_language`` of a page request without ``?lang=`` (the fast path's), from the
    raw headers: the language cookie as Starlette reads it (every Cookie header, a later one
    winning), else Bengali (pages ignore Accept-Language). Most requests would otherwise pay
    for a ``Request``'s URL, cookies and query (~15 µs), and most carry no language cookie:
    a header is parsed only when our cookie's name is in it."""
    chosen = None
    for name, value in scope["headers"]:
        if name == b"cookie" and _LANG_COOKIE in value:
            chosen = cookie_parser(value.decode("latin-1")).get(LANG_COOKIE, chosen)
    return negotiate(chosen, None)


# The bytes are in the language the cookie or the browser asked for.
VARY = "Accept-Encoding, Cookie, Accept-Language"


async def fast_answer(rt: Runtime, scope: Scope) -> Reply | None:
    """The page or its results part (``/beds/list``), for the fast path (``core/fast_path.py``):
    read as ``page_filter`` reads it, answered from memory, for any filter and location; the
    route takes anything unusual (a bad filter, a language switch, which sets the cookie)."""
    params = query_items(scope["query_string"])
    if params is None or not params.keys() <= FILTER_NAMES:
        return None
    f = read_filter({k: v for k, v in params.items() if v.strip()}, default_limit=PAGE_LIMIT)
    if f is None:
        return None
    snap = await public.snapshot(rt)
    if f.district is not None and f.district not in snap.districts:
        return None
    # Neither a ``lang`` parameter (not a filter name) nor an ``/api/`` path: the cookie decides.
    lang = page_language(scope)
    request = Request(scope)  # read only to build a missing entry
    if scope["path"] == "/beds/list":
        entry = _results_entry(request, rt, f, snap, lang)
    else:
        entry = _page_entry(request, rt, f, snap, lang)
    # Built (and kept) without an await, from one state of the snapshot; then its gzip copy.
    return Reply(await compressed(entry), "text/html", VARY.encode())


def _answer(request: Request, entry: CachedBody) -> Response:
    response = cached_response(request, entry, media_type="text/html")
    response.headers["Vary"] = VARY
    chosen = request.query_params.get("lang")
    if chosen in LANGUAGES and request.cookies.get(LANG_COOKIE) != chosen:
        response.set_cookie(LANG_COOKIE, chosen, max_age=LANG_COOKIE_AGE, samesite="lax")
    return response


def _bad_filter(request: Request, template: str, **context: Any) -> Response:
    response = render(request, template, status_code=422, **parts.TEMPLATE_HELPERS, **context)
    response.headers["Cache-Control"] = "no-cache"
    response.headers["Vary"] = "Cookie, Accept-Language"
    return response


@router.get("/", response_class=HTMLResponse)
async def availability_page(request: Request, rt: Runtime = Depends(get_runtime)):
    snap = await public.snapshot(rt)
    try:
        f = await _checked_filter(request, snap)
    except ValidationFailed as exc:
        # The form again, as the person filled it, with what to fix.
        raw = {k: v for k, v in request.query_params.items() if k in FILTER_PARAMS}
        districts = public.districts_data(snap, rt.settings.stale_after_s)["districts"]
        return _bad_filter(
            request, "beds/availability.html", error=exc, values=raw, districts=districts
        )
    entry = _page_entry(request, rt, f, snap, request_language(request))
    return _answer(request, await compressed(entry))


@router.get("/beds/list", response_class=HTMLResponse)
async def availability_results(request: Request, rt: Runtime = Depends(get_runtime)):
    """Only the results, for the page's live refresh (same query string as the page)."""
    snap = await public.snapshot(rt)
    try:
        f = await _checked_filter(request, snap)
    except ValidationFailed as exc:
        return _bad_filter(request, "beds/_error.html", error=exc)
    entry = _results_entry(request, rt, f, snap, request_language(request))
    return _answer(request, await compressed(entry))
