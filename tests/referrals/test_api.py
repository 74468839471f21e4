"""The referral API edge by edge: refused input (answered in the one error shape, writing
nothing), idempotent retries, expiry without the worker, moving a hold, transfers, audited
reads, the control room's queue order and the board's figures."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from zoneinfo import ZoneInfo

import httpx
from sqlalchemy import func, select, update

from seba.accounts import service as account_service
from seba.beds import service as bed_service
from seba.beds.models import BedEvent, BedPool
from seba.beds.service import PoolCounts
from seba.core.access import SYSTEM
from seba.core.audit import AuditEntry
from seba.core.db import transactional
from seba.core.idempotency import IdempotencyRecord
from seba.core.outbox import OutboxMessage
from seba.core.runtime import Runtime
from seba.core.types import utcnow
from seba.places.models import Facility
from seba.referrals import service as referral_service
from seba.referrals.models import AdmissionRequest, Referral
from tests import factories

IST = ZoneInfo("Asia/Kolkata")
MISSING = 999_999


def _patient(n: int, sex: str = "female") -> dict:
    return {"name": f"Patient {n}", "age": 40 + n % 40, "sex": sex, "phone": f"98300{n:05d}"}


@dataclass
class World:
    alpha: Facility  # Kolkata: oxygen for women (2 free) and mixed (1), one mixed ICU bed
    beta: Facility  # Howrah: 5 general and 2 mixed oxygen beds, no ICU
    auth: dict[str, dict[str, str]]


async def _world(rt: Runtime, client: httpx.AsyncClient, *roles: str) -> World:
    """Two facilities and logged-in staff: ``control`` (state control room), ``ward`` (hospital
    staff of alpha), ``viewer`` — only those asked for (logins are slow on purpose)."""
    await factories.districts(rt)
    alpha = await factories.facility(rt, code="alpha")
    beta = await factories.facility(rt, code="beta", district_code="howrah", lat=22.59, lon=88.31)
    await factories.census(
        rt, alpha, [("oxygen", "female", 3, 1), ("oxygen", "any", 1, 0), ("icu", "any", 1, 0)]
    )
    await factories.census(rt, beta, [("general", "any", 5, 0), ("oxygen", "any", 2, 0)])
    scopes = {
        "control": ("control_room", "state"),
        "ward": ("hospital_staff", "facility:alpha"),
        "viewer": ("viewer", "state"),
    }
    auth = {name: await factories.staff(client, rt, *scopes[name]) for name in roles}
    return World(alpha=alpha, beta=beta, auth=auth)


def _error(response: httpx.Response, status: int, code: str | None = None) -> dict:
    """Assert the one error shape and return its ``error`` object."""
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"error"}, body
    assert set(body["error"]) == {"code", "message", "details"}, body
    assert body["error"]["message"]
    if code is not None:
        assert body["error"]["code"] == code, body
    return body["error"]


async def _reserve(client, auth, facility_id, n, bed_type="oxygen", sex="female"):
    r = await client.post(
        "/api/v1/referrals",
        json={"patient": _patient(n, sex), "facility_id": facility_id, "bed_type": bed_type},
        headers=auth,
    )
    assert r.status_code == 201, r.text
    return r.json()


async def _post(client, path, auth, body=None, **headers):
    return await client.post(path, json=body, headers=auth | headers)


async def _snapshot(rt: Runtime) -> dict:
    """Every row a referral call may write."""
    async with rt.db.read() as s:
        counts = {
            model.__tablename__: await s.scalar(select(func.count()).select_from(model))
            for model in (
                Referral,
                AdmissionRequest,
                BedEvent,
                AuditEntry,
                OutboxMessage,
                IdempotencyRecord,
            )
        }
        pools = {
            p.id: PoolCounts(p.total, p.occupied, p.reserved)
            for p in await s.scalars(select(BedPool))
        }
        referrals = dict((await s.execute(select(Referral.id, Referral.status))).all())
        requests = dict(
            (await s.execute(select(AdmissionRequest.id, AdmissionRequest.status))).all()
        )
    return {"counts": counts, "pools": pools, "referrals": referrals, "requests": requests}


async def _pool(rt: Runtime, facility: Facility, bed_type: str, sex: str) -> PoolCounts:
    async with rt.db.read() as s:
        p = await s.scalar(
            select(BedPool).where(
                BedPool.facility_id == facility.id, BedPool.bed_type == bed_type, BedPool.sex == sex
            )
        )
    return PoolCounts(p.total, p.occupied, p.reserved)


async def _ledger_whole(rt: Runtime) -> None:
    async with rt.db.read() as s:
        rows = {
            p.id: PoolCounts(p.total, p.occupied, p.reserved)
            for p in await s.scalars(select(BedPool))
        }
        assert await bed_service.replay_ledger(s) == rows


async def _set(rt: Runtime, model, row_id: int, **values) -> None:
    """Move a row's timestamps (the test's clock): a plain UPDATE, past every service."""
    async with transactional(rt.db) as s:
        await s.execute(update(model).where(model.id == row_id).values(**values))


# ---------------------------------------------------------------- refused input


async def test_refused_input_answers_the_error_shape_and_writes_nothing(rt, client):
    w = await _world(rt, client, "control", "ward", "viewer")
    control, ward, viewer = w.auth["control"], w.auth["ward"], w.auth["viewer"]
    held = await _reserve(client, control, w.alpha.id, 1)
    admitted = await _reserve(client, control, w.alpha.id, 2)
    assert (
        await _post(client, f"/api/v1/referrals/{admitted['id']}/admit", ward)
    ).status_code == 200
    elsewhere = await _reserve(client, control, w.beta.id, 3, bed_type="general")
    before = await _snapshot(rt)

    new = {"patient": _patient(9), "facility_id": w.alpha.id, "bed_type": "oxygen"}
    walk_in = {"patient": _patient(9), "bed_type": "oxygen"}
    # (method, path, auth, body, status, code)
    cases = [
        # unknown things
        (
            "post",
            "/api/v1/referrals",
            control,
            new | {"facility_id": MISSING},
            404,
            "facility_not_found",
        ),
        (
            "post",
            f"/api/v1/facilities/{MISSING}/admissions",
            ward,
            walk_in,
            404,
            "facility_not_found",
        ),
        (
            "post",
            "/api/v1/referrals",
            control,
            {"request_id": MISSING, "facility_id": w.alpha.id, "bed_type": "oxygen"},
            404,
            "request_not_found",
        ),
        ("get", f"/api/v1/referrals/{MISSING}", control, None, 404, "referral_not_found"),
        ("post", f"/api/v1/referrals/{MISSING}/confirm", ward, None, 404, "referral_not_found"),
        (
            "post",
            f"/api/v1/referrals/{MISSING}/reject",
            ward,
            {"reason": "full up"},
            404,
            "referral_not_found",
        ),
        ("post", f"/api/v1/referrals/{MISSING}/admit", ward, None, 404, "referral_not_found"),
        ("post", f"/api/v1/referrals/{MISSING}/cancel", control, None, 404, "referral_not_found"),
        (
            "post",
            f"/api/v1/referrals/{MISSING}/move",
            control,
            {"facility_id": w.beta.id},
            404,
            "referral_not_found",
        ),
        (
            "post",
            f"/api/v1/referrals/{held['id']}/move",
            control,
            {"facility_id": MISSING},
            404,
            "facility_not_found",
        ),
        ("post", f"/api/v1/admissions/{MISSING}/discharge", ward, None, 404, "referral_not_found"),
        (
            "post",
            f"/api/v1/admissions/{MISSING}/transfer",
            ward,
            {"need": "icu"},
            404,
            "referral_not_found",
        ),
        # another facility's referral looks missing to hospital staff (patient data)
        ("get", f"/api/v1/referrals/{elsewhere['id']}", ward, None, 404, "referral_not_found"),
        (
            "post",
            f"/api/v1/referrals/{elsewhere['id']}/confirm",
            ward,
            None,
            404,
            "referral_not_found",
        ),
        (
            "post",
            f"/api/v1/referrals/{elsewhere['id']}/admit",
            ward,
            None,
            404,
            "referral_not_found",
        ),
        (
            "post",
            f"/api/v1/referrals/{elsewhere['id']}/reject",
            ward,
            {"reason": "full up"},
            404,
            "referral_not_found",
        ),
        # a facility is public: out of scope is a plain 403
        ("get", f"/api/v1/facilities/{w.beta.id}/referrals", ward, None, 403, "out_of_scope"),
        (
            "post",
            f"/api/v1/facilities/{w.beta.id}/admissions",
            ward,
            walk_in | {"bed_type": "general"},
            403,
            "out_of_scope",
        ),
        # wrong state
        (
            "post",
            f"/api/v1/referrals/{held['id']}/move",
            control,
            {"facility_id": w.beta.id, "bed_type": "icu"},
            409,
            "no_bed_available",
        ),
        (
            "post",
            f"/api/v1/admissions/{held['id']}/discharge",
            ward,
            None,
            409,
            "invalid_referral_state",
        ),
        (
            "post",
            f"/api/v1/admissions/{held['id']}/transfer",
            ward,
            {"need": "icu"},
            409,
            "invalid_referral_state",
        ),
        (
            "post",
            f"/api/v1/referrals/{admitted['id']}/confirm",
            ward,
            None,
            409,
            "invalid_referral_state",
        ),
        (
            "post",
            f"/api/v1/referrals/{admitted['id']}/reject",
            ward,
            {"reason": "full up"},
            409,
            "invalid_referral_state",
        ),
        (
            "post",
            f"/api/v1/referrals/{admitted['id']}/cancel",
            control,
            None,
            409,
            "invalid_referral_state",
        ),
        (
            "post",
            "/api/v1/referrals",
            control,
            {"request_id": held["request_id"], "facility_id": w.beta.id, "bed_type": "general"},
            409,
            "request_not_waiting",
        ),
        (
            "post",
            "/api/v1/referrals",
            control,
            new | {"bed_type": "icu", "facility_id": w.beta.id},
            409,
            "no_bed_available",
        ),
        # roles: viewers never see patients; the control room does not answer for hospitals
        ("post", "/api/v1/referrals", viewer, new, 403, "forbidden"),
        ("get", f"/api/v1/referrals/{held['id']}", viewer, None, 403, "forbidden"),
        ("post", f"/api/v1/referrals/{held['id']}/confirm", viewer, None, 403, "forbidden"),
        ("post", f"/api/v1/referrals/{held['id']}/confirm", control, None, 403, "forbidden"),
        ("post", f"/api/v1/referrals/{held['id']}/cancel", viewer, None, 403, "forbidden"),
        (
            "post",
            f"/api/v1/referrals/{held['id']}/move",
            ward,
            {"facility_id": w.beta.id},
            403,
            "forbidden",
        ),
        ("post", f"/api/v1/admissions/{admitted['id']}/discharge", control, None, 403, "forbidden"),
        ("post", f"/api/v1/facilities/{w.alpha.id}/admissions", viewer, walk_in, 403, "forbidden"),
        (
            "post",
            "/api/v1/admission-requests/by-phone",
            ward,
            {"patient": _patient(9), "district": "kolkata"},
            403,
            "forbidden",
        ),
        ("get", "/api/v1/control-room/queue", viewer, None, 403, "forbidden"),
        ("get", "/api/v1/control-room/queue", ward, None, 403, "forbidden"),
        ("get", "/api/v1/control-room/board", viewer, None, 403, "forbidden"),
        ("get", f"/api/v1/facilities/{w.alpha.id}/referrals", viewer, None, 403, "forbidden"),
        # malformed bodies and paths
        (
            "post",
            "/api/v1/referrals",
            control,
            {**new, "request_id": held["request_id"]},
            422,
            "request_or_patient",
        ),
        (
            "post",
            "/api/v1/referrals",
            control,
            {"facility_id": w.alpha.id, "bed_type": "oxygen"},
            422,
            "request_or_patient",
        ),
        (
            "post",
            "/api/v1/referrals",
            control,
            {**new, "bed_type": "sofa"},
            422,
            "validation_failed",
        ),
        (
            "post",
            "/api/v1/referrals",
            control,
            {**new, "facility_id": "alpha"},
            422,
            "validation_failed",
        ),
        (
            "post",
            "/api/v1/referrals",
            control,
            {**new, "facility_id": 2**40},
            422,
            "validation_failed",
        ),
        (
            "post",
            "/api/v1/referrals",
            control,
            {**new, "patient": _patient(9) | {"phone": "12345"}},
            422,
            "validation_failed",
        ),
        (
            "post",
            "/api/v1/referrals",
            control,
            {**new, "patient": _patient(9) | {"age": 200}},
            422,
            "validation_failed",
        ),
        (
            "post",
            "/api/v1/referrals",
            control,
            {**new, "patient": _patient(9) | {"name": "Ri\x00na"}},
            422,
            "validation_failed",
        ),
        ("post", "/api/v1/referrals", control, {**new, "surprise": 1}, 422, "validation_failed"),
        (
            "post",
            "/api/v1/referrals",
            control,
            {**new, "district": "Not A District"},
            422,
            "validation_failed",
        ),
        (
            "post",
            "/api/v1/referrals",
            control,
            {**new, "district": "atlantis"},
            422,
            "unknown_district",
        ),
        ("post", "/api/v1/referrals", control, [1, 2], 422, "validation_failed"),
        (
            "post",
            f"/api/v1/referrals/{held['id']}/reject",
            ward,
            {"reason": "no"},
            422,
            "validation_failed",
        ),
        ("post", f"/api/v1/referrals/{held['id']}/reject", ward, None, 422, "validation_failed"),
        (
            "post",
            f"/api/v1/admissions/{admitted['id']}/discharge",
            ward,
            {"outcome": "escaped"},
            422,
            "validation_failed",
        ),
        (
            "post",
            f"/api/v1/admissions/{admitted['id']}/transfer",
            ward,
            {"need": "sofa"},
            422,
            "validation_failed",
        ),
        (
            "post",
            f"/api/v1/facilities/{w.alpha.id}/admissions",
            ward,
            {"bed_type": "oxygen"},
            422,
            "validation_failed",
        ),
        (
            "post",
            f"/api/v1/referrals/{held['id']}/move",
            control,
            {"facility_id": 0},
            422,
            "validation_failed",
        ),
        ("post", "/api/v1/referrals/0/confirm", ward, None, 422, "validation_failed"),
        ("get", "/api/v1/referrals/not-a-number", control, None, 422, "validation_failed"),
        ("post", f"/api/v1/referrals/{2**31}/admit", ward, None, 422, "validation_failed"),
    ]
    for method, path, auth, body, status, code in cases:
        if method == "get":
            response = await client.get(path, headers=auth)
        else:
            response = await client.post(path, json=body, headers=auth)
        assert response.status_code == status, (method, path, body, response.text)
        _error(response, status, code)

    # No token at all: 401 everywhere, with the challenge header.
    for method, path in [
        ("post", "/api/v1/referrals"),
        ("get", f"/api/v1/referrals/{held['id']}"),
        ("post", f"/api/v1/referrals/{held['id']}/confirm"),
        ("post", f"/api/v1/referrals/{held['id']}/cancel"),
        ("post", f"/api/v1/admissions/{admitted['id']}/discharge"),
        ("post", f"/api/v1/facilities/{w.alpha.id}/admissions"),
        ("get", "/api/v1/control-room/queue"),
        ("get", "/api/v1/control-room/board"),
        ("get", f"/api/v1/facilities/{w.alpha.id}/referrals"),
    ]:
        response = await client.request(method, path, json=new if method == "post" else None)
        _error(response, 401)
        assert response.headers["www-authenticate"] == "Bearer"
    no_body = await client.post(f"/api/v1/referrals/{held['id']}/confirm")
    _error(no_body, 401)
    bad_token = await client.post(
        f"/api/v1/referrals/{held['id']}/confirm", headers={"Authorization": "Bearer nope"}
    )
    _error(bad_token, 401, "invalid_token")

    # Bad Idempotency-Keys are refused before anything happens.
    for key in ("", "x" * 121, "tab\tkey"):
        response = await _post(
            client, f"/api/v1/referrals/{held['id']}/confirm", ward, **{"Idempotency-Key": key}
        )
        _error(response, 422)

    assert await _snapshot(rt) == before
    await _ledger_whole(rt)


async def test_expired_reservation_cannot_be_answered(rt, client):
    w = await _world(rt, client, "control", "ward")
    held = await _reserve(client, w.auth["control"], w.alpha.id, 1)
    await _set(rt, Referral, held["id"], expires_at=utcnow() - timedelta(seconds=1))
    before = await _snapshot(rt)
    for step, body in (("confirm", None), ("admit", None), ("reject", {"reason": "too late"})):
        response = await _post(
            client, f"/api/v1/referrals/{held['id']}/{step}", w.auth["ward"], body
        )
        # The sweep that found it expired rolled back with the refusal: nothing changed yet.
        _error(response, 409, "reservation_expired")
    assert await _snapshot(rt) == before


# ---------------------------------------------------------------- idempotent retries


async def test_idempotent_retries_of_hospital_steps(rt, client):
    w = await _world(rt, client, "control", "ward")
    ward = w.auth["ward"]
    held = await _reserve(client, w.auth["control"], w.alpha.id, 1)
    base = f"/api/v1/referrals/{held['id']}"
    steps = [
        (f"{base}/confirm", None, "confirmed"),
        (f"{base}/admit", None, "admitted"),
        (f"/api/v1/admissions/{held['id']}/discharge", {"outcome": "died", "reason": "x"}, "died"),
    ]
    for i, (path, body, status) in enumerate(steps):
        key = {"Idempotency-Key": f"step-{i}"}
        first = await _post(client, path, ward, body, **key)
        assert first.status_code == 200 and first.json()["status"] == status, first.text
        assert "Idempotent-Replay" not in first.headers
        snapshot = await _snapshot(rt)
        again = await _post(client, path, ward, body, **key)
        assert again.status_code == 200, again.text
        assert again.headers["Idempotent-Replay"] == "true"
        assert again.json() == first.json()
        assert await _snapshot(rt) == snapshot  # the retry changed nothing
        # Without the key the same step is a new request, refused in its new state.
        _error(await _post(client, path, ward, body), 409, "invalid_referral_state")
        # The same key for another request is a client bug, refused.
        if body is not None:
            reused = await _post(client, path, ward, body | {"reason": "other"}, **key)
            _error(reused, 422, "idempotency_key_reused")
    assert await _pool(rt, w.alpha, "oxygen", "female") == PoolCounts(3, 1, 0)

    walk_in = {"patient": _patient(5, "male"), "bed_type": "icu"}
    path = f"/api/v1/facilities/{w.alpha.id}/admissions"
    first = await _post(client, path, ward, walk_in, **{"Idempotency-Key": "door-1"})
    assert first.status_code == 201 and first.json()["status"] == "admitted", first.text
    snapshot = await _snapshot(rt)
    again = await _post(client, path, ward, walk_in, **{"Idempotency-Key": "door-1"})
    assert again.status_code == 201 and again.headers["Idempotent-Replay"] == "true"
    assert again.json() == first.json()
    assert await _snapshot(rt) == snapshot
    assert await _pool(rt, w.alpha, "icu", "any") == PoolCounts(1, 1, 0)
    # A second walk-in finds the one ICU bed taken.
    _error(await _post(client, path, ward, walk_in), 409, "no_bed_available")
    await _ledger_whole(rt)


# ---------------------------------------------------------------- expiry without the worker


async def test_expired_hold_is_released_by_the_next_reservation(rt, client):
    w = await _world(rt, client, "control")
    control = w.auth["control"]
    # The ICU pool has one bed: the second reservation can only succeed with the first's bed.
    first = await _reserve(client, control, w.alpha.id, 1, bed_type="icu", sex="male")
    r = await _post(
        client,
        "/api/v1/referrals",
        control,
        {"patient": _patient(2, "male"), "facility_id": w.alpha.id, "bed_type": "icu"},
    )
    _error(r, 409, "no_bed_available")
    await _set(rt, Referral, first["id"], expires_at=utcnow() - timedelta(seconds=1))
    second = await _reserve(client, control, w.alpha.id, 2, bed_type="icu", sex="male")
    assert await _pool(rt, w.alpha, "icu", "any") == PoolCounts(1, 0, 1)
    async with rt.db.read() as s:
        expired = await s.get(Referral, first["id"])
        request = await s.get(AdmissionRequest, first["request_id"])
        events = list(
            await s.scalars(
                select(BedEvent).where(BedEvent.pool_id == expired.pool_id).order_by(BedEvent.id)
            )
        )
        audit = await s.scalar(
            select(AuditEntry).where(
                AuditEntry.action == "referral.expire", AuditEntry.entity_id == str(first["id"])
            )
        )
    assert expired.status == "expired" and expired.ended_at is not None
    # The family's request is back in the queue, at the top of its class.
    assert request.status == "waiting" and request.requeued_at is not None
    assert [e.kind for e in events] == ["census", "reserve", "release", "reserve"]
    release, reserve = events[-2:]
    # Same transaction: the release and the new hold carry the one clock reading it took.
    assert release.at == reserve.at == expired.ended_at
    assert release.reason == "hold expired" and reserve.reason.endswith(second["reference"])
    assert audit is not None and audit.actor_name == "system"
    await _ledger_whole(rt)


# ---------------------------------------------------------------- moving, transfer, reads


async def test_move_a_hold_to_another_facility(rt, client):
    w = await _world(rt, client, "control")
    control = w.auth["control"]
    # Each hospital's bed manager gives a mobile: the notices go there, never to the
    # hospital's public number.
    for code, mobile in (("alpha", "98300 70001"), ("beta", "98300 70002")):
        await account_service.create_user(
            rt,
            actor=SYSTEM,
            username=f"{code}-manager",
            password=factories.PASSWORD,
            role="hospital_staff",
            scope=f"facility:{code}",
            mobile=mobile,
        )
    held = await _reserve(client, control, w.alpha.id, 1)
    r = await _post(
        client, f"/api/v1/referrals/{held['id']}/move", control, {"facility_id": w.beta.id}
    )
    assert r.status_code == 200, r.text
    moved = r.json()
    assert moved["id"] != held["id"] and moved["status"] == "reserved"
    assert moved["facility_id"] == w.beta.id and moved["bed_type"] == "oxygen"
    assert moved["request_id"] == held["request_id"]
    assert await _pool(rt, w.alpha, "oxygen", "female") == PoolCounts(3, 1, 0)
    assert await _pool(rt, w.beta, "oxygen", "any") == PoolCounts(2, 0, 1)
    async with rt.db.read() as s:
        old = await s.get(Referral, held["id"])
        request = await s.get(AdmissionRequest, held["request_id"])
        audit = await s.scalar(select(AuditEntry).where(AuditEntry.action == "referral.move"))
        sms = list(
            await s.scalars(
                select(OutboxMessage.recipient).where(
                    OutboxMessage.body.contains(held["reference"])
                )
            )
        )
    assert (old.status, old.reason) == ("cancelled", "moved")
    assert request.status == "reserved"
    assert audit.after == {"referral_id": moved["id"], "facility": "beta"}
    # The family hears of both holds, and each hospital of its own.
    assert sorted(sms) == sorted(["+919830000001"] * 2 + ["+919830070001", "+919830070002"])

    # Moving the new hold to a facility with no bed of its type changes nothing.
    before = await _snapshot(rt)
    r = await _post(
        client,
        f"/api/v1/referrals/{moved['id']}/move",
        control,
        {"facility_id": w.alpha.id, "bed_type": "general"},
    )
    _error(r, 409, "no_bed_available")
    assert await _snapshot(rt) == before
    # Moving a hold that is no longer held is refused.
    r = await _post(
        client, f"/api/v1/referrals/{held['id']}/move", control, {"facility_id": w.beta.id}
    )
    _error(r, 409, "invalid_referral_state")
    await _ledger_whole(rt)


async def test_transfer_opens_a_new_waiting_request(rt, client):
    w = await _world(rt, client, "control", "ward")
    held = await _reserve(client, w.auth["control"], w.alpha.id, 1)
    r = await _post(client, f"/api/v1/referrals/{held['id']}/admit", w.auth["ward"])
    assert r.status_code == 200
    assert await _pool(rt, w.alpha, "oxygen", "female") == PoolCounts(3, 2, 0)
    r = await _post(
        client,
        f"/api/v1/admissions/{held['id']}/transfer",
        w.auth["ward"],
        {"need": "icu", "condition": "severe", "reason": "needs a ventilator soon"},
    )
    assert r.status_code == 200, r.text
    out = r.json()
    assert out["status"] == "transferred" and out["transfer_request_id"]
    assert await _pool(rt, w.alpha, "oxygen", "female") == PoolCounts(3, 1, 0)
    async with rt.db.read() as s:
        old = await s.get(AdmissionRequest, held["request_id"])
        new = await s.get(AdmissionRequest, out["transfer_request_id"])
    assert old.status == "closed"
    assert (new.source, new.status, new.need, new.condition, new.severity) == (
        "transfer",
        "waiting",
        "icu",
        "severe",
        0,
    )
    assert (new.patient_name, new.phone) == (old.patient_name, old.phone)
    assert new.notes.endswith("needs a ventilator soon")
    queue = (await client.get("/api/v1/control-room/queue", headers=w.auth["control"])).json()
    assert [q["id"] for q in queue["requests"]] == [new.id]
    # Its only ICU bed is at alpha, which it is leaving; the queue still offers it.
    assert [s["facility_id"] for s in queue["requests"][0]["suggestions"]] == [w.alpha.id]
    await _ledger_whole(rt)


async def test_reading_a_referral_is_audited(rt, client):
    w = await _world(rt, client, "control", "ward")
    held = await _reserve(client, w.auth["control"], w.alpha.id, 1)
    for who in ("ward", "control"):
        r = await client.get(f"/api/v1/referrals/{held['id']}", headers=w.auth[who])
        assert r.status_code == 200, r.text
        assert r.json()["patient"]["name"] == "Patient 1"
    async with rt.db.read() as s:
        reads = list(
            await s.scalars(
                select(AuditEntry)
                .where(AuditEntry.action == "patient.read")
                .order_by(AuditEntry.id)
            )
        )
    assert [(a.entity_type, a.entity_id) for a in reads] == [("referral", str(held["id"]))] * 2
    assert reads[0].actor_name.startswith("hospital-staff-")
    assert reads[1].actor_name.startswith("control-room-")
    assert all(a.actor_id is not None for a in reads)


# ---------------------------------------------------------------- the control room


async def test_queue_orders_by_severity_then_wait_with_sent_back_first(rt, client):
    w = await _world(rt, client, "control", "ward")
    control = w.auth["control"]
    now = utcnow()

    async def caller(n: int, condition: str, waited_min: int) -> int:
        r = await _post(
            client,
            "/api/v1/admission-requests/by-phone",
            control,
            {
                "patient": _patient(n),
                "district": "kolkata",
                "condition": condition,
                "need": "oxygen",
            },
        )
        assert r.status_code == 201, r.text
        await _set(
            rt, AdmissionRequest, r.json()["id"], created_at=now - timedelta(minutes=waited_min)
        )
        return r.json()["id"]

    mild_oldest = await caller(1, "mild", 300)
    moderate_old = await caller(2, "moderate", 120)
    moderate_new = await caller(3, "moderate", 10)
    severe_new = await caller(4, "severe", 5)
    severe_old = await caller(5, "severe", 50)
    rejected = await caller(6, "moderate", 15)
    expired = await caller(7, "moderate", 20)
    mild_rejected = await caller(8, "mild", 1)

    async def hold(request_id: int) -> int:
        r = await _post(
            client,
            "/api/v1/referrals",
            control,
            {"request_id": request_id, "facility_id": w.alpha.id, "bed_type": "oxygen"},
        )
        assert r.status_code == 201, r.text
        return r.json()["id"]

    # Sent back in this order: the two rejected ones, then the expired one.
    for request_id in (rejected, mild_rejected):
        referral_id = await hold(request_id)
        r = await _post(
            client, f"/api/v1/referrals/{referral_id}/reject", w.auth["ward"], {"reason": "full"}
        )
        assert r.status_code == 200, r.text
    referral_id = await hold(expired)
    await _set(rt, Referral, referral_id, expires_at=utcnow() - timedelta(seconds=1))
    assert await referral_service.release_expired(rt) == 1

    r = await client.get("/api/v1/control-room/queue", headers=control)
    assert r.status_code == 200, r.text
    order = [q["id"] for q in r.json()["requests"]]
    assert order == [
        severe_old,
        severe_new,
        rejected,
        expired,
        moderate_old,
        moderate_new,
        mild_rejected,
        mild_oldest,
    ]
    waits = {q["id"]: q["wait_s"] for q in r.json()["requests"]}
    assert 300 * 60 <= waits[mild_oldest] < 301 * 60
    async with rt.db.read() as s:
        listed = await s.scalar(select(AuditEntry).where(AuditEntry.action == "patient.list"))
    assert listed.after["requests"] == order  # who saw which patients is written down


async def test_board_counts_and_timings(rt, client):
    w = await _world(rt, client, "control", "ward")
    control, ward = w.auth["control"], w.auth["ward"]
    now = utcnow()
    recent = now - timedelta(seconds=1)  # today in Kolkata (unless run in its first second)
    today = now.astimezone(IST).replace(hour=0, minute=0, second=0, microsecond=0)
    week = today - timedelta(days=today.weekday())

    for n in (1, 2):
        r = await _post(
            client,
            "/api/v1/admission-requests/by-phone",
            control,
            {"patient": _patient(n), "district": "kolkata"},
        )
        assert r.status_code == 201
    await factories.census(rt, w.alpha, [("general", "any", 10, 0)])
    refs = [
        await _reserve(client, control, w.alpha.id, 10 + n, bed_type="general") for n in range(5)
    ]
    # Request → reservation took 60 s, 120 s and 600 s today; 30 s earlier this week (if this
    # week has an earlier day); 5 s last week (never counted).
    timings = [(refs[0], 60, recent), (refs[1], 120, recent), (refs[2], 600, recent)]
    earlier_this_week = today - timedelta(minutes=1)
    timings.append((refs[3], 30, earlier_this_week))
    timings.append((refs[4], 5, now - timedelta(days=8)))
    for ref, took, at in timings:
        await _set(
            rt,
            AdmissionRequest,
            ref["request_id"],
            reserved_at=at,
            created_at=at - timedelta(seconds=took),
        )
    # Reservation → admission: 300 s and 900 s today; a walk-in has no reservation to time.
    for ref, took in ((refs[0], 300), (refs[1], 900)):
        r = await _post(client, f"/api/v1/referrals/{ref['id']}/admit", ward)
        assert r.status_code == 200, r.text
        await _set(
            rt, Referral, ref["id"], admitted_at=recent, created_at=recent - timedelta(seconds=took)
        )
    assert (
        await _post(client, f"/api/v1/referrals/{refs[2]['id']}/confirm", ward)
    ).status_code == 200
    walk_in = {"patient": _patient(30, "male"), "bed_type": "icu"}
    r = await _post(client, f"/api/v1/facilities/{w.alpha.id}/admissions", ward, walk_in)
    assert r.status_code == 201

    r = await client.get("/api/v1/control-room/board", headers=control)
    assert r.status_code == 200, r.text
    board = r.json()
    assert (board["waiting"], board["reserved"], board["confirmed"], board["admitted"]) == (
        2,
        2,
        1,
        3,
    )
    today_figures = board["today"]
    assert today_figures["request_to_reservation"] == {
        "count": 3,
        "median_s": 120.0,
        "p90_s": 600.0,
    }
    assert today_figures["reservation_to_admission"] == {
        "count": 2,
        "median_s": 600.0,
        "p90_s": 900.0,
    }
    week_figures = board["this_week"]["request_to_reservation"]
    if earlier_this_week >= week:
        assert week_figures == {"count": 4, "median_s": 90.0, "p90_s": 600.0}
    else:  # a Monday: "earlier this week" was last week
        assert week_figures == today_figures["request_to_reservation"]
    assert (
        board["this_week"]["reservation_to_admission"] == today_figures["reservation_to_admission"]
    )
