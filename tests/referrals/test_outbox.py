"""The transactional outbox: messages commit with the change that causes them, failing sends
back off and end as dead letters that a state admin sees and requeues, and a worker killed in
the middle of a delivery loses nothing and repeats nothing already marked sent."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from sqlalchemy import func, select, update

from seba.beds.models import BedPool
from seba.core import outbox
from seba.core.access import SYSTEM
from seba.core.audit import AuditEntry
from seba.core.db import transactional
from seba.core.outbox import OutboxMessage
from seba.core.runtime import Runtime
from seba.core.types import utcnow
from seba.notifications.worker import deliver_once
from seba.referrals import service as referral_service
from seba.referrals import steps
from seba.referrals.models import AdmissionRequest, Referral
from seba.referrals.schemas import Patient, ReferralCreate
from tests import factories
from tests.servers import ROOT, free_port


class RecordingSms:
    def __init__(self) -> None:
        self.sent: list[tuple[str, str]] = []

    async def send(self, *, to: str, body: str) -> str | None:
        self.sent.append((to, body))
        return f"rec-{len(self.sent)}"


class BrokenSms:
    """A gateway that is down."""

    def __init__(self) -> None:
        self.tries = 0

    async def send(self, *, to: str, body: str) -> str | None:
        self.tries += 1
        raise ConnectionError("gateway down")


async def _enqueue(rt: Runtime, n: int, prefix: str = "message") -> list[int]:
    async with transactional(rt.db) as s:
        messages = [
            outbox.enqueue(s, channel="sms", recipient=f"+9198300{i:05d}", body=f"{prefix} {i}")
            for i in range(n)
        ]
        await s.flush()
        return [m.id for m in messages]


async def _messages(rt: Runtime) -> dict[int, OutboxMessage]:
    async with rt.db.read() as s:
        return {m.id: m for m in await s.scalars(select(OutboxMessage))}


async def _make_due(rt: Runtime) -> None:
    """Move every backoff into the past (the test's clock)."""
    async with transactional(rt.db) as s:
        await s.execute(
            update(OutboxMessage).values(next_attempt_at=utcnow() - timedelta(seconds=1))
        )


def _reservation(facility_id: int, n: int) -> ReferralCreate:
    return ReferralCreate(
        facility_id=facility_id,
        bed_type="icu",
        patient=Patient(name=f"Patient {n}", age=60, sex="male", phone=f"98300{n:05d}"),
    )


# ---------------------------------------------------------------- same transaction


async def test_messages_commit_with_the_reservation_or_not_at_all(rt, monkeypatch):
    await factories.districts(rt)
    fac = await factories.facility(rt)
    await factories.census(rt, fac, [("icu", "any", 1, 0)])
    held, _ = await referral_service.create_referral(rt, actor=SYSTEM, data=_reservation(fac.id, 1))
    messages = await _messages(rt)
    assert sorted((m.topic["to"], m.topic["referral_id"]) for m in messages.values()) == [
        ("family", held["id"]),
        ("hospital", held["id"]),
    ]

    async def counts():
        async with rt.db.read() as s:
            return [
                await s.scalar(select(func.count()).select_from(model))
                for model in (OutboxMessage, Referral, AdmissionRequest, AuditEntry)
            ] + [await s.scalar(select(BedPool.reserved))]

    before = await counts()
    # No bed left: the refused reservation leaves no message behind.
    with pytest.raises(Exception, match="No matching bed"):
        await referral_service.create_referral(rt, actor=SYSTEM, data=_reservation(fac.id, 2))
    assert await counts() == before

    # A failure after the messages were added (here: announcing the referral) takes them back
    # with everything else: they are rows of the same transaction, not sends.
    async with transactional(rt.db) as s:
        await s.execute(update(BedPool).values(total=2))

    def broken_announce(*args, **kwargs):
        raise RuntimeError("boom after the messages were queued")

    monkeypatch.setattr(steps, "announce", broken_announce)
    with pytest.raises(RuntimeError, match="boom"):
        await referral_service.create_referral(rt, actor=SYSTEM, data=_reservation(fac.id, 3))
    assert await counts() == before


async def test_the_sms_names_the_bed_as_the_pages_do(rt):
    """The family's SMS and the hospital's notice use the vocabulary's word for the bed type,
    the one on the public page and the census form ("ICU with ventilator", not "ventilator")."""
    await factories.districts(rt)
    fac = await factories.facility(rt)
    await factories.census(rt, fac, [("ventilator", "any", 2, 0)])
    data = _reservation(fac.id, 1).model_copy(update={"bed_type": "ventilator"})
    await referral_service.create_referral(rt, actor=SYSTEM, data=data)
    bodies = {m.topic["to"]: m.body for m in (await _messages(rt)).values()}
    assert "ভেন্টিলেটর-সহ আইসিইউ" in bodies["family"]
    assert "ICU with ventilator" in bodies["hospital"]


# ---------------------------------------------------------------- retries and dead letters


async def test_failing_sends_back_off_then_dead_letter_and_admins_requeue(rt, client):
    (message_id,) = await _enqueue(rt, 1)
    broken = BrokenSms()
    delays = []
    for attempt in range(1, outbox.MAX_ATTEMPTS + 1):
        started = utcnow()
        report = await deliver_once(rt, broken)
        message = (await _messages(rt))[message_id]
        assert message.attempts == attempt and "gateway down" in message.last_error
        assert message.lease_until is None and message.sent_at is None
        if attempt < outbox.MAX_ATTEMPTS:
            assert (report.retried, report.dead, message.status) == (1, 0, "pending")
            delays.append((message.next_attempt_at - started).total_seconds())
            # Not due again until its backoff has passed.
            assert await deliver_once(rt, broken) == type(report)()
            await _make_due(rt)
        else:
            assert (report.retried, report.dead, message.status) == (0, 1, "dead")
    assert broken.tries == outbox.MAX_ATTEMPTS
    # Exponential: each wait doubles from BACKOFF_BASE_S (give or take the test's own time).
    expected = [outbox.BACKOFF_BASE_S * 2**i for i in range(outbox.MAX_ATTEMPTS - 1)]
    assert all(e <= d < e + 5 for d, e in zip(delays, expected, strict=True)), delays
    # A dead letter is never picked up again by itself.
    await _make_due(rt)
    assert (await deliver_once(rt, broken)).dead == 0 and broken.tries == outbox.MAX_ATTEMPTS

    await factories.districts(rt)
    admin = await factories.staff(client, rt, "state_admin")
    control = await factories.staff(client, rt, "control_room")
    r = await client.get("/api/v1/outbox", params={"status": "dead"}, headers=admin)
    assert r.status_code == 200, r.text
    (listed,) = r.json()["messages"]
    assert listed["id"] == message_id and listed["status"] == "dead"
    assert listed["recipient"] == "…0000" and "body" not in listed  # no message text for admins
    assert "gateway down" in listed["last_error"]
    assert (
        await client.get("/api/v1/outbox", params={"status": "sent"}, headers=admin)
    ).json() == {"messages": []}
    for refused in (
        await client.get("/api/v1/outbox", params={"status": "dead"}, headers=control),
        await client.post(f"/api/v1/outbox/{message_id}/retry", headers=control),
    ):
        assert refused.status_code == 403, refused.text
        assert refused.json()["error"]["code"] == "forbidden"
    assert (await client.get("/api/v1/outbox")).status_code == 401
    bad = await client.get("/api/v1/outbox", params={"status": "lost"}, headers=admin)
    assert bad.status_code == 422
    missing = await client.post("/api/v1/outbox/999999/retry", headers=admin)
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "message_not_found"

    r = await client.post(f"/api/v1/outbox/{message_id}/retry", headers=admin)
    assert r.status_code == 200, r.text
    assert (r.json()["status"], r.json()["attempts"]) == ("pending", 0)
    again = await client.post(f"/api/v1/outbox/{message_id}/retry", headers=admin)
    assert again.status_code == 409 and again.json()["error"]["code"] == "message_not_dead"
    async with rt.db.read() as s:
        audit = await s.scalar(select(AuditEntry).where(AuditEntry.action == "outbox.retry"))
    assert audit.entity_id == str(message_id) and audit.actor_name.startswith("state-admin-")

    sms = RecordingSms()
    assert (await deliver_once(rt, sms)).sent == 1
    assert sms.sent == [("+919830000000", "message 0")]
    assert (await _messages(rt))[message_id].status == "sent"


# ---------------------------------------------------------------- leases


async def test_a_slow_batch_does_not_resend_what_another_worker_sent(rt, monkeypatch):
    """Worker A claims a batch and hangs on its first send until the batch's lease has run out;
    worker B then claims and sends the whole batch. When A wakes up it must not send the rest of
    its stale batch again: those messages are already marked sent."""
    monkeypatch.setattr(outbox, "LEASE_S", 0.5)
    ids = await _enqueue(rt, 3)
    b_done = asyncio.Event()
    delivered: list[str] = []

    class SlowA:
        async def send(self, *, to: str, body: str) -> str | None:
            delivered.append(body)
            if len(delivered) == 1:
                await b_done.wait()
            return None

    class FastB:
        async def send(self, *, to: str, body: str) -> str | None:
            delivered.append(body)
            return None

    async def worker_b():
        await asyncio.sleep(0.8)  # A's lease is over
        report = await deliver_once(rt, FastB())
        b_done.set()
        return report

    report_a, report_b = await asyncio.gather(deliver_once(rt, SlowA()), worker_b())
    assert report_b.sent == 3
    assert report_a.sent == 0  # A's one send was in flight when B took over: not A's to mark
    counts = Counter(delivered)
    # At least once: the message A was sending goes out twice; nothing else does.
    assert counts == {"message 0": 2, "message 1": 1, "message 2": 1}, delivered
    assert {m.status for m in (await _messages(rt)).values()} == {"sent"}
    assert sorted(await _messages(rt)) == ids


# ---------------------------------------------------------------- a worker killed mid-delivery


class Gateway:
    """A tiny SMS gateway on 127.0.0.1 that records each message as it arrives and answers after
    ``delay`` seconds (so a delivery can be caught in flight)."""

    def __init__(self) -> None:
        self.received: list[str] = []
        self.delay = 0.0
        self.lock = threading.Lock()
        gateway = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers["Content-Length"])
                payload = json.loads(self.rfile.read(length))
                with gateway.lock:
                    gateway.received.append(payload["message"])
                    n = len(gateway.received)
                time.sleep(gateway.delay)
                body = json.dumps({"id": f"gw-{n}"}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", free_port()), Handler)
        # The killed worker hangs up on the delivery in flight: expected, not worth a traceback.
        self.server.handle_error = lambda request, address: None
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/sms"

    def count(self) -> int:
        with self.lock:
            return len(self.received)

    def snapshot(self) -> list[str]:
        with self.lock:
            return list(self.received)


@pytest.fixture
def gateway() -> Iterator[Gateway]:
    gw = Gateway()
    thread = threading.Thread(target=gw.server.serve_forever, daemon=True)
    thread.start()
    try:
        yield gw
    finally:
        gw.server.shutdown()
        gw.server.server_close()


# ``seba worker`` itself, run with a short lease (outbox.LEASE_S is 60 s) so that the messages a
# killed worker had claimed come due again within the test.
WORKER = (
    "import runpy, sys; import seba.core.outbox as o; o.LEASE_S = float(sys.argv[1]); "
    "sys.argv = ['seba', 'worker']; runpy.run_module('seba.cli', run_name='__main__')"
)
LEASE_S = 2.0


def _start_worker(db_url: str, gateway: Gateway, log: Path) -> subprocess.Popen:
    env = {
        **os.environ,
        "SEBA_DATABASE_URL": db_url,
        "SEBA_ENV": "test",
        "SEBA_SMS_GATEWAY_URL": gateway.url,
        "SEBA_WORKER_POLL_S": "0.1",
    }
    with log.open("ab") as out:
        return subprocess.Popen(
            [sys.executable, "-c", WORKER, str(LEASE_S)],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )


def _tail(log: Path) -> str:
    return log.read_text(errors="replace")[-3000:]


async def _wait_for(predicate, what: str, timeout_s: float, log: Path) -> None:
    deadline = time.monotonic() + timeout_s
    while not await predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}:\n{_tail(log)}")
        await asyncio.sleep(0.02)


