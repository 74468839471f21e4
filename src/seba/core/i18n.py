"""Languages: Bengali first, English one click away.

Catalogues are gettext ``.po`` files under ``seba/locale/<lang>/LC_MESSAGES/``, one per domain
area; all of a language's files are merged when the process starts (no compile step). English
is the source language. Numbers are written as people here write them (``number``): lakh and
crore grouping (12,34,567) in both languages, Bengali digits on Bengali pages (Babel's
``bn_IN`` groups correctly but writes Latin digits: they are mapped with ``bn_digits``).
Times are stored in UTC and shown in Asia/Kolkata (``local_time``), on pages and in the SMS
texts services write alike.
"""

from __future__ import annotations

import contextlib
import io
from datetime import datetime
from decimal import Decimal
from functools import cache, lru_cache
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from babel.dates import format_datetime
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.numbers import format_decimal
from babel.support import NullTranslations, Translations

LANGUAGES = ("bn", "en")
DEFAULT_LANGUAGE = "bn"
LOCALE_DIR = Path(__file__).resolve().parent.parent / "locale"
_BN_DIGITS = str.maketrans("0123456789", "০১২৩৪৫৬৭৮৯")
IST = ZoneInfo("Asia/Kolkata")
# Bengali shows the part of day in words ("রাত্রি ৯:২০"), not a Latin "PM".
TIME_FORMATS = {"bn": "d MMMM, B h:mm", "en": "d MMM, h:mm a"}


@cache
def translations(lang: str) -> NullTranslations:
    merged: NullTranslations | None = None
    for po_path in sorted((LOCALE_DIR / lang / "LC_MESSAGES").glob("*.po")):
        with po_path.open("rb") as fh:
            catalog = read_po(fh, locale=lang)
        buffer = io.BytesIO()
        write_mo(buffer, catalog)
        buffer.seek(0)
        part = Translations(buffer)
        merged = part if merged is None else merged.merge(part)
    return merged or NullTranslations()


def gettext(lang: str, message: str, **params: Any) -> str:
    text = translations(lang).gettext(message)
    if params:
        with contextlib.suppress(KeyError, IndexError, ValueError):
            text = text.format(**params)
    return text


def ngettext(lang: str, singular: str, plural: str, n: int) -> str:
    return translations(lang).ngettext(singular, plural, n)


def bn_digits(value: Any) -> str:
    return str(value).translate(_BN_DIGITS)


# Indian grouping in both languages: an English reader here also writes 12,34,567.
NUMBER_LOCALES = {"bn": "bn_IN", "en": "en_IN"}


def number(value: Any, lang: str) -> str:
    """A count or measure as people here read it: ``1234567`` → ``১২,৩৪,৫৬৭`` (bn),
    ``12,34,567`` (en); at most three decimals. Text (a phone number, a distance already cut
    to one decimal) is not regrouped, only given the language's digits."""
    if type(value) is int:
        return _count(value, lang)
    return _number(value, lang)


# Babel takes ~10 µs a number; a page of district totals writes a hundred, again after every
# census, mostly the same small counts: a count is formatted once per language.
@lru_cache(maxsize=8192)
def _count(value: int, lang: str) -> str:
    return _number(value, lang)


def _number(value: Any, lang: str) -> str:
    if isinstance(value, (int, float, Decimal)) and not isinstance(value, bool):
        text = format_decimal(value, locale=NUMBER_LOCALES.get(lang, "en_IN"))
    else:
        text = str(value)
    return bn_digits(text) if lang == "bn" else text


def local_time(value: datetime | str | None, lang: str, fmt: str | None = None) -> str:
    """A stored UTC moment (or its ISO text) as people here read it: Indian time, in ``lang``."""
    if value is None:
        return ""
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    fmt = fmt or TIME_FORMATS.get(lang, TIME_FORMATS["en"])
    text = format_datetime(value.astimezone(IST), fmt, locale="bn_IN" if lang == "bn" else "en_IN")
    return bn_digits(text) if lang == "bn" else text


def negotiate(cookie: str | None, accept_language: str | None, query: str | None = None) -> str:
    """Pick the language: ?lang=, then the remembered cookie, then Accept-Language, then Bengali."""
    for choice in (query, cookie):
        if choice in LANGUAGES:
            return choice
    if accept_language:
        ranked = []
        for part in accept_language.split(","):
            tag, _, q = part.strip().partition(";q=")
            try:
                weight = float(q) if q else 1.0
            except ValueError:
                weight = 0.0
            ranked.append((weight, tag.strip().lower()[:2]))
        for _weight, tag in sorted(ranked, reverse=True):
            if tag in LANGUAGES:
                return tag
    return DEFAULT_LANGUAGE
