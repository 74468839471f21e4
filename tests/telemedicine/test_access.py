"""The policy table's row rules for teleconsultation and patients, walked: for every action of
these domains and every role, a principal with the row inside its reach is let through, one
with the row outside is answered as if the row did not exist (or refused, for a change), and a
role the table does not name is refused. The walk covers exactly the table's pairs, so a new
row in ``POLICY`` without a walk fails here.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import pytest

from seba.accounts import service as account_service
from seba.core.access import POLICY, ROLES, Principal, Reach
from seba.core.errors import NotFound, PermissionDenied
from seba.core.types import utcnow
from seba.patients import service as patient_service
from seba.telemedicine import doctors
from seba.telemedicine.consults import access, dispatch
from tests import factories
from tests.telemedicine import factories as tele

# The actions whose rows live in these domains; each is walked below.
WALKED = {
    "patient.create",
    "patient.read",
    "consult.create",
    "consult.read",
    "consult.manage",
    "attachment.read",
    "attachment.create",
    "prescription.read",
    "prescription.dispense",
    "consult.practice",
    "consult.take",
    "consult.call",
    "roster.read",
    "roster.manage",
}


@dataclass
class World:
    """A Kolkata consult in progress with doctor A, a queued one nobody has taken, and people
    inside and outside the reach of each."""

    patient_id: int
    held: int  # accepted by doctor A
    queued: int  # waiting, in the Kolkata–Howrah pool
    doctor_a: int  # doctor ids
    doctor_b: int
    doctor_hills: int
    inside: dict[str, Principal]
    outside: dict[str, Principal]


async def _principal(rt, client, username: str) -> Principal:
    return await account_service.principal_for_token(rt, await factories.token(client, username))


@pytest.fixture
async def world(rt, client) -> World:
    codes, cho_h, doc_h, doctor_a, patient_id = await tele.setup(rt, client)
    held = (
        await client.post(
            "/api/v1/consultations", json=tele.consult_body(patient_id), headers=cho_h
        )
    ).json()["id"]
    await client.post("/api/v1/doctors/me/presence", json={"status": "online"}, headers=doc_h)
    r = await client.post(f"/api/v1/consultations/{held}/accept", headers=doc_h)
    assert r.status_code == 200, r.text
    # Doctor B (same pool) stays offline, so the second consult waits in the queue.
    doctor_b = await factories.doctor(rt, codes["kolkata_hub"])
    hills = await factories.doctor(rt, codes["hills_hub"])
    queued = (
        await client.post(
            "/api/v1/consultations", json=tele.consult_body(patient_id), headers=cho_h
        )
    ).json()["id"]
    cho_in = await factories.cho(rt, codes["kolkata_spoke"])
    cho_out = await factories.cho(rt, codes["hills_spoke"])
    names = {
        "cho": cho_in.username,
        "state_admin": (await factories.user(rt, "state_admin")).username,
        "district_admin": (await factories.user(rt, "district_admin", "district:kolkata")).username,
        "control_room": (await factories.user(rt, "control_room", "district:kolkata")).username,
        "viewer": (await factories.user(rt, "viewer", "district:kolkata")).username,
        "counsellor": (await factories.user(rt, "counsellor")).username,
    }
    facility = await factories.facility(rt, district_code="kolkata")
    names["hospital_staff"] = (
        await factories.user(rt, "hospital_staff", f"facility:{facility.code}")
    ).username
    inside = {role: await _principal(rt, client, name) for role, name in names.items()}
    inside["doctor"] = await _principal(rt, client, await tele.username(rt, doctor_a.user_id))
    outside = {
        "cho": await _principal(rt, client, cho_out.username),
        "district_admin": await _principal(
            rt,
            client,
            (await factories.user(rt, "district_admin", "district:darjeeling")).username,
        ),
        "doctor": await _principal(rt, client, await tele.username(rt, hills.user_id)),
    }
    return World(
        patient_id=patient_id,
        held=held,
        queued=queued,
        doctor_a=doctor_a.id,
        doctor_b=doctor_b.id,
        doctor_hills=hills.id,
        inside=inside,
        outside=outside,
    )


Probe = Callable[[object, World, Principal, str], Awaitable[object]]


async def _patient(rt, w: World, who: Principal, action: str):
    async with rt.db.read() as session:
        return await patient_service.access_patient(session, who, w.patient_id, action)


async def _consult(rt, w: World, who: Principal, action: str):
    async with rt.db.read() as session:
        return await access.access_consult(session, who, w.held, action)


async def _take(rt, w: World, who: Principal, action: str):
    async with rt.db.read() as session:
        return await access.access_consult(
            session, who, w.queued, action, now=utcnow(), policy=dispatch.policy_for(rt)
        )


async def _roster(rt, w: World, who: Principal, action: str):
    async with rt.db.read() as session:
        return await doctors.access_doctor(session, who, w.doctor_a, action)


PROBES: dict[str, Probe] = {
    "patient.create": _patient,
    "patient.read": _patient,
    "consult.create": _consult,
    "consult.read": _consult,
    "consult.manage": _consult,
    "attachment.read": _consult,
    "attachment.create": _consult,
    "prescription.read": _consult,
    "prescription.dispense": _consult,
    "consult.practice": _consult,
    "consult.take": _take,
    "consult.call": _consult,
    "roster.read": _roster,
    "roster.manage": _roster,
}


def test_every_row_rule_of_these_domains_is_walked():
    assert set(PROBES) == WALKED
    domain = {a for a in POLICY if a.split(".")[0] in ("patient", "consult", "attachment")}
    domain |= {a for a in POLICY if a.startswith(("prescription.", "roster."))}
    assert domain == WALKED


async def _walk(rt, client, world: World, action: str, role: str) -> str | None:
    """What is wrong with ``role`` taking ``action`` (None: it follows the table)."""
    probe = PROBES[action]
    rule = POLICY[action].get(role)
    who = world.inside[role]
    if rule is None:
        try:
            await probe(rt, world, who, action)
        except PermissionDenied:
            return None
        return "a role the table does not name was let through"
    if rule is Reach.POOL:
        who = await _principal_of_doctor(rt, client, world.doctor_b)
    try:
        await probe(rt, world, who, action)
    except (NotFound, PermissionDenied) as exc:
        return f"inside its reach ({rule}) but refused: {exc.code}"
    outsider = world.outside.get(role)
    if outsider is None:
        # The state reaches everything: there is no one of this role outside.
        return None if who.scope_kind == "state" else "no outsider to walk"
    expected = PermissionDenied if action == "roster.manage" else NotFound
    try:
        await probe(rt, world, outsider, action)
    except expected:
        return None
    except (NotFound, PermissionDenied) as exc:
        return f"outside its reach, refused as {exc.code} instead of {expected.__name__}"
    return f"outside its reach ({rule}) but let through"


async def test_the_row_rule_of_each_role(rt, client, world: World):
    # One world, every pair: building the world (logins with argon2 hashes) is the slow part.
    wrong = {
        (action, role): problem
        for action in sorted(WALKED)
        for role in ROLES
        if (problem := await _walk(rt, client, world, action, role)) is not None
    }
    assert wrong == {}


async def _principal_of_doctor(rt, client, doctor_id: int) -> Principal:
    from seba.telemedicine.models import Doctor

    async with rt.db.read() as session:
        user_id = (await session.get(Doctor, doctor_id)).user_id
    return await _principal(rt, client, await tele.username(rt, user_id))


async def test_pool_reach_widens_with_the_wait_and_never_to_the_one_who_let_it_lapse(
    rt, client, world: World
):
    hills = world.outside["doctor"]
    policy = dispatch.policy_for(rt)
    with pytest.raises(NotFound):
        await _take(rt, world, hills, "consult.take")
    # After the neighbour threshold the Hills pool reaches a Kolkata consult (overflow).
    await tele.time_passes(rt, policy.neighbour_after_s + 1)
    assert await _take(rt, world, hills, "consult.take") is not None
    # The consult's own doctor B declines by letting an offer lapse: never offered again.
    from sqlalchemy import update

    from seba.telemedicine.models import Consultation

    async with rt.db.write_session() as session, session.begin():
        await session.execute(
            update(Consultation)
            .where(Consultation.id == world.queued)
            .values(declined_by=[world.doctor_b])
        )
    doctor_b = await _principal_of_doctor(rt, client, world.doctor_b)
    with pytest.raises(NotFound):
        await _take(rt, world, doctor_b, "consult.take")


async def test_a_doctor_cannot_take_a_consult_outside_their_pools_by_its_id(rt, client, world):
    """The escape the probe found: a Hills doctor accepting a Kolkata consult by id, then
    reading the patient. Now it looks missing, and the patient stays out of reach."""
    hills_user = world.outside["doctor"].username
    headers = {"Authorization": f"Bearer {await factories.token(client, hills_user)}"}
    await client.post("/api/v1/doctors/me/presence", json={"status": "online"}, headers=headers)
    r = await client.post(f"/api/v1/consultations/{world.queued}/accept", headers=headers)
    assert r.status_code == 404 and r.json()["error"]["code"] == "unknown_consult"
    r = await client.get(f"/api/v1/patients/{world.patient_id}", headers=headers)
    assert r.status_code == 404
    # Doctor B, in the pool, takes it.
    b_user = (await _principal_of_doctor(rt, client, world.doctor_b)).username
    b_headers = {"Authorization": f"Bearer {await factories.token(client, b_user)}"}
    await client.post("/api/v1/doctors/me/presence", json={"status": "online"}, headers=b_headers)
    r = await client.post(f"/api/v1/consultations/{world.queued}/accept", headers=b_headers)
    assert r.status_code == 200, r.text
    r = await client.get(f"/api/v1/patients/{world.patient_id}", headers=b_headers)
    assert r.status_code == 200
