"""SMS providers behind one interface.

- ``ConsoleSms`` (default): appends each message as a JSON line to a file (``SEBA_SMS_FILE``,
  default ``var/sms.jsonl``), so one-time codes and notices can be read locally and by tests,
  and logs that it did so with every code masked (``masked``): the file stands in for the
  family's phone, the log is read by whoever runs the server.
- ``HttpSmsGateway``: POSTs ``{"to", "message", "sender"}`` as JSON to ``SEBA_SMS_GATEWAY_URL``
  with a bearer token (``SEBA_SMS_GATEWAY_TOKEN``); any 2xx is delivered, anything else raises.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
from pathlib import Path
from typing import Protocol

import httpx

from seba.core.types import utcnow
from seba.settings import Settings

log = logging.getLogger(__name__)


# Four or more digits, perhaps split by single spaces, dots or hyphens: a one-time code (six
# digits), but also a phone number or a reference. Short numbers (a time, a bed count, an HTTP
# status) stay readable. ``\d`` also matches Bengali digits.
_DIGIT_RUN = re.compile(r"\d(?:[ .\-]?\d){3,}")
MASK = "••••"


def masked(text: str) -> str:
    """``text`` fit for a log line: every run of four or more digits masked. Whatever carries
    a message's text towards the log goes through this, so no one-time code ever reaches it."""
    return _DIGIT_RUN.sub(MASK, text)


class SmsError(Exception):
    """The provider did not take the message; the worker retries."""


class SmsProvider(Protocol):
    async def send(self, *, to: str, body: str) -> str | None:
        """Hand one message over; return the provider's message id if it gives one."""


class ConsoleSms:
    def __init__(self, path: Path) -> None:
        self.path = path

    async def send(self, *, to: str, body: str) -> str | None:
        line = json.dumps({"at": utcnow().isoformat(), "to": to, "body": body}, ensure_ascii=False)
        await asyncio.to_thread(self._append, line)
        # The log is not a place for phone numbers or codes: the last digits of the phone, the
        # text with its codes masked. The file above keeps the whole message.
        log.info("SMS to …%s: %s", to[-4:], masked(body))
        return None

    def _append(self, line: str) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self.path.open("a", encoding="utf-8") as fh:
            fh.write(line + "\n")


class HttpSmsGateway:
    def __init__(self, url: str, token: str | None, sender: str, timeout_s: float = 10.0) -> None:
        self.url = url
        self.token = token
        self.sender = sender
        self.timeout_s = timeout_s

    async def send(self, *, to: str, body: str) -> str | None:
        headers = {"Authorization": f"Bearer {self.token}"} if self.token else {}
        try:
            async with httpx.AsyncClient(timeout=self.timeout_s) as client:
                response = await client.post(
                    self.url,
                    json={"to": to, "message": body, "sender": self.sender},
                    headers=headers,
                )
        except httpx.HTTPError as exc:
            raise SmsError(f"gateway unreachable: {exc!r}") from exc
        if response.status_code // 100 != 2:
            raise SmsError(f"gateway answered {response.status_code}: {response.text[:200]}")
        try:
            return str(response.json().get("id") or "") or None
        except ValueError:
            return None


def sms_provider(settings: Settings) -> SmsProvider:
    if settings.sms_gateway_url:
        return HttpSmsGateway(
            settings.sms_gateway_url, settings.sms_gateway_token, settings.sms_sender
        )
    return ConsoleSms(Path(settings.sms_file))
