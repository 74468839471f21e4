"""The formulary: every medicine a hub doctor may put on an e-prescription.

Prescriptions are chosen from this list, never typed as free text, so that each medicine can be
checked against the Telemedicine Practice Guidelines 2020 (TPG) lists (``DOMAIN.md`` §2.1) by
``seba.telemedicine.prescriptions.rules``.

The data is ``seba/data/formulary.csv`` (UTF-8, one medicine per line), columns:

``generic``
    The generic (INN or the name Indian labels use) in lower case, words separated by single
    spaces, fixed-dose combinations joined by `` + `` (``chlorpheniramine + phenylephrine``).
    Printed in CAPITALS on the prescription (TPG).
``name_bn``
    The name in Bengali script, for search and the Bengali prescription.
``tpg_list``
    ``O`` (any mode), ``A`` (video on a first consult; refill in a follow-up), ``B`` (follow-up
    add-on only) or ``prohibited`` (never by teleconsult). One list per generic: where a
    generic's forms would differ, the stricter list wins.
``forms``
    ``;``-separated dosage forms from ``FORMS``.
``strengths``
    ``;``-separated strengths: amounts joined by `` + `` for combinations, each a number and a
    unit (``mg``, ``mcg``, ``g``, ``IU``, ``mmol``) or a percentage (``1%``), optionally one
    ``/`` and a denominator for the whole combination (``125 mg/5 mL``, ``100 mcg/dose``,
    ``20 mg + 100 mcg/mL``). ``STRENGTH_PATTERN`` is the grammar. Every form must have a
    strength of a kind it can take (``FORM_STRENGTH_KINDS``) and every strength a form.
``category``
    Therapeutic group in plain English (``analgesic``, ``antihypertensive``…).
``aliases``
    Optional, ``;``-separated other names a doctor may type (``ors``, ``vitamin d``): resolved
    by ``Formulary.get`` and searched.
``note``
    Optional: why the medicine is on its TPG list.

A malformed file is a programming error: loading raises ``ValueError`` naming the line.
"""

from __future__ import annotations

import csv
import io
import re
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import cache

from seba.data import DATA_DIR

FORMULARY_PATH = DATA_DIR / "formulary.csv"
REQUIRED_COLUMNS = ("generic", "name_bn", "tpg_list", "forms", "strengths", "category")
TPG_LISTS = ("O", "A", "B", "prohibited")

# What kind of strength each dosage form can carry: a tablet has an amount, a syrup an amount
# per volume, a cream a percentage, an inhaler an amount per actuation. This lets the rules
# engine refuse "paracetamol syrup 500 mg" although both the form and the strength exist.
FORM_STRENGTH_KINDS: Mapping[str, frozenset[str]] = {
    "tablet": frozenset({"amount"}),
    "dispersible tablet": frozenset({"amount"}),
    "capsule": frozenset({"amount"}),
    "sachet": frozenset({"amount"}),
    "pessary": frozenset({"amount"}),
    "syrup": frozenset({"per_volume"}),
    "suspension": frozenset({"per_volume"}),
    "respirator solution": frozenset({"per_volume"}),
    "injection": frozenset({"per_volume", "amount"}),
    "drops": frozenset({"per_volume", "percent"}),
    "solution": frozenset({"per_volume", "percent"}),
    "lotion": frozenset({"percent", "per_volume"}),
    "cream": frozenset({"percent", "per_mass"}),
    "ointment": frozenset({"percent", "per_mass"}),
    "gel": frozenset({"percent", "per_mass"}),
    "inhaler": frozenset({"per_dose"}),
}
FORMS = tuple(FORM_STRENGTH_KINDS)

_NUMBER = r"(?:0|[1-9]\d*)(?:\.\d+)?"
_AMOUNT = rf"{_NUMBER}(?: (?:mg|mcg|g|IU|mmol)|%)"
_PER = rf"(?:{_NUMBER} )?(?:mL|L|g|dose)"
STRENGTH_PATTERN = re.compile(rf"{_AMOUNT}(?: \+ {_AMOUNT})*(?:/{_PER})?")

