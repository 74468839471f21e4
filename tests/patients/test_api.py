"""The patient registry over HTTP (SQLite and PostgreSQL): status codes, error shapes, reach,
audited reads, duplicate and ABHA answers, idempotent retries."""

from __future__ import annotations

from dataclasses import dataclass

import httpx
import pytest
from sqlalchemy import select

from seba.core.audit import AuditEntry
from seba.core.runtime import Runtime
from seba.patients import service as patient_service
from tests import factories

URL = "/api/v1/patients"
BODY = {"name": "Rina Das", "sex": "female", "age_years": 34, "phone": "98300 12345"}


@dataclass
class Staff:
    cho: dict
    hills_cho: dict
    kolkata_admin: dict
    state_admin: dict
    doctor: dict
    doctor_user_id: int


async def _login(client: httpx.AsyncClient, username: str) -> dict:
    return {"Authorization": f"Bearer {await factories.token(client, username)}"}


@pytest.fixture
async def staff(rt: Runtime, client: httpx.AsyncClient) -> Staff:
    codes = await factories.network(rt)
    cho = await factories.cho(rt, codes["kolkata_spoke"])
    hills = await factories.cho(rt, codes["hills_spoke"])
    doctor = await factories.doctor(rt, codes["kolkata_hub"], username="doctor-api")
    return Staff(
        cho=await _login(client, cho.username),
        hills_cho=await _login(client, hills.username),
        kolkata_admin=await factories.staff(client, rt, "district_admin", "district:kolkata"),
        state_admin=await factories.staff(client, rt, "state_admin", "state"),
        doctor=await _login(client, "doctor-api"),
        doctor_user_id=doctor.user_id,
    )


async def _audit(rt: Runtime, action: str) -> list[AuditEntry]:
    async with rt.db.read() as s:
        return list(
            await s.scalars(
                select(AuditEntry)
                .where(AuditEntry.action == action, AuditEntry.entity_type == "patient")
                .order_by(AuditEntry.id)
            )
        )


async def test_register_search_read_and_correct(rt, client, staff):
    r = await client.post(
        URL,
        json={**BODY, "abha_number": "91 1234 5678 9015", "village": "Barasat"},
        headers=staff.cho,
    )
    assert r.status_code == 201, r.text
    patient = r.json()
    assert patient["name"] == "Rina Das"
    assert patient["phone"] == "+919830012345"
    assert patient["abha_number"] == "91-1234-5678-9015"
    assert patient["age_years"] == 34 and patient["birth_date"] is None
    assert patient["district_code"] == "kolkata"
    assert patient["registered_at_spoke"].startswith("hwc-kolkata-")
    assert patient["warnings"] == []

    found = await client.get(URL, params={"phone": "9830012345"}, headers=staff.cho)
    assert found.status_code == 200
    assert [p["id"] for p in found.json()["patients"]] == [patient["id"]]

    one = await client.get(f"{URL}/{patient['id']}", headers=staff.cho)
    assert one.status_code == 200
    assert one.json() == patient

    fixed = await client.patch(
        f"{URL}/{patient['id']}", json={"birth_date": "1990-05-01"}, headers=staff.cho
    )
    assert fixed.status_code == 200, fixed.text
    assert fixed.json()["birth_date"] == "1990-05-01"

    assert [r.entity_id for r in await _audit(rt, "patient.read")] == [str(patient["id"])]
    assert [r.entity_id for r in await _audit(rt, "patient.list")] == [str(patient["id"])]
    assert len(await _audit(rt, "patient.update")) == 1


async def test_an_abha_failing_its_checksum_is_accepted_with_a_warning(client, staff):
    r = await client.post(URL, json={**BODY, "abha_number": "91-1234-5678-9016"}, headers=staff.cho)
    assert r.status_code == 201, r.text
    assert r.json()["warnings"] == ["abha_checksum_mismatch"]
    assert r.json()["abha_number"] == "91-1234-5678-9016"


