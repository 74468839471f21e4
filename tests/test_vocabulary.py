"""One vocabulary: every coded thing people read has one word, in Bengali and English, kept in
``seba/vocabulary.py`` and nowhere else.

The second half reads the source (``ast``) like ``test_structure.py``: a dict literal anywhere
else whose keys are bed types, statuses, roles or scope kinds and whose values are words is a
second vocabulary in the making (the census form said "CCU with ventilator" while the public
page said "ICU with ventilator").
"""

from __future__ import annotations

import ast
import re
from collections.abc import Mapping
from pathlib import Path

import pytest

from seba import vocabulary
from seba.core.access import ROLES, SCOPE_KINDS
from seba.core.i18n import gettext, translations

PACKAGE = Path(vocabulary.__file__).resolve().parent
BENGALI = re.compile("[\u0980-\u09ff]")
LATIN_LETTERS = re.compile("[A-Za-z]")
TABLES = {
    name: table
    for name, table in vars(vocabulary).items()
    if name.endswith("_LABELS") and isinstance(table, Mapping)
}
# Codes whose words only the vocabulary may define (the codes of its coded tables).
GUARDED = {
    "BED_TYPE_LABELS",
    "BED_SEX_LABELS",
    "PATIENT_SEX_LABELS",
    "REFERRAL_STATUS_LABELS",
    "CONSULT_STATUS_LABELS",
    "ROLE_LABELS",
    "SCOPE_KIND_LABELS",
    "DOSAGE_FORM_LABELS",
    "OWNERSHIP_LABELS",
    "FACILITY_KIND_LABELS",
}
# Bengali words that are English acronyms spoken as letters are still Bengali script.
ACRONYMS = {"HDU", "ICU", "CHO"}


@pytest.mark.parametrize("name", sorted(TABLES))
def test_every_word_has_bengali_and_english(name: str):
    for code, msgid in TABLES[name].items():
        english, bengali = gettext("en", msgid), gettext("bn", msgid)
        assert english and not BENGALI.search(english), (name, code)
        assert BENGALI.search(bengali), (name, code, bengali)
        # A Bengali word never mixes in English letters: "ICU" is "আইসিইউ".
        assert not LATIN_LETTERS.search(bengali), (name, code, bengali)


def test_the_tables_cover_the_codes():
    from seba.beds.models import BED_TYPES, SEXES
    from seba.referrals.models import REFERRAL_STATUSES
    from seba.telemedicine.models import CONSULT_STATUSES
    from seba.telemedicine.prescriptions.formulary import FORMS

    assert set(vocabulary.BED_TYPE_LABELS) == set(BED_TYPES)
    assert set(vocabulary.BED_SEX_LABELS) == set(SEXES)
    assert set(vocabulary.REFERRAL_STATUS_LABELS) == set(REFERRAL_STATUSES)
    assert set(vocabulary.CONSULT_STATUS_LABELS) == set(CONSULT_STATUSES)
    assert set(vocabulary.CONSULT_STATUS_FOR_DOCTOR_LABELS) == set(CONSULT_STATUSES)
    assert set(vocabulary.ROLE_LABELS) == set(ROLES)
    assert set(vocabulary.SCOPE_KIND_LABELS) == set(SCOPE_KINDS)
    assert set(FORMS) <= set(vocabulary.DOSAGE_FORM_LABELS)


def test_one_name_per_bed_type():
    words = list(vocabulary.BED_TYPE_LABELS.values())
    assert len(set(words)) == len(words)
    assert len({gettext("bn", w) for w in words}) == len(words)


def test_the_words_live_in_one_catalogue():
    """The vocabulary's Bengali is in ``vocabulary.po`` only: two catalogues with one msgid
    would let one of them win silently when they disagree."""
    msgids = {msgid for table in TABLES.values() for msgid in table.values()}
    elsewhere = []
    for po in sorted((PACKAGE / "locale" / "bn" / "LC_MESSAGES").glob("*.po")):
        if po.name == "vocabulary.po":
            continue
        for msgid in re.findall(r'^msgid "(.*)"$', po.read_text(encoding="utf-8"), re.M):
            if msgid in msgids:
                elsewhere.append((po.name, msgid))
    assert elsewhere == []
    assert translations("bn").gettext("ICU with ventilator") == "ভেন্টিলেটর-সহ আইসিইউ"


def test_known_terms_read_in_either_language():
    forms, often = vocabulary.DOSAGE_FORM_LABELS, vocabulary.FREQUENCY_LABELS
    assert vocabulary.term_in(forms, "tablet", "bn") == "ট্যাবলেট"
    assert vocabulary.term_in(forms, " Tablet ", "en") == "Tablet"
    assert vocabulary.term_in(often, "Twice a day", "bn") == "দিনে দুবার"
    assert vocabulary.term_in(often, "দিনে দুবার", "en") == "twice a day"
    # A doctor's own phrase stays as typed.
    assert vocabulary.term_in(often, "1-0-1 after food", "bn") == "1-0-1 after food"
    assert vocabulary.bilingual(forms, "syrup") == "সিরাপ / Syrup"
    assert vocabulary.word(vocabulary.BED_TYPE_LABELS, "retired_code", "bn") == "retired_code"


def _word_tables(tree: ast.AST):
    """Dict literals whose keys are string constants and values words: strings that are no
    sentence (a notice per status, "Consult completed.", says what happened, not what a thing
    is called)."""
    for node in ast.walk(tree):
        if not isinstance(node, ast.Dict) or not node.keys:
            continue
        keys = [k.value for k in node.keys if isinstance(k, ast.Constant)]
        values = [v for v in node.values if isinstance(v, ast.Constant)]
        if len(keys) != len(node.keys) or not all(isinstance(k, str) for k in keys):
            continue
        texts = [v.value for v in values]
        if texts and all(
            isinstance(t, str) and "{" not in t and not t.endswith(".") for t in texts
        ):
            yield node.lineno, set(keys)


def test_no_other_module_defines_words_for_the_codes():
    guarded = {name: set(TABLES[name]) for name in GUARDED}
    found = []
    for path in sorted(PACKAGE.rglob("*.py")):
        if path.name == "vocabulary.py":
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for line, keys in _word_tables(tree):
            for name, codes in guarded.items():
                # Two codes of one table with words beside them: a table of words for them.
                if len(keys & codes) >= 2:
                    found.append(f"{path.relative_to(PACKAGE)}:{line} ({name})")
    assert found == []


def test_the_finder_finds_a_second_vocabulary():
    tree = ast.parse('WORDS = {"icu": "CCU without ventilator", "ventilator": "CCU with"}')
    assert [keys for _line, keys in _word_tables(tree)] == [{"icu", "ventilator"}]
