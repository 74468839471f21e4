"""Every word a person reads has a Bengali translation: each ``_("…")`` in every template and
each entry of every label table the pages show (bed types, statuses, roles, hints, form errors,
notices), across all domains.

A page test that compares with ``bn("…")`` would pass with the English text if the catalogue
lacked it (``gettext`` falls back to the msgid), so completeness is checked here, at the
source: a translation must be present and be Bengali script.
"""

from __future__ import annotations

import importlib
import pkgutil
import re
from collections.abc import Mapping
from pathlib import Path

import pytest

import seba
from seba.core.i18n import translations

PACKAGE = Path(seba.__file__).resolve().parent
BENGALI = re.compile("[\u0980-\u09ff]")
TEMPLATE_MSGID = re.compile(r"""_\(\s*(?P<q>["'])(?P<text>(?:(?!(?P=q))[^\\]|\\.)*)(?P=q)""", re.S)
# Module-level tables of words for people, by the names the code gives them.
TABLE_NAME = re.compile(r"(_LABELS|_HINTS|_MESSAGES|_ERRORS|^NOTICES|_NOTICES|^MESSAGES)$")
# Tables that are not English msgids: names in their own languages, bilingual PDF cells.
NOT_MSGIDS = {
    "seba.telemedicine.pages.text.LANGUAGE_NAMES",
}


def _template_msgids() -> dict[str, str]:
    found: dict[str, str] = {}
    for path in sorted(PACKAGE.glob("**/templates/**/*.html")):
        for match in TEMPLATE_MSGID.finditer(path.read_text(encoding="utf-8")):
            text = match.group("text").encode().decode("unicode_escape").encode("latin-1").decode()
            found.setdefault(text, str(path.relative_to(PACKAGE)))
    return found


def _modules():
    for info in pkgutil.walk_packages(seba.__path__, "seba."):
        yield importlib.import_module(info.name)


def _table_msgids() -> dict[str, str]:
    """English msgids in label tables: values that are strings, or (msgid, params) pairs."""
    found: dict[str, str] = {}
    for module in _modules():
        for name, value in vars(module).items():
            where = f"{module.__name__}.{name}"
            if not TABLE_NAME.search(name) or where in NOT_MSGIDS:
                continue
            if not isinstance(value, Mapping) or getattr(value, "__module__", None) == "typing":
                continue
            if getattr(module, name) is not value or not _defined_in(module, name):
                continue
            for entry in value.values():
                text = entry[0] if isinstance(entry, tuple) and entry else entry
                if isinstance(text, str) and text and not BENGALI.search(text):
                    found.setdefault(text, where)
    return found


def _defined_in(module, name: str) -> bool:
    # A table imported from elsewhere is checked where it is defined.
    source = Path(module.__file__).read_text(encoding="utf-8")
    return re.search(rf"^{name}\b[^=\n]*=", source, re.M) is not None


def _untranslated(msgids: dict[str, str]) -> list[str]:
    bn = translations("bn")
    return sorted(
        f"{where}: {msgid!r}"
        for msgid, where in msgids.items()
        if not BENGALI.search(bn.gettext(msgid))
    )


def test_the_finders_find_what_people_read():
    templates = _template_msgids()
    tables = _table_msgids()
    # A few that must be there, from different domains and both quote styles.
    assert "Log in" in templates or "Log in to the staff console" in templates
    assert len(templates) > 300 and len(tables) > 100


def test_every_template_string_is_in_bengali():
    assert _untranslated(_template_msgids()) == []


def test_every_label_table_is_in_bengali():
    assert _untranslated(_table_msgids()) == []


@pytest.mark.parametrize("msgid", ["Not found.", "Some fields are not valid."])
def test_a_known_msgid_is_found_translated(msgid: str):
    assert BENGALI.search(translations("bn").gettext(msgid))
