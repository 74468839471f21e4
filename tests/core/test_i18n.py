"""Catalogues, language choice and Bengali digits."""

from __future__ import annotations

import pytest
from babel.messages.pofile import read_po

from seba.core.i18n import LOCALE_DIR, bn_digits, gettext, negotiate, number


def test_no_msgid_is_translated_two_ways():
    # Every .po of a language is merged at start and the later file wins silently: two areas
    # translating one English string differently would show whichever loaded last.
    for lang in ("bn", "en"):
        seen: dict[str, tuple[str, str]] = {}
        for path in sorted((LOCALE_DIR / lang / "LC_MESSAGES").glob("*.po")):
            with path.open("rb") as fh:
                catalog = read_po(fh, locale=lang)
            for message in catalog:
                if not message.id or not message.string:
                    continue
                if message.id in seen and seen[message.id][1] != message.string:
                    raise AssertionError(
                        f"{message.id!r}: {seen[message.id][0]} says {seen[message.id][1]!r}, "
                        f"{path.name} says {message.string!r}"
                    )
                seen[message.id] = (path.name, message.string)


def test_bengali_is_the_default_and_choices_are_remembered():
    assert negotiate(None, None) == "bn"
    assert negotiate(None, "en-US,en;q=0.9") == "en"  # API clients may ask
    assert negotiate("bn", "en-US") == "bn"  # a remembered choice wins over the header
    assert negotiate("en", None, "bn") == "bn"  # ?lang= wins over the cookie
    assert negotiate("xx", "fr", "zz") == "bn"  # nonsense falls back to Bengali


def test_bengali_digits_and_translation():
    assert bn_digits("1800-313-444-222") == "১৮০০-৩১৩-৪৪৪-২২২"
    assert number(12345, "bn") == "১২,৩৪৫"
    assert number(12345, "en") == "12,345"
    assert gettext("bn", "Wrong username or password.") == "ইউজারনেম বা পাসওয়ার্ড ভুল।"
    assert gettext("en", "Wrong username or password.") == "Wrong username or password."


async def test_pages_ignore_accept_language_but_the_api_honours_it(client):
    page = await client.get("/", headers={"Accept-Language": "en-US,en;q=0.9"})
    assert '<html lang="bn">' in page.text
    api = await client.get("/api/v1/facilities/999999", headers={"Accept-Language": "en-US"})
    assert api.json()["error"]["message"] == "No such facility."
    api_bn = await client.get("/api/v1/facilities/999999")
    assert api_bn.json()["error"]["message"] == "এমন কোনো প্রতিষ্ঠান নেই।"


@pytest.mark.parametrize(
    ("value", "bn", "en"),
    [
        (0, "০", "0"),
        (999, "৯৯৯", "999"),
        (1000, "১,০০০", "1,000"),
        (99999, "৯৯,৯৯৯", "99,999"),
        (100000, "১,০০,০০০", "1,00,000"),  # one lakh
        (1234567, "১২,৩৪,৫৬৭", "12,34,567"),
        (123456789, "১২,৩৪,৫৬,৭৮৯", "12,34,56,789"),  # twelve crore
        (-1500, "-১,৫০০", "-1,500"),
        (2.5, "২.৫", "2.5"),
        (123456.25, "১,২৩,৪৫৬.২৫", "1,23,456.25"),
    ],
)
def test_numbers_are_grouped_in_lakhs_and_written_in_the_page_digits(value, bn, en):
    assert number(value, "bn") == bn
    assert number(value, "en") == en


def test_text_is_not_regrouped_only_given_digits():
    # A phone number or a distance already cut to one decimal is text, not a count.
    assert number("98300 12345", "bn") == "৯৮৩০০ ১২৩৪৫"
    assert number("1234567", "en") == "1234567"
    assert number("0.2", "bn") == "০.২"


def test_templates_have_one_number_filter():
    from seba.web.render import env

    template = env.from_string("{{ n|num }} = {{ num(n) }}")
    assert template.render(lang="bn", n=1234567, num=lambda v: number(v, "bn")) == (
        "১২,৩৪,৫৬৭ = ১২,৩৪,৫৬৭"
    )
    assert env.from_string("{{ n|num }}").render(lang="en", n=1234567) == "12,34,567"
