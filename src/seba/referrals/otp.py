"""One-time codes by SMS for citizens: 6 digits, kept only as a salted HMAC under the server
key, 5-minute life, limited tries, limited sends per phone and per client; a verified code opens
a short phone session."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import timedelta

from sqlalchemy import select, update

from seba.core import outbox, ratelimit
from seba.core.db import transactional
from seba.core.errors import NotAuthenticated, TooManyRequests, ValidationFailed
from seba.core.i18n import gettext, number
from seba.core.runtime import Runtime
from seba.core.types import utcnow
from seba.referrals.models import OtpChallenge, PhoneSession

PHONE_SESSION_S = 60 * 60
SEND_WINDOW_S = 60 * 60
# The limits on sending, in the order they are taken (narrowest key first, see core.ratelimit).
RESEND = "otp.resend"
SENDS_PER_PHONE = "otp.phone"
SENDS_PER_CLIENT = "otp.client"


def code_mac(secret_key: str, salt: str, code: str) -> str:
    """What is stored for a code: an HMAC under the server key, not a bare hash. Six digits are
    only 10⁶ candidates; with an unkeyed hash a leaked row gives its code up in a second of
    trying them all, salt or no salt. Without the key there is nothing to try."""
    return hmac.new(secret_key.encode(), f"otp:{salt}:{code}".encode(), hashlib.sha256).hexdigest()


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


async def start(rt: Runtime, *, phone: str, client: str, lang: str = "bn") -> int:
    """Send a fresh code to ``phone`` (already normalised). Returns the challenge id.

    Raises TooManyRequests ``otp_resend_too_soon`` when the phone was sent a code less than
    ``otp_resend_after_s`` ago, ``otp_limit`` when the phone or the client has used its sends
    for the hour (``retry_after_s``: until its window ends). A refused send counts nothing and
    writes nothing. The SMS leaves through the outbox.
    """
    s = rt.settings
    async with transactional(rt.db) as session:
        now = utcnow()
        # Each limit is one conditional statement in this transaction: parallel sends cannot
        # all read "none yet" and all send. A refusal raises, which rolls back the limits
        # already taken, so only codes actually sent are counted.
        resend = await ratelimit.take(
            session,
            kind=RESEND,
            key=phone,
            limit=1,
            window_s=s.otp_resend_after_s,
            now=now,
        )
        if not resend.allowed:
            raise TooManyRequests(
                "Please wait before asking for another code.",
                code="otp_resend_too_soon",
                details={"retry_after_s": resend.retry_after_s},
            )
        for kind, key, limit in (
            (SENDS_PER_PHONE, phone, s.otp_sends_per_phone_per_hour),
            (SENDS_PER_CLIENT, client[:64], s.otp_sends_per_client_per_hour),
        ):
            hourly = await ratelimit.take(
                session, kind=kind, key=key, limit=limit, window_s=SEND_WINDOW_S, now=now
            )
            if not hourly.allowed:
                raise TooManyRequests(
                    "Too many codes asked for. Please try again in an hour.",
                    code="otp_limit",
                    details={"retry_after_s": hourly.retry_after_s},
                )
        code = f"{secrets.randbelow(10**6):06d}"
        salt = secrets.token_hex(8)
        challenge = OtpChallenge(
            phone=phone,
            client=client[:64],
            salt=salt,
            code_hash=code_mac(s.secret_key, salt, code),
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
        expected = code_mac(rt.settings.secret_key, challenge.salt, code)
        if not hmac.compare_digest(challenge.code_hash.encode(), expected.encode()):
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
