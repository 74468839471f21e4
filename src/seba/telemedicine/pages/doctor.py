"""The hub doctor's console: presence, the consult offered or held, the patient's history, the
e-prescription (checked against TPG 2020 by the service) and completing the consult.

The console holds one event stream (``/events``, ``consults.streams``): offers and changes are
pushed, the script fetches ``state.json`` once per event (and after a reconnect), and the open
stream keeps the doctor present. Loading the page calls ``offers.current_offer`` (a heartbeat,
and the next patient if one waits). Without JavaScript a ``<noscript>`` meta refresh does the
same while the doctor waits, and never while a prescription is being written.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response
from pydantic import ValidationError
from starlette.datastructures import FormData

from seba.core.access import Principal
from seba.core.errors import Conflict, PermissionDenied, ValidationFailed
from seba.core.http import request_language
from seba.core.i18n import gettext
from seba.core.runtime import Runtime
from seba.referrals.labels import CONDITION_LABELS
from seba.referrals.models import BED_NEEDS, CONDITIONS
from seba.telemedicine.calls import service as call_service
from seba.telemedicine.consults import offers, queries
from seba.telemedicine.consults.schemas import CompleteIn, PresenceIn
from seba.telemedicine.consults.vitals import FLAG_MESSAGES
from seba.telemedicine.models import CONSULT_MODES
from seba.telemedicine.pages.events import doctor_stream
from seba.telemedicine.pages.forms import (
    BASE,
    DOCTOR_HOME,
    FORM_INVALID,
    Doctor,
    Form,
    Id,
    Message,
    Rt,
)
from seba.telemedicine.pages.text import (
    DOCTOR_STATUS_LABELS,
    LANGUAGE_NAMES,
    MODE_LABELS,
    PRESENCE_LABELS,
    PRIORITY_LABELS,
    SEX_LABELS,
    SPECIALTY_LABELS,
    TPG_LIST_LABELS,
    latin_digits,
    vital_rows,
)
from seba.telemedicine.prescriptions import formulary as formulary_data
from seba.telemedicine.prescriptions import rules
from seba.telemedicine.prescriptions import service as prescription_service
from seba.telemedicine.prescriptions.schemas import (
    MAX_ADMIT_NOTES,
    MAX_ADVICE,
    MAX_DIAGNOSIS,
    MAX_FINDINGS,
    MAX_INVESTIGATIONS,
    MAX_REFERRAL,
    PrescriptionIn,
)
from seba.vocabulary import BED_TYPE_LABELS
from seba.web.session import (
    StaffRoute,
    form_text,
    render_staff,
    say,
)

router = APIRouter(include_in_schema=False, route_class=StaffRoute)

ROWS_SHOWN = 4  # medicine rows shown at first; the script reveals more, up to MAX_ITEMS
ROW_FIELDS = ("drug", "strength", "form", "dose", "frequency", "days")
SEARCH_LIMIT = 15
HELD = ("accepted", "in_progress")


@dataclass
class RxForm:
    """A posted prescription: what was typed, per-row and per-field problems (English msgids
    with parameters), and, when all is well, the service's input."""

    values: dict[str, str] = field(default_factory=dict)
    rows: list[dict[str, str]] = field(default_factory=list)
    row_errors: dict[int, Message] = field(default_factory=dict)
    errors: dict[str, Message] = field(default_factory=dict)
    problems: list[Message] = field(default_factory=list)
    data: PrescriptionIn | None = None
    # Position in ``data.items`` -> the form row it came from (blank rows are skipped).
    row_of_item: list[int] = field(default_factory=list)
    # The service's refusal, already in the reader's language: per row, and for the consult.
    refused: dict[int, str] = field(default_factory=dict)
    refused_problems: list[str] = field(default_factory=list)


def _blank_rows(n: int) -> list[dict[str, str]]:
    return [dict.fromkeys(ROW_FIELDS, "") for _ in range(n)]


