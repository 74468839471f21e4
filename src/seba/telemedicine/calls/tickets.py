"""Call tickets and ICE servers: pure functions of the settings, a user and the time.

**Tickets.** A browser cannot send an ``Authorization`` header when it opens a WebSocket, and a
session cookie on a WebSocket invites cross-site use. So an authenticated request (the page's
session or the API's bearer token, checked against the policy table) is given a *ticket*: the
user, the consult, the party (doctor or CHO) and an expiry, signed with HMAC-SHA256 under a
key derived from ``SEBA_SECRET_KEY`` for this purpose only. It opens one consult's call, for a
minute; every worker can check it without the database, and a copy seen in a log is soon
worthless.

**TURN credentials** (coturn's ``use-auth-secret``, the "TURN REST API"): the username is
``<expiry unix time>:<user id>`` and the password base64(HMAC-SHA1(secret, username)). coturn
recomputes the password from its ``static-auth-secret`` and refuses an expired username, so
Seba stores nothing and a leaked credential dies on its own.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
from dataclasses import dataclass
from typing import Any

from seba.settings import Settings
from seba.telemedicine.calls.models import PARTIES

TICKET_PURPOSE = b"seba:call-ticket:v1"
MAX_TICKET_CHARS = 400


class TicketRefused(Exception):
    """Why a ticket does not open the call: ``missing``, ``invalid``, ``expired`` or
    ``wrong_consult``."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class Ticket:
    user_id: int
    consult_id: int
    party: str
    expires_at: int  # unix seconds


def _key(secret_key: str) -> bytes:
    # A key of its own: a ticket can never be mistaken for a CSRF value or an OTP hash, which
    # are signed under the same secret.
    return hmac.new(secret_key.encode(), TICKET_PURPOSE, hashlib.sha256).digest()


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def sign_ticket(secret_key: str, ticket: Ticket) -> str:
    data = {"u": ticket.user_id, "c": ticket.consult_id, "p": ticket.party, "e": ticket.expires_at}
    payload = _b64(json.dumps(data, separators=(",", ":")).encode())
    signature = _b64(hmac.new(_key(secret_key), payload.encode(), hashlib.sha256).digest())
    return f"{payload}.{signature}"


def read_ticket(secret_key: str, text: str | None, *, consult_id: int, now_s: float) -> Ticket:
    """The ticket if it is genuine, unexpired and for ``consult_id``; TicketRefused otherwise.
    The signature is checked (in constant time) before anything in the payload is believed."""
    if not text:
        raise TicketRefused("missing")
    if len(text) > MAX_TICKET_CHARS or text.count(".") != 1:
        raise TicketRefused("invalid")
    payload, signature = text.split(".")
    expected = _b64(hmac.new(_key(secret_key), payload.encode(), hashlib.sha256).digest())
    if not hmac.compare_digest(expected, signature):
        raise TicketRefused("invalid")
    try:
        data = json.loads(_unb64(payload))
        ticket = Ticket(
            user_id=int(data["u"]),
            consult_id=int(data["c"]),
            party=str(data["p"]),
            expires_at=int(data["e"]),
        )
    except (ValueError, KeyError, TypeError, binascii.Error):
        raise TicketRefused("invalid") from None
    if ticket.party not in PARTIES:
        raise TicketRefused("invalid")
    if ticket.expires_at < now_s:
        raise TicketRefused("expired")
    if ticket.consult_id != consult_id:
        raise TicketRefused("wrong_consult")
    return ticket


def turn_credentials(secret: str, user_id: int, expires_at: int) -> tuple[str, str]:
    """coturn's shared-secret credentials: (``"expiry:userid"``, base64 HMAC-SHA1)."""
    username = f"{expires_at}:{user_id}"
    digest = hmac.new(secret.encode(), username.encode(), hashlib.sha1).digest()
    return username, base64.b64encode(digest).decode()


def ice_servers(settings: Settings, user_id: int, now_s: float) -> list[dict[str, Any]]:
    """The ``iceServers`` of the browser's RTCPeerConnection: STUN as configured, and TURN
    with fresh credentials when a TURN secret is set."""
    servers: list[dict[str, Any]] = []
    if settings.stun_urls:
        servers.append({"urls": list(settings.stun_urls)})
    if settings.turn_urls and settings.turn_secret:
        username, credential = turn_credentials(
            settings.turn_secret, user_id, int(now_s) + settings.turn_ttl_s
        )
        servers.append(
            {"urls": list(settings.turn_urls), "username": username, "credential": credential}
        )
    return servers
