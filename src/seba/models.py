"""Imports every domain's tables so that metadata (and Alembic) sees them all."""

from seba.accounts.models import ApiToken, StaffUser
from seba.ambulances.models import Ambulance, AmbulanceRequest, AmbulanceTrip
from seba.beds.models import BedEvent, BedPool
from seba.core.audit import AuditEntry
from seba.core.health import WorkerHeartbeat
from seba.core.idempotency import IdempotencyRecord
from seba.core.outbox import OutboxMessage
from seba.core.ratelimit import RateLimit
from seba.core.versions import DataVersion
from seba.helpline.models import (
    Answer,
    AnswerRevision,
    CallbackRequest,
    CounsellingBooking,
    Counsellor,
    HelplineNumber,
)
from seba.patients.models import Patient
from seba.places.models import District, Facility, Hub, Pool, PoolDistrict, Spoke, SpokeLink
from seba.referrals.models import AdmissionRequest, OtpChallenge, PhoneSession, Referral
from seba.telemedicine.calls.models import CallMessage, CallSegment, ConsultCall
from seba.telemedicine.models import (
    Consultation,
    ConsultAttachment,
    Dispensing,
    Doctor,
    DoctorHub,
    DoctorPresence,
    DoctorSkill,
    Prescription,
    RosterShift,
)

__all__ = [
    "AdmissionRequest",
    "Ambulance",
    "AmbulanceRequest",
    "AmbulanceTrip",
    "Answer",
    "AnswerRevision",
    "ApiToken",
    "AuditEntry",
    "BedEvent",
    "BedPool",
    "CallMessage",
    "CallSegment",
    "CallbackRequest",
    "ConsultAttachment",
    "ConsultCall",
    "Consultation",
    "CounsellingBooking",
    "Counsellor",
    "DataVersion",
    "Dispensing",
    "District",
    "Doctor",
    "DoctorHub",
    "DoctorPresence",
    "DoctorSkill",
    "Facility",
    "HelplineNumber",
    "Hub",
    "IdempotencyRecord",
    "OtpChallenge",
    "OutboxMessage",
    "Patient",
    "PhoneSession",
    "Pool",
    "PoolDistrict",
    "Prescription",
    "RateLimit",
    "Referral",
    "RosterShift",
    "Spoke",
    "SpokeLink",
    "StaffUser",
    "WorkerHeartbeat",
]
