"""State changes of places: districts, facilities, and the all-or-nothing facility import."""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from seba.beds.live import beds_changed
from seba.core import audit
from seba.core.access import Principal, covers_district, require, require_on_facility
from seba.core.db import transactional
from seba.core.errors import Conflict, NotFound, PermissionDenied, ValidationFailed
from seba.core.runtime import Runtime
from seba.core.types import utcnow
from seba.places.models import District, Facility
from seba.places.schemas import FacilityIn, FacilityUpdate

IMPORT_COLUMNS = ("code", "name", "name_bn", "district_code", "ownership", "kind")
MAX_IMPORT_BYTES = 5 * 1024 * 1024


def facility_snapshot(f: Facility) -> dict[str, Any]:
    return {
        "code": f.code,
        "name": f.name,
        "name_bn": f.name_bn,
        "district_code": f.district_code,
        "ownership": f.ownership,
        "kind": f.kind,
        "covid": f.covid,
        "address": f.address,
        "address_bn": f.address_bn,
        "reception_phone": f.reception_phone,
        "emergency_phone": f.emergency_phone,
        "phones": list(f.phones or []),
        "lat": f.lat,
        "lon": f.lon,
        "hfr_id": f.hfr_id,
    }


async def load_districts(rt: Runtime, *, actor: Principal, rows: list[dict[str, str]]) -> int:
    """Insert or update districts from the shared CSV rows. Returns how many were written."""
    require(actor, "facility.import")
    async with transactional(rt.db) as session:
        for row in rows:
            values = {
                "name": row["name_en"],
                "name_bn": row["name_bn"],
                "hq": row["hq_en"],
                "hq_bn": row["hq_bn"],
                "lat": float(row["lat"]),
                "lon": float(row["lon"]),
                "population_2011": int(row["population_2011"]),
            }
            district = await session.get(District, row["code"])
            if district is None:
                session.add(District(code=row["code"], **values))
            else:
                for key, value in values.items():
                    setattr(district, key, value)
        await beds_changed(rt, session, kind="districts")
    return len(rows)


async def _check_unique_hfr(session: AsyncSession, hfr_id: str | None, code: str) -> None:
    if hfr_id is None:
        return
    other = await session.scalar(
        select(Facility.code).where(Facility.hfr_id == hfr_id, Facility.code != code)
    )
    if other:
        raise Conflict(
            "This HFR ID belongs to another facility.",
            code="hfr_id_taken",
            details={"hfr_id": hfr_id, "facility": other},
        )


async def create_facility(rt: Runtime, *, actor: Principal, data: FacilityIn) -> Facility:
    """Add a facility in the actor's district (or anywhere, for a state admin).

    Raises PermissionDenied, ValidationFailed (unknown district), Conflict (code or HFR taken).
    """
    require(actor, "facility.create")
    if not covers_district(actor, data.district_code):
        raise PermissionDenied("This district is outside your scope.", code="out_of_scope")
    async with transactional(rt.db) as session:
        if await session.get(District, data.district_code) is None:
            raise ValidationFailed("Unknown district.", code="unknown_district")
        if await session.scalar(select(Facility.id).where(Facility.code == data.code)):
            raise Conflict("A facility with this code exists.", code="facility_code_taken")
        await _check_unique_hfr(session, data.hfr_id, data.code)
        facility = Facility(**data.model_dump(), census_version=0)
        session.add(facility)
        await session.flush()
        audit.record(
            session,
            actor=actor,
            action="facility.create",
            entity_type="facility",
            entity_id=facility.id,
            after=facility_snapshot(facility),
        )
        await beds_changed(rt, session, facility_id=facility.id)
    return facility


async def update_facility(
    rt: Runtime, *, actor: Principal, facility_id: int, data: FacilityUpdate
) -> Facility:
    """Change a facility's details (not its code or district). Raises NotFound,
    PermissionDenied, Conflict (HFR ID taken)."""
    async with transactional(rt.db) as session:
        facility = await session.get(Facility, facility_id)
        if facility is None:
            raise NotFound("No such facility.", code="facility_not_found")
        require_on_facility(actor, "facility.update", facility)
        changes = data.model_dump(exclude_unset=True)
        await _check_unique_hfr(session, changes.get("hfr_id"), facility.code)
        before = facility_snapshot(facility)
        for key, value in changes.items():
            setattr(facility, key, value)
        facility.updated_at = utcnow()
        audit.record(
            session,
            actor=actor,
            action="facility.update",
            entity_type="facility",
            entity_id=facility.id,
            before=before,
            after=facility_snapshot(facility),
        )
        await beds_changed(rt, session, facility_id=facility.id)
    return facility


