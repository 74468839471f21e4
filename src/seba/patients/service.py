"""The patient registry's state changes and audited reads.

Who sees whom (``access_patient``) is the policy table's ``patient.read`` row rule: a state
admin every patient; a district admin and a CHO the patients of their district (a CHO serves the
district's families, who move between centres); a doctor only the patients the telemedicine
domain vouches for (``Reach.ASSIGNED``: a consult given to that doctor), through a check it
registers with ``register_assigned_check`` — with none registered, doctors see no one. A patient
outside one's reach answers exactly like a missing one (404).

Privacy (DPDP Act; ``ARCHITECTURE.md`` §4.6): every staff read of a patient writes an audit row
``patient.read``; every search or duplicate warning that lists patients writes one
``patient.list`` row per patient listed, so "who looked at this person" is one query.

Duplicates. A registration whose phone already holds a patient of the same sex, an age within
two years and a similar name (``names.names_alike``: Bengali or Latin spelling) is not made:
it answers 409 ``possible_duplicate`` with those candidates, and the CHO either picks one or
sends the registration again with ``confirm_new``. Asking first costs one more tap in the rare
case; a silent duplicate splits a person's consults and prescriptions across two records,
which is worse for follow-ups (the same doctor, the earlier medicines).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import date
from typing import Any, NamedTuple

from sqlalchemy import ColumnElement, case, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from seba.core import audit, idempotency
from seba.core.access import Principal, Reach, home_district, in_district, reach, require
from seba.core.db import transactional
from seba.core.errors import Conflict, NotFound, PermissionDenied, ValidationFailed
from seba.core.ids import InvalidId, parse_abha_number
from seba.core.runtime import Runtime
from seba.core.types import utcnow
from seba.patients.models import Patient, age_between
from seba.patients.names import clean_name, name_key, names_alike
from seba.patients.schemas import (
    PatientIn,
    PatientUpdate,
    duplicate_candidate,
    estimated_birth_date,
    patient_phone,
    today_in_india,
)
from seba.places.models import Spoke

# Correcting a record is the registering CHO's work: the policy table has no separate action.
UPDATE_ACTION = "patient.create"
DUPLICATE_AGE_YEARS = 2
MAX_SEARCH_LIMIT = 50
MIN_NAME_QUERY = 2

AssignedCheck = Callable[[AsyncSession, Principal, int], Awaitable[bool]]
_assigned_checks: list[AssignedCheck] = []


class Registration(NamedTuple):
    patient: Patient
    # True when an Idempotency-Key retry was answered with the first registration.
    replayed: bool


# ---------------------------------------------------------------- access


def register_assigned_check(check: AssignedCheck) -> None:
    """Let a domain vouch for the patients of ``Reach.ASSIGNED`` (a doctor's):
    ``await check(session, actor, patient_id)`` answers True when a row of that domain given to
    the actor (a consult assigned to the doctor) concerns the patient.

    Checks are asked in turn; one True is enough. Registering the same check twice is a no-op.
    """
    if check not in _assigned_checks:
        _assigned_checks.append(check)


def unregister_assigned_check(check: AssignedCheck) -> None:
    if check in _assigned_checks:
        _assigned_checks.remove(check)


async def may_see(
    session: AsyncSession, principal: Principal, patient: Patient, action: str = "patient.read"
) -> bool:
    """Whether ``principal`` reaches ``patient`` for ``action``: the row rule of the policy
    table (``access.reach``). Raises PermissionDenied when the role may not take the action."""
    rule = reach(principal, action)
    if rule in (Reach.SCOPE, Reach.DISTRICT):
        return in_district(principal, patient.district_code)
    if rule is Reach.ASSIGNED:
        for check in list(_assigned_checks):
            if await check(session, principal, patient.id):
                return True
        return False
    return rule is Reach.ANY


async def access_patient(
    session: AsyncSession, principal: Principal, patient_id: int, action: str = "patient.read"
) -> Patient:
    """The patient, if ``principal`` reaches it for ``action``. Raises NotFound
    ``patient_not_found`` for a missing patient and for one outside the principal's reach alike,
    PermissionDenied when the role may not take the action at all."""
    patient = await session.get(Patient, patient_id)
    if patient is None or not await may_see(session, principal, patient, action):
        raise NotFound("No such patient.", code="patient_not_found")
    return patient


def _scope_clause(principal: Principal) -> ColumnElement[bool] | None:
    """SQL for the rows a principal may list (None: no narrowing in SQL). ``Reach.ASSIGNED``
    rows are vouched for one by one (``may_see``)."""
    rule = reach(principal, "patient.read")
    if rule in (Reach.SCOPE, Reach.DISTRICT) and principal.scope_kind != "state":
        return Patient.district_code == home_district(principal)
    return None


def _audit_listed(session: AsyncSession, actor: Principal, ids: list[int], why: str) -> None:
    for patient_id in ids:
        audit.record(
            session,
            actor=actor,
            action="patient.list",
            entity_type="patient",
            entity_id=patient_id,
            after={"listed_by": why},
        )


# ---------------------------------------------------------------- registration


def _snapshot(patient: Patient) -> dict[str, Any]:
    return {
        "name": patient.name,
        "sex": patient.sex,
        "birth_date": patient.birth_date.isoformat(),
        "birth_date_estimated": patient.birth_date_estimated,
        "phone": patient.phone,
        "relation_to_phone_owner": patient.relation_to_phone_owner,
        "address": patient.address,
        "village": patient.village,
        "district_code": patient.district_code,
        "registered_at_spoke": patient.registered_at_spoke,
        "abha_number": patient.abha_number,
    }


async def _abha_holder(session: AsyncSession, digits: str, *, other_than: int | None = None):
    query = select(Patient).where(Patient.abha_number == digits)
    if other_than is not None:
        query = query.where(Patient.id != other_than)
    return await session.scalar(query)


async def _abha_taken(session: AsyncSession, actor: Principal, holder: Patient) -> Conflict:
    """409 ``abha_taken``; names the holder only to someone who may see them."""
    details: dict[str, Any] = {"field": "abha_number"}
    if await may_see(session, actor, holder):
        details["patient_id"] = holder.id
    return Conflict(
        "This ABHA number is already registered to another patient.",
        code="abha_taken",
        details=details,
    )


async def _abha_race_lost(rt: Runtime, actor: Principal, digits: str | None) -> Conflict | None:
    """After a unique-index failure: the 409 if it was the ABHA number, else None."""
    if digits is None:
        return None
    async with rt.db.read() as session:
        holder = await session.scalar(select(Patient).where(Patient.abha_number == digits))
        return None if holder is None else await _abha_taken(session, actor, holder)


async def _likely_duplicates(
    session: AsyncSession, actor: Principal, data: PatientIn, birth: date, today: date
) -> list[Patient]:
    """Patients the actor may see under the same phone who could be this person."""
    query = select(Patient).where(Patient.phone == data.phone).order_by(Patient.id)
    scope = _scope_clause(actor)
    if scope is not None:
        query = query.where(scope)
    age = age_between(birth, today)
    found = []
    for other in await session.scalars(query):
        if (
            other.sex == data.sex
            and abs(other.age_on(today) - age) <= DUPLICATE_AGE_YEARS
            and names_alike(other.name, data.name)
            and await may_see(session, actor, other)
        ):
            found.append(other)
    return found


async def register_patient(
    rt: Runtime,
    *,
    actor: Principal,
    data: PatientIn,
    idempotency_key: str | None = None,
) -> Registration:
    """Register a patient at the actor's spoke (a CHO), in the spoke's district.

    Unless ``data.confirm_new``, a likely duplicate under the same phone stops the registration
    (nothing is created; the candidates are listed to the actor, and audited as listed).
    Honours ``idempotency_key``: a retry answers the first result (``replayed``).
    Side effects: the patient row, an audit row ``patient.create``.
    Raises PermissionDenied (not a CHO; the actor's spoke is unknown), Conflict ``abha_taken``
    (with the holder's id when the actor may see them; also when two registrations race for one
    ABHA number, the unique index decides), Conflict ``possible_duplicate`` (details
    ``candidates``), ValidationFailed (a reused Idempotency-Key).
    """
    require(actor, "patient.create")
    key = idempotency.check_key(idempotency_key)
    created: list[Patient] = []

    async def work(session: AsyncSession) -> dict[str, Any]:
        district = actor.scope_district
        spoke_code = actor.scope_code if actor.scope_kind == "spoke" else None
        if spoke_code is not None:
            district = await session.scalar(
                select(Spoke.district_code).where(Spoke.code == spoke_code)
            )
        if district is None:
            raise PermissionDenied(
                "Your account is not attached to a spoke in the network.",
                code="unknown_spoke",
                details={"scope": actor.scope_label},
            )
        if data.abha_number is not None:
            holder = await _abha_holder(session, data.abha_number)
            if holder is not None:
                raise await _abha_taken(session, actor, holder)
        today = today_in_india()
        birth, estimated = data.birth(today)
        if not data.confirm_new:
            candidates = await _likely_duplicates(session, actor, data, birth, today)
            if candidates:
                _audit_listed(session, actor, [c.id for c in candidates], "possible_duplicate")
                return {"possible_duplicates": [duplicate_candidate(c, today) for c in candidates]}
        now = utcnow()
        patient = Patient(
            name=data.name,
            name_key=name_key(data.name),
            sex=data.sex,
            birth_date=birth,
            birth_date_estimated=estimated,
            phone=data.phone,
            relation_to_phone_owner=data.relation_to_phone_owner,
            address=data.address,
            village=data.village,
            district_code=district,
            registered_at_spoke=spoke_code,
            abha_number=data.abha_number,
            created_by_user_id=actor.user_id,
            created_at=now,
            updated_at=now,
        )
        session.add(patient)
        await session.flush()
        audit.record(
            session,
            actor=actor,
            action="patient.create",
            entity_type="patient",
            entity_id=patient.id,
            after={**_snapshot(patient), "confirmed_new": data.confirm_new},
        )
        created.append(patient)
        return {"patient_id": patient.id}

    try:
        result, replayed = await idempotency.run_once(
            rt.db,
            scope=f"patient.create:{actor.user_id or actor.username}",
            key=key,
            fingerprint=idempotency.request_fingerprint(data.model_dump(mode="json")),
            work=work,
        )
    except IntegrityError:
        # Two registrations with one ABHA number at once: the unique index let one through.
        conflict = await _abha_race_lost(rt, actor, data.abha_number)
        if conflict is None:
            raise
        raise conflict from None
    if "possible_duplicates" in result:
        raise Conflict(
            "This patient may already be registered under this phone. Choose the patient, "
            "or register again with confirm_new to add a new patient.",
            code="possible_duplicate",
            details={"candidates": result["possible_duplicates"], "confirm_field": "confirm_new"},
        )
    if created and not replayed:
        return Registration(created[0], False)
    async with rt.db.read() as session:
        # The first registration, answered again: the actor's own record, no new disclosure.
        return Registration(await access_patient(session, actor, result["patient_id"]), True)


async def update_patient(
    rt: Runtime, *, actor: Principal, patient_id: int, data: PatientUpdate
) -> Patient:
    """Correct a patient's record (fields given in ``data`` only); same checks as registering.

    The district and the registering spoke do not change here. Side effects: the row, an audit
    row ``patient.update`` with the changed fields before and after (or ``patient.read`` when
    nothing changed: the record was still shown). Raises PermissionDenied (role), NotFound
    ``patient_not_found`` (missing or out of reach), Conflict ``abha_taken``.
    """
    require(actor, UPDATE_ACTION)
    changes = data.changes()
    try:
        async with transactional(rt.db) as session:
            patient = await access_patient(session, actor, patient_id, UPDATE_ACTION)
            before = _snapshot(patient)
            if "age_years" in changes:
                changes["birth_date"] = estimated_birth_date(changes["age_years"], today_in_india())
                changes["birth_date_estimated"] = True
            elif "birth_date" in changes:
                changes["birth_date_estimated"] = False
            changes.pop("age_years", None)
            if changes.get("abha_number") is not None:
                holder = await _abha_holder(session, changes["abha_number"], other_than=patient.id)
                if holder is not None:
                    raise await _abha_taken(session, actor, holder)
            for field, value in changes.items():
                setattr(patient, field, value)
            if "name" in changes:
                patient.name_key = name_key(patient.name)
            after = _snapshot(patient)
            changed = sorted(k for k in after if after[k] != before[k])
            if changed:
                patient.updated_at = utcnow()
                await session.flush()
            audit.record(
                session,
                actor=actor,
                action="patient.update" if changed else "patient.read",
                entity_type="patient",
                entity_id=patient.id,
                before={k: before[k] for k in changed} or None,
                after={k: after[k] for k in changed} or None,
            )
            return patient
    except IntegrityError:
        conflict = await _abha_race_lost(rt, actor, changes.get("abha_number"))
        if conflict is None:
            raise
        raise conflict from None


# ---------------------------------------------------------------- reads


async def get_patient(rt: Runtime, *, actor: Principal, patient_id: int) -> Patient:
    """One patient's record; the read is audited (``patient.read``).

    Raises PermissionDenied (role), NotFound ``patient_not_found`` (missing or out of reach).
    """
    require(actor, "patient.read")
    async with transactional(rt.db) as session:
        patient = await access_patient(session, actor, patient_id)
        audit.record(
            session, actor=actor, action="patient.read", entity_type="patient", entity_id=patient.id
        )
        return patient


def _search_error(field: str, kind: str, message: str) -> ValidationFailed:
    # The same detail shape as a request validation error, so clients handle one form.
    return ValidationFailed(details=[{"field": field, "type": kind, "message": message}])


def _like_escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


async def search_patients(
    rt: Runtime,
    *,
    actor: Principal,
    phone: str | None = None,
    abha: str | None = None,
    name: str | None = None,
    limit: int = 20,
) -> list[Patient]:
    """Patients within the actor's reach matching every criterion given.

    ``phone``: exact (any written form), giving the whole family under that phone, the phone's
    owner first. ``abha``: exact. ``name``: case-insensitive part of the name, names starting
    with it first. Each patient listed is audited (``patient.list``).
    Raises PermissionDenied (role), ValidationFailed ``search_criteria_missing`` (none given) or
    with field details (a malformed phone or ABHA number, a name under 2 characters, a limit
    outside 1–50).
    """
    require(actor, "patient.read")
    phone, abha, name = (v if v is None or v.strip() else None for v in (phone, abha, name))
    if phone is None and abha is None and name is None:
        raise ValidationFailed(
            "Search by phone, ABHA number or name.", code="search_criteria_missing"
        )
    if not 1 <= limit <= MAX_SEARCH_LIMIT:
        raise _search_error("limit", "limit_range", f"From 1 to {MAX_SEARCH_LIMIT}.")
    query = select(Patient)
    order: list[Any] = []
    if phone is not None:
        try:
            query = query.where(Patient.phone == patient_phone(phone))
        except ValueError as exc:  # PydanticCustomError is a ValueError
            raise _search_error("phone", "phone_format", str(exc)) from None
        order.append(case((Patient.relation_to_phone_owner == "self", 0), else_=1))
    if abha is not None:
        try:
            query = query.where(Patient.abha_number == parse_abha_number(abha).digits)
        except InvalidId as exc:
            raise _search_error("abha", exc.code, exc.message) from None
    if name is not None:
        needle = name_key(clean_name(name))
        if len(needle) < MIN_NAME_QUERY:
            raise _search_error(
                "name", "name_too_short", f"Type at least {MIN_NAME_QUERY} letters of the name."
            )
        escaped = _like_escape(needle)
        query = query.where(Patient.name_key.like(f"%{escaped}%", escape="\\"))
        order.append(case((Patient.name_key.like(f"{escaped}%", escape="\\"), 0), else_=1))
        order.append(Patient.name_key)
    scope = _scope_clause(actor)
    if scope is not None:
        query = query.where(scope)
    # Assigned patients are vouched for row by row, so look further than the page to fill it.
    fetch = limit * 5 if reach(actor, "patient.read") is Reach.ASSIGNED else limit
    query = query.order_by(*order, Patient.id).limit(fetch)
    async with transactional(rt.db) as session:
        found = []
        for patient in await session.scalars(query):
            if len(found) == limit:
                break
            if await may_see(session, actor, patient):
                found.append(patient)
        _audit_listed(session, actor, [p.id for p in found], "search")
        return found
