"""Doctors: accounts with a registration, hub memberships, rosters and presence.

Presence is kept by heartbeat: a doctor's open console stream (``consults.streams``: each process
refreshes all its streams' doctors in one statement), or an API client's offer poll; a doctor
silent for ``presence_timeout_s`` is set offline by the sweep, so no consult is ever offered to
someone who closed the laptop.
"""

from __future__ import annotations

import asyncio
import re
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from seba.accounts import service as account_service
from seba.accounts.models import StaffUser
from seba.core import audit
from seba.core.access import Principal, Reach, in_district, reach, require
from seba.core.db import transactional
from seba.core.errors import Conflict, NotFound, PermissionDenied, ValidationFailed
from seba.core.ids import InvalidId, parse_hpr_id
from seba.core.runtime import Runtime
from seba.places.models import Facility, Hub
from seba.places.network import check_specialties
from seba.telemedicine.models import (
    LANGUAGES,
    SEXES,
    Doctor,
    DoctorHub,
    DoctorPresence,
    DoctorSkill,
    RosterShift,
)
from seba.telemedicine.schemas import RosterIn, ShiftIn

# "WBMC 12345", "MCI 123456", "NMC/2021/12345": a council abbreviation and a number.
REGISTRATION_RE = re.compile(r"[A-Z][A-Z.&-]{1,15}[ /-]?[A-Z0-9/-]{2,30}")


@dataclass(frozen=True)
class DoctorIn:
    username: str
    password: str
    name: str
    qualification: str
    registration: str
    hub_codes: tuple[str, ...]
    specialties: tuple[str, ...] = ("general_medicine",)
    languages: tuple[str, ...] = ("bn",)
    sex: str = "other"
    hpr_id: str | None = None


def normalise_registration(value: str) -> str:
    return " ".join(value.strip().upper().split())


def _check_doctor(data: DoctorIn) -> dict[str, str]:
    problems: dict[str, str] = {}
    if not data.name.strip() or len(data.name) > 120:
        problems["name"] = "Required, at most 120 characters."
    if not data.qualification.strip() or len(data.qualification) > 120:
        problems["qualification"] = "Required (e.g. MBBS, MD), at most 120 characters."
    if not REGISTRATION_RE.fullmatch(normalise_registration(data.registration)):
        problems["registration"] = "Council and number, e.g. WBMC 12345 (TPG 2020: required)."
    if data.hpr_id is not None:
        try:
            parse_hpr_id(data.hpr_id)
        except InvalidId:
            problems["hpr_id"] = "An HPR ID has 14 digits."
    if not data.hub_codes:
        problems["hub"] = "At least one hub."
    if not data.languages or set(data.languages) - set(LANGUAGES):
        problems["languages"] = f"One or more of: {', '.join(LANGUAGES)}."
    if data.sex not in SEXES:
        problems["sex"] = f"One of: {', '.join(SEXES)}."
    return problems


