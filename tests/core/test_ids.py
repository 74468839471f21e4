"""National health identifiers (DOMAIN.md §2.3): ABHA number, ABHA address, HPR ID, HFR ID."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from seba.core.ids import (
    ABHA_CHECKSUM_WARNING,
    InvalidId,
    ascii_digits,
    format_abha,
    is_abha_address,
    luhn_ok,
    parse_abha_number,
    parse_hfr_id,
    parse_hpr_id,
)

# Real-looking numbers whose last digit is the Luhn check digit.
VALID = ("91123456789015", "91765432109872", "12345678901237", "71234567890123")


@pytest.mark.parametrize(
    ("raw", "digits"),
    [
        ("91-1234-5678-9015", "91123456789015"),
        ("91123456789015", "91123456789015"),
        ("91 1234 5678 9015", "91123456789015"),
        ("  91-1234-5678-9015  ", "91123456789015"),
        ("91 - 7654 - 3210 - 9872", "91765432109872"),
        ("12-3456-7890-1237", "12345678901237"),
        # Typed on a Bengali keyboard.
        ("৯১-১২৩৪-৫৬৭৮-৯০১৫", "91123456789015"),
        ("৭১২৩৪৫৬৭৮৯০১২৩", "71234567890123"),
    ],
)
def test_valid_abha_numbers_normalise_to_14_digits_without_warning(raw, digits):
    parsed = parse_abha_number(raw)
    assert parsed.digits == digits
    assert parsed.digits.isascii()
    assert parsed.warnings == ()
    assert parsed.display == format_abha(digits)
    assert parsed.display.count("-") == 3 and len(parsed.display) == 17


@pytest.mark.parametrize(
    ("raw", "code"),
    [
        ("", "abha_length"),
        ("9112345678901", "abha_length"),  # 13
        ("911234567890155", "abha_length"),  # 15
        ("91-1234-5678-901", "abha_length"),
        ("91-1234-5678-90155", "abha_length"),
        ("91-1234-5678-90I5", "abha_characters"),  # capital i for a one
        ("9I123456789015", "abha_characters"),
        ("ABHA 91123456789015", "abha_characters"),
        ("+91123456789015", "abha_characters"),
        ("91/1234/5678/9015", "abha_characters"),
        ("91.1234.5678.9015", "abha_characters"),
        ("91-1234-5678-9015\n1", "abha_characters"),
        ("²1123456789015", "abha_characters"),  # superscript two is not a digit here
        ("9112-3456-7890-15", "abha_grouping"),
        ("911-234-567-890-15", "abha_grouping"),
        ("91--1234-5678-9015", "abha_grouping"),
        ("-91-1234-5678-9015", "abha_grouping"),
        ("rina.das@abdm", "abha_address_not_number"),
        ("rina_1990@sbx", "abha_address_not_number"),
        ("91123456789015@abdm", "abha_address_not_number"),
        ("@", "abha_address_not_number"),
        (None, "abha_characters"),
        (91123456789015, "abha_characters"),
    ],
)
def test_malformed_abha_numbers_are_refused_with_a_reason(raw, code):
    with pytest.raises(InvalidId) as caught:
        parse_abha_number(raw)
    assert caught.value.code == code
    assert caught.value.message  # an English sentence for the person typing


def test_an_abha_address_is_recognised_and_named_in_the_error():
    assert is_abha_address("rina.das@abdm")
    assert is_abha_address(" rina_1990@sbx ")
    assert not is_abha_address("91-1234-5678-9015")
    assert not is_abha_address("@abdm")
    with pytest.raises(InvalidId) as caught:
        parse_abha_number("rina.das@abdm")
    assert "ABHA address" in caught.value.message
    assert "14-digit" in caught.value.message


@pytest.mark.parametrize(
    "raw", ["91-1234-5678-9016", "91123456789010", "12-3456-7890-1234", "71234567890124"]
)
def test_a_luhn_failure_is_a_warning_not_a_rejection(raw):
    parsed = parse_abha_number(raw)
    assert len(parsed.digits) == 14
    assert parsed.warnings == (ABHA_CHECKSUM_WARNING,)


@pytest.mark.parametrize("digits", VALID)
def test_every_single_digit_change_breaks_luhn(digits):
    # The property that makes the warning useful: one mistyped digit is always caught.
    assert luhn_ok(digits)
    for i in range(len(digits)):
        for d in "0123456789":
            if d != digits[i]:
                assert not luhn_ok(digits[:i] + d + digits[i + 1 :])


@given(st.text(alphabet="0123456789", min_size=14, max_size=14))
def test_any_14_digits_parse_in_every_written_form(digits):
    forms = (
        digits,
        format_abha(digits),
        " ".join((digits[:2], digits[2:6], digits[6:10], digits[10:])),
    )
    parsed = {parse_abha_number(f) for f in forms}
    assert len(parsed) == 1
    (one,) = parsed
    assert one.digits == digits
    assert one.warnings == (() if luhn_ok(digits) else (ABHA_CHECKSUM_WARNING,))


@given(st.text(max_size=30))
def test_any_text_either_parses_to_14_ascii_digits_or_is_refused(text):
    try:
        parsed = parse_abha_number(text)
    except InvalidId as exc:
        assert exc.code.startswith("abha_")
    else:
        assert len(parsed.digits) == 14 and parsed.digits.isascii() and parsed.digits.isdigit()


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("71-2345-6789-0123", "71234567890123"),
        ("71234567890123", "71234567890123"),
        ("৭১২৩৪৫৬৭৮৯০১২৩", "71234567890123"),
    ],
)
def test_hpr_ids(raw, expected):
    assert parse_hpr_id(raw) == expected


@pytest.mark.parametrize(
    ("raw", "code"),
    [
        ("7123456789012", "hpr_length"),
        ("WBMC 12345", "hpr_characters"),
        ("dr.rina@hpr.abdm", "hpr_address_not_number"),
        ("7123-4567-8901-23", "hpr_grouping"),
    ],
)
def test_bad_hpr_ids(raw, code):
    with pytest.raises(InvalidId) as caught:
        parse_hpr_id(raw)
    assert caught.value.code == code


@pytest.mark.parametrize(
    ("raw", "expected"),
    [("IN2710000011", "IN2710000011"), (" in2710000011 ", "IN2710000011")],
)
def test_hfr_ids(raw, expected):
    assert parse_hfr_id(raw) == expected


@pytest.mark.parametrize(
    "raw", ["IN271000001", "IN27100000111", "2710000011", "IN-2710000011", "US2710000011", None]
)
def test_bad_hfr_ids(raw):
    with pytest.raises(InvalidId) as caught:
        parse_hfr_id(raw)
    assert caught.value.code == "hfr_format"


def test_ascii_digits_reads_bengali_digits_and_leaves_the_rest():
    assert ascii_digits("৯৮৩০০ ১২৩৪৫") == "98300 12345"
    assert ascii_digits("রিনা 12") == "রিনা 12"