@dataclass
class ImportReport:
    created: int = 0
    updated: int = 0
    errors: list[dict[str, Any]] = field(default_factory=list)


def _parse_bool(value: str) -> bool:
    lowered = value.strip().lower()
    if lowered in ("", "1", "true", "yes", "y"):
        return True
    if lowered in ("0", "false", "no", "n"):
        return False
    raise ValueError(f"covid must be yes/no or true/false, not {value!r}")


def check_import_size(text: str) -> None:
    if len(text.encode()) > MAX_IMPORT_BYTES:
        raise ValidationFailed("The file is too large.", code="file_too_large")


def refuse_bad_lines(errors: list[dict[str, Any]]) -> None:
    """All or nothing: a file with any bad line is refused whole, every bad line named in order
    (``details.lines``), before anything is written. Shared by every CSV import."""
    if errors:
        errors.sort(key=lambda e: e["line"])
        raise ValidationFailed(
            "The file has bad lines; nothing was imported.",
            code="import_failed",
            details={"lines": errors},
        )


def pydantic_reasons(exc: ValidationError) -> list[str]:
    return [
        "{}: {}".format(
            ".".join(str(p) for p in err["loc"]) or "line",
            err["msg"].removeprefix("Value error, "),
        )
        for err in exc.errors()
    ]


def slug(text: str, limit: int = 48) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")[:limit].rstrip("-")


def code_from_name(name: str) -> str:
    """The code given to a facility listed without one (the shared hospitals file): the name's
    slug, with a trailing "(TAG)" kept as a short suffix ("… Hospital (NRS)" → "…-nrs").
    The demo loader uses it too, so both give a hospital the same code."""
    tag = re.search(r"\(([^)]+)\)\s*$", name)
    base = slug(re.sub(r"\([^)]*\)", "", name), 36)
    return f"{base}-{slug(tag.group(1), 12)}" if tag else base


@dataclass
class ParsedFile:
    """A facility CSV after line-by-line validation (no database yet)."""

    rows: list[tuple[int, FacilityIn]] = field(default_factory=list)
    errors: list[dict[str, Any]] = field(default_factory=list)
    # True when the file has no code column and codes were made from names: such rows match
    # an existing facility by (district, name) first.
    codes_from_names: bool = False


def _row_values(header: list[str], cells: list[str]) -> tuple[dict[str, Any], list[str]]:
    """FacilityIn arguments for one line: only the file's columns, so an update leaves the
    columns the file does not have as they are."""
    reasons = []
    if len(cells) > len(header):
        reasons.append("more fields than the header has")
    raw = {col: (cells[i] if i < len(cells) else "").strip() for i, col in enumerate(header)}
    values: dict[str, Any] = {c: raw[c] for c in IMPORT_COLUMNS if c in raw}
    if "covid" in raw:
        try:
            values["covid"] = _parse_bool(raw["covid"])
        except ValueError as exc:
            reasons.append(str(exc))
    for col in ("address", "address_bn"):
        if col in raw:
            values[col] = raw[col]
    for col in ("reception_phone", "emergency_phone"):
        if col in raw:
            values[col] = raw[col] or None
    if "phones" in raw:
        values["phones"] = [p for p in raw["phones"].split(";") if p.strip()]
    for col in ("lat", "lon", "hfr_id"):
        if col in raw:
            values[col] = raw[col] or None
    return values, reasons


def parse_facility_csv(text: str) -> ParsedFile:
    """Validate every line of a facility CSV: the good rows and every bad line's reasons.

    Line numbers are the file's own (the header is line 1; a record spread over several lines
    by a quoted newline is reported at its first line). ``name_en`` is accepted for ``name``
    and ``code`` may be left out (made from the name) so the shared hospitals file imports as
    it is; ``phones`` are ``;``-separated. ``reception_phone`` and ``emergency_phone`` are one
    number each (an Indian mobile or a landline with its STD code), ``address_bn`` the Bengali
    address.
    """
    parsed = ParsedFile()
    reader = csv.reader(io.StringIO(text))
    try:
        first = next(reader, [])
    except csv.Error as exc:
        parsed.errors.append({"line": 1, "errors": [f"unreadable header: {exc}"]})
        return parsed
    header = ["name" if h.strip() == "name_en" else h.strip() for h in first]
    parsed.codes_from_names = "code" not in header and "name" in header
    missing = [
        c
        for c in IMPORT_COLUMNS
        if c not in header and not (c == "code" and parsed.codes_from_names)
    ]
    if missing:
        parsed.errors.append({"line": 1, "errors": [f"missing columns: {', '.join(missing)}"]})
        return parsed
    seen_codes: dict[str, int] = {}
    seen_hfr: dict[str, int] = {}
    while True:
        # The reader has consumed lines up to line_num: the next record starts on the next one.
        line = reader.line_num + 1
        try:
            cells = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:
            # The csv module cannot resynchronise after this (e.g. a field over its size
            # limit): report the line and stop reading; nothing will be imported anyway.
            parsed.errors.append({"line": line, "errors": [str(exc)]})
            break
        if not cells:
            continue  # a blank line
        values, reasons = _row_values(header, cells)
        if parsed.codes_from_names:
            values["code"] = code_from_name(values.get("name", ""))
        data: FacilityIn | None = None
        try:
            data = FacilityIn(**values)
        except ValidationError as exc:
            reasons.extend(pydantic_reasons(exc))
        if data is not None:
            if data.code in seen_codes:
                reasons.append(f"code {data.code} repeats line {seen_codes[data.code]}")
            if data.hfr_id and data.hfr_id in seen_hfr:
                reasons.append(f"hfr_id {data.hfr_id} repeats line {seen_hfr[data.hfr_id]}")
        if reasons or data is None:
            parsed.errors.append({"line": line, "errors": reasons})
            continue
        seen_codes[data.code] = line
        if data.hfr_id:
            seen_hfr[data.hfr_id] = line
        parsed.rows.append((line, data))
    if not parsed.rows and not parsed.errors:
        parsed.errors.append({"line": 1, "errors": ["the file has no facility lines"]})
    return parsed


