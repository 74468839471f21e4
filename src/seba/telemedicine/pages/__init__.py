"""Teleconsultation pages, by audience: the CHO at a spoke (``cho``: find or register a
patient, raise a consult; ``cho_consult``: follow one consult, join, print, dispense), the hub
doctor (``doctor``: the console), admins and viewers (``capacity``: the network's capacity),
and the public (``verify``: the prescription check a pharmacist reaches from the QR code).

``forms`` holds what they share (paths, dependencies, reading a form into a schema) and
``text`` their words. ``router`` carries all of them; the app includes it once.
"""

from __future__ import annotations

from fastapi import APIRouter

from seba.telemedicine.pages import call, capacity, cho, cho_consult, doctor, verify

router = APIRouter(include_in_schema=False)
# cho first: its /consults/new must match before cho_consult's /consults/{id}.
router.include_router(cho.router)
router.include_router(cho_consult.router)
router.include_router(doctor.router)
router.include_router(capacity.router)
router.include_router(verify.router)
router.include_router(call.router)
