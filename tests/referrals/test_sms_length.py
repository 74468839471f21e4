"""Every SMS fits two Unicode segments (134 characters) with the longest real values: the
longest hospital names of the shipped data, the longest demo address in Bengali and English,
the longest bed word, a hold ending tomorrow, a landline with a 4-digit STD code, and a
patient's name as long as the form allows. What must be read whole (reference, time, phone)
is never cut."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from seba.core.i18n import gettext, number
from seba.data import read_csv
from seba.demo import addresses
from seba.referrals import notices
from seba.referrals.models import BED_NEEDS, CONDITIONS, COVID_STATUSES

HOSPITALS = read_csv("hospitals.csv")
DISTRICTS = read_csv("districts.csv")
REFERENCE = "WB-7K3M9QX"  # the shape new_reference() makes: always 10 characters
LONG_PHONE = "03564 221 284"
NOW = datetime(2026, 9, 20, 12, 0, tzinfo=UTC)


def _longest(values):
    return sorted(values, key=len)[-3:]


def _untils(lang: str) -> list[str]:
    # Every month's name and a clock time of each length; today, tomorrow and later.
    moments = [NOW.replace(month=m, hour=h, minute=30) for m in range(1, 13) for h in (4, 17)]
    return _longest(
        notices.sms_time(moment + timedelta(days=days), lang, now=moment)
        for moment in moments
        for days in (0, 1, 3)
    )


@pytest.mark.parametrize("lang", ["bn", "en"])
@pytest.mark.parametrize("bed_type", BED_NEEDS)
def test_the_familys_sms_fits_with_the_longest_names_and_addresses(lang, bed_type):
    names = _longest(h["name_bn" if lang == "bn" else "name_en"] for h in HOSPITALS)
    address_list = _longest(addresses(d)[1 if lang == "bn" else 0] for d in DISTRICTS)
    assert max(len(n) for n in names) >= (60 if lang == "bn" else 85)  # really the long ones
    for name in names:
        for address in address_list:
            for until in _untils(lang):
                for phone in (LONG_PHONE, None):
                    text = notices.family_text(
                        lang,
                        reference=REFERENCE,
                        bed_type=bed_type,
                        hospital=name,
                        address=address,
                        phone=phone,
                        until=until,
                    )
                    assert len(text) <= notices.SMS_MAX, text
                    assert REFERENCE in text and until in text
                    assert (phone or "") in text
                    assert name[:12] in text  # the name is shortened, never lost


def test_a_short_sms_is_left_whole_and_in_bengali():
    text = notices.family_text(
        "bn",
        reference=REFERENCE,
        bed_type="oxygen",
        hospital="নীলরতন সরকার মেডিক্যাল কলেজ ও হাসপাতাল",
        address="কলকাতা, পশ্চিমবঙ্গ",
        phone="033 2286 0033",
        until="সন্ধ্যা ৭:৩০",
    )
    assert text == (
        "সেবা WB-7K3M9QX: শয্যা (অক্সিজেন-সহ) রাখা আছে: নীলরতন সরকার মেডিক্যাল কলেজ ও হাসপাতাল, "
        "কলকাতা, সন্ধ্যা ৭:৩০ পর্যন্ত। ফোন 033 2286 0033"
    )


def test_the_hospitals_notice_fits_with_a_name_as_long_as_the_form_allows():
    longest_until = _longest(_untils("en"))[-1]
    for covid in COVID_STATUSES:
        for condition in CONDITIONS:
            text = notices.hospital_text(
                reference=REFERENCE,
                bed_type="ventilator",
                until=longest_until,
                patient="Purba Medinipur Chattopadhyay " * 4,  # 120 characters
                age=125,
                sex="female",
                condition=condition,
                covid=covid,
            )
            assert len(text) <= notices.SMS_MAX, text
            assert REFERENCE in text and longest_until in text and f"Covid {covid}" in text
    short = notices.hospital_text(
        reference=REFERENCE,
        bed_type="oxygen",
        until="7:30 pm",
        patient="Rina Das",
        age=64,
        sex="female",
        condition="severe",
        covid="positive",
    )
    assert short == (
        "Seba WB-7K3M9QX: bed held (With oxygen) till 7:30 pm for Rina Das, 64F, severe, "
        "Covid positive. Confirm in Seba."
    )


@pytest.mark.parametrize("lang", ["bn", "en"])
def test_the_code_and_received_texts_fit(lang):
    code = gettext(
        lang,
        "Seba code: {code}. Valid for {minutes} minutes. Do not share it.",
        code="123456",
        minutes=number(60, lang),
    )
    received = gettext(
        lang,
        "Seba: your bed request {reference} is received. The control room will call you.",
        reference=REFERENCE,
    )
    for text in (code, received):
        assert len(text) <= notices.SMS_MAX, text


def test_fit_takes_brackets_then_trailing_parts_then_ends():
    def render(v):
        return f"{v['a']}|{v['b']}"

    values = {"a": "Hospital (NRS), Sealdah", "b": "x" * 120}
    assert notices.fit(render, values, ("a",)) == "Hospital|" + "x" * 120
    # A named value keeps MIN_KEPT characters even if the rest alone is too long.
    longer = {"a": "Hospital (NRS), Sealdah", "b": "x" * 130}
    assert notices.fit(render, longer, ("a",)) == "Hospit…|" + "x" * 130
    assert notices.fit(render, {"a": "A (B), C", "b": "y"}, ("a",)) == "A (B), C|y"
