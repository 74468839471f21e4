"""Imports every domain's tables so that metadata (and Alembic) sees them all."""

from seba.accounts.models import ApiToken, LoginFailure, StaffUser
from seba.beds.models import BedEvent, BedPool
from seba.core.audit import AuditEntry
from seba.core.versions import DataVersion
from seba.places.models import District, Facility

__all__ = [
    "ApiToken",
    "AuditEntry",
    "BedEvent",
    "BedPool",
    "DataVersion",
    "District",
    "Facility",
    "LoginFailure",
    "StaffUser",
]
