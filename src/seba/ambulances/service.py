"""The fleet: add, change and import ambulances (admins), and the access rule over its rows.

Every function is one transaction with its audit row. ``busy`` is never set here: only
dispatch (``dispatch.assign``) makes an ambulance busy and only the trip's end frees it.
"""

from __future__ import annotations

import csv
import io
from typing import Any

from pydantic import ValidationError
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from seba.ambulances.models import Ambulance, AmbulanceRequest
from seba.ambulances.schemas import AmbulanceIn, AmbulanceUpdate
from seba.core import audit
from seba.core.access import Principal, Reach, covers_district, reach, require
from seba.core.db import after_commit, transactional
from seba.core.errors import Conflict, NotFound, PermissionDenied, ValidationFailed
from seba.core.runtime import Runtime
from seba.core.types import utcnow
from seba.places.models import Facility
from seba.places.service import (
    ImportReport,
    check_import_size,
    pydantic_reasons,
    refuse_bad_lines,
)

IMPORT_COLUMNS = ("registration", "kind", "base_facility", "driver_name", "driver_phone")
OPTIONAL_COLUMNS = ("status",)


def may_reach(actor: Principal, action: str, district_code: str) -> bool:
    """The action's reach over a row of ``district_code`` (PermissionDenied for the role)."""
    rule = reach(actor, action)
    return rule is Reach.ANY or covers_district(actor, district_code)


def require_district(actor: Principal, action: str, district_code: str) -> None:
    """Role gate plus reach, for creating rows in a district (403 when outside)."""
    if not may_reach(actor, action, district_code):
        raise PermissionDenied(
            "This district is outside your scope.",
            code="out_of_scope",
            details={"district": district_code, "scope": actor.scope_label},
        )


def ambulance_dict(a: Ambulance, facility_code: str | None = None) -> dict[str, Any]:
    return {
        "id": a.id,
        "registration": a.registration,
        "kind": a.kind,
        "base_facility_id": a.base_facility_id,
        **({"base_facility": facility_code} if facility_code else {}),
        "district": a.district_code,
        "driver_name": a.driver_name,
        "driver_phone": a.driver_phone,
        "status": a.status,
        "lat": a.lat,
        "lon": a.lon,
        "located_at": a.located_at.isoformat() if a.located_at else None,
    }


def announce(rt: Runtime, session: AsyncSession, **data: Any) -> None:
    """After commit: the dispatchers' board hears of it (ids and statuses only; ``districts``
    names who it concerns, for the staff stream's filter, and is not passed on)."""

    async def _after() -> None:
        await rt.bus.publish("ambulances", data)

    after_commit(session, _after)


async def event_districts(
    session: AsyncSession, *, request_id: int | None = None, ambulance_id: int | None = None
) -> list[str]:
    """The districts an event concerns: the request's, its destination hospital's (whose page
    shows the ambulance coming) and the vehicle's (a neighbour's may be sent)."""
    codes: set[str] = set()
    if request_id is not None:
        row = (
            await session.execute(
                select(AmbulanceRequest.district_code, Facility.district_code)
                .outerjoin(Facility, Facility.id == AmbulanceRequest.destination_facility_id)
                .where(AmbulanceRequest.id == request_id)
            )
        ).one_or_none()
        codes.update(c for c in row or () if c)
    if ambulance_id is not None:
        code = await session.scalar(
            select(Ambulance.district_code).where(Ambulance.id == ambulance_id)
        )
        codes.update([code] if code else [])
    return sorted(codes)


async def _facility(session: AsyncSession, code: str) -> Facility:
    facility = await session.scalar(select(Facility).where(Facility.code == code))
    if facility is None:
        raise ValidationFailed(
            "Unknown facility.", code="unknown_facility", details={"facility": code}
        )
    return facility


async def load_ambulance(
    session: AsyncSession, actor: Principal, action: str, ambulance_id: int
) -> Ambulance:
    """The ambulance ``actor`` may take ``action`` on; one outside their reach is not found."""
    row = await session.get(Ambulance, ambulance_id)
    if row is None or not may_reach(actor, action, row.district_code):
        raise NotFound("No such ambulance.", code="ambulance_not_found")
    return row