async def import_facilities(rt: Runtime, *, actor: Principal, text: str) -> ImportReport:
    """Create or update facilities from CSV text, all or nothing.

    Every bad line is reported with its line number and reasons, and then nothing is written
    (ValidationFailed with ``details.lines``). Re-importing a file updates by ``code`` (by
    district and name when the file has no code column); an update changes only the columns
    the file has.
    """
    require(actor, "facility.import")
    check_import_size(text)
    parsed = parse_facility_csv(text)
    errors = parsed.errors
    good: list[tuple[int, FacilityIn]] = []
    report = ImportReport()
    async with transactional(rt.db) as session:
        districts = set(await session.scalars(select(District.code)))
        existing = {f.code: f for f in await session.scalars(select(Facility))}
        hfr_owner = {f.hfr_id: f.code for f in existing.values() if f.hfr_id}
        by_name: dict[tuple[str, str], list[str]] = {}
        for f in existing.values():
            by_name.setdefault((f.district_code, f.name), []).append(f.code)
        for line, data in parsed.rows:
            reasons = []
            if parsed.codes_from_names:
                data, problem = _match_by_name(data, existing, by_name)
                if problem:
                    reasons.append(problem)
            if data.district_code not in districts:
                reasons.append(f"district_code: unknown district {data.district_code!r}")
            owner = hfr_owner.get(data.hfr_id) if data.hfr_id else None
            if owner and owner != data.code:
                reasons.append(f"hfr_id: {data.hfr_id} belongs to facility {owner}")
            if reasons:
                errors.append({"line": line, "errors": reasons})
            good.append((line, data))
        refuse_bad_lines(errors)
        now = utcnow()
        for _line, data in good:
            facility = existing.get(data.code)
            if facility is None:
                facility = Facility(**data.model_dump(), census_version=0, created_at=now)
                session.add(facility)
                await session.flush()
                report.created += 1
                audit.record(
                    session,
                    actor=actor,
                    action="facility.import.create",
                    entity_type="facility",
                    entity_id=facility.id,
                    after=facility_snapshot(facility),
                )
                continue
            before = facility_snapshot(facility)
            for key, value in data.model_dump(exclude_unset=True).items():
                setattr(facility, key, value)
            after = facility_snapshot(facility)
            if after != before:
                facility.updated_at = now
                report.updated += 1
                audit.record(
                    session,
                    actor=actor,
                    action="facility.import.update",
                    entity_type="facility",
                    entity_id=facility.id,
                    before=before,
                    after=after,
                )
        await beds_changed(rt, session, kind="import")
    return report


def _match_by_name(
    data: FacilityIn, existing: dict[str, Facility], by_name: dict[tuple[str, str], list[str]]
) -> tuple[FacilityIn, str | None]:
    """For a row whose code was made from its name: take the code of the facility already
    listed under that name in that district, so a re-import updates instead of duplicating,
    and never let a made-up code silently overwrite a differently named facility."""
    codes = by_name.get((data.district_code, data.name), [])
    if len(codes) == 1:
        return data.model_copy(update={"code": codes[0]}), None
    if len(codes) > 1:
        return (
            data,
            f"name: several facilities in {data.district_code} have this name; add a code column",
        )
    other = existing.get(data.code)
    if other is not None:
        return data, (
            f"code: {data.code} (made from the name) belongs to facility {other.name!r}; "
            "add a code column"
        )
    return data, None
