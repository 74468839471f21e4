"""The TPG 2020 prescription rules engine, against a table written out here by hand."""

from __future__ import annotations

import string

import pytest
from babel.messages.pofile import read_po

from seba.core.errors import ValidationFailed
from seba.core.i18n import LOCALE_DIR, gettext
from seba.telemedicine.consults import vitals
from seba.telemedicine.prescriptions.formulary import load_formulary, strength_kind
from seba.telemedicine.prescriptions.rules import (
    MAX_DURATION_DAYS,
    MAX_ITEMS,
    MESSAGES,
    MODES,
    PrescribingContext,
    RxItemIn,
    check_prescription,
    raise_if_refused,
)

# One medicine per list, each with a form and strength it really has.
DRUG_OF_LIST = {
    "O": ("paracetamol", "tablet", "500 mg"),
    "A": ("enalapril", "tablet", "5 mg"),
    "B": ("sitagliptin", "tablet", "50 mg"),
    "prohibited": ("morphine", "tablet", "10 mg"),
}

# TPG 2020 (DOMAIN.md §2.1), every case written out: list, consult, is the medicine a refill of
# this patient's earlier one, is the patient on some current treatment, then the verdict in
# video, audio and text. "ok" = allowed, otherwise the refusal code.
LIST_TABLE = """
O           first   no   no    ok                     ok                     ok
O           first   no   yes   ok                     ok                     ok
O           first   yes  no    ok                     ok                     ok
O           first   yes  yes   ok                     ok                     ok
O           follow  no   no    ok                     ok                     ok
O           follow  no   yes   ok                     ok                     ok
O           follow  yes  no    ok                     ok                     ok
O           follow  yes  yes   ok                     ok                     ok
A           first   no   no    ok                     list_a_needs_video     list_a_needs_video
A           first   no   yes   ok                     list_a_needs_video     list_a_needs_video
A           first   yes  no    ok                     list_a_needs_video     list_a_needs_video
A           first   yes  yes   ok                     list_a_needs_video     list_a_needs_video
A           follow  no   no    list_a_refill_only     list_a_refill_only     list_a_refill_only
A           follow  no   yes   list_a_refill_only     list_a_refill_only     list_a_refill_only
A           follow  yes  no    ok                     ok                     ok
A           follow  yes  yes   ok                     ok                     ok
B           first   no   no    list_b_follow_up_only  list_b_follow_up_only  list_b_follow_up_only
B           first   no   yes   list_b_follow_up_only  list_b_follow_up_only  list_b_follow_up_only
B           first   yes  no    list_b_follow_up_only  list_b_follow_up_only  list_b_follow_up_only
B           first   yes  yes   list_b_follow_up_only  list_b_follow_up_only  list_b_follow_up_only
B           follow  no   no    list_b_add_on_only     list_b_add_on_only     list_b_add_on_only
B           follow  no   yes   ok                     ok                     ok
B           follow  yes  no    list_b_add_on_only     list_b_add_on_only     list_b_add_on_only
B           follow  yes  yes   ok                     ok                     ok
prohibited  first   no   no    prohibited_drug        prohibited_drug        prohibited_drug
prohibited  first   no   yes   prohibited_drug        prohibited_drug        prohibited_drug
prohibited  first   yes  no    prohibited_drug        prohibited_drug        prohibited_drug
prohibited  first   yes  yes   prohibited_drug        prohibited_drug        prohibited_drug
prohibited  follow  no   no    prohibited_drug        prohibited_drug        prohibited_drug
prohibited  follow  no   yes   prohibited_drug        prohibited_drug        prohibited_drug
prohibited  follow  yes  no    prohibited_drug        prohibited_drug        prohibited_drug
prohibited  follow  yes  yes   prohibited_drug        prohibited_drug        prohibited_drug
"""

# Age cases: (age, adult companion) and the consult problem they must raise.
AGE_CASES = {
    "age_missing": (None, None, "age_required"),
    "minor_alone": (9, None, "minor_needs_adult"),
    "minor_with_adult": (9, "Rina Das (mother)", None),
    "adult": (35, None, None),
}


def _table_cases():
    for line in LIST_TABLE.strip().splitlines():
        tpg_list, consult, refill, therapy, *verdicts = line.split()
        assert len(verdicts) == len(MODES)
        for mode, verdict in zip(("video", "audio", "text"), verdicts, strict=True):
            for age_case, (age, adult, age_code) in AGE_CASES.items():
                yield pytest.param(
                    tpg_list,
                    consult == "follow",
                    refill == "yes",
                    therapy == "yes",
                    mode,
                    age,
                    adult,
                    None if verdict == "ok" else verdict,
                    age_code,
                    id=f"{tpg_list}-{consult}-refill_{refill}-therapy_{therapy}-{mode}-{age_case}",
                )