BAD_BODIES = [
    ({"name": ""}, "name", "string_too_short"),
    ({"name": "42"}, "name", "name_letters"),
    ({"sex": "F"}, "sex", "literal_error"),
    ({"phone": "12345"}, "phone", "phone_format"),
    ({"age_years": 130}, "age_years", "less_than_equal"),
    ({"age_years": None}, "", "age_or_birth_date"),
    ({"age_years": None, "birth_date": "2999-01-01"}, "birth_date", "birth_date_in_future"),
    ({"abha_number": "rina.das@abdm"}, "abha_number", "abha_address_not_number"),
    ({"abha_number": "91-1234-5678"}, "abha_number", "abha_length"),
    ({"abha_number": "9112-3456-7890-15"}, "abha_number", "abha_grouping"),
    ({"relation_to_phone_owner": "boss"}, "relation_to_phone_owner", "literal_error"),
    ({"district_code": "howrah"}, "district_code", "extra_forbidden"),
]


async def test_bad_registrations_answer_422_with_the_field_and_reason(rt, client, staff):
    for change, field, kind in BAD_BODIES:
        body = {k: v for k, v in {**BODY, **change}.items()}
        r = await client.post(URL, json=body, headers=staff.cho)
        assert r.status_code == 422, (change, r.text)
        error = r.json()["error"]
        assert error["code"] == "validation_failed"
        assert {"field": field, "type": kind} in [
            {"field": d["field"], "type": d["type"]} for d in error["details"]
        ], (change, error)
    assert (await client.get(URL, params={"phone": BODY["phone"]}, headers=staff.cho)).json()[
        "patients"
    ] == []
    assert await _audit(rt, "patient.create") == []


async def test_duplicate_then_confirmed_and_abha_taken(client, staff):
    first = (await client.post(URL, json=BODY, headers=staff.cho)).json()
    r = await client.post(URL, json={**BODY, "name": "রিনা দাস"}, headers=staff.cho)
    assert r.status_code == 409
    error = r.json()["error"]
    assert error["code"] == "possible_duplicate"
    assert [c["id"] for c in error["details"]["candidates"]] == [first["id"]]
    assert error["details"]["confirm_field"] == "confirm_new"
    assert "phone" not in error["details"]["candidates"][0]
    # Bengali unless asked otherwise.
    assert "confirm_new" in error["message"] and "রোগী" in error["message"]

    r = await client.post(
        URL, json={**BODY, "name": "রিনা দাস", "confirm_new": True}, headers=staff.cho
    )
    assert r.status_code == 201

    with_abha = {**BODY, "name": "Tapas Mondal", "sex": "male", "abha_number": "91765432109872"}
    assert (await client.post(URL, json=with_abha, headers=staff.cho)).status_code == 201
    again = await client.post(
        URL,
        json={**with_abha, "name": "Someone Else", "phone": "9830099999"},
        headers={**staff.cho, "Accept-Language": "en"},
    )
    assert again.status_code == 409
    assert again.json()["error"]["code"] == "abha_taken"
    assert again.json()["error"]["message"] == (
        "This ABHA number is already registered to another patient."
    )


async def test_reach_and_roles(rt, client, staff):
    patient = (await client.post(URL, json=BODY, headers=staff.cho)).json()
    path = f"{URL}/{patient['id']}"
    for headers in (staff.cho, staff.kolkata_admin, staff.state_admin):
        assert (await client.get(path, headers=headers)).status_code == 200
    # Another district's CHO and a doctor without the patient's consult: as if missing.
    for headers in (staff.hills_cho, staff.doctor):
        r = await client.get(path, headers=headers)
        assert r.status_code == 404
        assert r.json()["error"]["code"] == "patient_not_found"
        assert r.json()["error"]["message"] == "এমন কোনো রোগী নেই।"
    missing = await client.get(f"{URL}/{patient['id'] + 1000}", headers=staff.cho)
    assert missing.status_code == 404
    assert missing.json() == (await client.get(path, headers=staff.hills_cho)).json()
    assert (
        await client.patch(path, json={"village": "X"}, headers=staff.hills_cho)
    ).status_code == 404
    assert (
        await client.get(URL, params={"phone": BODY["phone"]}, headers=staff.hills_cho)
    ).json() == {"patients": []}

    for role, scope in (
        ("viewer", "state"),
        ("control_room", "district:kolkata"),
        ("hospital_staff", f"facility:{(await factories.facility(rt)).code}"),
    ):
        headers = await factories.staff(client, rt, role, scope)
        for r in (
            await client.get(path, headers=headers),
            await client.get(URL, params={"phone": BODY["phone"]}, headers=headers),
            await client.post(URL, json={**BODY, "name": "Tapas"}, headers=headers),
            await client.patch(path, json={"village": "X"}, headers=headers),
        ):
            assert r.status_code == 403, (role, r.request.method, r.text)
            assert r.json()["error"]["code"] == "forbidden"
    # Admins read but do not register.
    r = await client.post(URL, json={**BODY, "name": "Tapas"}, headers=staff.state_admin)
    assert r.status_code == 403
    assert (await client.get(path)).status_code == 401
    reads = await _audit(rt, "patient.read")
    assert len(reads) == 3  # the three reads that answered 200