# Characters a doctor may type differently without meaning another medicine:
# "Co-trimoxazole", "co trimoxazole" and "cotrimoxazole" are one name.
_IGNORED_IN_NAMES = frozenset("_-'’.,()/")


def name_key(text: str) -> str:
    """Normalise a medicine name for lookup: NFC, case-folded, without spaces or punctuation."""
    folded = unicodedata.normalize("NFC", text).casefold()
    return "".join(ch for ch in folded if not ch.isspace() and ch not in _IGNORED_IN_NAMES)


def strength_key(text: str) -> str:
    """Normalise a strength for comparison: "500MG" and "500 mg" are the same strength."""
    return "".join(text.split()).casefold()


def strength_kind(strength: str) -> str:
    """``amount``, ``percent``, ``per_volume``, ``per_mass`` or ``per_dose`` (see FORMS)."""
    if "%" in strength:
        return "percent"
    if "/" not in strength:
        return "amount"
    unit = strength.rsplit("/", 1)[1].split()[-1]
    return {"mL": "per_volume", "L": "per_volume", "g": "per_mass", "dose": "per_dose"}[unit]


def is_well_formed_strength(strength: str) -> bool:
    """True if ``strength`` follows ``STRENGTH_PATTERN`` and does not put a percentage per unit."""
    if STRENGTH_PATTERN.fullmatch(strength) is None:
        return False
    return not ("%" in strength and "/" in strength)


@dataclass(frozen=True)
class Drug:
    generic: str
    name_bn: str
    tpg_list: str
    forms: tuple[str, ...]
    strengths: tuple[str, ...]
    category: str
    note: str = ""
    aliases: tuple[str, ...] = ()

    def has_form(self, form: str) -> bool:
        return form.strip().casefold() in self.forms

    def strength_named(self, strength: str) -> str | None:
        """This drug's own spelling of ``strength``, or None if it has no such strength."""
        wanted = strength_key(strength)
        return next((s for s in self.strengths if strength_key(s) == wanted), None)

    def strength_fits_form(self, strength: str, form: str) -> bool:
        """Whether ``strength`` (one of this drug's) can be the strength of ``form``."""
        own = self.strength_named(strength)
        kinds = FORM_STRENGTH_KINDS.get(form.strip().casefold(), frozenset())
        return own is not None and strength_kind(own) in kinds


def display_name(drug: Drug) -> str:
    """The generic name as printed on a prescription: in CAPITALS, as TPG requires."""
    return drug.generic.upper()


class Formulary:
    """An immutable set of drugs with lookup by any of their names and a search."""

    def __init__(self, drugs: Iterable[Drug]) -> None:
        self.drugs: tuple[Drug, ...] = tuple(sorted(drugs, key=lambda d: d.generic))
        self._by_key: dict[str, Drug] = {}
        # Precomputed (drug, searchable keys) pairs: search runs on every keystroke.
        self._search_keys: list[tuple[Drug, tuple[str, ...]]] = []
        for drug in self.drugs:
            # The generic and its aliases resolve in get(); the Bengali name is only searched.
            resolving = {name_key(n) for n in (drug.generic, *drug.aliases)} - {""}
            names = (drug.generic, *drug.aliases, drug.name_bn)
            keys = tuple(dict.fromkeys(k for k in map(name_key, names) if k))
            for key in sorted(resolving):
                other = self._by_key.get(key)
                if other is not None and other is not drug:
                    raise ValueError(
                        f"{drug.generic!r} and {other.generic!r} share the name {key!r}"
                    )
                self._by_key[key] = drug
            self._search_keys.append((drug, keys))

    def __len__(self) -> int:
        return len(self.drugs)

    def __iter__(self):
        return iter(self.drugs)

    def get(self, name: str) -> Drug | None:
        """The drug with this generic name or alias, ignoring case, spaces and punctuation."""
        key = name_key(name) if isinstance(name, str) else ""
        return self._by_key.get(key) if key else None

    def search(self, query: str, limit: int = 20) -> list[Drug]:
        """Drugs whose generic, alias or Bengali name starts with (first) or contains the query.

        Within each group drugs are in alphabetical order of the generic. A query shorter than
        two characters (after normalisation) returns nothing: one letter matches half the list.
        """
        key = name_key(query) if isinstance(query, str) else ""
        if len(key) < 2 or limit <= 0:
            return []
        prefix: list[Drug] = []
        inside: list[Drug] = []
        for drug, keys in self._search_keys:
            if any(k.startswith(key) for k in keys):
                prefix.append(drug)
            elif any(key in k for k in keys):
                inside.append(drug)
        return (prefix + inside)[:limit]

    def by_list(self, tpg_list: str) -> list[Drug]:
        return [d for d in self.drugs if d.tpg_list == tpg_list]


