"""Settings from the environment (prefix ``SEBA_``)."""

from __future__ import annotations

import secrets
from functools import cached_property
from typing import Literal

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

MIN_SECRET_KEY_CHARS = 32


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="SEBA_", extra="ignore")

    env: Literal["dev", "prod", "test"] = "dev"
    database_url: str = "sqlite+aiosqlite:///./var/seba.db"
    redis_url: str | None = None
    # Signs CSRF values and cookies and keys one-time-code hashes. Production refuses to start
    # without a stable one (at least 32 characters); in dev a random one is made per run, and
    # `seba serve --workers N` hands the same one to every worker.
    secret_key: str = Field(default_factory=lambda: secrets.token_urlsafe(32))
    # A facility whose census is older than this is marked stale on every public view.
    stale_after_s: int = 6 * 3600
    token_ttl_s: int = 12 * 3600
    # How long a worker trusts a token it has checked without asking the database again
    # (``accounts/principals.py``; 0: ask on every request). Logout and account changes reach
    # every worker at once through the event bus; this bounds staleness when they cannot.
    principal_cache_s: float = 30.0
    # Failed logins per username in the window before refusing (guessing one account).
    login_max_failures: int = 5
    # Per client address: higher, because a hub's or a district office's staff share one NAT
    # address, and one person's typos must not lock the whole floor out.
    login_max_failures_per_client: int = 50
    login_window_s: int = 15 * 60
    default_language: Literal["bn", "en"] = "bn"
    # Reverse proxies whose X-Forwarded-For is believed (comma-separated in the environment).
    trusted_proxies: list[str] = Field(default_factory=list)
    sse_heartbeat_s: float = 15.0
    db_pool_size: int = 10
    # Log the event loop's lag and each availability refresh every this many seconds (0: off);
    # for benchmarks (``core/loop_probe.py``).
    loop_probe_s: float = 0.0
    # Set by `seba serve --workers N`; several workers without Redis read versions from the DB.
    workers: int = 1

    # Referrals: how long a reserved bed is held for the patient before it is released.
    reservation_hold_s: int = 90 * 60
    # One-time codes for citizens: life, tries per code, sends per phone / per client per hour.
    otp_ttl_s: int = 5 * 60
    otp_max_attempts: int = 5
    otp_resend_after_s: int = 30
    otp_sends_per_phone_per_hour: int = 5
    otp_sends_per_client_per_hour: int = 20
    # SMS: a console provider writing JSON lines to ``sms_file`` unless a gateway URL is set.
    sms_file: str = "var/sms.jsonl"
    sms_gateway_url: str | None = None
    sms_gateway_token: str | None = None
    sms_sender: str = "WBSEBA"
    # Run the outbox worker inside the server process (the demo's `make run`); production runs
    # `seba worker` on its own.
    worker_in_process: bool = False
    worker_poll_s: float = 1.0
    # Teleconsultation routing (DOMAIN §3; docs/telemedicine-routing.md says why these numbers).
    consult_mean_s: float = 240.0
    offer_timeout_s: float = 60.0
    join_timeout_s: float = 120.0
    overflow_neighbour_after_s: float = 120.0
    overflow_state_after_s: float = 300.0
    follow_up_hold_s: float = 300.0
    presence_timeout_s: float = 30.0
    # Ambulances: the promise of reaching the patient, minutes from the call, by area kind
    # (issue 14's defaults; the figures count the share of requests reached within it).
    ambulance_promise_urban_min: float = 20.0
    ambulance_promise_rural_min: float = 40.0
    attachment_dir: str = "var/attachments"
    attachment_max_bytes: int = 5 * 1024 * 1024
    # The address printed in a prescription's QR code; the public check page lives there.
    public_base_url: str = "http://127.0.0.1:8000"
    # The call (docs/telemedicine.md "The call"). A ticket to open the signaling WebSocket
    # lives this long: enough to connect, too short to be worth stealing.
    call_ticket_ttl_s: int = 60
    # TPG 2020 list A needs a video consult: video counts only if it reached the doctor for at
    # least this long (SEBA_VIDEO_MIN_SECONDS); a flicker of picture is not an examination.
    video_min_seconds: int = 60
    # ICE servers handed to the browsers (JSON lists in the environment, e.g.
    # SEBA_STUN_URLS='["stun:turn.example.in:3478"]'). None by default: no traffic leaves for a
    # third party unless configured; host candidates still connect on one network.
    stun_urls: list[str] = Field(default_factory=list)
    turn_urls: list[str] = Field(default_factory=list)
    # coturn's `static-auth-secret` (its TURN REST API mode); TURN is offered only with it.
    turn_secret: str | None = None
    # TURN credentials expire this long after they are issued; coturn refuses a refresh with
    # an expired username, so they must outlive a long consult.
    turn_ttl_s: int = 4 * 3600
    # Tests: the page offers and accepts only 127.0.0.1 ICE candidates (no media leaves the
    # machine's loopback).
    call_loopback_only: bool = False
    # A call page reports its media counters this often; a peer silent for three of these is
    # shown as reconnecting, and the server closes a socket silent for six.
    call_heartbeat_s: float = 5.0
    # Browser tests only (refused in production): the call page exposes hooks to drop its
    # socket and to feed its link monitor poor samples, and the socket names its worker.
    call_test_hooks: bool = False

    @model_validator(mode="after")
    def _production_has_a_stable_key(self) -> Settings:
        if self.env == "prod":
            if self.call_test_hooks:
                raise ValueError("SEBA_CALL_TEST_HOOKS is for tests: never in production.")
            if "secret_key" not in self.model_fields_set:
                raise ValueError(
                    "SEBA_SECRET_KEY is not set: production needs a stable secret key, the same "
                    "on every worker and node (e.g. `python -c 'import secrets; "
                    "print(secrets.token_urlsafe(48))'`)."
                )
            if len(self.secret_key) < MIN_SECRET_KEY_CHARS:
                raise ValueError(
                    f"SEBA_SECRET_KEY is too short: use at least {MIN_SECRET_KEY_CHARS} characters."
                )
        return self

    @cached_property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")


def get_settings() -> Settings:
    return Settings()