def item(drug: str, form: str, strength: str, **kw) -> RxItemIn:
    fields = {"dose": "1 tablet", "frequency": "twice daily", "duration_days": 5} | kw
    return RxItemIn(drug=drug, strength=strength, form=form, **fields)


def context(**kw) -> PrescribingContext:
    fields = {
        "mode": "video",
        "follow_up": False,
        "patient_age_years": 40,
        "adult_companion": None,
        "doctor_registration": "WBMC 12345",
    } | kw
    return PrescribingContext(**fields)


def test_the_table_covers_every_combination():
    rows = {tuple(line.split()[:4]) for line in LIST_TABLE.strip().splitlines()}
    assert len(rows) == 4 * 2 * 2 * 2


@pytest.mark.parametrize(
    (
        "tpg_list",
        "follow_up",
        "refill",
        "on_therapy",
        "mode",
        "age",
        "adult",
        "list_code",
        "age_code",
    ),
    list(_table_cases()),
)
def test_tpg_table(tpg_list, follow_up, refill, on_therapy, mode, age, adult, list_code, age_code):
    generic, form, strength = DRUG_OF_LIST[tpg_list]
    assert load_formulary().get(generic).tpg_list == tpg_list
    ctx = context(
        mode=mode,
        follow_up=follow_up,
        patient_age_years=age,
        adult_companion=adult,
        # the patient had some other medicine before, and this one only when a refill
        earlier_drugs=frozenset({"amlodipine", generic} if refill else {"amlodipine"}),
        current_therapy=frozenset({"atenolol"} if on_therapy else set()),
    )
    check = check_prescription(ctx, [item(generic, form, strength)])
    (verdict,) = check.items
    # A medicine's own problem is shown on it; else the consult's problem refuses it.
    expected = list_code or age_code
    assert verdict.code == expected
    assert verdict.allowed is (expected is None)
    assert verdict.drug == generic and verdict.index == 0
    assert [code for code, _ in check.problems] == ([age_code] if age_code else [])
    assert check.allowed is (expected is None and age_code is None)
    if expected:
        assert verdict.reason in MESSAGES.values()
        assert "{" not in verdict.message("en")
    else:
        assert verdict.reason is None and verdict.message("en") is None


@pytest.mark.parametrize("generic", sorted(d.generic for d in load_formulary()))
def test_every_formulary_medicine_follows_its_list(generic):
    drug = load_formulary().get(generic)
    strength = drug.strengths[0]
    form = next(f for f in drug.forms if drug.strength_fits_form(strength, f))
    rx = [item(generic, form, strength)]
    first_video = check_prescription(context(mode="video"), rx).allowed
    first_text = check_prescription(context(mode="text"), rx).allowed
    refill_audio = check_prescription(
        context(
            mode="audio",
            follow_up=True,
            earlier_drugs=frozenset({generic}),
            current_therapy=frozenset({generic}),
        ),
        rx,
    ).allowed
    expected = {
        "O": (True, True, True),
        "A": (True, False, True),
        "B": (False, False, True),
        "prohibited": (False, False, False),
    }[drug.tpg_list]
    assert (first_video, first_text, refill_audio) == expected
    assert strength_kind(strength)  # the strength parses


def test_the_doctors_message():
    check = check_prescription(context(mode="audio"), [item("enalapril", "tablet", "5 mg")])
    (verdict,) = check.items
    assert verdict.message("en") == (
        "Enalapril is on TPG list A: prescribe it on a video consult, or as a refill in a "
        "follow-up."
    )
    bengali = verdict.message("bn")
    assert bengali.startswith("Enalapril ") and "তালিকা A" in bengali


def test_refills_and_therapy_resolve_aliases():
    ctx = context(
        mode="text",
        follow_up=True,
        earlier_drugs=frozenset({"Glyburide"}),  # alias of glibenclamide
        current_therapy=frozenset({"GLYBURIDE"}),
    )
    check = check_prescription(ctx, [item("glibenclamide", "tablet", "5 mg")])
    assert check.allowed


def test_one_bad_item_does_not_hide_the_others():
    ctx = context(mode="audio")
    items = [
        item("Paracetamol", "Tablet", "500MG"),  # fine despite the spelling
        item("morphine", "injection", "10 mg/mL"),
        item("Crocin", "tablet", "500 mg"),  # a brand: not in the formulary
        item("enalapril", "tablet", "5 mg"),  # list A on audio, first consult
        item("paracetamol", "syrup", "125 mg/5 mL"),  # second paracetamol line
        item("ORS", "sachet", "20.5 g"),  # alias, fine
        item("amoxicillin", "capsule", "500 mg"),  # list A on audio
        item("cetirizine", "tablet", "10 mg"),  # fine
    ]
    check = check_prescription(ctx, items)
    got = [(v.index, v.drug, v.allowed, v.code) for v in check.items]
    assert got == [
        (0, "paracetamol", True, None),
        (1, "morphine", False, "prohibited_drug"),
        (2, "Crocin", False, "unknown_drug"),
        (3, "enalapril", False, "list_a_needs_video"),
        (4, "paracetamol", False, "duplicate_drug"),
        (5, "oral rehydration salts", True, None),
        (6, "amoxicillin", False, "list_a_needs_video"),
        (7, "cetirizine", True, None),
    ]
    assert check.problems == [] and not check.allowed
    assert [v.index for v in check.refused_items] == [1, 2, 3, 4, 6]


