"""One-time codes by SMS for citizens: 6 digits, salted hash only, 5-minute life, limited tries,
limited sends per phone and per client; a verified code opens a short phone session."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import timedelta

from sqlalchemy import func, select, update

from seba.core import outbox
from seba.core.db import transactional
from seba.core.errors import NotAuthenticated, TooManyRequests, ValidationFailed
from seba.core.i18n import gettext, number
from seba.core.runtime import Runtime
from seba.core.types import utcnow
from seba.referrals.models import OtpChallenge, PhoneSession

PHONE_SESSION_S = 60 * 60


def _hash(salt: str, code: str) -> str:
    return hashlib.sha256(f"{salt}:{code}".encode()).hexdigest()


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


async def start(rt: Runtime, *, phone: str, client: str, lang: str = "bn") -> int:
    """Send a fresh code to ``phone`` (already normalised). Returns the challenge id.

    Raises TooManyRequests when the phone asked less than ``otp_resend_after_s`` ago, or the
    phone or client has used its sends for the hour. The SMS leaves through the outbox.
    """
    s = rt.settings
    now = utcnow()
    hour_ago = now - timedelta(hours=1)
    async with transactional(rt.db) as session:
        last = await session.scalar(
            select(func.max(OtpChallenge.created_at)).where(OtpChallenge.phone == phone)
        )
        if last is not None and now - last < timedelta(seconds=s.otp_resend_after_s):
            wait = s.otp_resend_after_s - int((now - last).total_seconds())
            raise TooManyRequests(
                "Please wait before asking for another code.",
                code="otp_resend_too_soon",
                details={"retry_after_s": max(1, wait)},
            )
        by_phone = await session.scalar(
            select(func.count())
            .select_from(OtpChallenge)
            .where(OtpChallenge.phone == phone, OtpChallenge.created_at >= hour_ago)
        )
        by_client = await session.scalar(
            select(func.count())
            .select_from(OtpChallenge)
            .where(OtpChallenge.client == client, OtpChallenge.created_at >= hour_ago)
        )
        if (
            by_phone >= s.otp_sends_per_phone_per_hour
            or by_client >= s.otp_sends_per_client_per_hour
        ):
            raise TooManyRequests(
                "Too many codes asked for. Please try again in an hour.",
                code="otp_limit",
                details={"retry_after_s": 3600},
            )
        code = f"{secrets.randbelow(10**6):06d}"
        salt = secrets.token_hex(8)
        challenge = OtpChallenge(
            phone=phone,
            client=client[:64],
            salt=salt,
            code_hash=_hash(salt, code),
            attempts=0,
            created_at=now,
            expires_at=now + timedelta(seconds=s.otp_ttl_s),
        )
        session.add(challenge)
        await session.flush()
        outbox.enqueue(
            session,
            channel="sms",
            recipient=phone,
            body=gettext(
                lang,
                "Seba code: {code}. Valid for {minutes} minutes. Do not share it.",
                code=code,
                minutes=number(max(1, s.otp_ttl_s // 60), lang),
            ),
            topic={"otp_challenge_id": challenge.id},
            redact_after_send=True,
        )
    return challenge.id


async def verify(rt: Runtime, *, challenge_id: int, code: str) -> tuple[str, str]:
    """Check a code. Returns (phone session token, phone).

    Each try counts, right or wrong; after ``otp_max_attempts`` the code is dead. Raises
    ValidationFailed (wrong code, with tries left), NotAuthenticated (unknown, expired, used or
    dead code: ask for a new one).
    """
    now = utcnow()
    async with transactional(rt.db) as session:
        # Count the try first, conditionally, so parallel guesses cannot exceed the limit.
        counted = await session.execute(
            update(OtpChallenge)
            .where(
                OtpChallenge.id == challenge_id,
                OtpChallenge.verified_at.is_(None),
                OtpChallenge.expires_at > now,
                OtpChallenge.attempts < rt.settings.otp_max_attempts,
            )
            .values(attempts=OtpChallenge.attempts + 1)
            .execution_options(synchronize_session=False)
        )
        if counted.rowcount != 1:
            raise NotAuthenticated(
                "This code has expired or was used up. Ask for a new code.", code="otp_expired"
            )
        challenge = await session.get(OtpChallenge, challenge_id)
        if not hmac.compare_digest(challenge.code_hash, _hash(challenge.salt, code)):
            left = rt.settings.otp_max_attempts - challenge.attempts
            failure = ValidationFailed(
                "Wrong code.", code="otp_wrong", details={"attempts_left": left}
            )
        else:
            failure = None
            challenge.verified_at = now
            token = secrets.token_urlsafe(24)
            session.add(
                PhoneSession(
                    token_hash=token_hash(token),
                    phone=challenge.phone,
                    expires_at=now + timedelta(seconds=PHONE_SESSION_S),
                )
            )
            phone = challenge.phone
    # Raised after commit: the counted try must stick.
    if failure is not None:
        raise failure
    return token, phone


async def phone_for_session(rt: Runtime, token: str | None) -> str:
    """The verified phone behind a phone-session token. Raises NotAuthenticated."""
    if token:
        async with rt.db.read() as session:
            phone = await session.scalar(
                select(PhoneSession.phone).where(
                    PhoneSession.token_hash == token_hash(token), PhoneSession.expires_at > utcnow()
                )
            )
        if phone:
            return phone
    raise NotAuthenticated(
        "Please verify your phone number with a one-time code first.", code="phone_not_verified"
    )
