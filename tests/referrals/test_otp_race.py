"""Parallel sends for one phone or from one client cannot pass the OTP limits."""

from __future__ import annotations

import asyncio

from sqlalchemy import func, select

from seba.core.errors import TooManyRequests
from seba.core.outbox import OutboxMessage
from seba.referrals import otp
from seba.referrals.models import OtpChallenge

PHONE = "+919830012345"
CLIENT = "203.0.113.7"
N = 50


async def _send(rt, phone: str = PHONE, client: str = CLIENT) -> int | str:
    try:
        return await otp.start(rt, phone=phone, client=client)
    except TooManyRequests as exc:
        return exc.code


async def _stored(rt) -> tuple[int, int]:
    async with rt.db.read() as s:
        return (
            await s.scalar(select(func.count()).select_from(OtpChallenge)),
            await s.scalar(select(func.count()).select_from(OutboxMessage)),
        )


async def test_parallel_sends_for_one_phone_send_one_code(rt):
    results = await asyncio.gather(*(_send(rt) for _ in range(N)))
    sent = [r for r in results if isinstance(r, int)]
    assert len(sent) == 1, results
    assert {r for r in results if not isinstance(r, int)} == {"otp_resend_too_soon"}
    assert await _stored(rt) == (1, 1)


async def test_parallel_sends_for_one_phone_stop_at_the_hourly_limit(rt):
    rt.settings.otp_resend_after_s = 0
    limit = rt.settings.otp_sends_per_phone_per_hour
    results = await asyncio.gather(*(_send(rt) for _ in range(N)))
    sent = [r for r in results if isinstance(r, int)]
    assert len(sent) == limit, results
    assert {r for r in results if not isinstance(r, int)} == {"otp_limit"}
    assert await _stored(rt) == (limit, limit)


async def test_parallel_sends_from_one_client_stop_at_its_limit(rt):
    limit = rt.settings.otp_sends_per_client_per_hour
    phones = [f"+9190000{n:05d}" for n in range(N)]
    results = await asyncio.gather(*(_send(rt, phone) for phone in phones))
    sent = [r for r in results if isinstance(r, int)]
    assert len(sent) == limit, results
    assert {r for r in results if not isinstance(r, int)} == {"otp_limit"}
    assert await _stored(rt) == (limit, limit)
