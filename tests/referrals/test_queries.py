"""Reads behind the control room's pages.

Where a hold can move: the move page used to derive it from the public availability view
(nearest first, from the hospital the hold leaves); ``move_choices`` reads it from the tables.
The test keeps that derivation as the reference and compares the two over many holds.
"""

from __future__ import annotations

import json
from datetime import timedelta

from sqlalchemy import update

from seba.beds import public
from seba.beds.ledger import POOL_SEXES
from seba.beds.queries import MAX_LIMIT, AvailabilityFilter
from seba.core.access import SYSTEM, Principal
from seba.core.db import transactional
from seba.core.runtime import Runtime
from seba.core.types import utcnow
from seba.places.models import Facility
from seba.referrals import board
from seba.referrals.queries import MOVE_CHOICES
from tests import factories

KOLKATA_ROOM = Principal(
    user_id=None,
    username="kolkata-room",
    role="control_room",
    scope_kind="district",
    scope_code="kolkata",
    scope_district="kolkata",
)


async def _from_public_view(
    rt: Runtime, leaving: int, bed_type: str, sex: str, district: str | None
) -> list[dict]:
    """The move page's choices as it derived them from the cached public views."""
    here = json.loads((await public.facility(rt, leaving)).body)
    near = (here["lat"], here["lon"]) if here["lat"] is not None else None
    view = await public.availability(
        rt,
        AvailabilityFilter(
            district=district, bed_type=bed_type, available_only=True, near=near, limit=MAX_LIMIT
        ),
    )
    options = []
    for fac in json.loads(view.body)["facilities"]:
        free = sum(
            b["available"]
            for b in fac["beds"]
            if b["bed_type"] == bed_type and b["sex"] in POOL_SEXES[sex]
        )
        if free > 0 and fac["id"] != leaving:
            options.append({**fac, "free": free})
    return options[:MOVE_CHOICES]


def _shown(choices: list[dict]) -> list[tuple]:
    """What the move page shows of each choice, in its order."""
    return [
        (
            c["id"],
            c["name"],
            c["name_bn"],
            c["free"],
            c.get("distance_km"),
            c["district_name"],
            c["district_name_bn"],
            c["stale"],
        )
        for c in choices
    ]


async def _hospitals(rt: Runtime) -> list[Facility]:
    """Hospitals in Kolkata, Howrah and far north, one without a location, one with an old
    census, pools for men, women and anyone, some full."""
    await factories.districts(rt)
    spots = [
        ("kolkata", 22.57, 88.36),
        ("kolkata", 22.52, 88.39),
        ("kolkata", 22.62, 88.43),
        ("howrah", 22.59, 88.31),
        ("howrah", 22.55, 88.20),
        ("darjeeling", 27.04, 88.26),
        ("kolkata", None, None),
        ("howrah", None, None),
    ]
    pools = [
        [("oxygen", "female", 3, 1), ("oxygen", "any", 1, 0), ("general", "any", 4, 0)],
        [("oxygen", "male", 2, 2), ("oxygen", "any", 2, 1), ("general", "male", 5, 1)],
        [("oxygen", "female", 4, 4), ("general", "any", 3, 3), ("icu", "any", 2, 0)],
        [("oxygen", "any", 2, 0), ("general", "any", 5, 0)],
        [("oxygen", "male", 6, 0), ("oxygen", "female", 6, 5)],
        [("oxygen", "any", 9, 0), ("general", "female", 2, 0)],
        [("oxygen", "female", 2, 0), ("general", "any", 1, 0)],
        [("oxygen", "any", 3, 1), ("oxygen", "male", 1, 0)],
    ]
    hospitals = []
    for n, ((district, lat, lon), beds) in enumerate(zip(spots, pools, strict=True)):
        fac = await factories.facility(rt, district_code=district, lat=lat, lon=lon)
        await factories.census(rt, fac, beds)
        hospitals.append(fac)
        assert n < MOVE_CHOICES
    # One census is old: still offered, marked stale.
    async with transactional(rt.db) as s:
        await s.execute(
            update(Facility)
            .where(Facility.id == hospitals[3].id)
            .values(census_updated_at=utcnow() - timedelta(days=2))
        )
    return hospitals


async def test_move_choices_are_what_the_public_view_gave(rt):
    hospitals = await _hospitals(rt)
    compared = 0
    for leaving in hospitals:
        for bed_type in ("oxygen", "general", "icu"):
            for sex in ("male", "female", "other"):
                for actor, district in ((SYSTEM, None), (KOLKATA_ROOM, "kolkata")):
                    expected = await _from_public_view(rt, leaving.id, bed_type, sex, district)
                    found = await board.move_choices(
                        rt, actor=actor, facility_id=leaving.id, bed_type=bed_type, patient_sex=sex
                    )
                    case = (leaving.code, bed_type, sex, district)
                    assert _shown(found) == _shown(expected), case
                    compared += bool(found)
    assert compared > 40  # most cases offer somewhere to go


async def test_move_choices_are_the_nearest_with_a_bed_for_the_patient(rt):
    hospitals = await _hospitals(rt)
    central = hospitals[0]
    # A man needing oxygen, leaving the central hospital: the full and women-only pools are
    # not his; Howrah across the river is nearer than the south of Kolkata; the hospital
    # without a location comes last; never the one he leaves.
    found = await board.move_choices(
        rt, actor=SYSTEM, facility_id=central.id, bed_type="oxygen", patient_sex="male"
    )
    ids = [c["id"] for c in found]
    assert central.id not in ids
    assert ids == [hospitals[i].id for i in (3, 1, 4, 5, 7)]
    assert [c["free"] for c in found] == [2, 1, 6, 9, 3]
    distances = [c["distance_km"] for c in found]
    assert distances[:-1] == sorted(distances[:-1]) and distances[-1] is None
    assert [c["stale"] for c in found] == [True, False, False, False, False]
    # A district control room is offered its own district only.
    found = await board.move_choices(
        rt, actor=KOLKATA_ROOM, facility_id=central.id, bed_type="oxygen", patient_sex="female"
    )
    assert [c["id"] for c in found] == [hospitals[i].id for i in (1, 6)]
