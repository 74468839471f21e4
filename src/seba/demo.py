"""Demo data: the 23 districts, 264 Covid hospitals (57 real, the rest generated) with bed
pools, a few stale censuses, and one demo account per role. Idempotent."""

from __future__ import annotations

import csv
import io
import random
from datetime import timedelta

from sqlalchemy import select

from seba.accounts import service as account_service
from seba.accounts.models import StaffUser
from seba.beds import service as bed_service
from seba.beds.schemas import CensusUpdate, PoolCensus
from seba.core.access import SYSTEM
from seba.core.runtime import Runtime
from seba.core.types import utcnow
from seba.data import read_csv
from seba.places import service as place_service
from seba.places.models import Facility

TARGET_HOSPITALS = 264
# Demo facilities carry the state's 24x7 integrated helpline: a real, public number that is
# right to call about beds, where an invented number might ring a stranger.
HELPLINE = "1800-313-444-222"
DEMO_PASSWORD = "seba-demo-2021"
DEMO_USERS = [
    ("admin", "state_admin", "state"),
    ("kolkata-admin", "district_admin", "district:kolkata"),
    ("control", "control_room", "state"),
    ("sskm-staff", "hospital_staff", "facility:ipgmer-sskm"),
    ("viewer", "viewer", "state"),
    # Teleconsultation: a CHO at a Kolkata health & wellness centre.
    ("cho", "cho", "spoke:hwc-kolkata-0001"),
]
# A demo doctor at the Kolkata Medical College hub who speaks Bengali and English.
DEMO_DOCTOR = ("doctor", "hub-medical-college-and-hospital-kolkata", "WBMC 20210")

# Beds per kind: (bed_type, sex) -> total. Split by sex where the state's page split them.
POOL_SHAPES = {
    "medical_college": {
        "general": 240,
        "oxygen": 160,
        "hdu": 40,
        "icu": 30,
        "ventilator": 16,
        "paediatric": 24,
    },
    "district_hospital": {
        "general": 120,
        "oxygen": 80,
        "hdu": 16,
        "icu": 12,
        "ventilator": 6,
        "paediatric": 12,
    },
    "state_general_hospital": {"general": 60, "oxygen": 40, "hdu": 8, "icu": 6, "ventilator": 2},
    "sub_divisional_hospital": {
        "general": 60,
        "oxygen": 40,
        "hdu": 8,
        "icu": 6,
        "ventilator": 2,
        "paediatric": 6,
    },
    "specialty": {"general": 40, "oxygen": 40, "hdu": 12, "icu": 16, "ventilator": 10},
    "rural_hospital": {"general": 30, "oxygen": 20},
    "satellite_centre": {"general": 50, "oxygen": 10},
    "private_hospital": {"general": 40, "oxygen": 30, "hdu": 6, "icu": 8, "ventilator": 4},
}

GENERATED = [
    # (kind, ownership, English name pattern, Bengali name pattern)
    ("rural_hospital", "government", "{hq} Rural Hospital {n}", "{hq_bn} গ্রামীণ হাসপাতাল {n_bn}"),
    (
        "sub_divisional_hospital",
        "government",
        "{hq} Super Speciality Hospital {n}",
        "{hq_bn} সুপার স্পেশালিটি হাসপাতাল {n_bn}",
    ),
    (
        "satellite_centre",
        "govt_requisitioned_private",
        "{hq} Satellite Covid Centre {n}",
        "{hq_bn} স্যাটেলাইট কোভিড কেন্দ্র {n_bn}",
    ),
    ("private_hospital", "private", "{hq} Nursing Home {n}", "{hq_bn} নার্সিং হোম {n_bn}"),
]


