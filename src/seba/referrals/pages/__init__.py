"""Central referral pages, by audience: the family's bed request and status behind a phone code
(``citizen``), the control room (``control_room``), the hospital's incoming referrals and
admissions (``hospital``), and the staff event stream that keeps their lists live
(``events``). ``forms`` holds what they share.

Every action is a plain POST form that works without JavaScript (post, redirect, get); the
script only refreshes the list parts when the event stream says something changed. State
changes and reads are the referral services': these routes parse a form, call one, and render
its answer or its error in the reader's language.
"""

from __future__ import annotations

from fastapi import APIRouter

from seba.referrals.pages import citizen, control_room, events, hospital

router = APIRouter()
router.include_router(citizen.router)
router.include_router(control_room.router)
router.include_router(hospital.router)
router.include_router(events.router)
