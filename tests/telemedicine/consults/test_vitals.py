"""Vital-sign ranges, their messages, and the red flags."""

from __future__ import annotations

import pytest

from seba.core.errors import ValidationFailed
from seba.telemedicine.consults.vitals import FLAG_MESSAGES, RANGES, Vitals, flags, validate_vitals

# field: (lowest accepted, highest accepted, a step just outside, the exact message)
BOUNDS = {
    "bp_systolic": (50, 260, 1, "Systolic blood pressure must be from 50 to 260 mmHg."),
    "bp_diastolic": (30, 160, 1, "Diastolic blood pressure must be from 30 to 160 mmHg."),
    "pulse": (20, 250, 1, "Pulse must be from 20 to 250 beats a minute."),
    "temperature_c": (30.0, 44.0, 0.1, "Temperature must be from 30 to 44 °C."),
    "spo2": (50, 100, 1, "SpO2 must be from 50 to 100 %."),
    "weight_kg": (0.5, 300, 0.01, "Weight must be from 0.5 to 300 kg."),
    "blood_glucose_mg_dl": (20, 600, 0.1, "Blood glucose must be from 20 to 600 mg/dL."),
    "respiratory_rate": (5, 80, 1, "Respiratory rate must be from 5 to 80 breaths a minute."),
}


def refused(data: dict, lang: str = "en") -> dict[str, str]:
    with pytest.raises(ValidationFailed) as info:
        validate_vitals(data, lang)
    assert info.value.code == "invalid_vitals"
    assert info.value.status_code == 422
    return info.value.details


def test_bounds_cover_every_field():
    assert set(BOUNDS) == set(RANGES) == set(Vitals.model_fields)


@pytest.mark.parametrize("field", sorted(BOUNDS))
def test_bounds_are_inclusive(field):
    low, high, _step, _msg = BOUNDS[field]
    # diastolic alone: no systolic to compare with
    assert getattr(validate_vitals({field: low}), field) == low
    assert getattr(validate_vitals({field: high}), field) == high


@pytest.mark.parametrize("field", sorted(BOUNDS))
def test_just_outside_is_refused_with_field_unit_and_range(field):
    low, high, step, message = BOUNDS[field]
    assert refused({field: round(low - step, 2)}) == {field: message}
    if field != "temperature_c":  # just above 44 °C is covered by the Fahrenheit test
        assert refused({field: round(high + step, 2)}) == {field: message}


def test_nothing_measured_is_fine():
    assert validate_vitals({}) == Vitals()
    assert validate_vitals({"pulse": None, "spo2": None}) == Vitals()


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (44.1, "Temperature must be from 30 to 44 °C."),
        (85.9, "Temperature must be from 30 to 44 °C."),
        (86, "Temperature 86 looks like degrees Fahrenheit: enter it in °C (about 30 °C)."),
        (98.6, "Temperature 98.6 looks like degrees Fahrenheit: enter it in °C (about 37 °C)."),
        (102.2, "Temperature 102.2 looks like degrees Fahrenheit: enter it in °C (about 39 °C)."),
        (111, "Temperature 111 looks like degrees Fahrenheit: enter it in °C (about 43.9 °C)."),
        (111.1, "Temperature must be from 30 to 44 °C."),
    ],
)
def test_fahrenheit_is_spotted(value, message):
    assert refused({"temperature_c": value}) == {"temperature_c": message}


def test_diastolic_must_be_below_systolic():
    assert validate_vitals({"bp_systolic": 120, "bp_diastolic": 119}).bp_diastolic == 119
    expected = "Diastolic blood pressure (120 mmHg) must be lower than systolic (120 mmHg)."
    assert refused({"bp_systolic": 120, "bp_diastolic": 120}) == {"bp_diastolic": expected}
    assert "bp_diastolic" in refused({"bp_systolic": 90, "bp_diastolic": 140})
    # a bad systolic is reported on its own; the diastolic is not judged against it
    assert refused({"bp_systolic": 300, "bp_diastolic": 150}) == {
        "bp_systolic": BOUNDS["bp_systolic"][3]
    }


def test_every_bad_field_is_reported_at_once():
    details = refused(
        {
            "bp_systolic": 40,
            "bp_diastolic": 200,
            "pulse": 72,  # fine
            "temperature_c": 99,
            "spo2": 101,
            "weight_kg": 0,
            "blood_glucose_mg_dl": 700,
            "respiratory_rate": 2,
        }
    )
    assert set(details) == {
        "bp_systolic",
        "bp_diastolic",
        "temperature_c",
        "spo2",
        "weight_kg",
        "blood_glucose_mg_dl",
        "respiratory_rate",
    }
    assert details["spo2"] == BOUNDS["spo2"][3]
    assert "Fahrenheit" in details["temperature_c"]


@pytest.mark.parametrize(
    ("data", "field", "message"),
    [
        ({"spo2": 97.5}, "spo2", "Enter a whole number for this vital sign."),
        ({"pulse": "fast"}, "pulse", "Enter a whole number for this vital sign."),
        ({"weight_kg": "heavy"}, "weight_kg", "Enter a number."),
        ({"weight_kg": float("nan")}, "weight_kg", "Enter a number."),
        ({"blood_glucose_mg_dl": float("inf")}, "blood_glucose_mg_dl", "Enter a number."),
        ({"temperature_c": "nan"}, "temperature_c", "Enter a number."),
        ({"pulse": True}, "pulse", "Enter a number."),
        ({"height_cm": 160}, "height_cm", "Seba does not record this vital sign."),
    ],
)
def test_not_a_value(data, field, message):
    assert refused(data) == {field: message}


def test_numbers_as_text_are_read():
    vitals = validate_vitals({"bp_systolic": "130", "temperature_c": "37.2", "spo2": 98.0})
    assert (vitals.bp_systolic, vitals.temperature_c, vitals.spo2) == (130, 37.2, 98)


def test_not_a_mapping():
    assert refused([120, 80]) == {"vitals": "Vital signs must be given as named values."}  # type: ignore[arg-type]


def test_messages_in_bengali():
    details = refused({"spo2": 40, "temperature_c": 98.6}, lang="bn")
    assert details["spo2"] == "SpO2 ৫০ থেকে ১০০ %-এর মধ্যে হতে হবে।"
    assert "৯৮.৬" in details["temperature_c"] and "৩৭" in details["temperature_c"]


def test_the_model_itself_checks():
    with pytest.raises(ValueError):
        Vitals(pulse=500)
    assert Vitals(pulse=72).pulse == 72


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        ({}, []),
        ({"spo2": 94, "bp_systolic": 179, "temperature_c": 39.4}, []),
        ({"spo2": 93}, ["low_spo2"]),
        ({"bp_systolic": 180}, ["very_high_bp"]),
        ({"bp_systolic": 90}, []),
        ({"bp_systolic": 89}, ["low_bp"]),
        ({"temperature_c": 39.5}, ["high_fever"]),
        ({"blood_glucose_mg_dl": 70}, []),
        ({"blood_glucose_mg_dl": 69.9}, ["low_glucose"]),
        ({"blood_glucose_mg_dl": 300}, []),
        ({"blood_glucose_mg_dl": 300.1}, ["high_glucose"]),
        (
            {"spo2": 88, "bp_systolic": 200, "temperature_c": 40, "blood_glucose_mg_dl": 40},
            ["low_spo2", "very_high_bp", "high_fever", "low_glucose"],
        ),
    ],
)
def test_red_flags_at_their_thresholds(data, expected):
    assert flags(validate_vitals(data)) == expected
    assert all(code in FLAG_MESSAGES for code in expected)