# ``PrescriptionIn``'s fields -> what the doctor reads beside the box or the row.
RX_FIELD_ERRORS: dict[str, Message] = {
    "diagnosis": ("At most {max} characters.", {"max": MAX_DIAGNOSIS}),
    "findings": ("At most {max} characters.", {"max": MAX_FINDINGS}),
    "advice": ("At most {max} characters.", {"max": MAX_ADVICE}),
    "referral": ("At most {max} characters.", {"max": MAX_REFERRAL}),
    "investigations": (
        "At most {n} tests, one a line, each under 200 characters.",
        {"n": MAX_INVESTIGATIONS},
    ),
    "follow_up_on": ("Enter the date as day, month and year.", {}),
    "items": ("Add at least one medicine to the prescription.", {}),
    "admission": ("Choose the kind of bed the patient needs.", {}),
}
RX_ERRORS_BY_TYPE: dict[tuple[str, str], Message] = {
    ("follow_up_on", "follow_up_in_past"): ("The follow-up date must be today or later.", {}),
}
ADMISSION_FIELD_ERRORS: dict[str, Message] = {
    "need": ("Choose the kind of bed the patient needs.", {}),
    "condition": ("Choose how ill the patient is.", {}),
    "notes": ("At most {max} characters.", {"max": MAX_ADMIT_NOTES}),
}
# ``AdmissionIn``'s fields -> the form's boxes.
ADMISSION_BOXES = {"need": "need", "condition": "condition", "notes": "admit_notes"}
# A medicine row's boxes -> what the doctor reads beside the row.
ROW_ERRORS: dict[str, Message] = {
    "drug": ("Choose a medicine from the list.", {}),
    "strength": ("Choose the strength.", {}),
    "form": ("Choose the form.", {}),
    "dose": ("Write the dose in at most {max} characters.", {"max": rules.MAX_TEXT_CHARS}),
    "frequency": (
        "Write how often to take it in at most {max} characters.",
        {"max": rules.MAX_TEXT_CHARS},
    ),
    "duration_days": (
        "Days: enter a whole number from 1 to {max}.",
        {"max": rules.MAX_DURATION_DAYS},
    ),
}


def parse_rx_form(form: FormData) -> RxForm:
    """Read the prescription form into ``PrescriptionIn``: the medicine rows (blank ones
    skipped) and the consult's findings. No mode: the prescription takes the call record's,
    and a posted ``mode`` is ignored. The schema checks the shape here, each problem shown
    beside its box or row; the TPG rules are the service's."""
    posted = RxForm()
    for name in ("diagnosis", "findings", "investigations", "advice", "follow_up_on"):
        posted.values[name] = form_text(form, name).strip()
    posted.values["referral"] = form_text(form, "referral").strip()
    v = posted.values
    payload: dict[str, Any] = {
        "diagnosis": v["diagnosis"],
        "findings": v["findings"],
        "advice": v["advice"],
        "referral": v["referral"] or None,
        "investigations": [
            line.strip() for line in v["investigations"].splitlines() if line.strip()
        ],
        "follow_up_on": latin_digits(v["follow_up_on"]) or None,
        "items": [],
    }
    if form_text(form, "admit") == "yes":
        v["admit"] = "yes"
        for name in ("need", "condition", "admit_notes"):
            v[name] = form_text(form, name).strip()
        payload["admission"] = {
            "need": v["need"],
            "condition": v["condition"],
            "notes": v["admit_notes"],
        }
    for index in range(rules.MAX_ITEMS):
        row = {name: form_text(form, f"{name}-{index}").strip() for name in ROW_FIELDS}
        posted.rows.append(row)
        if not any(row.values()):
            continue
        payload["items"].append(
            {
                "drug": row["drug"],
                "strength": row["strength"],
                "form": row["form"],
                "dose": row["dose"],
                "frequency": row["frequency"],
                "duration_days": latin_digits(row["days"]),
            }
        )
        posted.row_of_item.append(index)
    # Trim trailing blank rows, but keep at least the first few on the page.
    while len(posted.rows) > ROWS_SHOWN and not any(posted.rows[-1].values()):
        posted.rows.pop()
    try:
        posted.data = PrescriptionIn.model_validate(payload)
    except ValidationError as exc:
        _note_schema_errors(exc, posted)
    return posted


def _note_schema_errors(exc: ValidationError, posted: RxForm) -> None:
    for error in exc.errors():
        loc = tuple(error.get("loc") or ())
        name = str(loc[0]) if loc else ""
        if name == "items" and len(loc) >= 3 and isinstance(loc[1], int):
            row = posted.row_of_item[loc[1]]
            posted.row_errors.setdefault(row, ROW_ERRORS.get(str(loc[2]), FORM_INVALID))
        elif name == "items":
            posted.problems.append(RX_FIELD_ERRORS["items"])
        elif name == "admission" and len(loc) >= 2 and str(loc[1]) in ADMISSION_FIELD_ERRORS:
            field_name = str(loc[1])
            posted.errors.setdefault(
                ADMISSION_BOXES[field_name], ADMISSION_FIELD_ERRORS[field_name]
            )
        elif name in RX_FIELD_ERRORS:
            precise = RX_ERRORS_BY_TYPE.get((name, error["type"]))
            posted.errors.setdefault(name, precise or RX_FIELD_ERRORS[name])
        else:
            posted.problems.append(FORM_INVALID)


