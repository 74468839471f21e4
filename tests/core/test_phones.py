"""Indian phone numbers: a hospital's (mobile or landline with its STD code) and a mobile."""

from __future__ import annotations

import pytest

from seba.core import phones


@pytest.mark.parametrize(
    ("typed", "stored"),
    [
        ("033 2204 1101", "033 2204 1101"),
        ("(0342) 266 2222", "0342 266 2222"),
        ("+91-33-2204-1101", "033-2204-1101"),
        ("91 33 2204 1101", "033 2204 1101"),
        ("03322041101", "03322041101"),
        ("০৩৫৪ ২২৫ ৪২১৮", "0354 225 4218"),  # Bengali digits
        ("98300 12345", "98300 12345"),
        ("+91 98300 12345", "98300 12345"),
        ("098300-12345", "98300 12345"),
        ("011 2658 8500", "011 2658 8500"),  # Delhi: the one STD code starting with 1
    ],
)
def test_a_hospital_number_is_a_mobile_or_a_landline_with_its_std_code(typed, stored):
    assert phones.hospital_phone(typed) == stored


@pytest.mark.parametrize(
    "typed",
    [
        "2204 1101",  # no STD code: cannot be dialled from outside the city
        "1800-313-444-222",  # the state's toll-free helpline is no hospital's own number
        "1800 123 456",
        "033 2204 110",  # a digit short
        "033 2204 11011",  # a digit long
        "call me",
        "",
        "0 0000 00000",
    ],
)
def test_other_numbers_are_refused(typed):
    with pytest.raises(ValueError, match="STD code"):
        phones.hospital_phone(typed)


def test_a_mobile_is_stored_as_plus_91_and_a_landline_is_not_a_mobile():
    assert phones.mobile("98300 12345") == "+919830012345"
    assert phones.mobile("০৯৮৩০০১২৩৪৫") == "+919830012345"
    for landline in ("033 2204 1101", "1800-313-444-222", "12345"):
        with pytest.raises(ValueError, match="mobile"):
            phones.mobile(landline)
    assert phones.is_mobile("+91 70000 00001") and not phones.is_mobile("0354 225 4218")
    assert phones.tel_uri("033 2204 1101") == "tel:03322041101"
