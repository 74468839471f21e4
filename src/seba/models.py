"""Imports every domain's tables so that metadata (and Alembic) sees them all."""

from seba.accounts.models import ApiToken, LoginFailure, StaffUser
from seba.beds.models import BedEvent, BedPool
from seba.core.audit import AuditEntry
from seba.core.idempotency import IdempotencyRecord
from seba.core.outbox import OutboxMessage
from seba.core.versions import DataVersion
from seba.places.models import District, Facility
from seba.referrals.models import AdmissionRequest, OtpChallenge, PhoneSession, Referral

__all__ = [
    "AdmissionRequest",
    "ApiToken",
    "AuditEntry",
    "BedEvent",
    "BedPool",
    "DataVersion",
    "District",
    "Facility",
    "IdempotencyRecord",
    "LoginFailure",
    "OtpChallenge",
    "OutboxMessage",
    "PhoneSession",
    "Referral",
    "StaffUser",
]