@pytest.mark.server
async def test_killed_worker_loses_nothing_and_repeats_nothing_sent(db_url, rt, gateway, tmp_path):
    n = 12
    ids = await _enqueue(rt, n)
    body_of = {f"message {i}": message_id for i, message_id in enumerate(ids)}
    log = tmp_path / "worker.log"
    gateway.delay = 0.4  # each delivery is in flight this long

    first = _start_worker(db_url, gateway, log)
    try:

        async def some_delivered():
            assert first.poll() is None, _tail(log)
            return gateway.count() >= 4

        # Startup is mostly imports: generous on a busy machine.
        await _wait_for(some_delivered, "the first deliveries", 120, log)
        first.send_signal(signal.SIGKILL)
        first.wait(timeout=10)
    finally:
        if first.poll() is None:
            first.kill()
            first.wait()
    at_kill = gateway.snapshot()
    sent_before_kill = {i for i, m in (await _messages(rt)).items() if m.status == "sent"}
    in_flight = {body_of[b] for b in at_kill} - sent_before_kill
    # The worker sends one message at a time and marks it sent before the next: every message
    # the gateway had before the last one is marked, and the last one was caught in flight.
    assert sent_before_kill == {body_of[b] for b in at_kill[:-1]}, (at_kill, sent_before_kill)
    assert in_flight == {body_of[at_kill[-1]]}

    gateway.delay = 0.0
    second = _start_worker(db_url, gateway, log)
    try:

        async def all_sent():
            assert second.poll() is None, _tail(log)
            return {m.status for m in (await _messages(rt)).values()} == {"sent"}

        await _wait_for(all_sent, "every message to be sent", 120, log)
    finally:
        second.terminate()  # SIGTERM: the worker stops after its current step
        try:
            second.wait(timeout=20)
        except subprocess.TimeoutExpired:
            second.kill()
            second.wait()

    received = Counter(body_of[b] for b in gateway.snapshot())
    assert set(received) == set(ids)  # nothing lost
    twice = {i for i, c in received.items() if c > 1}
    # At least once, and no more: only the message in flight at the kill may go out twice.
    assert twice <= in_flight, (received, in_flight)
    assert all(received[i] == 1 for i in sent_before_kill)
    messages = await _messages(rt)
    assert all(m.provider_id and m.provider_id.startswith("gw-") for m in messages.values())
