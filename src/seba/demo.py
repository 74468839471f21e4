"""Demo data: the 23 districts, 264 Covid hospitals (57 real, the rest generated) with bed
pools, a few stale censuses, and one demo account per role. Idempotent."""

from __future__ import annotations

import csv
import io
import random
import re
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
DEMO_PASSWORD = "seba-demo-2021"
# username, role, scope, mobile (where the facility's referral alerts go; demo numbers only
# ever reach the console SMS file).
DEMO_USERS = [
    ("admin", "state_admin", "state", None),
    ("kolkata-admin", "district_admin", "district:kolkata", None),
    ("control", "control_room", "state", None),
    ("sskm-staff", "hospital_staff", "facility:ipgmer-sskm", "+919830011223"),
    ("viewer", "viewer", "state", None),
    # Teleconsultation: a CHO at a Kolkata health & wellness centre.
    ("cho", "cho", "spoke:hwc-kolkata-0001", None),
]
# The STD code of each district's headquarters (without the trunk 0): a hospital's landline
# is the code and a subscriber number, ten digits together.
STD_CODES = {
    "alipurduar": "3564",
    "bankura": "3242",
    "birbhum": "3462",
    "cooch-behar": "3582",
    "dakshin-dinajpur": "3522",
    "darjeeling": "354",
    "hooghly": "33",
    "howrah": "33",
    "jalpaiguri": "3561",
    "jhargram": "3221",
    "kalimpong": "3552",
    "kolkata": "33",
    "malda": "3512",
    "murshidabad": "3482",
    "nadia": "3472",
    "north-24-parganas": "33",
    "paschim-bardhaman": "341",
    "paschim-medinipur": "3222",
    "purba-bardhaman": "342",
    "purba-medinipur": "3228",
    "purulia": "3252",
    "south-24-parganas": "33",
    "uttar-dinajpur": "3523",
}
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


def landline(district: str, rng: random.Random) -> str:
    """A plausible landline of the district's headquarters: ``0`` + STD code + subscriber
    number, grouped as people write it (033 2204 1101, 03482 250 123). Made up, but of the
    right shape, so a page's call button and the validation see what real data looks like."""
    std = STD_CODES[district]
    subscriber = "2" + "".join(str(rng.randint(0, 9)) for _ in range(9 - len(std)))
    if len(subscriber) == 8:
        return f"0{std} {subscriber[:4]} {subscriber[4:]}"
    return f"0{std} {subscriber[:3]} {subscriber[3:]}"


def addresses(district: dict[str, str]) -> tuple[str, str]:
    """The demo address of a hospital in a district, in English and Bengali: its headquarters
    town, then the district once (not "Kolkata, Kolkata"), then the state. A bracketed other
    name of the town ("Bardhaman (Burdwan)") is left out."""
    town = re.sub(r"\s*\([^)]*\)", "", district["hq_en"]).strip()
    en = [town] if town == district["name_en"] else [town, district["name_en"]]
    bn = (
        [district["hq_bn"]]
        if district["hq_bn"] == district["name_bn"]
        else [district["hq_bn"], district["name_bn"]]
    )
    return ", ".join([*en, "West Bengal"]), ", ".join([*bn, "পশ্চিমবঙ্গ"])


def contacts(code: str, district: dict[str, str], ownership: str) -> dict[str, str]:
    """Address and the hospital's own numbers, the same on every run (seeded by the code).
    A private hospital's emergency line is often a mobile; a government one's a landline."""
    rng = random.Random(f"contacts:{code}")
    address, address_bn = addresses(district)
    reception = landline(district["code"], rng)
    if ownership == "private":
        emergency = f"{rng.choice('6789')}{rng.randint(0, 9)}{rng.randint(0, 99_999_999):08d}"
        emergency = f"{emergency[:5]} {emergency[5:]}"
    else:
        emergency = landline(district["code"], rng)
    return {
        "address": address,
        "address_bn": address_bn,
        "reception_phone": reception,
        "emergency_phone": emergency,
        "phones": "",
    }


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
                **contacts(code, d, h["ownership"]),
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
            code = f"{d['code']}-{place_service.slug(kind, 20)}-{n}"
            rows.append(
                {
                    "code": code,
                    "name": name_en.format(hq=d["hq_en"], n=n),
                    "name_bn": name_bn.format(
                        hq_bn=d["hq_bn"],
                        n_bn=str(n).translate(str.maketrans("0123456789", "০১২৩৪৫৬৭৮৯")),
                    ),
                    "district_code": d["code"],
                    "ownership": ownership,
                    "kind": kind,
                    "covid": "yes",
                    **contacts(code, d, ownership),
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


# Name, Bengali name, languages, login (password DEMO_PASSWORD).
DEMO_COUNSELLORS = (
    ("Mita Roy", "মিতা রায়", ["bn", "en"], "counsellor-mita"),
    ("Arif Hossain", "আরিফ হোসেন", ["bn"], "counsellor-arif"),
    ("Sarah D'Souza", "সারা ডি'সুজা", ["en", "bn"], "counsellor-sarah"),
)


async def load_counsellors(rt: Runtime) -> int:
    """Three demo counsellors (09:00–21:00), once, each with a login (role counsellor) linked
    to them; a second run adds only what is missing (a login of a counsellor made before
    logins existed included). Returns the logins created."""
    from seba.helpline import counselling, counsellor_work
    from seba.helpline.models import Counsellor
    from seba.helpline.schemas import CounsellorIn

    async with rt.db.read() as session:
        rows = {c.name: c for c in await session.scalars(select(Counsellor))}
        usernames = set(await session.scalars(select(StaffUser.username)))
    created = 0
    for name, name_bn, languages, username in DEMO_COUNSELLORS:
        row = rows.get(name)
        if row is None:
            row = await counselling.add_counsellor(
                rt,
                actor=SYSTEM,
                data=CounsellorIn(name=name, name_bn=name_bn, languages=languages),
            )
        if row.user_id is None and username not in usernames:
            await counsellor_work.add_login(
                rt,
                actor=SYSTEM,
                counsellor_id=row.id,
                username=username,
                password=DEMO_PASSWORD,
                full_name=name,
            )
            created += 1
    return created


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
    from seba.helpline import service as helpline_service
    from seba.telemedicine import doctors as doctor_service
    from seba.telemedicine.demo import load_network_demo

    # The helpline's numbers (seeded by the migration too) and its answers.
    await helpline_service.load_numbers(rt, actor=SYSTEM, rows=read_csv("helplines.csv"))
    await helpline_service.load_answers(rt, actor=SYSTEM, rows=read_csv("answers.csv"))
    counsellor_logins = await load_counsellors(rt)

    network = await load_network_demo(rt, seed=seed)
    from seba.ambulances.demo import load_fleet_demo

    ambulances = await load_fleet_demo(rt, seed=seed)
    async with rt.db.read() as session:
        existing = set(await session.scalars(select(StaffUser.username)))
    users = counsellor_logins
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
    for username, role, scope, mobile in DEMO_USERS:
        if username not in existing:
            await account_service.create_user(
                rt,
                actor=SYSTEM,
                username=username,
                password=DEMO_PASSWORD,
                role=role,
                scope=scope,
                full_name=f"Demo {role.replace('_', ' ')}",
                mobile=mobile,
            )
            users += 1
    return {
        "facilities_created": report.created,
        "censuses": len(fresh),
        "users": users,
        **network,
        **ambulances,
    }
