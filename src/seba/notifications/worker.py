"""``seba worker``: delivers the outbox, releases expired bed reservations, sweeps the consult
queue and drops ended rate-limit windows."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from seba.core import health, outbox, ratelimit
from seba.core.runtime import Runtime
from seba.notifications.providers import SmsProvider, masked, sms_provider

log = logging.getLogger(__name__)
RATE_LIMIT_SWEEP_S = 60


@dataclass
class DeliveryReport:
    sent: int = 0
    retried: int = 0
    dead: int = 0


async def deliver_once(rt: Runtime, provider: SmsProvider, *, limit: int = 20) -> DeliveryReport:
    """Claim due messages and hand each to the provider once."""
    report = DeliveryReport()
    for message in await outbox.claim_due(rt.db, limit=limit):
        if not await outbox.renew_lease(rt.db, message):
            continue  # our lease ran out while earlier ones were sent; another worker has it
        try:
            provider_id = await provider.send(to=message.recipient, body=message.body)
        except Exception as exc:  # any provider failure is retried, never lost
            # A gateway may echo the message (and its code) in its error: masked before it is
            # stored for admins or logged.
            error = masked(repr(exc))
            status = await outbox.mark_failed(rt.db, message, error=error)
            if status == "dead":
                report.dead += 1
                log.error("outbox message %s dead-lettered: %s", message.id, error)
            else:
                report.retried += 1
            continue
        if await outbox.mark_sent(rt.db, message, provider_id=provider_id):
            report.sent += 1
    return report


async def run_worker(
    rt: Runtime, *, stop: asyncio.Event, provider: SmsProvider | None = None
) -> None:
    """Loop until ``stop`` is set: release expired reservations, sweep the consult queue
    (lapsed offers, no-shows, overflow), drop ended rate-limit windows (once a minute), then
    deliver due messages.

    Each job runs and fails on its own: an SMS gateway that is down never stops the consult
    sweep, nor the reverse. A failing job is logged once when it starts failing (with its
    traceback) and once when it recovers, not every second; the heartbeat row tells /readyz
    which jobs are failing.
    """
    from seba.referrals import service as referral_service
    from seba.telemedicine.consults import sweep

    provider = provider or sms_provider(rt.settings)
    report = DeliveryReport()

    async def deliver() -> None:
        nonlocal report
        report = await deliver_once(rt, provider)

    loop = asyncio.get_running_loop()
    next_rate_limit_sweep = loop.time()

    async def sweep_rate_limits() -> None:
        # Limits are enforced by the counters themselves; this only keeps the table to
        # recently active keys, so once a minute is plenty.
        nonlocal next_rate_limit_sweep
        if loop.time() >= next_rate_limit_sweep:
            next_rate_limit_sweep = loop.time() + RATE_LIMIT_SWEEP_S
            await ratelimit.sweep(rt.db)

    jobs: dict[str, Callable[[], Awaitable[object]]] = {
        "release_expired_holds": lambda: referral_service.release_expired(rt),
        "consult_sweep": lambda: sweep.sweep(rt),
        "rate_limit_sweep": sweep_rate_limits,
        "sms_delivery": deliver,
    }
    failing: dict[str, str] = {}
    name = health.worker_name()
    next_beat = 0.0
    while not stop.is_set():
        report = DeliveryReport()
        for job, run in jobs.items():
            await _run_job(job, run, failing)
        loop_time = asyncio.get_running_loop().time()
        if loop_time >= next_beat:
            next_beat = loop_time + health.HEARTBEAT_EVERY_S
            await _run_job("heartbeat", lambda: health.beat(rt.db, name, dict(failing)), failing)
        if report.sent or report.retried or report.dead:
            continue  # there may be more due right now
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=rt.settings.worker_poll_s)


async def _run_job(job: str, run: Callable[[], Awaitable[object]], failing: dict[str, str]) -> None:
    try:
        await run()
    except Exception as exc:
        if job not in failing:
            log.exception("worker job %s failed; it keeps being tried every round", job)
        failing[job] = type(exc).__name__
    else:
        if failing.pop(job, None) is not None:
            log.warning("worker job %s works again", job)