def _split(cell: str | None) -> tuple[str, ...]:
    return tuple(part.strip() for part in (cell or "").split(";") if part.strip())


def parse_formulary(text: str) -> Formulary:
    """Parse formulary CSV text. Raises ValueError naming the first bad line and why."""
    reader = csv.DictReader(io.StringIO(text))
    missing = [c for c in REQUIRED_COLUMNS if c not in (reader.fieldnames or ())]
    if missing:
        raise ValueError(f"formulary: missing columns {', '.join(missing)}")
    drugs: list[Drug] = []
    seen: set[str] = set()
    for line, row in enumerate(reader, start=2):
        problems: list[str] = []
        generic = (row.get("generic") or "").strip()
        if not generic or generic != " ".join(generic.lower().split()):
            problems.append(f"generic {generic!r} must be lower case with single spaces")
        if generic in seen:
            problems.append(f"generic {generic!r} appears twice")
        seen.add(generic)
        tpg_list = (row.get("tpg_list") or "").strip()
        if tpg_list not in TPG_LISTS:
            problems.append(f"tpg_list {tpg_list!r} is not one of {', '.join(TPG_LISTS)}")
        name_bn = (row.get("name_bn") or "").strip()
        category = (row.get("category") or "").strip()
        if not name_bn or not category:
            problems.append("name_bn and category are required")
        forms = _split(row.get("forms"))
        strengths = _split(row.get("strengths"))
        if not forms or not strengths:
            problems.append("at least one form and one strength are required")
        problems += [f"unknown form {f!r}" for f in forms if f not in FORM_STRENGTH_KINDS]
        problems += [
            f"malformed strength {s!r}" for s in strengths if not is_well_formed_strength(s)
        ]
        if not problems:
            kinds = {strength_kind(s) for s in strengths}
            problems += [
                f"form {f!r} has no strength it can take"
                for f in forms
                if not FORM_STRENGTH_KINDS[f] & kinds
            ]
            form_kinds = frozenset().union(*(FORM_STRENGTH_KINDS[f] for f in forms))
            problems += [
                f"strength {s!r} fits none of the forms"
                for s in strengths
                if strength_kind(s) not in form_kinds
            ]
        if problems:
            raise ValueError(f"formulary line {line}: {'; '.join(problems)}")
        drugs.append(
            Drug(
                generic=generic,
                name_bn=unicodedata.normalize("NFC", name_bn),
                tpg_list=tpg_list,
                forms=forms,
                strengths=strengths,
                category=category,
                note=(row.get("note") or "").strip(),
                aliases=_split(row.get("aliases")),
            )
        )
    return Formulary(drugs)


@cache
def load_formulary() -> Formulary:
    """The shipped formulary (``seba/data/formulary.csv``), parsed once per process."""
    return parse_formulary(FORMULARY_PATH.read_text(encoding="utf-8"))
