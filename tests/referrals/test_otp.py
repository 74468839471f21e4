"""Citizens: one-time codes by SMS (through the outbox), phone sessions, the bed request form
and the status page behind them."""

from __future__ import annotations

import hashlib
import json
import logging
import re
from datetime import timedelta

import httpx
from sqlalchemy import func, select, update

from seba.core import outbox
from seba.core.access import SYSTEM
from seba.core.audit import AuditEntry
from seba.core.db import transactional
from seba.core.outbox import OutboxMessage
from seba.core.runtime import Runtime
from seba.core.types import utcnow
from seba.notifications.providers import ConsoleSms, SmsError
from seba.notifications.worker import deliver_once
from seba.referrals import otp
from seba.referrals import service as referral_service
from seba.referrals.models import AdmissionRequest, OtpChallenge, PhoneSession
from seba.referrals.schemas import ReferralCreate
from tests import factories

PHONE = "+919830012345"
OTHER = "+917003012345"
SESSION = "X-Phone-Session"
VALID_ABHA = "12-3456-7890-1237"  # passes the Luhn check
LUHN_FAILS = "12-3456-7890-1234"


class RecordingSms:
    """A provider that keeps what it was handed, like a phone would."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, str]] = []

    async def send(self, *, to: str, body: str) -> str | None:
        self.sent.append((to, body))
        return f"rec-{len(self.sent)}"


def _code(body: str) -> str:
    (code,) = re.findall(r"\b\d{6}\b", body)
    return code


async def _ask(client: httpx.AsyncClient, phone: str) -> httpx.Response:
    return await client.post("/api/v1/otp", json={"phone": phone})


async def _verify(client: httpx.AsyncClient, challenge_id: int, code: str) -> httpx.Response:
    return await client.post(
        "/api/v1/otp/verify", json={"challenge_id": challenge_id, "code": code}
    )


async def _code_by_sms(rt: Runtime, phone: str) -> str:
    """Deliver the outbox as the worker would and read the newest code this phone received."""
    sms = RecordingSms()
    await deliver_once(rt, sms)
    return _code([body for to, body in sms.sent if to == phone][-1])


async def _session(rt: Runtime, client: httpx.AsyncClient, phone: str) -> dict[str, str]:
    r = await _ask(client, phone)
    assert r.status_code == 201, r.text
    r = await _verify(client, r.json()["challenge_id"], await _code_by_sms(rt, phone))
    assert r.status_code == 200, r.text
    assert r.json()["phone"] == phone and r.json()["header"] == SESSION
    return {SESSION: r.json()["phone_session"]}


def _wrong(code: str) -> str:
    return f"{(int(code) + 1) % 10**6:06d}"


async def _challenge(rt: Runtime, challenge_id: int) -> OtpChallenge:
    async with rt.db.read() as s:
        return await s.get(OtpChallenge, challenge_id)


async def _counts(rt: Runtime) -> tuple[int, ...]:
    async with rt.db.read() as s:
        return tuple(
            [
                await s.scalar(select(func.count()).select_from(model))
                for model in (OtpChallenge, OutboxMessage, PhoneSession, AdmissionRequest)
            ]
        )


def _error(response: httpx.Response, status: int, code: str) -> dict:
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert error["code"] == code, error
    assert error["message"]
    return error


# ---------------------------------------------------------------- codes


async def test_code_arrives_through_the_outbox_and_only_its_salted_hash_is_kept(rt, client):
    r = await _ask(client, "098300 12345")  # spoken forms are normalised
    assert r.status_code == 201, r.text
    challenge_id = r.json()["challenge_id"]
    assert r.json()["expires_in"] == rt.settings.otp_ttl_s

    async with rt.db.read() as s:
        (message,) = list(await s.scalars(select(OutboxMessage)))
    assert (message.recipient, message.status, message.topic) == (
        PHONE,
        "pending",
        {"otp_challenge_id": challenge_id},
    )
    code = _code(message.body)

    sms = RecordingSms()
    report = await deliver_once(rt, sms)
    assert report.sent == 1 and sms.sent == [(PHONE, message.body)]
    async with rt.db.read() as s:
        delivered = await s.get(OutboxMessage, message.id)
    assert delivered.status == "sent" and delivered.provider_id == "rec-1"

    challenge = await _challenge(rt, challenge_id)
    stored = [str(v) for v in vars(challenge).values()]
    assert not any(code in value for value in stored)
    # Salted: not the bare hash of the code (a table of 10⁶ hashes would undo that) …
    assert challenge.code_hash != hashlib.sha256(code.encode()).hexdigest()
    # … and keyed: not the salted hash either, which 10⁶ tries would break for one row.
    assert challenge.code_hash != hashlib.sha256(f"{challenge.salt}:{code}".encode()).hexdigest()
    assert challenge.code_hash == otp.code_mac(rt.settings.secret_key, challenge.salt, code)
    assert len(challenge.salt) >= 16 and challenge.attempts == 0

    r = await _verify(client, challenge_id, code)
    assert r.status_code == 200, r.text
    token = r.json()["phone_session"]
    async with rt.db.read() as s:
        (session,) = list(await s.scalars(select(PhoneSession)))
    assert session.phone == PHONE and token not in session.token_hash
    assert (await _challenge(rt, challenge_id)).verified_at is not None
    # A used code opens nothing a second time.
    _error(await _verify(client, challenge_id, code), 401, "otp_expired")


async def test_a_code_checks_only_under_the_server_key_it_was_stored_with(rt, client):
    r = await _ask(client, PHONE)
    challenge_id = r.json()["challenge_id"]
    code = await _code_by_sms(rt, PHONE)
    # A copy of the table with another server (another key) cannot check codes with it.
    key = rt.settings.secret_key
    rt.settings.secret_key = "another-server-key"
    _error(await _verify(client, challenge_id, code), 422, "otp_wrong")
    rt.settings.secret_key = key
    assert (await _verify(client, challenge_id, code)).status_code == 200


def _logged(caplog) -> str:
    """Everything the logging system was handed: messages, arguments and tracebacks."""
    return "\n".join(
        f"{r.name} {r.getMessage()} {r.args!r} {r.exc_text or ''}" for r in caplog.records
    )


async def test_no_code_reaches_the_log(rt, client, caplog, tmp_path):
    # Everything, SQL included: an operator chasing a problem may turn the log up this far.
    caplog.set_level(logging.DEBUG)
    caplog.set_level(logging.INFO, logger="sqlalchemy.engine")
    r = await _ask(client, PHONE)
    challenge_id = r.json()["challenge_id"]
    sms_file = tmp_path / "sms.jsonl"
    assert (await deliver_once(rt, ConsoleSms(sms_file))).sent == 1
    # The console provider's file stands in for the phone: it has the whole message …
    (line,) = sms_file.read_text(encoding="utf-8").splitlines()
    sent = json.loads(line)
    code = _code(sent["body"])
    assert sent["to"] == PHONE
    assert (await _verify(client, challenge_id, code)).status_code == 200
    # … the log says a message went, with the code masked.
    logged = _logged(caplog)
    assert "SMS to …2345" in logged and "••••" in logged
    assert code not in logged
    assert "sqlalchemy.engine" in logged  # the SQL was logged too, without its values


async def test_a_gateway_echoing_the_code_does_not_put_it_in_the_log(rt, client, caplog):
    caplog.set_level(logging.DEBUG)
    caplog.set_level(logging.INFO, logger="sqlalchemy.engine")

    class EchoingGateway:
        async def send(self, *, to: str, body: str) -> str | None:
            raise SmsError(f"gateway answered 400: rejected {body!r}")

    await _ask(client, PHONE)
    async with rt.db.read() as s:
        (message,) = list(await s.scalars(select(OutboxMessage)))
    code = _code(message.body)
    assert (await deliver_once(rt, EchoingGateway())).retried == 1
    # The last try dead-letters the message and logs an error.
    async with transactional(rt.db) as s:
        await s.execute(
            update(OutboxMessage).values(attempts=outbox.MAX_ATTEMPTS - 1, next_attempt_at=utcnow())
        )
    assert (await deliver_once(rt, EchoingGateway())).dead == 1
    async with rt.db.read() as s:
        dead = await s.get(OutboxMessage, message.id)
    # What admins see and what the log got: the gateway's answer, the code masked.
    assert "gateway answered 400" in dead.last_error and code not in dead.last_error
    logged = _logged(caplog)
    assert "dead-lettered" in logged and code not in logged


async def test_wrong_codes_count_and_then_the_code_is_dead(rt, client):
    r = await _ask(client, PHONE)
    challenge_id = r.json()["challenge_id"]
    code = await _code_by_sms(rt, PHONE)
    limit = rt.settings.otp_max_attempts
    for tried in range(1, limit + 1):
        error = _error(await _verify(client, challenge_id, _wrong(code)), 422, "otp_wrong")
        assert error["details"] == {"attempts_left": limit - tried}
        assert (await _challenge(rt, challenge_id)).attempts == tried  # each try is kept
    # Out of tries: even the right code is refused now.
    _error(await _verify(client, challenge_id, code), 401, "otp_expired")
    challenge = await _challenge(rt, challenge_id)
    assert challenge.attempts == limit and challenge.verified_at is None
    async with rt.db.read() as s:
        assert await s.scalar(select(func.count()).select_from(PhoneSession)) == 0


async def test_code_expires(rt, client):
    r = await _ask(client, PHONE)
    challenge_id = r.json()["challenge_id"]
    code = await _code_by_sms(rt, PHONE)
    async with transactional(rt.db) as s:
        await s.execute(update(OtpChallenge).values(expires_at=utcnow() - timedelta(seconds=1)))
    _error(await _verify(client, challenge_id, code), 401, "otp_expired")
    # A code issued with no life left is dead at once too.
    rt.settings.otp_ttl_s = 0
    rt.settings.otp_resend_after_s = 0
    r = await _ask(client, PHONE)
    _error(
        await _verify(client, r.json()["challenge_id"], await _code_by_sms(rt, PHONE)),
        401,
        "otp_expired",
    )
    # Unknown challenges answer the same way.
    _error(await _verify(client, 999_999, code), 401, "otp_expired")


async def test_resend_and_hourly_limits(rt, client):
    r = await _ask(client, PHONE)
    assert r.status_code == 201
    before = await _counts(rt)
    r = await _ask(client, "98300-12345")
    _error(r, 429, "otp_resend_too_soon")
    assert 1 <= int(r.headers["retry-after"]) <= rt.settings.otp_resend_after_s
    assert await _counts(rt) == before  # refused sends write nothing (and send nothing)

    rt.settings.otp_resend_after_s = 0
    for _ in range(rt.settings.otp_sends_per_phone_per_hour - 1):
        assert (await _ask(client, PHONE)).status_code == 201
    before = await _counts(rt)
    r = await _ask(client, PHONE)
    error = _error(r, 429, "otp_limit")
    # Until the hour that began with this phone's first code ends.
    wait = int(r.headers["retry-after"])
    assert 3600 - 120 <= wait <= 3600 and error["details"] == {"retry_after_s": wait}
    assert await _counts(rt) == before
    # Another phone is still served from this client …
    assert (await _ask(client, OTHER)).status_code == 201

    # … until the client's own hourly limit, whatever phones it asks for.
    rt.settings.otp_sends_per_client_per_hour = rt.settings.otp_sends_per_phone_per_hour + 3
    for n in range(2):
        assert (await _ask(client, f"+9190000000{n:02d}")).status_code == 201
    before = await _counts(rt)
    _error(await _ask(client, "+919000000099"), 429, "otp_limit")
    assert await _counts(rt) == before


async def test_bad_phones_and_bad_codes_are_refused(rt, client):
    for phone in (
        "12345",
        "5830012345",  # Indian mobiles start with 6–9
        "98300123456",
        "+1 415 555 0100",
        "",
        "abcdefghij",
        "9" * 25,
        "98300\x0012345",
    ):
        _error(await _ask(client, phone), 422, "validation_failed")
    for body in (
        {"phone": 9830012345},
        {},
        {"phone": PHONE, "extra": 1},
    ):
        _error(await client.post("/api/v1/otp", json=body), 422, "validation_failed")
    for body in (
        {"challenge_id": 1, "code": "12345"},
        {"challenge_id": 1, "code": "1234567"},
        {"challenge_id": 1, "code": "12a456"},
        {"challenge_id": 0, "code": "123456"},
        {"challenge_id": 2**31, "code": "123456"},
        {"code": "123456"},
    ):
        _error(await client.post("/api/v1/otp/verify", json=body), 422, "validation_failed")
    assert await _counts(rt) == (0, 0, 0, 0)


# ---------------------------------------------------------------- the request form


def _request(phone: str = PHONE, **overrides) -> dict:
    return {
        "patient": {"name": "Rina Das", "age": 54, "sex": "female", "phone": phone},
        "district": "kolkata",
        "condition": "severe",
        "need": "oxygen",
        "consent": True,
    } | overrides


async def test_citizen_request_needs_a_verified_matching_phone(rt, client):
    await factories.districts(rt)
    path = "/api/v1/admission-requests"
    _error(await client.post(path, json=_request()), 401, "phone_not_verified")
    bogus = {SESSION: "not-a-session"}
    _error(await client.post(path, json=_request(), headers=bogus), 401, "phone_not_verified")

    mine = await _session(rt, client, PHONE)
    before = await _counts(rt)
    # The patient's phone must be the verified one: no requests in someone else's name.
    _error(await client.post(path, json=_request(OTHER), headers=mine), 403, "phone_mismatch")
    for bad in (
        {"consent": False},
        {"abha_number": "12-3456-7890-123"},
        {"abha_number": "1234-5678-9012-34"},
        {"abha_number": "12 3456 7890 1237"},
        {"abha_number": "ab-cdef-ghij-klmn"},
        {"abha_number": 12345678901237},
        {"district": "Kolkata!"},
        {"need": "sofa"},
        {"lat": 40.0, "lon": 88.3},
        {"notes": "x" * 501},
    ):
        r = await client.post(path, json=_request(**bad), headers=mine)
        _error(r, 422, "validation_failed")
    r = await client.post(path, json=_request(district="atlantis"), headers=mine)
    _error(r, 422, "unknown_district")
    assert await _counts(rt) == before

    r = await client.post(path, json=_request(abha_number=VALID_ABHA), headers=mine)
    assert r.status_code == 201, r.text
    assert r.json()["warnings"] == [] and r.json()["abha_number"] == VALID_ABHA
    # A checksum that does not add up is kept, with a warning: the rule is not documented.
    r = await client.post(path, json=_request(abha_number="12345678901234"), headers=mine)
    assert r.status_code == 201, r.text
    created = r.json()
    assert created["warnings"] == ["abha_checksum_mismatch"]
    assert created["abha_number"] == LUHN_FAILS  # stored in its written form
    assert (created["source"], created["status"], created["condition"]) == (
        "citizen",
        "waiting",
        "severe",
    )
    async with rt.db.read() as s:
        request = await s.get(AdmissionRequest, created["id"])
        notice = await s.scalar(select(OutboxMessage).order_by(OutboxMessage.id.desc()))
        audit = await s.scalar(
            select(AuditEntry).where(
                AuditEntry.action == "request.submit", AuditEntry.entity_id == str(created["id"])
            )
        )
    assert request.consent_to_share and request.phone == PHONE
    assert notice.recipient == PHONE and created["reference"] in notice.body
    assert audit.actor_name == "citizen:…2345"  # the log keeps the last digits only

    # A phone session runs out.
    async with transactional(rt.db) as s:
        await s.execute(update(PhoneSession).values(expires_at=utcnow() - timedelta(seconds=1)))
    _error(await client.post(path, json=_request(), headers=mine), 401, "phone_not_verified")


async def test_status_behind_the_phone_session(rt, client):
    await factories.districts(rt)
    mine = await _session(rt, client, PHONE)
    r = await client.post("/api/v1/admission-requests", json=_request(), headers=mine)
    reference = r.json()["reference"]
    status_path = f"/api/v1/admission-requests/{reference}/status"

    _error(await client.get(status_path), 401, "phone_not_verified")
    r = await client.get(status_path.replace(reference, reference.lower()), headers=mine)
    assert r.status_code == 200, r.text
    assert (r.json()["status"], r.json()["referrals"]) == ("waiting", [])

    fac = await factories.facility(rt, code="alpha", name="Alpha Hospital")
    await factories.census(rt, fac, [("oxygen", "female", 2, 0)])
    await referral_service.create_referral(
        rt,
        actor=SYSTEM,
        data=ReferralCreate(request_id=r.json()["id"], facility_id=fac.id, bed_type="oxygen"),
    )
    r = await client.get(status_path, headers=mine)
    assert r.json()["status"] == "reserved"
    (held,) = r.json()["referrals"]
    assert (held["status"], held["facility_name"], held["phones"]) == (
        "reserved",
        "Alpha Hospital",
        ["033 2341 2600"],
    )

    # Another phone's request looks exactly like one that does not exist.
    rt.settings.otp_resend_after_s = 0
    theirs = await _session(rt, client, OTHER)
    other = await client.get(status_path, headers=theirs)
    missing = await client.get("/api/v1/admission-requests/WB-NOTHERE/status", headers=theirs)
    _error(other, 404, "request_not_found")
    _error(missing, 404, "request_not_found")
    assert other.json() == missing.json()
    _error(
        await client.get("/api/v1/admission-requests/WB%20X%3B/status", headers=mine),
        422,
        "validation_failed",
    )