async def add_doctor(rt: Runtime, *, actor: Principal, data: DoctorIn) -> Doctor:
    """Create a doctor's login (role doctor, scope their first hub) and doctor record.

    Builds the routing index (specialty × language × pool of each hub) and an offline presence
    row. Raises ValidationFailed, NotFound (hub), Conflict (username or registration taken).
    """
    require(actor, "network.manage")
    problems = _check_doctor(data)
    if problems:
        raise ValidationFailed(details=problems)
    check_specialties(data.specialties)
    registration = normalise_registration(data.registration)
    hpr = parse_hpr_id(data.hpr_id) if data.hpr_id else None
    account_service.check_new_user(data.username, data.password)
    password_hash = await asyncio.to_thread(account_service.hash_password, data.password)
    async with transactional(rt.db) as session:
        hubs = list(await session.scalars(select(Hub).where(Hub.code.in_(data.hub_codes))))
        if len(hubs) != len(set(data.hub_codes)):
            missing = sorted(set(data.hub_codes) - {h.code for h in hubs})
            raise NotFound("Unknown hub.", code="unknown_hub", details={"hubs": missing})
        if await session.scalar(select(Doctor.id).where(Doctor.registration == registration)):
            raise Conflict(
                "A doctor with this registration number exists.", code="registration_taken"
            )
        if hpr and await session.scalar(select(Doctor.id).where(Doctor.hpr_id == hpr)):
            raise Conflict("A doctor with this HPR ID exists.", code="hpr_taken")
        if await session.scalar(select(StaffUser.id).where(StaffUser.username == data.username)):
            raise Conflict("This username is taken.", code="username_taken")
        home = next(h for h in hubs if h.code == data.hub_codes[0])
        user = StaffUser(
            username=data.username,
            full_name=data.name.strip(),
            password_hash=password_hash,
            role="doctor",
            scope_kind="hub",
            scope_code=home.code,
        )
        session.add(user)
        await session.flush()
        doctor = Doctor(
            user_id=user.id,
            name=data.name.strip(),
            qualification=data.qualification.strip(),
            registration=registration,
            hpr_id=hpr,
            sex=data.sex,
            specialties=list(dict.fromkeys(data.specialties)),
            languages=list(dict.fromkeys(data.languages)),
        )
        session.add(doctor)
        await session.flush()
        for hub in hubs:
            session.add(DoctorHub(doctor_id=doctor.id, hub_id=hub.id))
        session.add(DoctorPresence(doctor_id=doctor.id, status="offline", missed_offers=0))
        await session.flush()
        await rebuild_skills(session, doctor, hubs)
        audit.record(
            session,
            actor=actor,
            action="doctor.create",
            entity_type="doctor",
            entity_id=doctor.id,
            after={
                "username": data.username,
                "registration": registration,
                "hubs": list(data.hub_codes),
                "specialties": doctor.specialties,
                "languages": doctor.languages,
            },
        )
    return doctor


async def rebuild_skills(session: AsyncSession, doctor: Doctor, hubs: list[Hub]) -> None:
    """Rewrite the routing index rows of one doctor from their specialties, languages, hubs."""
    await session.execute(delete(DoctorSkill).where(DoctorSkill.doctor_id == doctor.id))
    rows = {
        (doctor.id, sp, lang, hub.pool_code)
        for hub in hubs
        for sp in doctor.specialties
        for lang in doctor.languages
    }
    if rows:
        await session.execute(
            insert(DoctorSkill),
            [
                {"doctor_id": d, "specialty": s, "language": lang, "pool_code": p}
                for d, s, lang, p in sorted(rows)
            ],
        )


async def doctor_for(session: AsyncSession, actor: Principal) -> Doctor:
    """The doctor record behind a doctor's login. Raises PermissionDenied for anyone else."""
    require(actor, "consult.practice")
    doctor = await session.scalar(select(Doctor).where(Doctor.user_id == actor.user_id))
    if doctor is None:
        raise PermissionDenied("This login has no doctor record.", code="not_a_doctor")
    return doctor


async def doctor_and_presence(
    session: AsyncSession, actor: Principal
) -> tuple[Doctor, DoctorPresence]:
    """``doctor_for`` and the doctor's presence in one query (the console polls this)."""
    require(actor, "consult.practice")
    found = (
        await session.execute(
            select(Doctor, DoctorPresence)
            .join(DoctorPresence, DoctorPresence.doctor_id == Doctor.id)
            .where(Doctor.user_id == actor.user_id)
        )
    ).first()
    if found is None:
        raise PermissionDenied("This login has no doctor record.", code="not_a_doctor")
    return found[0], found[1]


