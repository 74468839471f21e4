"""The formulary data and its loader, lookup and search."""

from __future__ import annotations

import re

import pytest

from seba.telemedicine.prescriptions.formulary import (
    FORM_STRENGTH_KINDS,
    FORMULARY_PATH,
    TPG_LISTS,
    Formulary,
    display_name,
    is_well_formed_strength,
    load_formulary,
    parse_formulary,
)

HEADER = "generic,name_bn,tpg_list,forms,strengths,category,aliases,note\n"

# Every medicine DOMAIN.md §2.1 names, with the list TPG 2020 gives it.
DOMAIN_DRUGS = {
    "paracetamol": "O",
    "oral rehydration salts": "O",
    "iron and folic acid": "O",
    "cholecalciferol": "O",  # vitamin D
    "zinc sulphate": "O",
    "chlorpheniramine + phenylephrine": "O",  # cough/cold combination
    "clotrimazole": "A",  # topical antifungals
    "miconazole": "A",
    "ciprofloxacin": "A",  # eye/ear drops
    "enalapril": "A",
    "atenolol": "A",
    "metformin": "A",
    "hydrochlorothiazide": "B",  # thiazide added to atenolol
    "chlorthalidone": "B",
    "sitagliptin": "B",  # added to metformin
    "morphine": "prohibited",
    "codeine": "prohibited",
    "methotrexate": "prohibited",  # anti-cancer
    "cyclophosphamide": "prohibited",
    "alprazolam": "prohibited",  # NDPS psychotropic
    "methylphenidate": "prohibited",  # Schedule X
}

# Common health & wellness centre medicines the issue names.
HWC_DRUGS = [
    "amoxicillin",
    "azithromycin",
    "cetrimide",
    "salbutamol",
    "amlodipine",
    "telmisartan",
    "glimepiride",
    "albendazole",
    "metronidazole",
    "famotidine",
    "pantoprazole",
    "domperidone",
    "ondansetron",
    "cetirizine",
    "calcium carbonate + cholecalciferol",
    "folic acid",
    "ibuprofen",
    "diclofenac",
    "permethrin",
    "povidone iodine",
]

BENGALI = re.compile(r"[\u0980-\u09FF]")


@pytest.fixture(scope="module")
def formulary() -> Formulary:
    return load_formulary()


def test_domain_drugs_are_on_their_tpg_lists(formulary):
    for generic, tpg_list in DOMAIN_DRUGS.items():
        drug = formulary.get(generic)
        assert drug is not None, generic
        assert drug.tpg_list == tpg_list, generic


def test_common_hwc_medicines_are_present(formulary):
    missing = [g for g in HWC_DRUGS if formulary.get(g) is None]
    assert missing == []


def test_size_and_every_list_used(formulary):
    assert 80 <= len(formulary) <= 150
    counts = {tpg_list: len(formulary.by_list(tpg_list)) for tpg_list in TPG_LISTS}
    assert all(n >= 10 for n in counts.values()), counts
    assert sum(counts.values()) == len(formulary)


def test_every_row_is_well_formed(formulary):
    for drug in formulary:
        assert BENGALI.search(drug.name_bn), drug.generic
        assert drug.category and drug.note, drug.generic
        assert drug.forms and drug.strengths, drug.generic
        for strength in drug.strengths:
            assert is_well_formed_strength(strength), (drug.generic, strength)
        for form in drug.forms:
            # Every form can actually be prescribed with one of the drug's strengths.
            assert any(drug.strength_fits_form(s, form) for s in drug.strengths), (
                drug.generic,
                form,
            )


def test_systemic_antibiotics_need_a_video_first_consult(formulary):
    antibiotics = [d for d in formulary if d.category == "antibiotic"]
    assert len(antibiotics) >= 8
    assert {d.tpg_list for d in antibiotics} == {"A"}


@pytest.mark.parametrize(
    "strength",
    [
        "500 mg",
        "0.5 mg",
        "125 mg/5 mL",
        "100 mg/mL",
        "100 mcg/dose",
        "60000 IU",
        "40 IU/mL",
        "1%",
        "0.05%",
        "6% + 3%",
        "60 mg + 500 mcg",
        "20 mg + 100 mcg/mL",
        "20.5 g",
    ],
)
def test_well_formed_strengths(strength):
    assert is_well_formed_strength(strength)


@pytest.mark.parametrize(
    "strength",
    [
        "",
        "500",
        "500mg",
        "500 MG",
        "500  mg",
        "05 mg",
        ".5 mg",
        "500 mg/",
        "1%/mL",
        "500 mg+125 mg",
        "5 ml",
        "tablet",
        "500 mg;650 mg",
    ],
)
def test_malformed_strengths(strength):
    assert not is_well_formed_strength(strength)


def test_get_ignores_case_spaces_and_punctuation(formulary):
    para = formulary.get("paracetamol")
    assert para is not None and para.generic == "paracetamol"
    assert formulary.get("  PARACETAMOL ") is para
    assert formulary.get("Para cetamol") is para
    combo = formulary.get("chlorpheniramine + phenylephrine")
    assert formulary.get("Chlorpheniramine+Phenylephrine") is combo
    assert formulary.get("chlorpheniramine_+_phenylephrine") is combo


def test_get_resolves_aliases_to_the_generic(formulary):
    assert formulary.get("ORS").generic == "oral rehydration salts"
    assert formulary.get("vitamin D").generic == "cholecalciferol"
    assert formulary.get("IFA").generic == "iron and folic acid"
    assert formulary.get("Co-trimoxazole").generic == "sulfamethoxazole + trimethoprim"
    assert formulary.get("cotrimoxazole").generic == "sulfamethoxazole + trimethoprim"