def test_consult_problem_marks_the_fine_items_and_keeps_item_problems():
    ctx = context(patient_age_years=None, doctor_registration="  ")
    check = check_prescription(
        ctx, [item("paracetamol", "tablet", "500 mg"), item("codeine", "tablet", "30 mg")]
    )
    assert [c for c, _ in check.problems] == ["age_required", "registration_required"]
    assert [(v.allowed, v.code) for v in check.items] == [
        (False, "age_required"),
        (False, "prohibited_drug"),
    ]


def test_unknown_drug_says_why_and_echoes_a_short_name():
    check = check_prescription(context(), [item("x" * 500, "tablet", "500 mg")])
    (verdict,) = check.items
    assert verdict.code == "unknown_drug"
    text = verdict.message("en")
    assert "not in the formulary" in text and "Free-text" in text
    assert "x" * 60 in text and "x" * 61 not in text


@pytest.mark.parametrize(
    ("form", "strength", "code", "fragment"),
    [
        ("capsule", "500 mg", "unknown_form", "Paracetamol is not available as capsule"),
        ("tablet", "1000 mg", "unknown_strength", "500 mg, 650 mg"),
        ("syrup", "500 mg", "strength_form_mismatch", "Paracetamol syrup does not come in 500 mg"),
        ("tablet", "125 mg/5 mL", "strength_form_mismatch", "tablet does not come in"),
        ("", "500 mg", "unknown_form", "Available forms: tablet, syrup, drops"),
        ("tablet", "", "unknown_strength", "Available strengths"),
    ],
)
def test_form_and_strength(form, strength, code, fragment):
    (verdict,) = check_prescription(context(), [item("paracetamol", form, strength)]).items
    assert verdict.code == code
    assert fragment in verdict.message("en")


def test_duplicates_through_aliases_and_spelling():
    items = [
        item("oral rehydration salts", "sachet", "20.5 g"),
        item("ors", "sachet", "20.5 g"),
        item("Oral Rehydration  Salts", "sachet", "20.5 g"),
    ]
    check = check_prescription(context(), items)
    assert [v.code for v in check.items] == [None, "duplicate_drug", "duplicate_drug"]


def test_a_refused_first_line_still_counts_for_duplicates():
    items = [item("enalapril", "tablet", "5 mg"), item("enalapril", "tablet", "10 mg")]
    check = check_prescription(context(mode="text"), items)
    assert [v.code for v in check.items] == ["list_a_needs_video", "duplicate_drug"]


@pytest.mark.parametrize(
    ("changes", "code"),
    [
        ({"dose": ""}, "invalid_dose"),
        ({"dose": "   "}, "invalid_dose"),
        ({"dose": "x" * 81}, "invalid_dose"),
        ({"dose": "x" * 80}, None),
        ({"frequency": ""}, "invalid_frequency"),
        ({"frequency": "y" * 81}, "invalid_frequency"),
        ({"frequency": "1-0-1 after food"}, None),
        ({"duration_days": 0}, "invalid_duration"),
        ({"duration_days": -3}, "invalid_duration"),
        ({"duration_days": 1}, None),
        ({"duration_days": MAX_DURATION_DAYS}, None),
        ({"duration_days": MAX_DURATION_DAYS + 1}, "invalid_duration"),
        ({"duration_days": 365}, "invalid_duration"),
        ({"duration_days": True}, "invalid_duration"),
        ({"duration_days": 7.5}, "invalid_duration"),
        ({"duration_days": "7"}, "invalid_duration"),
    ],
)
def test_dose_frequency_duration(changes, code):
    (verdict,) = check_prescription(
        context(), [item("paracetamol", "tablet", "500 mg", **changes)]
    ).items
    assert verdict.code == code


def test_duration_message_gives_the_limit_in_either_language():
    rx = [item("paracetamol", "tablet", "500 mg", duration_days=400)]
    (verdict,) = check_prescription(context(), rx).items
    assert verdict.message("en").endswith("from 1 to 180.")
    assert "১৮০" in verdict.message("bn")