async def access_doctor(
    session: AsyncSession, actor: Principal, doctor_id: int, action: str
) -> Doctor:
    """The doctor whose roster ``actor`` reaches for ``action`` (``roster.read`` or
    ``roster.manage``): their own (``Reach.SELF``), or a doctor with a hub in the actor's scope
    (``Reach.SCOPE``). Raises NotFound ``unknown_doctor`` (missing, or out of reach for a read)
    and PermissionDenied (the role may not, or a change out of reach)."""
    rule = reach(actor, action)
    doctor = await session.get(Doctor, doctor_id)
    if doctor is None:
        raise NotFound("Unknown doctor.", code="unknown_doctor")
    if rule is Reach.SELF:
        reached = doctor.user_id is not None and doctor.user_id == actor.user_id
    elif rule is Reach.SCOPE and actor.scope_kind != "state":
        districts = await session.scalars(
            select(Facility.district_code)
            .join(Hub, Hub.facility_id == Facility.id)
            .join(DoctorHub, DoctorHub.hub_id == Hub.id)
            .where(DoctorHub.doctor_id == doctor_id)
        )
        reached = any(in_district(actor, d) for d in districts)
    else:
        reached = rule in (Reach.SCOPE, Reach.ANY)
    if not reached:
        if action == "roster.read":
            raise NotFound("Unknown doctor.", code="unknown_doctor")
        raise PermissionDenied(details={"action": action, "role": actor.role})
    return doctor


async def set_roster(rt: Runtime, *, actor: Principal, doctor_id: int, data: RosterIn) -> int:
    """Replace a doctor's weekly roster (state admins, or the doctor themself).

    Every shift must be at one of the doctor's hubs. Raises ValidationFailed ``not_a_member``,
    NotFound, PermissionDenied; nothing changes on any error.
    """
    shifts = data.shifts
    async with transactional(rt.db) as session:
        await access_doctor(session, actor, doctor_id, "roster.manage")
        member_hubs = dict(
            (
                await session.execute(
                    select(Hub.code, Hub.id)
                    .join(DoctorHub, DoctorHub.hub_id == Hub.id)
                    .where(DoctorHub.doctor_id == doctor_id)
                )
            ).all()
        )
        if bad := {s.hub for s in shifts} - set(member_hubs):
            raise ValidationFailed(
                "A shift must be at one of the doctor's hubs.",
                code="not_a_member",
                details=sorted(bad),
            )
        await session.execute(delete(RosterShift).where(RosterShift.doctor_id == doctor_id))
        for s in shifts:
            session.add(
                RosterShift(
                    doctor_id=doctor_id,
                    hub_id=member_hubs[s.hub],
                    weekday=s.weekday,
                    starts_at=s.starts_at,
                    ends_at=s.ends_at,
                )
            )
        audit.record(
            session,
            actor=actor,
            action="doctor.roster",
            entity_type="doctor",
            entity_id=doctor_id,
            after=[s.model_dump() for s in shifts],
        )
    return len(shifts)


async def mark_silent_doctors_offline(session: AsyncSession, *, now: datetime, timeout_s: float):
    """Doctors online but silent past the timeout go offline (busy ones keep their consult).

    The rows are locked in id order, skipping any a doctor's own request holds right now (that
    doctor is not silent): two sweeps, or a sweep and a poll, never wait on each other.
    """
    from datetime import timedelta

    silent = (
        select(DoctorPresence.doctor_id)
        .where(
            DoctorPresence.status.in_(("online", "away")),
            DoctorPresence.consult_id.is_(None),
            DoctorPresence.last_heartbeat_at < now - timedelta(seconds=timeout_s),
        )
        .order_by(DoctorPresence.doctor_id)
        .with_for_update(skip_locked=True)
    )
    ids = list(await session.scalars(silent))
    if not ids:
        return 0
    await session.execute(
        update(DoctorPresence)
        .where(DoctorPresence.doctor_id.in_(ids), DoctorPresence.consult_id.is_(None))
        .values(status="offline", idle_since=None, updated_at=now)
        .execution_options(synchronize_session=False)
    )
    return len(ids)


async def roster(rt: Runtime, *, actor: Principal, doctor_id: int) -> list[ShiftIn]:
    """A doctor's weekly shifts (admins in scope, or the doctor themself)."""
    async with rt.db.read() as session:
        await access_doctor(session, actor, doctor_id, "roster.read")
        rows = await session.execute(
            select(RosterShift, Hub.code)
            .join(Hub, Hub.id == RosterShift.hub_id)
            .where(RosterShift.doctor_id == doctor_id)
            .order_by(RosterShift.weekday, RosterShift.starts_at)
        )
        return [
            ShiftIn(weekday=s.weekday, starts_at=s.starts_at, ends_at=s.ends_at, hub=code)
            for s, code in rows
        ]