def drug_choice(drug: formulary_data.Drug) -> dict[str, Any]:
    return {
        "generic": drug.generic,
        "name_bn": drug.name_bn,
        "tpg_list": drug.tpg_list,
        "forms": list(drug.forms),
        "strengths": list(drug.strengths),
    }


def _row_drugs(rows: list[dict[str, str]]) -> list[dict[str, Any] | None]:
    """For each row, the formulary drug typed in it (badge and strength choices)."""
    book = formulary_data.load_formulary()
    found = []
    for row in rows:
        drug = book.get(row["drug"]) if row["drug"] else None
        found.append(drug_choice(drug) if drug else None)
    return found


async def _console(
    request: Request,
    rt: Runtime,
    principal: Principal,
    *,
    status_code: int = 200,
    message: Message | None = None,
    rx: RxForm | None = None,
) -> Response:
    # The offer poll first: it is the heartbeat, and it may assign the next patient now.
    consult = await offers.current_offer(rt, actor=principal)
    presence = await queries.doctor_presence(rt, actor=principal)
    view = history = call = None
    if consult is not None:
        view = await queries.consult_view(rt, actor=principal, consult_id=consult.id)
        if consult.status in HELD:
            history = await queries.patient_history(rt, actor=principal, consult_id=consult.id)
            # The mode the prescription will take, shown read-only beside the form.
            call = await call_service.call_record(rt, actor=principal, consult_id=consult.id)
    rx = rx or RxForm(rows=_blank_rows(ROWS_SHOWN))
    book = formulary_data.load_formulary()
    row_errors = {i: say(request, t, **p) for i, (t, p) in rx.row_errors.items()}
    row_errors.update(rx.refused)
    return render_staff(
        request,
        "telemedicine/doctor.html",
        status_code,
        presence=presence,
        consult=consult,
        view=view,
        history=history,
        vitals=vital_rows(view.vitals) if view else [],
        flag_messages=FLAG_MESSAGES,
        rx=rx,
        rx_row_drugs=_row_drugs(rx.rows),
        row_errors=row_errors,
        rx_errors={k: say(request, t, **p) for k, (t, p) in rx.errors.items()},
        rx_problems=[say(request, t, **p) for t, p in rx.problems] + rx.refused_problems,
        max_items=rules.MAX_ITEMS,
        drugs=book.drugs,
        dosage_forms=formulary_data.FORMS,
        message=say(request, message[0], **message[1]) if message else None,
        notice=_notice(request),
        status_labels=DOCTOR_STATUS_LABELS,
        presence_labels=PRESENCE_LABELS,
        priority_labels=PRIORITY_LABELS,
        specialty_labels=SPECIALTY_LABELS,
        sex_labels=SEX_LABELS,
        language_names=LANGUAGE_NAMES,
        mode_labels=MODE_LABELS,
        call=call,
        video_min_s=rt.settings.video_min_seconds,
        tpg_labels=TPG_LIST_LABELS,
        waiting=presence.status == "online" and consult is None,
        need_options=[(n, say(request, BED_TYPE_LABELS[n])) for n in BED_NEEDS],
        condition_options=[(c, say(request, CONDITION_LABELS[c])) for c in CONDITIONS],
    )


NOTICES = {
    "accepted": "You have the consult. The health centre has been told to join.",
    "prescribed": "Prescription issued. Complete the consult when you have finished.",
    "completed": "Consult completed. You are ready for the next patient.",
}


def _notice(request: Request) -> str | None:
    key = request.query_params.get("done")
    return say(request, NOTICES[key]) if key in NOTICES else None


@router.get(DOCTOR_HOME)
async def doctor_console(request: Request, principal: Doctor, rt: Rt):
    return await _console(request, rt, principal)


@router.get(DOCTOR_HOME + "/state.json")
async def doctor_state(request: Request, principal: Doctor, rt: Rt):
    """What the doctor holds now, no patient data: fetched by the console once per event."""
    consult = await offers.current_offer(rt, actor=principal)
    presence = await queries.doctor_presence(rt, actor=principal)
    body: dict[str, Any] = {
        "presence": presence.status,
        "consult_id": consult.id if consult else None,
        "consult_status": consult.status if consult else None,
        "status_text": say(request, DOCTOR_STATUS_LABELS[consult.status]) if consult else None,
    }
    return JSONResponse(body, headers={"Cache-Control": "no-store"})