async def ambulance_for(rt: Runtime, *, actor: Principal, ambulance_id: int) -> dict[str, Any]:
    """One ambulance for the fleet page's form, with its base facility's code. An ambulance of
    another district is PermissionDenied ``out_of_scope`` (403), as the facility pages answer:
    the admin followed a link of their own console, so "not yours" is the honest answer."""
    require(actor, "ambulance.manage")
    async with rt.db.read() as session:
        found = (
            await session.execute(
                select(Ambulance, Facility.code)
                .join(Facility, Facility.id == Ambulance.base_facility_id)
                .where(Ambulance.id == ambulance_id)
            )
        ).first()
    if found is None:
        raise NotFound("No such ambulance.", code="ambulance_not_found")
    require_district(actor, "ambulance.manage", found[0].district_code)
    return ambulance_dict(found[0], found[1])


async def create_ambulance(rt: Runtime, *, actor: Principal, data: AmbulanceIn) -> dict[str, Any]:
    """Add a vehicle based at a facility of the actor's district (any, for a state admin).

    Raises ValidationFailed ``unknown_facility``, PermissionDenied ``out_of_scope``, Conflict
    ``registration_taken``.
    """
    require(actor, "ambulance.manage")
    async with transactional(rt.db) as session:
        facility = await _facility(session, data.base_facility)
        require_district(actor, "ambulance.manage", facility.district_code)
        if await session.scalar(
            select(Ambulance.id).where(Ambulance.registration == data.registration)
        ):
            raise Conflict(
                "An ambulance with this registration number exists.",
                code="registration_taken",
                details={"registration": data.registration},
            )
        now = utcnow()
        row = Ambulance(
            registration=data.registration,
            kind=data.kind,
            base_facility_id=facility.id,
            district_code=facility.district_code,
            driver_name=data.driver_name,
            driver_phone=data.driver_phone,
            status=data.status,
            created_at=now,
            updated_at=now,
        )
        session.add(row)
        await session.flush()
        out = ambulance_dict(row, facility.code)
        audit.record(
            session,
            actor=actor,
            action="ambulance.create",
            entity_type="ambulance",
            entity_id=row.id,
            after=out,
        )
        announce(rt, session, ambulance_id=row.id, status=row.status, districts=[row.district_code])
    return out


async def update_ambulance(
    rt: Runtime, *, actor: Principal, ambulance_id: int, data: AmbulanceUpdate
) -> dict[str, Any]:
    """Change a vehicle's details or take it off duty (not while it is on a trip).

    Raises NotFound, ValidationFailed ``unknown_facility``, PermissionDenied ``out_of_scope``
    (a new base outside the actor's district), Conflict ``ambulance_busy``.
    """
    require(actor, "ambulance.manage")
    changes = data.model_dump(exclude_unset=True)
    async with transactional(rt.db) as session:
        row = await load_ambulance(session, actor, "ambulance.manage", ambulance_id)
        before = ambulance_dict(row)
        if "base_facility" in changes:
            facility = await _facility(session, changes.pop("base_facility"))
            require_district(actor, "ambulance.manage", facility.district_code)
            row.base_facility_id, row.district_code = facility.id, facility.district_code
        if "status" in changes:
            # Conditional, not read-then-write: an assignment committing between this
            # transaction's read and its write would otherwise be overwritten ("free" over
            # "busy"). On PostgreSQL the UPDATE waits for the assignment's row lock and re-reads.
            moved = await session.execute(
                update(Ambulance)
                .where(Ambulance.id == row.id, Ambulance.status != "busy")
                .values(status=changes["status"])
                .execution_options(synchronize_session=False)
            )
            if moved.rowcount != 1:
                raise Conflict(
                    "This ambulance is on a trip; its status changes when the trip ends.",
                    code="ambulance_busy",
                )
        for key, value in changes.items():
            setattr(row, key, value)
        row.updated_at = utcnow()
        out = ambulance_dict(row)
        audit.record(
            session,
            actor=actor,
            action="ambulance.update",
            entity_type="ambulance",
            entity_id=row.id,
            before=before,
            after=out,
        )
        announce(rt, session, ambulance_id=row.id, status=row.status, districts=[row.district_code])
    return out


# ---------------------------------------------------------------- the CSV import


