"""Ambulance test data, built through the services (so audit rows exist too)."""

from __future__ import annotations

import itertools

from seba.ambulances import dispatch
from seba.ambulances import service as fleet
from seba.ambulances.schemas import AmbulanceIn, StaffRequestIn
from seba.core.access import SYSTEM
from seba.core.runtime import Runtime
from tests import factories

_seq = itertools.count(1)


async def base(rt: Runtime, district: str = "kolkata", **overrides):
    """A government hospital in ``district`` to base ambulances at."""
    return await factories.facility(rt, district_code=district, **overrides)


async def ambulance(rt: Runtime, facility_code: str, **overrides) -> dict:
    n = next(_seq)
    data = {
        "registration": f"WB 02 AB {n:04d}",
        "kind": "bls",
        "base_facility": facility_code,
        "driver_name": f"Driver {n}",
        "driver_phone": f"98300{n:05d}",
    }
    data.update(overrides)
    return await fleet.create_ambulance(rt, actor=SYSTEM, data=AmbulanceIn(**data))


async def place_at(rt: Runtime, ambulance_id: int, lat: float, lon: float) -> None:
    """Put an ambulance somewhere (as a driver's last report would)."""
    from sqlalchemy import update

    from seba.ambulances.models import Ambulance
    from seba.core.db import transactional

    async with transactional(rt.db) as session:
        await session.execute(
            update(Ambulance).where(Ambulance.id == ambulance_id).values(lat=lat, lon=lon)
        )


async def request(rt: Runtime, district: str = "kolkata", **overrides) -> dict:
    data = {
        "district": district,
        "lat": 22.57,
        "lon": 88.36,
        "condition": "severe",
        "contact_phone": "98300 55555",
    }
    data.update(overrides)
    return await dispatch.create_request(rt, actor=SYSTEM, data=StaffRequestIn(**data))


async def world(rt: Runtime) -> dict:
    """Districts, one hospital in Kolkata, one ambulance there."""
    await factories.districts(rt)
    hospital = await base(rt)
    amb = await ambulance(rt, hospital.code)
    return {"hospital": hospital, "ambulance": amb}
