"""Settings from the environment (prefix ``SEBA_``)."""

from __future__ import annotations

import secrets
from functools import cached_property
from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="SEBA_", extra="ignore")

    env: Literal["dev", "prod", "test"] = "dev"
    database_url: str = "sqlite+aiosqlite:///./var/seba.db"
    redis_url: str | None = None
    # A random key per process is safe for dev (tokens are opaque and stored hashed; the key
    # only signs CSRF values); production must set a stable one.
    secret_key: str = Field(default_factory=lambda: secrets.token_urlsafe(32))
    # A facility whose census is older than this is marked stale on every public view.
    stale_after_s: int = 6 * 3600
    token_ttl_s: int = 12 * 3600
    # Failed logins per username (and per client address) in the window before refusing.
    login_max_failures: int = 5
    login_window_s: int = 15 * 60
    default_language: Literal["bn", "en"] = "bn"
    sse_heartbeat_s: float = 15.0
    db_pool_size: int = 10
    # Set by `seba serve --workers N`; several workers without Redis read versions from the DB.
    workers: int = 1

    @cached_property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")


def get_settings() -> Settings:
    return Settings()
