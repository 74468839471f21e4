"""The prescription rules engine: Telemedicine Practice Guidelines 2020 (TPG), ``DOMAIN.md`` §2.1.

Pure and framework-free: ``check_prescription`` judges a prescription against the consult it is
written in and returns a verdict for every item, so the doctor sees every problem at once;
``raise_if_refused`` turns a refusal into the API's 422 ``prescription_not_allowed``.

The medicine lists, as data in ``LIST_RULES``:

====  =================================================  =====================================
list  allowed                                            refused with
====  =================================================  =====================================
O     any mode, any consult                              —
A     a first consult on video; in a follow-up (any      ``list_a_needs_video`` (first consult
      mode) only as a refill of a medicine the patient   not on video), ``list_a_refill_only``
      was prescribed earlier                             (follow-up, not a refill)
B     a follow-up (any mode) of a patient on some        ``list_b_follow_up_only``,
      current treatment: an add-on                       ``list_b_add_on_only``
proh. never                                              ``prohibited_drug``
====  =================================================  =====================================

A follow-up that starts a *new* list A medicine is refused although it may be on video: TPG
allows list A in a follow-up only as a refill; a new complaint is a new (first) consult.

Problems of the consult rather than of one medicine refuse the whole prescription: the age is
missing or impossible (TPG: ask the age before prescribing), a minor (under 18) without an
identified adult, the doctor's registration number missing (it is printed on every
prescription), an unknown mode, no medicines or more than ``MAX_ITEMS``. Each item is still
reported: an item with a problem of its own shows that (more useful to the doctor, who sees the
consult problems in ``problems``); an item otherwise fine shows the first consult problem.

Item checks, in order, the first failing one giving the item's code: the medicine is in the
formulary (free text cannot be checked against TPG), a second line of the same generic, TPG
list, form, strength, strength matching the form, dose, frequency, duration.

Durations are 1–``MAX_DURATION_DAYS`` (180) days for every list. Chronic-disease refills at a
health & wellness centre run a month to three; six months is the longest a patient on
teleconsultation should go before a doctor reviews the treatment, and a year-long supply on one
teleconsult would defeat TPG's follow-up rules.

Reasons are English msgids with ``{params}``, translated with ``seba.core.i18n.gettext``; the
Bengali text is in ``locale/bn/LC_MESSAGES/prescribing.po``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from seba.core.errors import ValidationFailed
from seba.core.i18n import bn_digits, gettext
from seba.telemedicine.prescriptions.formulary import Drug, Formulary, load_formulary, name_key

MODES = ("video", "audio", "text")
ADULT_AGE_YEARS = 18
MAX_AGE_YEARS = 130
MAX_ITEMS = 20
MAX_DURATION_DAYS = 180
MAX_TEXT_CHARS = 80  # dose and frequency: "1 tablet", "twice daily after food"
MAX_ECHO_CHARS = 60  # how much of a doctor's unknown name, form or strength a message echoes

# One msgid per code. Item msgids take {drug} (and others as named); consult msgids take none.
MESSAGES: Mapping[str, str] = MappingProxyType(
    {
        # consult problems
        "unknown_mode": "The consult mode must be video, audio or text.",
        "age_required": (
            "Record the patient's age before prescribing: the Telemedicine Practice Guidelines "
            "require it."
        ),
        "invalid_age": "The patient's age must be a whole number of years from 0 to 130.",
        "minor_needs_adult": (
            "The patient is a minor: record the identified adult accompanying the patient "
            "before prescribing."
        ),
        "registration_required": (
            "The doctor's registration number is missing: it must be on every prescription."
        ),
        "no_items": "Add at least one medicine to the prescription.",
        "too_many_items": "A prescription can have at most 20 medicines.",
        # item problems
        "unknown_drug": (
            "“{drug}” is not in the formulary: choose a medicine from the list. Free-text "
            "medicines are not accepted because they cannot be checked against the "
            "Telemedicine Practice Guidelines."
        ),
        "duplicate_drug": (
            "{drug} is already in this prescription: write it once, with the full dose."
        ),
        "prohibited_drug": (
            "{drug} is prohibited by the Telemedicine Practice Guidelines (narcotic, "
            "psychotropic, Schedule X or anti-cancer medicine) and can never be prescribed on a "
            "teleconsultation. Refer the patient for an in-person consultation."
        ),
        "list_a_needs_video": (
            "{drug} is on TPG list A: prescribe it on a video consult, or as a refill in a "
            "follow-up."
        ),
        "list_a_refill_only": (
            "{drug} is on TPG list A: in a follow-up it can only be a refill of a medicine this "
            "patient was prescribed before. Start it on a video consult for the new complaint."
        ),
        "list_b_follow_up_only": (
            "{drug} is on TPG list B: it can only be prescribed in a follow-up, as an add-on "
            "to the patient's current treatment."
        ),
        "list_b_add_on_only": (
            "{drug} is on TPG list B: it can only be added to a current treatment, and this "
            "patient has none recorded."
        ),
        "unknown_form": "{drug} is not available as {form}. Available forms: {forms}.",
        "unknown_strength": (
            "{drug} is not available in strength {strength}. Available strengths: {strengths}."
        ),
        "strength_form_mismatch": "{drug} {form} does not come in {strength}.",
        "invalid_dose": "Write the dose of {drug} in at most {max} characters.",
        "invalid_frequency": "Write how often to take {drug} in at most {max} characters.",
        "invalid_duration": (
            "The duration of {drug} must be a whole number of days from 1 to {max}."
        ),
        # the refusal as a whole
        "prescription_not_allowed": "Some medicines cannot be prescribed on this consult.",
    }
)


@dataclass(frozen=True)
class ListRule:
    """When a TPG list allows a medicine, and the code given when it does not."""

    first_consult_modes: tuple[str, ...]  # modes in which a first consult may prescribe it
    follow_up_modes: tuple[str, ...]  # modes in which a follow-up may prescribe it
    follow_up_requires: str | None  # None, "refill" (in earlier_drugs) or "current_therapy"
    refused_first: str | None  # code when a first consult may not prescribe it
    refused_follow_up: str | None  # code when a follow-up may not


# The TPG lists as data (DOMAIN.md §2.1); _list_verdict is the only code that reads them.
LIST_RULES: Mapping[str, ListRule] = MappingProxyType(
    {
        "O": ListRule(MODES, MODES, None, None, None),
        "A": ListRule(("video",), MODES, "refill", "list_a_needs_video", "list_a_refill_only"),
        "B": ListRule((), MODES, "current_therapy", "list_b_follow_up_only", "list_b_add_on_only"),
        "prohibited": ListRule((), (), None, "prohibited_drug", "prohibited_drug"),
    }
)


@dataclass(frozen=True)
class PrescribingContext:
    """The consult a prescription is written in.

    ``earlier_drugs`` and ``current_therapy`` are generic names (aliases are resolved through
    the formulary); they come from the patient's earlier prescriptions.
    """

    mode: str
    follow_up: bool  # a follow-up of an earlier consult for the same patient
    patient_age_years: int | None  # TPG: ask the age before prescribing
    adult_companion: str | None  # name of the identified adult with a minor (< 18)
    doctor_registration: str | None  # e.g. "WBMC 12345"
    earlier_drugs: frozenset[str] = frozenset()  # prescribed in earlier consults (refills)
    current_therapy: frozenset[str] = frozenset()  # on now (list B add-ons)


@dataclass(frozen=True)
class RxItemIn:
    drug: str
    strength: str
    form: str
    dose: str
    frequency: str
    duration_days: int


@dataclass(frozen=True)
class ItemVerdict:
    """The verdict on item ``index`` (0-based, in the order given).

    ``drug`` is the formulary generic when the medicine is known, else the name as sent.
    ``reason`` is the English msgid; ``message(lang)`` fills in ``params`` and translates.
    """

    index: int
    drug: str
    allowed: bool
    code: str | None
    reason: str | None
    params: Mapping[str, str] = field(default_factory=dict)

    def message(self, lang: str = "en") -> str | None:
        if self.reason is None:
            return None
        # Bare counts read in Bengali digits; drug names and strengths stay as printed.
        params = {
            k: bn_digits(v) if lang == "bn" and v.isdigit() else v for k, v in self.params.items()
        }
        return gettext(lang, self.reason, **params)


@dataclass(frozen=True)
class PrescriptionCheck:
    problems: list[tuple[str, str]]  # consult problems: (code, English msgid without params)
    items: list[ItemVerdict]

    @property
    def allowed(self) -> bool:
        return not self.problems and all(item.allowed for item in self.items)

    @property
    def refused_items(self) -> list[ItemVerdict]:
        return [item for item in self.items if not item.allowed]


def _drug_label(drug: Drug) -> str:
    # Messages name the drug as a doctor reads it in a sentence; the Rx prints CAPITALS.
    return drug.generic[:1].upper() + drug.generic[1:]


def _is_blank(value: object) -> bool:
    return not isinstance(value, str) or not value.strip()


def _consult_problems(ctx: PrescribingContext, n_items: int) -> list[tuple[str, str]]:
    codes: list[str] = []
    if ctx.mode not in MODES:
        codes.append("unknown_mode")
    age = ctx.patient_age_years
    if age is None:
        codes.append("age_required")
    elif isinstance(age, bool) or not isinstance(age, int) or not 0 <= age <= MAX_AGE_YEARS:
        codes.append("invalid_age")
    elif age < ADULT_AGE_YEARS and _is_blank(ctx.adult_companion):
        codes.append("minor_needs_adult")
    if _is_blank(ctx.doctor_registration):
        codes.append("registration_required")
    if n_items == 0:
        codes.append("no_items")
    elif n_items > MAX_ITEMS:
        codes.append("too_many_items")
    return [(code, MESSAGES[code]) for code in codes]


def _canonical(names: frozenset[str], formulary: Formulary) -> frozenset[str]:
    """Generic names as the formulary spells them (aliases resolved), else normalised keys."""
    out = set()
    for name in names:
        drug = formulary.get(name)
        out.add(drug.generic if drug else name_key(name))
    return frozenset(out)


def _list_verdict(
    drug: Drug, ctx: PrescribingContext, earlier: frozenset[str], current: frozenset[str]
) -> str | None:
    """The TPG list rule for ``drug`` in this consult: None if allowed, else the code."""
    rule = LIST_RULES[drug.tpg_list]
    if not ctx.follow_up:
        return None if ctx.mode in rule.first_consult_modes else rule.refused_first
    if ctx.mode not in rule.follow_up_modes:
        return rule.refused_follow_up
    # A refill is of this patient's own earlier medicine; an add-on needs a treatment to join.
    if rule.follow_up_requires == "refill" and drug.generic not in earlier:
        return rule.refused_follow_up
    if rule.follow_up_requires == "current_therapy" and not current:
        return rule.refused_follow_up
    return None


def _item_problem(
    item: RxItemIn,
    drug: Drug,
    ctx: PrescribingContext,
    earlier: frozenset[str],
    current: frozenset[str],
) -> tuple[str, dict[str, str]] | None:
    label = _drug_label(drug)
    code = _list_verdict(drug, ctx, earlier, current)
    if code is not None:
        return code, {"drug": label}
    form = item.form.strip()[:MAX_ECHO_CHARS] if isinstance(item.form, str) else ""
    if not drug.has_form(form):
        return "unknown_form", {"drug": label, "form": form, "forms": ", ".join(drug.forms)}
    strength = item.strength.strip()[:MAX_ECHO_CHARS] if isinstance(item.strength, str) else ""
    own = drug.strength_named(strength)
    if own is None:
        return "unknown_strength", {
            "drug": label,
            "strength": strength,
            "strengths": ", ".join(drug.strengths),
        }
    if not drug.strength_fits_form(own, form):
        return "strength_form_mismatch", {"drug": label, "form": form.casefold(), "strength": own}
    if _is_blank(item.dose) or len(item.dose.strip()) > MAX_TEXT_CHARS:
        return "invalid_dose", {"drug": label, "max": str(MAX_TEXT_CHARS)}
    if _is_blank(item.frequency) or len(item.frequency.strip()) > MAX_TEXT_CHARS:
        return "invalid_frequency", {"drug": label, "max": str(MAX_TEXT_CHARS)}
    days = item.duration_days
    if isinstance(days, bool) or not isinstance(days, int) or not 1 <= days <= MAX_DURATION_DAYS:
        return "invalid_duration", {"drug": label, "max": str(MAX_DURATION_DAYS)}
    return None


def check_prescription(
    ctx: PrescribingContext, items: Sequence[RxItemIn], formulary: Formulary | None = None
) -> PrescriptionCheck:
    """Judge every item of a prescription written in consult ``ctx``.

    Never raises for bad input: every problem is reported in the result (``allowed`` is False
    if any item or the consult has one). ``formulary`` defaults to the shipped one.
    """
    formulary = formulary or load_formulary()
    problems = _consult_problems(ctx, len(items))
    earlier = _canonical(ctx.earlier_drugs, formulary)
    current = _canonical(ctx.current_therapy, formulary)
    verdicts: list[ItemVerdict] = []
    seen: set[str] = set()
    for index, item in enumerate(items):
        raw = item.drug.strip() if isinstance(item.drug, str) else ""
        drug = formulary.get(raw)
        found: tuple[str, dict[str, str]] | None
        if drug is None:
            found = "unknown_drug", {"drug": raw[:MAX_ECHO_CHARS]}
        elif drug.generic in seen:
            found = "duplicate_drug", {"drug": _drug_label(drug)}
        else:
            found = _item_problem(item, drug, ctx, earlier, current)
        if drug is not None:
            seen.add(drug.generic)
        name = drug.generic if drug is not None else raw
        if found is None and problems:
            code, reason = problems[0]
            verdicts.append(ItemVerdict(index, name, False, code, reason, {}))
        elif found is None:
            verdicts.append(ItemVerdict(index, name, True, None, None, {}))
        else:
            code, params = found
            verdicts.append(ItemVerdict(index, name, False, code, MESSAGES[code], params))
    return PrescriptionCheck(problems=problems, items=verdicts)


def refusal_details(check: PrescriptionCheck) -> dict[str, Any]:
    """The ``details`` of a refusal: refused items and consult problems, reasons in English.

    Each entry also carries the ``msgid`` and ``params`` so a page or API can show the reason
    in the user's language with ``gettext(lang, msgid, **params)``.
    """
    return {
        "items": [
            {
                "index": v.index,
                "drug": v.drug,
                "code": v.code,
                "reason": v.message("en"),
                "msgid": v.reason,
                "params": dict(v.params),
            }
            for v in check.refused_items
        ],
        "problems": [
            {"code": code, "reason": gettext("en", reason), "msgid": reason, "params": {}}
            for code, reason in check.problems
        ],
    }


def raise_if_refused(check: PrescriptionCheck, call: Mapping[str, Any] | None = None) -> None:
    """Raise ValidationFailed ``prescription_not_allowed`` (422) unless ``check.allowed``.
    ``call`` (the mode on the call record and its seconds per mode) is added to the details,
    so a doctor refused list A sees how much video the record holds."""
    if check.allowed:
        return
    details = refusal_details(check)
    if call is not None:
        details["call"] = dict(call)
    raise ValidationFailed(
        MESSAGES["prescription_not_allowed"],
        code="prescription_not_allowed",
        details=details,
    )
