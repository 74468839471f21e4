"""The answers of the referral service and its queries: plain dicts, JSON-ready.

They live apart from both so that the queries and the service (which calls the queries) can
shape rows the same way without importing each other.
"""

from __future__ import annotations

from typing import Any

from seba.places.contacts import call_numbers
from seba.places.models import Facility
from seba.referrals.models import AdmissionRequest, Referral


def _patient(req: AdmissionRequest) -> dict[str, Any]:
    return {
        "name": req.patient_name,
        "age": req.patient_age,
        "sex": req.patient_sex,
        "phone": req.phone,
    }


def request_dict(req: AdmissionRequest) -> dict[str, Any]:
    return {
        "id": req.id,
        "reference": req.reference,
        "source": req.source,
        "status": req.status,
        "patient": _patient(req),
        "district": req.district_code,
        "lat": req.lat,
        "lon": req.lon,
        "condition": req.condition,
        "need": req.need,
        "covid_status": req.covid_status,
        "abha_number": req.abha_number,
        "notes": req.notes,
        "created_at": req.created_at.isoformat(),
        "requeued_at": req.requeued_at.isoformat() if req.requeued_at else None,
        "reserved_at": req.reserved_at.isoformat() if req.reserved_at else None,
        "admitted_at": req.admitted_at.isoformat() if req.admitted_at else None,
    }


def referral_dict(ref: Referral, req: AdmissionRequest, facility: Facility) -> dict[str, Any]:
    return {
        "id": ref.id,
        "status": ref.status,
        "request_id": req.id,
        "reference": req.reference,
        "facility_id": facility.id,
        "facility_code": facility.code,
        "facility_name": facility.name,
        "facility_name_bn": facility.name_bn,
        "bed_type": ref.bed_type,
        "sex": ref.sex,
        "patient": _patient(req),
        "condition": req.condition,
        # What the family or the operator said the hospital needs to know.
        "covid_status": req.covid_status,
        "notes": req.notes,
        "expires_at": ref.expires_at.isoformat() if ref.expires_at else None,
        "reason": ref.reason,
        "created_by": ref.created_by,
        "created_at": ref.created_at.isoformat(),
        "confirmed_at": ref.confirmed_at.isoformat() if ref.confirmed_at else None,
        "admitted_at": ref.admitted_at.isoformat() if ref.admitted_at else None,
        "ended_at": ref.ended_at.isoformat() if ref.ended_at else None,
        "transfer_request_id": ref.transfer_request_id,
    }


def family_referral_dict(ref: Referral, facility: Facility) -> dict[str, Any]:
    """One bed of a request as the family sees it: where to go and how to reach it."""
    return {
        "status": ref.status,
        "facility_name": facility.name,
        "facility_name_bn": facility.name_bn,
        "address": facility.address,
        "address_bn": facility.address_bn,
        # The hospital's own numbers, emergency first: what the family's call buttons dial.
        "phones": call_numbers(facility.emergency_phone, facility.reception_phone, facility.phones),
        "lat": facility.lat,
        "lon": facility.lon,
        "bed_type": ref.bed_type,
        "expires_at": ref.expires_at.isoformat() if ref.expires_at else None,
        "reason": ref.reason,
    }