@pytest.mark.parametrize("name", ["", "   ", "crocin", "paracetamo", "প্যারাসিটামল", None, 5])
def test_get_unknown(formulary, name):
    # Brand names, partial names and the Bengali name do not resolve: only generics/aliases.
    assert formulary.get(name) is None


def test_search_prefix_first_then_alphabetical(formulary):
    found = [d.generic for d in formulary.search("folic")]
    assert found == ["folic acid", "iron and folic acid"]
    found = [d.generic for d in formulary.search("amox")]
    assert found == ["amoxicillin", "amoxicillin + clavulanic acid", "tamoxifen"]
    # "cillin" is inside, never a prefix: alphabetical
    found = [d.generic for d in formulary.search("cillin")]
    assert found == ["amoxicillin", "amoxicillin + clavulanic acid"]


def test_search_puts_prefix_matches_before_substring_matches(formulary):
    found = [d.generic for d in formulary.search("ci")]
    prefixed = [g for g in found if any(k.startswith("ci") for k in (g, *formulary.get(g).aliases))]
    assert found[: len(prefixed)] == sorted(prefixed)
    assert found[len(prefixed) :] == sorted(found[len(prefixed) :])
    assert "ciprofloxacin" in prefixed and "cetirizine" not in prefixed


def test_search_aliases_and_bengali(formulary):
    assert [d.generic for d in formulary.search("vitamin d")] == ["cholecalciferol"]
    assert [d.generic for d in formulary.search("ORS")] == ["oral rehydration salts"]
    assert [d.generic for d in formulary.search("প্যারা")] == ["paracetamol"]
    insulins = {d.generic for d in formulary.search("ইনসুলিন")}
    assert insulins == {"soluble insulin", "biphasic isophane insulin"}


@pytest.mark.parametrize("query", ["", " ", "p", "P ", "-", "প"])
def test_search_too_short(formulary, query):
    assert formulary.search(query) == []


def test_search_limit(formulary):
    assert len(formulary.search("in")) == 20
    assert len(formulary.search("in", limit=3)) == 3
    assert formulary.search("in", limit=0) == []
    assert formulary.search("zzzz") == []


def test_display_name_is_capitals(formulary):
    assert display_name(formulary.get("paracetamol")) == "PARACETAMOL"
    assert (
        display_name(formulary.get("chlorpheniramine + phenylephrine"))
        == "CHLORPHENIRAMINE + PHENYLEPHRINE"
    )


def test_strength_must_fit_the_form(formulary):
    para = formulary.get("paracetamol")
    assert para.strength_fits_form("500 mg", "tablet")
    assert para.strength_fits_form("125MG/5ML", "Syrup")
    assert not para.strength_fits_form("500 mg", "syrup")
    assert not para.strength_fits_form("125 mg/5 mL", "tablet")
    assert not para.strength_fits_form("999 mg", "tablet")


def test_loaded_once():
    assert load_formulary() is load_formulary()
    assert FORMULARY_PATH.is_file()


GOOD_ROW = "paracetamol,প্যারাসিটামল,O,tablet,500 mg,analgesic,,\n"


def test_parse_a_minimal_file():
    parsed = parse_formulary(HEADER + GOOD_ROW)
    assert len(parsed) == 1
    drug = parsed.get("paracetamol")
    assert drug.forms == ("tablet",) and drug.strengths == ("500 mg",)
    assert drug.aliases == () and drug.note == ""


@pytest.mark.parametrize(
    ("row", "why"),
    [
        ("ibuprofen,প্যারাসিটামল,X,tablet,500 mg,analgesic,,\n", "tpg_list"),
        ("Ibuprofen,প্যারাসিটামল,O,tablet,500 mg,analgesic,,\n", "lower case"),
        ("ibuprofen,প্যারাসিটামল,O,tablet,500mg,analgesic,,\n", "malformed strength"),
        ("ibuprofen,প্যারাসিটামল,O,pill,500 mg,analgesic,,\n", "unknown form"),
        ("ibuprofen,প্যারাসিটামল,O,syrup,500 mg,analgesic,,\n", "no strength it can take"),
        ("ibuprofen,প্যারাসিটামল,O,tablet,500 mg;5 mg/5 mL,analgesic,,\n", "fits none"),
        ("ibuprofen,,O,tablet,500 mg,analgesic,,\n", "name_bn"),
        ("ibuprofen,প্যারাসিটামল,O,,500 mg,analgesic,,\n", "at least one form"),
        (GOOD_ROW, "appears twice"),
    ],
)
def test_parse_refuses_bad_rows_naming_the_line(row, why):
    with pytest.raises(ValueError, match=why) as info:
        parse_formulary(HEADER + GOOD_ROW + row)
    assert "line 3" in str(info.value)


def test_parse_refuses_a_shared_alias():
    text = HEADER + GOOD_ROW + "ibuprofen,আইবুপ্রোফেন,A,tablet,400 mg,analgesic,paracetamol,\n"
    with pytest.raises(ValueError, match="share the name"):
        parse_formulary(text)


def test_parse_refuses_missing_columns():
    with pytest.raises(ValueError, match="missing columns tpg_list"):
        parse_formulary("generic,name_bn,forms,strengths,category\n")


def test_every_form_has_strength_kinds():
    assert all(FORM_STRENGTH_KINDS.values())