async def test_a_doctor_reads_a_patient_once_a_check_vouches(client, staff):
    patient = (await client.post(URL, json=BODY, headers=staff.cho)).json()
    path = f"{URL}/{patient['id']}"
    assert (await client.get(path, headers=staff.doctor)).status_code == 404

    async def assigned(session, actor, patient_id: int) -> bool:
        return actor.user_id == staff.doctor_user_id and patient_id == patient["id"]

    patient_service.register_assigned_check(assigned)
    try:
        r = await client.get(path, headers=staff.doctor)
        assert r.status_code == 200
        assert r.json()["id"] == patient["id"]
    finally:
        patient_service.unregister_assigned_check(assigned)
    assert (await client.get(path, headers=staff.doctor)).status_code == 404


BAD_SEARCHES = [
    ({}, "search_criteria_missing"),
    ({"phone": ""}, "search_criteria_missing"),
    ({"phone": "12"}, "validation_failed"),
    ({"abha": "x@abdm"}, "validation_failed"),
    ({"name": "r"}, "validation_failed"),
    ({"name": "rina", "limit": 0}, "validation_failed"),
    ({"name": "rina", "limit": 51}, "validation_failed"),
    ({"name": "x" * 121}, "validation_failed"),
]


async def test_bad_searches_answer_422(rt, client, staff):
    await client.post(URL, json=BODY, headers=staff.cho)
    for params, code in BAD_SEARCHES:
        r = await client.get(URL, params=params, headers=staff.cho)
        assert r.status_code == 422, (params, r.text)
        assert r.json()["error"]["code"] == code, params
    assert await _audit(rt, "patient.list") == []


async def test_a_family_is_found_by_phone(client, staff):
    names = [
        ("Rina Das", "female", 34, "self"),
        ("Tapas Das", "male", 38, "spouse"),
        ("Mitu Das", "female", 6, "child"),
    ]
    ids = []
    for name, sex, age, relation in names:
        body = {**BODY, "name": name, "sex": sex, "age_years": age}
        r = await client.post(
            URL, json={**body, "relation_to_phone_owner": relation}, headers=staff.cho
        )
        assert r.status_code == 201, r.text
        ids.append(r.json()["id"])
    r = await client.get(URL, params={"phone": "+91 98300 12345"}, headers=staff.cho)
    family = r.json()["patients"]
    assert [p["id"] for p in family] == ids
    assert [p["relation_to_phone_owner"] for p in family] == ["self", "spouse", "child"]
    assert [p["age_years"] for p in family] == [34, 38, 6]


async def test_a_retried_registration_is_answered_once(rt, client, staff):
    headers = {**staff.cho, "Idempotency-Key": "tablet-42"}
    first = await client.post(URL, json=BODY, headers=headers)
    again = await client.post(URL, json=BODY, headers=headers)
    assert first.status_code == again.status_code == 201
    assert again.headers.get("Idempotent-Replay") == "true"
    assert "Idempotent-Replay" not in first.headers
    assert again.json()["id"] == first.json()["id"]
    other = await client.post(URL, json={**BODY, "name": "Tapas Das"}, headers=headers)
    assert other.status_code == 422
    assert other.json()["error"]["code"] == "idempotency_key_reused"
    assert len(await _audit(rt, "patient.create")) == 1


async def test_openapi_documents_the_routes(client):
    spec = (await client.get("/openapi.json")).json()
    assert {"get", "post"} <= set(spec["paths"][URL])
    assert {"get", "patch"} <= set(spec["paths"][URL + "/{patient_id}"])
    assert "409" in spec["paths"][URL]["post"]["responses"]
