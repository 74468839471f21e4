"""Small factories that build test data through the services (so audit rows exist too)."""

from __future__ import annotations

import itertools

import httpx

from seba.accounts import service as account_service
from seba.beds import service as bed_service
from seba.beds.schemas import CensusUpdate, PoolCensus
from seba.core.access import SYSTEM
from seba.core.runtime import Runtime
from seba.data import read_csv
from seba.places import service as place_service
from seba.places.models import Facility
from seba.places.schemas import FacilityIn

PASSWORD = "correct-horse-battery"
_seq = itertools.count(1)


async def districts(rt: Runtime) -> None:
    await place_service.load_districts(rt, actor=SYSTEM, rows=read_csv("districts.csv"))


async def facility(rt: Runtime, **overrides: object) -> Facility:
    n = next(_seq)
    data = {
        "code": f"test-hospital-{n}",
        "name": f"Test Hospital {n}",
        "name_bn": f"পরীক্ষা হাসপাতাল {n}",
        "district_code": "kolkata",
        "ownership": "government",
        "kind": "district_hospital",
        "covid": True,
        "address": "Kolkata",
        "phones": ["033 2341 2600"],
        "lat": 22.57,
        "lon": 88.36,
    }
    data.update(overrides)
    return await place_service.create_facility(rt, actor=SYSTEM, data=FacilityIn(**data))


async def census(
    rt: Runtime,
    facility: Facility,
    pools: list[tuple[str, str, int, int]],
    version: int | None = None,
):
    """pools: (bed_type, sex, total, occupied)."""
    if version is None:
        version = (
            await bed_service.get_census(rt, facility_id=facility.id)
        ).facility.census_version
    return await bed_service.update_census(
        rt,
        actor=SYSTEM,
        facility_id=facility.id,
        census=CensusUpdate(
            version=version,
            pools=[PoolCensus(bed_type=b, sex=s, total=t, occupied=o) for b, s, t, o in pools],
        ),
    )


async def user(rt: Runtime, role: str, scope: str = "state", username: str | None = None):
    username = username or f"{role.replace('_', '-')}-{next(_seq)}"
    if role == "counsellor":
        return await counsellor(rt, username=username)
    return await account_service.create_user(
        rt, actor=SYSTEM, username=username, password=PASSWORD, role=role, scope=scope
    )


async def counsellor(rt: Runtime, *, username: str, languages: str = "bn en"):
    """A counsellor (09:00–21:00) with a login linked to them; returns the login."""
    from seba.core.db import transactional
    from seba.helpline import counsellor_work
    from seba.helpline.models import Counsellor

    async with transactional(rt.db) as session:
        row = Counsellor(
            name=f"Counsellor {username}",
            name_bn="কাউন্সেলর",
            languages=languages,
            day_start=9 * 60,
            day_end=21 * 60,
            active=True,
        )
        session.add(row)
    return await counsellor_work.add_login(
        rt, actor=SYSTEM, counsellor_id=row.id, username=username, password=PASSWORD
    )


async def token(client: httpx.AsyncClient, username: str, password: str = PASSWORD) -> str:
    response = await client.post(
        "/api/v1/auth/token", json={"username": username, "password": password}
    )
    assert response.status_code == 200, response.text
    return response.json()["access_token"]


async def staff(client: httpx.AsyncClient, rt: Runtime, role: str, scope: str = "state") -> dict:
    """Create a user and log in; returns Authorization headers."""
    u = await user(rt, role, scope)
    return {"Authorization": f"Bearer {await token(client, u.username)}"}


# --- teleconsultation network --------------------------------------------------------------


async def network(rt: Runtime) -> dict[str, str]:
    """Two pools (Kolkata–Howrah, Hills) that neighbour each other, one hub and one spoke in
    each, and the state-wide pool. Returns the codes."""
    from seba.places import network as net

    await districts(rt)
    await net.save_pools(
        rt,
        actor=SYSTEM,
        pools=[
            net.PoolIn(
                "kolkata-howrah", "Kolkata–Howrah", "কলকাতা–হাওড়া", ("kolkata", "howrah"), ("hills",)
            ),
            net.PoolIn("hills", "Hills", "পাহাড়", ("darjeeling", "kalimpong"), ("kolkata-howrah",)),
        ],
    )
    codes: dict[str, str] = {}
    for key, pool, district in (
        ("kolkata", "kolkata-howrah", "kolkata"),
        ("hills", "hills", "darjeeling"),
    ):
        fac = await facility(rt, district_code=district)
        hub = await net.create_hub(
            rt,
            actor=SYSTEM,
            data=net.HubIn(
                code=f"hub-{fac.code}",
                facility_code=fac.code,
                pool_code=pool,
                specialties=("general_medicine", "paediatrics"),
                always_open=True,
                opens_at=None,
                closes_at=None,
            ),
        )
        spoke = await net.create_spoke(
            rt,
            actor=SYSTEM,
            data=net.SpokeIn(
                code=f"hwc-{key}-{next(_seq)}",
                name=f"{key.title()} HWC",
                name_bn="স্বাস্থ্য ও সুস্থতা কেন্দ্র",
                district_code=district,
                hub_code=hub.code,
            ),
        )
        codes[f"{key}_hub"], codes[f"{key}_spoke"] = hub.code, spoke.code
    return codes


async def doctor(
    rt: Runtime,
    hub_code: str,
    *,
    specialties: tuple[str, ...] = ("general_medicine",),
    languages: tuple[str, ...] = ("bn", "en"),
    username: str | None = None,
):
    from seba.telemedicine import doctors

    n = next(_seq)
    return await doctors.add_doctor(
        rt,
        actor=SYSTEM,
        data=doctors.DoctorIn(
            username=username or f"doctor-{n}",
            password=PASSWORD,
            name=f"Dr. Test {n}",
            qualification="MBBS",
            registration=f"WBMC {10000 + n}",
            hub_codes=(hub_code,),
            specialties=specialties,
            languages=languages,
            sex="female",
        ),
    )


async def cho(rt: Runtime, spoke_code: str, username: str | None = None):
    return await user(rt, "cho", f"spoke:{spoke_code}", username)