def test_item_count_limits():
    rx = [item("paracetamol", "tablet", "500 mg")]
    none = check_prescription(context(), [])
    assert [c for c, _ in none.problems] == ["no_items"] and not none.allowed
    assert "20" in MESSAGES["too_many_items"] and MAX_ITEMS == 20
    generics = [d for d in load_formulary().by_list("O")][: MAX_ITEMS + 1]
    many = [
        item(d.generic, f, s)
        for d in generics
        for s in d.strengths[:1]
        for f in [next(f for f in d.forms if d.strength_fits_form(s, f))]
    ]
    assert len(many) == MAX_ITEMS - 1  # list O has 19 medicines: pad with list A on video
    many += [item("enalapril", "tablet", "5 mg"), item("metformin", "tablet", "500 mg")]
    assert check_prescription(context(), many[:MAX_ITEMS]).allowed
    too_many = check_prescription(context(), many)
    assert [c for c, _ in too_many.problems] == ["too_many_items"]
    assert {v.code for v in too_many.items} == {"too_many_items"}
    assert check_prescription(context(), rx).allowed


@pytest.mark.parametrize(
    ("changes", "code"),
    [
        ({"mode": "phone"}, "unknown_mode"),
        ({"mode": "VIDEO"}, "unknown_mode"),
        ({"patient_age_years": -1}, "invalid_age"),
        ({"patient_age_years": 131}, "invalid_age"),
        ({"patient_age_years": True}, "invalid_age"),
        ({"patient_age_years": 130}, None),
        ({"patient_age_years": 0, "adult_companion": "Mother"}, None),
        ({"patient_age_years": 0}, "minor_needs_adult"),
        ({"patient_age_years": 17}, "minor_needs_adult"),
        ({"patient_age_years": 17, "adult_companion": " "}, "minor_needs_adult"),
        ({"patient_age_years": 18}, None),  # an adult needs no companion
        ({"doctor_registration": None}, "registration_required"),
        ({"doctor_registration": ""}, "registration_required"),
        ({"doctor_registration": "   "}, "registration_required"),
    ],
)
def test_consult_problems(changes, code):
    check = check_prescription(context(**changes), [item("paracetamol", "tablet", "500 mg")])
    assert [c for c, _ in check.problems] == ([code] if code else [])
    assert check.allowed is (code is None)
    assert check.items[0].code == code


def test_raise_if_refused():
    allowed = check_prescription(context(), [item("paracetamol", "tablet", "500 mg")])
    raise_if_refused(allowed)  # nothing happens

    check = check_prescription(
        context(doctor_registration=None, mode="audio"),
        [
            item("paracetamol", "tablet", "500 mg"),
            item("amlodipine", "tablet", "5 mg"),
        ],
    )
    with pytest.raises(ValidationFailed) as info:
        raise_if_refused(check)
    exc = info.value
    assert exc.status_code == 422
    assert exc.code == "prescription_not_allowed"
    assert exc.message == "Some medicines cannot be prescribed on this consult."
    items = exc.details["items"]
    assert [(i["index"], i["drug"], i["code"]) for i in items] == [
        (0, "paracetamol", "registration_required"),
        (1, "amlodipine", "list_a_needs_video"),
    ]
    assert items[1]["reason"].startswith("Amlodipine is on TPG list A")
    assert gettext("bn", items[1]["msgid"], **items[1]["params"]).startswith("Amlodipine ")
    assert exc.details["problems"] == [
        {
            "code": "registration_required",
            "reason": MESSAGES["registration_required"],
            "msgid": MESSAGES["registration_required"],
            "params": {},
        }
    ]


def _placeholders(text: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(text) if name}


def test_every_message_has_a_bengali_translation_with_the_same_placeholders():
    with (LOCALE_DIR / "bn" / "LC_MESSAGES" / "prescribing.po").open("rb") as fh:
        catalog = read_po(fh, locale="bn")
    translated = {m.id: m.string for m in catalog if m.id}
    msgids = [
        *MESSAGES.values(),
        *(r.msgid for r in vitals.RANGES.values()),
        *vitals.FLAG_MESSAGES.values(),
        vitals.MSG_INVALID_VITALS,
        vitals.MSG_DIASTOLIC_NOT_BELOW,
        vitals.MSG_FAHRENHEIT,
        vitals.MSG_NUMBER,
        vitals.MSG_WHOLE_NUMBER,
        vitals.MSG_UNKNOWN_FIELD,
        vitals.MSG_NOT_AN_OBJECT,
    ]
    for msgid in msgids:
        bn = translated.get(msgid)
        assert bn, f"no Bengali for {msgid!r}"
        assert bn != msgid
        assert _placeholders(bn) == _placeholders(msgid), msgid
    assert set(translated) <= set(msgids), "stale entries in prescribing.po"