def facility_rows(rng: random.Random) -> list[dict[str, str]]:
    districts = read_csv("districts.csv")
    by_code = {d["code"]: d for d in districts}
    rows: list[dict[str, str]] = []
    for h in read_csv("hospitals.csv"):
        d = by_code[h["district_code"]]
        code = (
            "ipgmer-sskm" if "SSKM" in h["name_en"] else place_service.code_from_name(h["name_en"])
        )
        rows.append(
            {
                "code": code,
                "name": h["name_en"],
                "name_bn": h["name_bn"],
                "district_code": h["district_code"],
                "ownership": h["ownership"],
                "kind": h["kind"],
                "covid": "yes",
                "address": f"{d['hq_en']}, {d['name_en']}, West Bengal",
                "phones": HELPLINE,
                "lat": h["lat"],
                "lon": h["lon"],
                "hfr_id": "",
            }
        )
    # Spread the rest over the districts by population, at least one more in each.
    remaining = TARGET_HOSPITALS - len(rows)
    population = sum(int(d["population_2011"]) for d in districts)
    quota = {d["code"]: 1 for d in districts}
    extra = remaining - len(districts)
    shares = sorted(districts, key=lambda d: -int(d["population_2011"]))
    for d in shares:
        quota[d["code"]] += int(extra * int(d["population_2011"]) / population)
    leftover = remaining - sum(quota.values())
    for d in shares[:leftover]:
        quota[d["code"]] += 1
    for d in districts:
        for n in range(1, quota[d["code"]] + 1):
            kind, ownership, name_en, name_bn = GENERATED[(n - 1) % len(GENERATED)]
            lat = float(d["lat"]) + rng.uniform(-0.2, 0.2)
            lon = float(d["lon"]) + rng.uniform(-0.2, 0.2)
            rows.append(
                {
                    "code": f"{d['code']}-{place_service.slug(kind, 20)}-{n}",
                    "name": name_en.format(hq=d["hq_en"], n=n),
                    "name_bn": name_bn.format(
                        hq_bn=d["hq_bn"],
                        n_bn=str(n).translate(str.maketrans("0123456789", "০১২৩৪৫৬৭৮৯")),
                    ),
                    "district_code": d["code"],
                    "ownership": ownership,
                    "kind": kind,
                    "covid": "yes",
                    "address": f"{d['hq_en']}, {d['name_en']}, West Bengal",
                    "phones": HELPLINE,
                    "lat": f"{lat:.4f}",
                    "lon": f"{lon:.4f}",
                    "hfr_id": "",
                }
            )
    return rows


def pool_census(kind: str, rng: random.Random) -> list[PoolCensus]:
    pools = []
    scale = rng.uniform(0.6, 1.4)
    for bed_type, base in POOL_SHAPES[kind].items():
        total = max(2, int(base * scale))
        sexes = ["any"] if bed_type in ("paediatric", "ventilator") else ["male", "female"]
        for sex in sexes:
            share = total // len(sexes)
            # Oxygen and critical-care beds ran fullest in the surge.
            busy = (
                rng.uniform(0.85, 1.0)
                if bed_type in ("oxygen", "icu", "ventilator")
                else rng.uniform(0.5, 1.0)
            )
            occupied = min(share, round(share * busy))
            pools.append(PoolCensus(bed_type=bed_type, sex=sex, total=share, occupied=occupied))
    return pools


def to_csv(rows: list[dict[str, str]]) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(rows[0]))
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue()


async def load_demo(rt: Runtime, *, seed: int = 2021) -> dict[str, int]:
    rng = random.Random(seed)
    await place_service.load_districts(rt, actor=SYSTEM, rows=read_csv("districts.csv"))
    rows = facility_rows(rng)
    report = await place_service.import_facilities(rt, actor=SYSTEM, text=to_csv(rows))
    async with rt.db.read() as session:
        fresh = list(
            await session.scalars(
                select(Facility).where(Facility.census_version == 0).order_by(Facility.id)
            )
        )
    now = utcnow()
    for facility in fresh:
        frng = random.Random(f"{seed}:{facility.code}")
        # About one in twelve hospitals has not reported for a day: the page must show it.
        hours = frng.uniform(8, 30) if frng.random() < 1 / 12 else frng.uniform(0, 3)
        await bed_service.update_census(
            rt,
            actor=SYSTEM,
            facility_id=facility.id,
            census=CensusUpdate(
                version=0, pools=pool_census(facility.kind, frng), reason="demo data"
            ),
            as_of=now - timedelta(hours=hours),
        )
    from seba.telemedicine import doctors as doctor_service
    from seba.telemedicine.demo import load_network_demo

    network = await load_network_demo(rt, seed=seed)
    async with rt.db.read() as session:
        existing = set(await session.scalars(select(StaffUser.username)))
    users = 0
    username, hub, registration = DEMO_DOCTOR
    if username not in existing:
        await doctor_service.add_doctor(
            rt,
            actor=SYSTEM,
            data=doctor_service.DoctorIn(
                username=username,
                password=DEMO_PASSWORD,
                name="Dr. Ananya Sen",
                qualification="MBBS, MD (Medicine)",
                registration=registration,
                hub_codes=(hub,),
                specialties=("general_medicine", "paediatrics"),
                languages=("bn", "en", "hi"),
                sex="female",
            ),
        )
        users += 1
    for username, role, scope in DEMO_USERS:
        if username not in existing:
            await account_service.create_user(
                rt,
                actor=SYSTEM,
                username=username,
                password=DEMO_PASSWORD,
                role=role,
                scope=scope,
                full_name=f"Demo {role.replace('_', ' ')}",
            )
            users += 1
    return {
        "facilities_created": report.created,
        "censuses": len(fresh),
        "users": users,
        **network,
    }