@router.get(DOCTOR_HOME + "/events")
async def doctor_events(request: Request, principal: Doctor, rt: Rt):
    """The console's live stream (``consults.streams``): offers and changes, and presence."""
    token = request.state.session_token
    return await doctor_stream(request, rt, actor=principal, token=token)


@router.post(DOCTOR_HOME + "/presence")
async def set_presence(request: Request, principal: Doctor, form: Form, rt: Rt):
    try:
        data = PresenceIn(status=form_text(form, "status"))  # type: ignore[arg-type]
        await offers.set_presence(rt, actor=principal, data=data)
    except ValidationError:
        return await _console(
            request,
            rt,
            principal,
            status_code=422,
            message=("Status must be online, away or offline.", {}),
        )
    except Conflict as exc:
        return await _console(
            request, rt, principal, status_code=exc.status_code, message=(exc.message, exc.params)
        )
    return RedirectResponse(DOCTOR_HOME, status_code=303)


@router.post(BASE + "/consults/{consult_id}/accept")
async def accept_consult(request: Request, consult_id: Id, principal: Doctor, form: Form, rt: Rt):
    try:
        await offers.accept_consult(rt, actor=principal, consult_id=consult_id)
    except (Conflict, PermissionDenied) as exc:
        if exc.code == "forbidden":
            raise
        return await _console(
            request, rt, principal, status_code=exc.status_code, message=(exc.message, exc.params)
        )
    return RedirectResponse(DOCTOR_HOME + "?done=accepted", status_code=303)


def note_refusal(exc: ValidationFailed, posted: RxForm, lang: str) -> None:
    """Put a ``prescription_not_allowed`` refusal into the form as the page shows it: each
    refused item's reason beside its own row, the consult's problems above the form, in the
    reader's language (the details carry each reason's msgid and parameters)."""
    details = exc.details if isinstance(exc.details, dict) else {}
    for item in details.get("items", []):
        index = item.get("index")
        if not isinstance(index, int) or not 0 <= index < len(posted.row_of_item):
            continue
        msgid = item.get("msgid") or item.get("reason") or ""
        posted.refused[posted.row_of_item[index]] = gettext(
            lang, msgid, **(item.get("params") or {})
        )
    for problem in details.get("problems", []):
        msgid = problem.get("msgid") or problem.get("reason") or ""
        posted.refused_problems.append(gettext(lang, msgid, **(problem.get("params") or {})))


@router.post(BASE + "/consults/{consult_id}/prescription")
async def prescribe(request: Request, consult_id: Id, principal: Doctor, form: Form, rt: Rt):
    posted = parse_rx_form(form)
    if posted.data is None:
        return await _console(
            request,
            rt,
            principal,
            status_code=422,
            rx=posted,
            message=("The prescription was not issued. See the marked rows below.", {}),
        )
    try:
        await prescription_service.prescribe(
            rt, actor=principal, consult_id=consult_id, data=posted.data
        )
    except ValidationFailed as exc:
        if exc.code == "prescription_not_allowed":
            note_refusal(exc, posted, request_language(request))
        return await _console(
            request, rt, principal, status_code=422, rx=posted, message=(exc.message, exc.params)
        )
    except Conflict as exc:
        return await _console(
            request, rt, principal, status_code=409, message=(exc.message, exc.params)
        )
    return RedirectResponse(DOCTOR_HOME + "?done=prescribed", status_code=303)


@router.post(BASE + "/consults/{consult_id}/complete")
async def complete_consult(request: Request, consult_id: Id, principal: Doctor, form: Form, rt: Rt):
    mode = form_text(form, "mode")
    data = CompleteIn(mode=mode if mode in CONSULT_MODES else None)  # type: ignore[arg-type]
    try:
        await offers.complete_consult(rt, actor=principal, consult_id=consult_id, data=data)
    except Conflict as exc:
        return await _console(
            request, rt, principal, status_code=409, message=(exc.message, exc.params)
        )
    return RedirectResponse(DOCTOR_HOME + "?done=completed", status_code=303)


@router.get(BASE + "/formulary.json")
async def formulary_search(
    principal: Doctor, q: Annotated[str, Query(max_length=80)] = ""
) -> JSONResponse:
    """Medicines whose generic, other or Bengali name matches ``q``, with their TPG list."""
    found = formulary_data.load_formulary().search(q, limit=SEARCH_LIMIT)
    return JSONResponse(
        {"drugs": [drug_choice(d) for d in found]},
        headers={"Cache-Control": "private, max-age=3600"},
    )
