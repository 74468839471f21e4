"""The patient registry's services on SQLite and PostgreSQL: registration, validation, reach,
audited reads, duplicate warnings, ABHA uniqueness under a race, family search, corrections."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

import pytest
from pydantic import ValidationError
from sqlalchemy import func, select

from seba.accounts.models import StaffUser
from seba.core.access import Principal
from seba.core.audit import AuditEntry
from seba.core.db import transactional
from seba.core.errors import Conflict, NotFound, PermissionDenied, ValidationFailed
from seba.core.runtime import Runtime
from seba.patients import service as patient_service
from seba.patients.models import Patient, age_between
from seba.patients.names import names_alike, sound_key
from seba.patients.schemas import (
    PatientIn,
    PatientOut,
    PatientUpdate,
    estimated_birth_date,
    today_in_india,
)
from tests import factories

PHONE = "98300 12345"
VALID_ABHA = "91-1234-5678-9015"  # passes Luhn
OTHER_ABHA = "91-7654-3210-9872"  # passes Luhn
LUHN_BAD_ABHA = "91-1234-5678-9016"


def new(**overrides: Any) -> PatientIn:
    data: dict[str, Any] = {"name": "Rina Das", "sex": "female", "age_years": 34, "phone": PHONE}
    data.update(overrides)
    return PatientIn(**data)


@dataclass
class World:
    kolkata_spoke: str
    hills_spoke: str
    kolkata_hub: str
    cho: Principal  # Kolkata
    hills_cho: Principal  # Darjeeling
    kolkata_admin: Principal
    howrah_admin: Principal
    state_admin: Principal
    doctor: Principal


async def _principal(rt: Runtime, role: str, scope: str, district: str | None) -> Principal:
    """A staff member who exists (audit rows point at a real user) but never logs in here:
    inserted directly, skipping the password hashing that would make every test slow."""
    kind, _, code = scope.partition(":")
    username = f"{role.replace('_', '-')}-{kind}-{code or 'all'}"
    async with transactional(rt.db) as session:
        user = StaffUser(
            username=username,
            password_hash="!unusable",
            role=role,
            scope_kind=kind,
            scope_code=code or None,
        )
        session.add(user)
        await session.flush()
    return Principal(
        user_id=user.id,
        username=username,
        role=role,
        scope_kind=kind,
        scope_code=code or None,
        scope_district=district,
    )


@pytest.fixture
async def world(rt: Runtime) -> World:
    codes = await factories.network(rt)
    return World(
        kolkata_spoke=codes["kolkata_spoke"],
        hills_spoke=codes["hills_spoke"],
        kolkata_hub=codes["kolkata_hub"],
        cho=await _principal(rt, "cho", f"spoke:{codes['kolkata_spoke']}", "kolkata"),
        hills_cho=await _principal(rt, "cho", f"spoke:{codes['hills_spoke']}", "darjeeling"),
        kolkata_admin=await _principal(rt, "district_admin", "district:kolkata", "kolkata"),
        howrah_admin=await _principal(rt, "district_admin", "district:howrah", "howrah"),
        state_admin=await _principal(rt, "state_admin", "state", None),
        doctor=await _principal(rt, "doctor", f"hub:{codes['kolkata_hub']}", "kolkata"),
    )


async def register(rt: Runtime, actor: Principal, **overrides: Any) -> Patient:
    return (await patient_service.register_patient(rt, actor=actor, data=new(**overrides))).patient


async def audit_rows(rt: Runtime, action: str | None = None) -> list[AuditEntry]:
    async with rt.db.read() as s:
        query = select(AuditEntry).where(AuditEntry.entity_type == "patient")
        if action is not None:
            query = query.where(AuditEntry.action == action)
        return list(await s.scalars(query.order_by(AuditEntry.id)))


async def patient_count(rt: Runtime) -> int:
    async with rt.db.read() as s:
        return await s.scalar(select(func.count()).select_from(Patient))


# ---------------------------------------------------------------- pure parts


@pytest.mark.parametrize(
    ("overrides", "field", "kind"),
    [
        ({"name": ""}, "name", "string_too_short"),
        ({"name": "   "}, "name", "string_too_short"),
        ({"name": "x" * 121}, "name", "string_too_long"),
        ({"name": "123"}, "name", "name_letters"),
        ({"name": "Rina\x00Das"}, "name", "name_characters"),
        ({"sex": "f"}, "sex", "literal_error"),
        ({"sex": None}, "sex", "literal_error"),
        ({"phone": "12345"}, "phone", "phone_format"),
        ({"phone": "5830012345"}, "phone", "phone_format"),  # mobiles start 6-9
        ({"phone": "98300 1234"}, "phone", "phone_format"),
        ({"phone": "98300-1234x"}, "phone", "phone_format"),
        ({"age_years": -1}, "age_years", "greater_than_equal"),
        ({"age_years": 121}, "age_years", "less_than_equal"),
        ({"age_years": None}, "", "age_or_birth_date"),
        ({"birth_date": "1990-01-01"}, "", "age_or_birth_date"),  # and age_years: both
        ({"age_years": None, "birth_date": "2999-01-01"}, "birth_date", "birth_date_in_future"),
        ({"age_years": None, "birth_date": "1850-01-01"}, "birth_date", "birth_date_too_early"),
        (
            {"age_years": None, "birth_date": "1990-02-30"},
            "birth_date",
            "date_from_datetime_parsing",
        ),
        ({"relation_to_phone_owner": "cousin"}, "relation_to_phone_owner", "literal_error"),
        ({"abha_number": "rina@abdm"}, "abha_number", "abha_address_not_number"),
        ({"abha_number": "9112345678901"}, "abha_number", "abha_length"),
        ({"abha_number": "91-1234-5678-90l5"}, "abha_number", "abha_characters"),
        ({"abha_number": "9112-3456-7890-15"}, "abha_number", "abha_grouping"),
        ({"address": "x" * 401}, "address", "string_too_long"),
        ({"village": "Gram\x07"}, "village", "text_characters"),
        ({"district_code": "kolkata"}, "district_code", "extra_forbidden"),
    ],
)
def test_every_validation_error(overrides, field, kind):
    with pytest.raises(ValidationError) as caught:
        new(**overrides)
    errors = [(".".join(map(str, e["loc"])), e["type"]) for e in caught.value.errors()]
    assert (field, kind) in errors, errors


def test_input_is_normalised():
    data = new(
        name="  Rina   Das ",
        phone="+91 98300-12345",
        abha_number="৯১ ১২৩৪ ৫৬৭৮ ৯০১৫",
        village="  Barasat ",
    )
    assert data.name == "Rina Das"
    assert data.phone == "+919830012345"
    assert data.abha_number == "91123456789015"
    assert data.village == "Barasat"
    assert new(phone="০৯৮৩০০১২৩৪৫").phone == "+919830012345"
    assert new(abha_number="  ").abha_number is None


def test_ages_from_birth_dates_and_estimates():
    assert age_between(date(1990, 6, 15), date(2026, 6, 14)) == 35
    assert age_between(date(1990, 6, 15), date(2026, 6, 15)) == 36
    assert age_between(date(2000, 2, 29), date(2026, 2, 28)) == 25
    assert age_between(date(2000, 2, 29), date(2026, 3, 1)) == 26
    today = date(2024, 2, 29)
    assert estimated_birth_date(3, today) == date(2021, 2, 28)
    for age in (0, 1, 34, 120):
        assert age_between(estimated_birth_date(age, date(2026, 11, 23)), date(2026, 11, 23)) == age
    assert new(age_years=34).birth(today) == (date(1990, 2, 28), True)
    assert new(age_years=None, birth_date="1990-01-01").birth(today) == (date(1990, 1, 1), False)


@pytest.mark.parametrize(
    ("a", "b", "alike"),
    [
        ("Rina Das", "rina das", True),
        ("Reena Das", "রিনা দাস", True),
        ("Rina Dass", "Rina Das", True),
        ("Rina", "Rina Das", True),
        ("Das Rina", "Rina Das", True),
        ("Jyoti Ghosh", "জ্যোতি ঘোষ", True),
        ("Priya Mukherjee", "প্রিয়া মুখার্জী", True),
        ("Md. Wasim Akram", "ওয়াসিম আক্রম", True),
        ("Fatema Khatun", "ফাতেমা খাতুন", True),
        ("Sumita Roy", "Sumitra Roy", True),  # a typo away
        ("Rina Das", "Mina Das", False),  # twin sisters under one phone
        ("Rahul Das", "Ratna Das", False),
        ("Rina Das", "Tapas Mondal", False),
        ("রিনা দাস", "মিনা দাস", False),
    ],
)
def test_names_alike(a, b, alike):
    assert names_alike(a, b) is alike
    assert names_alike(b, a) is alike


def test_sound_keys_fold_bengali_and_latin_spellings():
    assert sound_key("Biswas") == sound_key("বিশ্বাস") == ["bs"]
    assert sound_key("Lakshmi") == sound_key("লক্ষ্মী")
    assert sound_key("Paharh") == sound_key("পাহাড়")


# ---------------------------------------------------------------- registration and reading


async def test_register_and_read_a_patient(rt, world):
    registration = await patient_service.register_patient(
        rt, actor=world.cho, data=new(village="Barasat", address="12 Station Road")
    )
    patient = registration.patient
    assert registration.replayed is False
    assert patient.id is not None
    assert patient.district_code == "kolkata"
    assert patient.registered_at_spoke == world.kolkata_spoke
    assert patient.created_by_user_id == world.cho.user_id
    assert patient.phone == "+919830012345"
    assert patient.birth_date_estimated is True
    assert patient.age_on(today_in_india()) == 34

    out = PatientOut.of(patient)
    assert out.age_years == 34 and out.birth_date is None and out.abha_number is None
    assert out.warnings == []

    created = await audit_rows(rt, "patient.create")
    assert [(r.actor_id, r.entity_id) for r in created] == [(world.cho.user_id, str(patient.id))]
    assert created[0].after["district_code"] == "kolkata"
    # Registering is not a read: no read row yet.
    assert await audit_rows(rt, "patient.read") == []

    read = await patient_service.get_patient(rt, actor=world.cho, patient_id=patient.id)
    assert read.name == "Rina Das"
    reads = await audit_rows(rt, "patient.read")
    assert [(r.actor_id, r.actor_name, r.entity_id) for r in reads] == [
        (world.cho.user_id, world.cho.username, str(patient.id))
    ]


async def test_an_exact_birth_date_is_kept_and_an_abha_shown_formatted(rt, world):
    born = today_in_india() - timedelta(days=365 * 5 + 30)
    patient = await register(rt, world.cho, age_years=None, birth_date=born, abha_number=VALID_ABHA)
    assert patient.birth_date == born and patient.birth_date_estimated is False
    assert patient.abha_number == "91123456789015"
    out = PatientOut.of(patient)
    assert out.birth_date == born
    assert out.age_years == age_between(born, today_in_india())
    assert out.abha_number == "91-1234-5678-9015"
    assert out.warnings == []


async def test_an_abha_failing_luhn_is_kept_with_a_warning(rt, world):
    patient = await register(rt, world.cho, abha_number=LUHN_BAD_ABHA)
    assert patient.abha_number == "91123456789016"
    assert PatientOut.of(patient).warnings == ["abha_checksum_mismatch"]


@pytest.mark.parametrize("role", ["viewer", "hospital_staff", "control_room"])
async def test_roles_without_patient_access_are_refused(rt, world, role):
    patient = await register(rt, world.cho)
    who = Principal(user_id=None, username=role, role=role, scope_kind="state")
    for call in (
        patient_service.get_patient(rt, actor=who, patient_id=patient.id),
        patient_service.search_patients(rt, actor=who, phone=PHONE),
        patient_service.register_patient(rt, actor=who, data=new(name="Other Person")),
        patient_service.update_patient(
            rt, actor=who, patient_id=patient.id, data=PatientUpdate(village="X")
        ),
    ):
        with pytest.raises(PermissionDenied):
            await call
    assert await audit_rows(rt, "patient.read") == []


async def test_only_chos_register(rt, world):
    for who in (world.state_admin, world.kolkata_admin, world.doctor):
        with pytest.raises(PermissionDenied):
            await register(rt, who)
    assert await patient_count(rt) == 0


async def test_a_cho_whose_spoke_is_gone_cannot_register(rt, world):
    ghost = Principal(
        user_id=world.cho.user_id,
        username=world.cho.username,
        role="cho",
        scope_kind="spoke",
        scope_code="no-such-spoke",
        scope_district="kolkata",
    )
    with pytest.raises(PermissionDenied) as caught:
        await register(rt, ghost)
    assert caught.value.code == "unknown_spoke"
    assert await patient_count(rt) == 0


async def test_reach_by_role_and_district(rt, world):
    patient = await register(rt, world.cho)
    for who in (world.cho, world.kolkata_admin, world.state_admin):
        assert (await patient_service.get_patient(rt, actor=who, patient_id=patient.id)).id
    for who in (world.hills_cho, world.howrah_admin, world.doctor):
        with pytest.raises(NotFound) as caught:
            await patient_service.get_patient(rt, actor=who, patient_id=patient.id)
        assert caught.value.code == "patient_not_found"
    # Out of reach and missing are the same answer.
    with pytest.raises(NotFound) as missing:
        await patient_service.get_patient(rt, actor=world.hills_cho, patient_id=patient.id + 999)
    assert missing.value.code == "patient_not_found"
    assert missing.value.message == caught.value.message
    reads = await audit_rows(rt, "patient.read")
    assert sorted(r.actor_id for r in reads) == sorted(
        w.user_id for w in (world.cho, world.kolkata_admin, world.state_admin)
    )


async def test_a_cho_without_a_district_sees_no_one(rt, world):
    patient = await register(rt, world.cho)
    lost = Principal(
        user_id=world.cho.user_id,
        username=world.cho.username,
        role="cho",
        scope_kind="spoke",
        scope_code=world.kolkata_spoke,
        scope_district=None,
    )
    with pytest.raises(NotFound):
        await patient_service.get_patient(rt, actor=lost, patient_id=patient.id)
    assert await patient_service.search_patients(rt, actor=lost, phone=PHONE) == []


async def test_a_doctor_sees_a_patient_only_when_a_registered_check_says_so(rt, world):
    patient = await register(rt, world.cho)
    other = await register(rt, world.cho, name="Tapas Mondal", sex="male", phone="9830099999")
    asked: list[tuple[str, int]] = []

    async def consult_assigned(session, actor: Principal, patient_id: int) -> bool:
        asked.append((actor.username, patient_id))
        return actor.user_id == world.doctor.user_id and patient_id == patient.id

    with pytest.raises(NotFound):
        await patient_service.get_patient(rt, actor=world.doctor, patient_id=patient.id)
    patient_service.register_assigned_check(consult_assigned)
    patient_service.register_assigned_check(consult_assigned)  # twice is once
    try:
        seen = await patient_service.get_patient(rt, actor=world.doctor, patient_id=patient.id)
        assert seen.id == patient.id
        with pytest.raises(NotFound):
            await patient_service.get_patient(rt, actor=world.doctor, patient_id=other.id)
        # A doctor's search is filtered row by row through the same check.
        found = await patient_service.search_patients(rt, actor=world.doctor, name="das")
        assert [p.id for p in found] == [patient.id]
        assert await patient_service.search_patients(rt, actor=world.doctor, name="mondal") == []
        # The check vouches for doctors only: a CHO elsewhere is not let in by it.
        with pytest.raises(NotFound):
            await patient_service.get_patient(rt, actor=world.hills_cho, patient_id=patient.id)
    finally:
        patient_service.unregister_assigned_check(consult_assigned)
    assert (world.doctor.username, patient.id) in asked
    assert all(name == world.doctor.username for name, _ in asked)
    with pytest.raises(NotFound):
        await patient_service.get_patient(rt, actor=world.doctor, patient_id=patient.id)


# ---------------------------------------------------------------- duplicates


async def test_a_likely_duplicate_is_asked_about_then_registered_on_confirmation(rt, world):
    first = await register(rt, world.cho, name="Reena Das", age_years=34)
    with pytest.raises(Conflict) as caught:
        await register(rt, world.cho, name="রিনা দাস", age_years=35)
    assert caught.value.code == "possible_duplicate"
    candidates = caught.value.details["candidates"]
    assert [c["id"] for c in candidates] == [first.id]
    assert candidates[0] == {
        "id": first.id,
        "name": "Reena Das",
        "sex": "female",
        "age_years": 34,
        "relation_to_phone_owner": "self",
        "village": "",
        "registered_at_spoke": world.kolkata_spoke,
    }
    assert await patient_count(rt) == 1
    # The candidates were shown to the CHO: that listing is audited.
    listed = await audit_rows(rt, "patient.list")
    assert [(r.actor_id, r.entity_id, r.after) for r in listed] == [
        (world.cho.user_id, str(first.id), {"listed_by": "possible_duplicate"})
    ]

    second = await register(rt, world.cho, name="রিনা দাস", age_years=35, confirm_new=True)
    assert second.id != first.id
    assert await patient_count(rt) == 2
    created = await audit_rows(rt, "patient.create")
    assert created[-1].after["confirmed_new"] is True


@pytest.mark.parametrize(
    "overrides",
    [
        {"name": "Mina Das"},  # another name (a twin sister)
        {"sex": "male", "name": "Rina Das"},  # same name, other sex
        {"age_years": 37},  # three years apart
        {"age_years": 8, "relation_to_phone_owner": "child"},
        {"phone": "9830054321"},  # another phone
    ],
)
async def test_family_members_are_not_taken_for_duplicates(rt, world, overrides):
    await register(rt, world.cho, name="Rina Das", age_years=34)
    await register(rt, world.cho, **overrides)
    assert await patient_count(rt) == 2
    assert await audit_rows(rt, "patient.list") == []


async def test_duplicates_are_only_looked_for_within_reach(rt, world):
    await register(rt, world.cho, name="Rina Das")
    # A CHO in Darjeeling cannot see the Kolkata record, so is not shown it as a candidate.
    elsewhere = await register(rt, world.hills_cho, name="Rina Das")
    assert elsewhere.district_code == "darjeeling"
    assert await audit_rows(rt, "patient.list") == []


# ---------------------------------------------------------------- ABHA uniqueness


async def test_an_abha_number_belongs_to_one_patient(rt, world):
    holder = await register(rt, world.cho, abha_number=VALID_ABHA)
    with pytest.raises(Conflict) as caught:
        await register(
            rt,
            world.cho,
            name="Tapas Mondal",
            sex="male",
            phone="9830099999",
            abha_number="91123456789015",
        )
    assert caught.value.code == "abha_taken"
    assert caught.value.details == {"field": "abha_number", "patient_id": holder.id}
    # From another district the holder is not named.
    with pytest.raises(Conflict) as elsewhere:
        await register(rt, world.hills_cho, name="Tapas Mondal", abha_number=VALID_ABHA)
    assert elsewhere.value.code == "abha_taken"
    assert elsewhere.value.details == {"field": "abha_number"}
    assert await patient_count(rt) == 1


async def _abha_race(rt: Runtime, world: World, contenders: int) -> list[Any]:
    return await asyncio.gather(
        *(
            patient_service.register_patient(
                rt,
                actor=world.cho,
                data=new(
                    name=f"Person {chr(65 + i)}", phone=f"98300{i:05d}", abha_number=OTHER_ABHA
                ),
            )
            for i in range(contenders)
        ),
        return_exceptions=True,
    )


def _one_winner(results: list[Any]) -> Patient:
    won = [r.patient for r in results if not isinstance(r, BaseException)]
    lost = [r for r in results if isinstance(r, BaseException)]
    assert len(won) == 1, results
    assert lost and all(isinstance(r, Conflict) and r.code == "abha_taken" for r in lost), lost
    assert all(r.details["patient_id"] == won[0].id for r in lost)
    return won[0]


async def test_concurrent_registrations_with_one_abha_number_exactly_one_wins(rt, world):
    winner = _one_winner(await _abha_race(rt, world, 2))
    assert await patient_count(rt) == 1
    async with rt.db.read() as s:
        assert await s.scalar(
            select(Patient.id).where(Patient.abha_number == "91765432109872")
        ) == (winner.id)


async def test_the_unique_index_decides_when_every_check_passed(rt, world, monkeypatch):
    # Make every contender pass the "is this ABHA taken?" look-up, as in a race where each
    # looked before any had committed: only the database's unique index stands in the way.
    real = patient_service._abha_holder
    calls = 0

    async def blind(session, digits, *, other_than=None):
        nonlocal calls
        calls += 1
        return None

    monkeypatch.setattr(patient_service, "_abha_holder", blind)
    try:
        results = await _abha_race(rt, world, 4)
    finally:
        monkeypatch.setattr(patient_service, "_abha_holder", real)
    assert calls >= 4
    _one_winner(results)
    assert await patient_count(rt) == 1
    assert len(await audit_rows(rt, "patient.create")) == 1


# ---------------------------------------------------------------- idempotency


async def test_a_retried_registration_answers_the_first(rt, world):
    first = await patient_service.register_patient(
        rt, actor=world.cho, data=new(), idempotency_key="reg-1"
    )
    again = await patient_service.register_patient(
        rt, actor=world.cho, data=new(), idempotency_key="reg-1"
    )
    assert again.replayed is True and first.replayed is False
    assert again.patient.id == first.patient.id
    assert await patient_count(rt) == 1
    with pytest.raises(ValidationFailed) as caught:
        await patient_service.register_patient(
            rt, actor=world.cho, data=new(name="Someone Else"), idempotency_key="reg-1"
        )
    assert caught.value.code == "idempotency_key_reused"


async def test_a_retried_duplicate_warning_answers_the_same_warning(rt, world):
    first = await register(rt, world.cho)
    for _ in range(2):
        with pytest.raises(Conflict) as caught:
            await patient_service.register_patient(
                rt, actor=world.cho, data=new(name="Reena Das"), idempotency_key="dup-1"
            )
        assert caught.value.code == "possible_duplicate"
        assert [c["id"] for c in caught.value.details["candidates"]] == [first.id]
    assert await patient_count(rt) == 1


# ---------------------------------------------------------------- search


async def test_a_family_under_one_phone_is_found_by_phone(rt, world):
    child = await register(
        rt, world.cho, name="Mitu Das", age_years=6, relation_to_phone_owner="child"
    )
    owner = await register(rt, world.cho, name="Rina Das", age_years=34)
    spouse = await register(
        rt, world.cho, name="Tapas Das", sex="male", age_years=38, relation_to_phone_owner="spouse"
    )
    await register(rt, world.cho, name="Neighbour Pal", phone="9830099999")
    # The same phone written three ways finds the same family, the phone's owner first.
    for written in ("98300 12345", "+919830012345", "09830012345", "৯৮৩০০১২৩৪৫"):
        found = await patient_service.search_patients(rt, actor=world.cho, phone=written)
        assert [p.id for p in found] == [owner.id, child.id, spouse.id], written
    listed = await audit_rows(rt, "patient.list")
    assert len(listed) == 4 * 3
    assert {r.entity_id for r in listed} == {str(p.id) for p in (owner, child, spouse)}
    assert {r.actor_id for r in listed} == {world.cho.user_id}
    # Outside the district: nothing, and nothing audited.
    assert await patient_service.search_patients(rt, actor=world.hills_cho, phone=PHONE) == []
    assert len(await audit_rows(rt, "patient.list")) == 12
    # A state admin sees the family too.
    assert len(await patient_service.search_patients(rt, actor=world.state_admin, phone=PHONE)) == 3


async def test_search_by_abha_and_by_name(rt, world):
    rina = await register(rt, world.cho, name="Rina Das", abha_number=VALID_ABHA)
    sumi = await register(rt, world.cho, name="Sumitra Rinaldi", phone="9830011111")
    bengali = await register(rt, world.cho, name="রিনা দাস", phone="9830022222")
    await register(rt, world.cho, name="Tapas Mondal", sex="male", phone="9830033333")

    async def ids(**criteria) -> list[int]:
        return [
            p.id for p in await patient_service.search_patients(rt, actor=world.cho, **criteria)
        ]

    assert await ids(abha="91123456789015") == [rina.id]
    assert await ids(abha=VALID_ABHA) == [rina.id]
    assert await ids(abha=OTHER_ABHA) == []
    # Case-insensitive part of a name; names starting with it come first.
    assert await ids(name="RINA") == [rina.id, sumi.id]
    assert await ids(name="das") == [rina.id]
    assert await ids(name="রিনা") == [bengali.id]
    assert await ids(name="Rina", phone=PHONE) == [rina.id]  # criteria combine
    # LIKE wildcards are literal characters here, not "match anything".
    assert await ids(name="%%") == []
    assert await ids(name="__") == []
    assert await ids(name="rina", limit=1) == [rina.id]
    # Another district's CHO finds none of them.
    assert await patient_service.search_patients(rt, actor=world.hills_cho, name="rina") == []


@pytest.mark.parametrize(
    ("criteria", "code", "field"),
    [
        ({}, "search_criteria_missing", None),
        ({"phone": "  ", "name": ""}, "search_criteria_missing", None),
        ({"phone": "12345"}, "validation_failed", "phone"),
        ({"abha": "rina@abdm"}, "validation_failed", "abha"),
        ({"abha": "123"}, "validation_failed", "abha"),
        ({"name": "r"}, "validation_failed", "name"),
        ({"name": "rina", "limit": 0}, "validation_failed", "limit"),
        ({"name": "rina", "limit": 51}, "validation_failed", "limit"),
    ],
)
async def test_bad_searches_are_refused(rt, world, criteria, code, field):
    with pytest.raises(ValidationFailed) as caught:
        await patient_service.search_patients(rt, actor=world.cho, **criteria)
    assert caught.value.code == code
    if field is not None:
        assert caught.value.details[0]["field"] == field


# ---------------------------------------------------------------- corrections


async def test_correcting_a_record(rt, world):
    patient = await register(rt, world.cho)
    updated = await patient_service.update_patient(
        rt,
        actor=world.cho,
        patient_id=patient.id,
        data=PatientUpdate(name="Rina  Dutta", phone="9830054321", abha_number=VALID_ABHA),
    )
    assert updated.name == "Rina Dutta"
    assert updated.name_key == "rina dutta"
    assert updated.phone == "+919830054321"
    assert updated.abha_number == "91123456789015"
    assert updated.updated_at > patient.updated_at
    row = (await audit_rows(rt, "patient.update"))[-1]
    assert row.actor_id == world.cho.user_id
    assert row.before == {"name": "Rina Das", "phone": "+919830012345", "abha_number": None}
    assert row.after == {
        "name": "Rina Dutta",
        "phone": "+919830054321",
        "abha_number": "91123456789015",
    }
    # The new name and phone are what searches find now.
    found = await patient_service.search_patients(rt, actor=world.cho, name="dutta")
    assert [p.id for p in found] == [patient.id]

    # An exact birth date replaces the estimate, and an age estimates again.
    born = date(1991, 4, 2)
    exact = await patient_service.update_patient(
        rt, actor=world.cho, patient_id=patient.id, data=PatientUpdate(birth_date=born)
    )
    assert (exact.birth_date, exact.birth_date_estimated) == (born, False)
    estimated = await patient_service.update_patient(
        rt, actor=world.cho, patient_id=patient.id, data=PatientUpdate(age_years=40)
    )
    assert estimated.birth_date_estimated is True
    assert estimated.age_on(today_in_india()) == 40
    # abha_number: null removes it.
    cleared = await patient_service.update_patient(
        rt, actor=world.cho, patient_id=patient.id, data=PatientUpdate(abha_number=None)
    )
    assert cleared.abha_number is None


async def test_a_correction_that_changes_nothing_is_audited_as_a_read(rt, world):
    patient = await register(rt, world.cho, village="Barasat")
    same = await patient_service.update_patient(
        rt, actor=world.cho, patient_id=patient.id, data=PatientUpdate(village="Barasat")
    )
    assert same.updated_at == patient.updated_at
    assert await audit_rows(rt, "patient.update") == []
    assert [r.entity_id for r in await audit_rows(rt, "patient.read")] == [str(patient.id)]


async def test_corrections_keep_abha_unique_and_respect_reach(rt, world):
    holder = await register(rt, world.cho, abha_number=VALID_ABHA)
    other = await register(rt, world.cho, name="Tapas Mondal", sex="male", phone="9830099999")
    with pytest.raises(Conflict) as caught:
        await patient_service.update_patient(
            rt, actor=world.cho, patient_id=other.id, data=PatientUpdate(abha_number=VALID_ABHA)
        )
    assert caught.value.code == "abha_taken"
    assert caught.value.details["patient_id"] == holder.id
    # Setting a patient's own ABHA number again is no conflict.
    await patient_service.update_patient(
        rt, actor=world.cho, patient_id=holder.id, data=PatientUpdate(abha_number=VALID_ABHA)
    )
    with pytest.raises(NotFound):
        await patient_service.update_patient(
            rt, actor=world.hills_cho, patient_id=other.id, data=PatientUpdate(village="X")
        )
    async with rt.db.read() as s:
        assert (await s.get(Patient, other.id)).abha_number is None
        assert (await s.get(Patient, other.id)).village == ""


@pytest.mark.parametrize(
    ("body", "kind"),
    [
        ({"name": None}, "not_nullable"),
        ({"phone": None}, "not_nullable"),
        ({"sex": None}, "not_nullable"),
        ({"birth_date": "1990-01-01", "age_years": 30}, "age_or_birth_date"),
        ({"phone": "123"}, "phone_format"),
        ({"abha_number": "rina@abdm"}, "abha_address_not_number"),
        ({"district_code": "howrah"}, "extra_forbidden"),
        ({"registered_at_spoke": "x"}, "extra_forbidden"),
    ],
)
def test_bad_corrections(body, kind):
    with pytest.raises(ValidationError) as caught:
        PatientUpdate(**body)
    assert kind in [e["type"] for e in caught.value.errors()]


async def test_the_database_refuses_what_the_schema_would(rt, world):
    # Invariants live in the database too: a bad sex or a second ABHA holder cannot be written
    # by any path, not only through the service.
    from sqlalchemy.exc import IntegrityError

    now_row = {
        "name": "X",
        "name_key": "x",
        "birth_date": date(1990, 1, 1),
        "birth_date_estimated": False,
        "phone": "+919830012345",
        "relation_to_phone_owner": "self",
        "address": "",
        "village": "",
        "district_code": "kolkata",
    }
    for bad in (
        {"sex": "f"},
        {"sex": "female", "phone": "98300"},
        {"sex": "female", "abha_number": "123"},
    ):
        with pytest.raises(IntegrityError):
            async with transactional(rt.db) as s:
                s.add(Patient(**{**now_row, **bad}))
                await s.flush()
    assert await patient_count(rt) == 0