def parse_ambulance_csv(text: str) -> tuple[list[tuple[int, AmbulanceIn]], list[dict[str, Any]]]:
    """Every line of a fleet CSV checked: the good rows and every bad line's reasons (the header
    is line 1; columns ``registration, kind, base_facility, driver_name, driver_phone`` and an
    optional ``status``)."""
    rows: list[tuple[int, AmbulanceIn]] = []
    errors: list[dict[str, Any]] = []
    reader = csv.reader(io.StringIO(text))
    try:
        header = [h.strip() for h in next(reader, [])]
    except csv.Error as exc:
        return rows, [{"line": 1, "errors": [f"unreadable header: {exc}"]}]
    missing = [c for c in IMPORT_COLUMNS if c not in header]
    if missing:
        return rows, [{"line": 1, "errors": [f"missing columns: {', '.join(missing)}"]}]
    seen: dict[str, int] = {}
    while True:
        line = reader.line_num + 1
        try:
            cells = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:
            errors.append({"line": line, "errors": [str(exc)]})
            break
        if not cells:
            continue
        reasons = ["more fields than the header has"] if len(cells) > len(header) else []
        raw = {col: (cells[i] if i < len(cells) else "").strip() for i, col in enumerate(header)}
        values = {c: raw[c] for c in (*IMPORT_COLUMNS, *OPTIONAL_COLUMNS) if raw.get(c)}
        data: AmbulanceIn | None = None
        try:
            data = AmbulanceIn(**values)
        except ValidationError as exc:
            reasons.extend(pydantic_reasons(exc))
        if data is not None and data.registration in seen:
            reasons.append(
                f"registration {data.registration} repeats line {seen[data.registration]}"
            )
        if reasons or data is None:
            errors.append({"line": line, "errors": reasons})
            continue
        seen[data.registration] = line
        rows.append((line, data))
    if not rows and not errors:
        errors.append({"line": 1, "errors": ["the file has no ambulance lines"]})
    return rows, errors


async def import_ambulances(rt: Runtime, *, actor: Principal, text: str) -> ImportReport:
    """Create or update ambulances (by registration) from CSV text, all or nothing.

    Every bad line is named with its reasons (ValidationFailed ``import_failed``,
    ``details.lines``) and then nothing is written. A vehicle on a trip keeps its status.
    """
    require(actor, "ambulance.import")
    check_import_size(text)
    rows, errors = parse_ambulance_csv(text)
    report = ImportReport()
    async with transactional(rt.db) as session:
        facilities = {f.code: f for f in await session.scalars(select(Facility)) if f.code}
        existing = {a.registration: a for a in await session.scalars(select(Ambulance))}
        for line, data in rows:
            reasons = []
            facility = facilities.get(data.base_facility)
            if facility is None:
                reasons.append(f"base_facility: unknown facility {data.base_facility!r}")
            elif not covers_district(actor, facility.district_code):
                reasons.append(f"base_facility: {data.base_facility} is outside your scope")
            if reasons:
                errors.append({"line": line, "errors": reasons})
        refuse_bad_lines(errors)
        now = utcnow()
        for _line, data in rows:
            facility = facilities[data.base_facility]
            values = {
                "kind": data.kind,
                "base_facility_id": facility.id,
                "district_code": facility.district_code,
                "driver_name": data.driver_name,
                "driver_phone": data.driver_phone,
            }
            row = existing.get(data.registration)
            if row is None:
                row = Ambulance(
                    registration=data.registration,
                    status=data.status,
                    created_at=now,
                    updated_at=now,
                    **values,
                )
                session.add(row)
                await session.flush()
                report.created += 1
                audit.record(
                    session,
                    actor=actor,
                    action="ambulance.import.create",
                    entity_type="ambulance",
                    entity_id=row.id,
                    after=ambulance_dict(row),
                )
                continue
            before = ambulance_dict(row)
            if row.status != "busy":
                values["status"] = data.status
            for key, value in values.items():
                setattr(row, key, value)
            after = ambulance_dict(row)
            if after != before:
                row.updated_at = now
                report.updated += 1
                audit.record(
                    session,
                    actor=actor,
                    action="ambulance.import.update",
                    entity_type="ambulance",
                    entity_id=row.id,
                    before=before,
                    after=after,
                )
        announce(rt, session, kind="import")
    return report
