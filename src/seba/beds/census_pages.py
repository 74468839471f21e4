"""The bed census form: every pool of a facility on one screen, one submit, few taps.

A nodal officer updates the census many times a day on a phone, so the form is built for that:
two numeric boxes per (bed type, sex) pool, reserved and free beds shown beside them, one Save
button. Numbers may be typed with Bengali or Latin digits. Staff whose role may not change the
census (control room, viewers) see the same numbers without a form.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Request
from fastapi.responses import RedirectResponse, Response
from starlette.datastructures import FormData

from seba.beds import service as bed_service
from seba.beds.models import BED_TYPES, SEXES
from seba.beds.queries import is_stale
from seba.beds.schemas import MAX_BEDS, CensusUpdate, PoolCensus
from seba.core.access import Principal, can, covers, require_on_facility
from seba.core.errors import Conflict
from seba.core.http import get_runtime
from seba.core.runtime import Runtime
from seba.core.types import utcnow
from seba.vocabulary import BED_SEX_LABELS, BED_TYPE_LABELS
from seba.web.session import (
    StaffRoute,
    form_text,
    page_principal,
    permitted,
    render_staff,
    say,
    staff_form,
)

router = APIRouter(include_in_schema=False, route_class=StaffRoute)

FacilityId = Annotated[int, Path(ge=1, le=2**31 - 1)]

MAX_REASON = 400
_POOL_FIELD = re.compile(r"^(total|occupied)-([a-z]+)-([a-z]+)$")
_LATIN_DIGITS = str.maketrans("০১২৩৪৫৬৭৮৯", "0123456789")
_MAX_DIGITS = len(str(MAX_BEDS))

Message = tuple[str, dict[str, Any]]


@dataclass
class CensusForm:
    """A posted census: what was typed (to show it again) and what is wrong with it.

    ``errors`` maps a field name (or ``form``) to an English msgid and its parameters.
    """

    values: dict[str, str] = field(default_factory=dict)
    errors: dict[str, Message] = field(default_factory=dict)
    update: CensusUpdate | None = None


def pool_fields(bed_type: str, sex: str) -> tuple[str, str]:
    return f"total-{bed_type}-{sex}", f"occupied-{bed_type}-{sex}"


def parse_count(raw: str) -> tuple[int | None, Message | None]:
    text = raw.strip().translate(_LATIN_DIGITS)
    if not text:
        return None, ("Enter a number.", {})
    if text.startswith("-") and text[1:].isascii() and text[1:].isdigit():
        return None, ("Cannot be less than zero.", {})
    if not (text.isascii() and text.isdigit()):
        return None, ("Enter a whole number, like 12.", {})
    if len(text) > _MAX_DIGITS or int(text) > MAX_BEDS:
        return None, ("At most {max} beds.", {"max": MAX_BEDS})
    return int(text), None


def _read_pool(
    form: FormData, result: CensusForm, names: tuple[str, str]
) -> tuple[int, int] | None:
    counts = []
    for name in names:
        result.values[name] = form_text(form, name)
        value, problem = parse_count(result.values[name])
        if problem:
            result.errors[name] = problem
        counts.append(value)
    total, occupied = counts
    if total is None or occupied is None:
        return None
    if occupied > total:
        result.errors[names[1]] = ("Occupied beds cannot be more than total beds.", {})
        return None
    return total, occupied


def parse_census_form(form: FormData) -> CensusForm:
    """Read the pools named in the form (plus an optional new pool) into a ``CensusUpdate``."""
    result = CensusForm()
    keys = dict.fromkeys(
        (m[2], m[3])
        for name in form
        if (m := _POOL_FIELD.match(name)) and m[2] in BED_TYPES and m[3] in SEXES
    )
    pools: list[PoolCensus] = []
    for bed_type, sex in keys:
        counts = _read_pool(form, result, pool_fields(bed_type, sex))
        if counts:
            pools.append(
                PoolCensus(bed_type=bed_type, sex=sex, total=counts[0], occupied=counts[1])
            )
    new_type, new_sex = form_text(form, "new-bed_type"), form_text(form, "new-sex")
    result.values.update({"new-bed_type": new_type, "new-sex": new_sex})
    if new_type:
        if new_type not in BED_TYPES:
            result.errors["new-bed_type"] = ("Choose a bed type.", {})
        elif new_sex not in SEXES:
            result.errors["new-sex"] = ("Choose who the beds are for.", {})
        elif (new_type, new_sex) in keys:
            result.errors["new-bed_type"] = ("These beds are already in the list above.", {})
        counts = _read_pool(form, result, ("new-total", "new-occupied"))
        if counts and not result.errors:
            pools.append(
                PoolCensus(bed_type=new_type, sex=new_sex, total=counts[0], occupied=counts[1])
            )
    version = form_text(form, "version")
    if not (version.isascii() and version.isdigit() and len(version) <= 9):
        result.errors["form"] = ("This form is out of date. Reload the page and try again.", {})
    reason = form_text(form, "reason").strip()
    result.values["reason"] = reason
    if len(reason) > MAX_REASON:
        result.errors["reason"] = ("At most {max} characters.", {"max": MAX_REASON})
    elif "\x00" in reason:
        # PostgreSQL text cannot hold U+0000 (it arrives only from a forged form).
        result.errors["reason"] = ("Use ordinary text only.", {})
    if not pools and not result.errors:
        result.errors["form"] = ("Add at least one kind of bed.", {})
    if not result.errors:
        result.update = CensusUpdate(version=int(version), pools=pools, reason=reason)
    return result


@dataclass(frozen=True)
class PoolRow:
    bed_type: str
    sex: str
    total_field: str
    occupied_field: str
    total: str
    occupied: str
    reserved: int
    available: int
    # What the officer had typed, when a conflict replaced it with the current numbers.
    entered_total: str | None = None
    entered_occupied: str | None = None
    short: dict[str, int] | None = None


def _rows(
    census: bed_service.FacilityCensus,
    values: dict[str, str],
    *,
    entered: dict[str, str],
    short: dict[tuple[str, str], dict[str, int]],
) -> list[PoolRow]:
    rows = []
    for pool in census.pools:
        total_field, occupied_field = pool_fields(pool.bed_type, pool.sex)
        total = values.get(total_field, str(pool.total))
        occupied = values.get(occupied_field, str(pool.occupied))
        rows.append(
            PoolRow(
                bed_type=pool.bed_type,
                sex=pool.sex,
                total_field=total_field,
                occupied_field=occupied_field,
                total=total,
                occupied=occupied,
                reserved=pool.reserved,
                available=free_now(total, occupied, pool.reserved, pool.available),
                entered_total=_differs(entered.get(total_field), total),
                entered_occupied=_differs(entered.get(occupied_field), occupied),
                short=short.get((pool.bed_type, pool.sex)),
            )
        )
    return rows


def free_now(total: str, occupied: str, reserved: int, stored: int) -> int:
    """Free beds for the numbers in the boxes (total − occupied − reserved), so the form shows
    what the typed numbers would leave (the same sum ``census.js`` does while typing); the
    stored figure while a box holds no number."""
    counts = [parse_count(text)[0] for text in (total, occupied)]
    if counts[0] is None or counts[1] is None:
        return stored
    return counts[0] - counts[1] - reserved


def _differs(entered: str | None, shown: str) -> str | None:
    return entered if entered is not None and entered.strip() != shown else None


async def _census_page(
    request: Request,
    rt: Runtime,
    principal: Principal,
    facility_id: int,
    *,
    status_code: int = 200,
    posted: CensusForm | None = None,
    message: Message | None = None,
    conflict: bool = False,
    short: dict[tuple[str, str], dict[str, int]] | None = None,
) -> Response:
    census = await bed_service.get_census(rt, facility_id=facility_id)
    facility = census.facility
    editable = can(principal, "census.update") and covers(principal, facility)
    if not editable:
        require_on_facility(principal, "facility.read", facility)
    posted = posted or CensusForm()
    # After a version conflict the boxes show the current numbers; what was typed is shown
    # beside them, so nothing typed is lost and nothing stale is resubmitted by accident.
    values = {} if conflict else posted.values
    return render_staff(
        request,
        "census/census.html",
        status_code,
        facility=facility,
        version=census.facility.census_version,
        rows=_rows(census, values, entered=posted.values if conflict else {}, short=short or {}),
        new_values={} if conflict else posted.values,
        errors={
            name: say(request, text, **params) for name, (text, params) in posted.errors.items()
        },
        message=say(request, message[0], **message[1]) if message else None,
        editable=editable,
        conflict=conflict,
        saved=request.query_params.get("saved") == "1" and status_code == 200,
        stale=is_stale(facility.census_updated_at, utcnow(), rt.settings.stale_after_s),
        stale_after_h=rt.settings.stale_after_s // 3600,
        bed_types=BED_TYPES,
        sexes=SEXES,
        bed_labels=BED_TYPE_LABELS,
        sex_labels=BED_SEX_LABELS,
        max_reason=MAX_REASON,
    )


@router.get("/staff/facilities/{facility_id}/census")
async def census_form(
    request: Request,
    facility_id: FacilityId,
    principal: Principal = Depends(page_principal),
    rt: Runtime = Depends(get_runtime),
):
    return await _census_page(request, rt, principal, facility_id)


@router.post("/staff/facilities/{facility_id}/census")
async def submit_census(
    request: Request,
    facility_id: FacilityId,
    principal: Principal = Depends(permitted("census.update")),
    form: FormData = Depends(staff_form),
    rt: Runtime = Depends(get_runtime),
):
    posted = parse_census_form(form)
    if form_text(form, "check") and posted.update is not None:
        # "Work out free beds": the form again with the free beds of the typed numbers,
        # nothing saved (the page's script does this while typing; this is the same without).
        return await _census_page(request, rt, principal, facility_id, posted=posted)
    if posted.update is None:
        return await _census_page(
            request,
            rt,
            principal,
            facility_id,
            status_code=422,
            posted=posted,
            message=posted.errors.get("form", ("Some numbers are not right. See below.", {})),
        )
    try:
        await bed_service.update_census(
            rt, actor=principal, facility_id=facility_id, census=posted.update
        )
    except Conflict as exc:
        short = {}
        if exc.code == "reservations_exceed_free_beds":
            short = {(p["bed_type"], p["sex"]): p for p in exc.details["pools"]}
        return await _census_page(
            request,
            rt,
            principal,
            facility_id,
            status_code=exc.status_code,
            posted=posted,
            message=(exc.message, exc.params),
            conflict=exc.code == "version_conflict",
            short=short,
        )
    return RedirectResponse(f"/staff/facilities/{facility_id}/census?saved=1", status_code=303)
