"""Staff users and their login tokens."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, CheckConstraint, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from seba.core.access import ROLES, SCOPE_KINDS
from seba.core.db import Base
from seba.core.types import UTCDateTime, utcnow
from seba.places.models import _in


class StaffUser(Base):
    __tablename__ = "staff_user"
    __table_args__ = (
        CheckConstraint(_in("role", ROLES), name="role"),
        CheckConstraint(_in("scope_kind", SCOPE_KINDS), name="scope_kind"),
        CheckConstraint(
            "(scope_kind = 'state' AND scope_code IS NULL)"
            " OR (scope_kind <> 'state' AND scope_code IS NOT NULL)",
            name="scope_code",
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(60), unique=True)
    full_name: Mapped[str] = mapped_column(String(120), default="")
    # A mobile as +91XXXXXXXXXX: where the SMS alerts of the user's facility go (referrals).
    mobile: Mapped[str | None] = mapped_column(String(16))
    password_hash: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(30))
    scope_kind: Mapped[str] = mapped_column(String(20), default="state")
    scope_code: Mapped[str | None] = mapped_column(String(80))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class ApiToken(Base):
    """An opaque bearer token; only its SHA-256 is stored, so a database leak leaks no login."""

    __tablename__ = "api_token"

    id: Mapped[int] = mapped_column(primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("staff_user.id", ondelete="CASCADE"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
