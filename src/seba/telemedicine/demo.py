"""Demo teleconsultation network at the real scale: 63 hubs, 11,000 spokes, 9,000 doctors
over the 23 districts in 8 pools, plus two state-wide 24x7 specialty hubs (cardiology at SSKM,
stroke at the Bangur Institute of Neurosciences). Idempotent; bulk inserts keep it quick.

Demo doctors share one password hash (argon2 per doctor would take minutes for 9,000); every
doctor starts offline, as a real roster would at night.
"""

from __future__ import annotations

import random
from collections import defaultdict

from sqlalchemy import func, insert, select

from seba.accounts import service as account_service
from seba.accounts.models import StaffUser
from seba.core import audit
from seba.core.access import SYSTEM
from seba.core.db import transactional
from seba.core.runtime import Runtime
from seba.core.types import utcnow
from seba.data import read_csv
from seba.places import network
from seba.places.models import Facility, Hub, Spoke
from seba.telemedicine.models import Doctor, DoctorHub, DoctorPresence, DoctorSkill

HUBS = 63
SPOKES = 11_000
DOCTORS = 9_000
HUB_KINDS = ("medical_college", "district_hospital", "state_general_hospital")
STATE_HUBS = (
    ("sskm-cardiology", "ipgmer-sskm", ("cardiology",)),
    ("bin-stroke", "bangur-institute-of-neurosciences-bin", ("stroke", "neurology")),
)
# Share of doctors per specialty: general medicine carries the load; paediatrics and maternal
# care are the next most asked for (DOMAIN §1.2).
SPECIALTY_MIX = (
    ("general_medicine", 0.62),
    ("paediatrics", 0.12),
    ("obstetrics_gynaecology", 0.10),
    ("dermatology", 0.03),
    ("psychiatry", 0.03),
    ("ent", 0.02),
    ("ophthalmology", 0.02),
    ("orthopaedics", 0.02),
    ("pulmonology_tb", 0.02),
    ("cardiology", 0.01),
    ("endocrinology", 0.01),
)
BN = str.maketrans("0123456789", "০১২৩৪৫৬৭৮৯")


def read_pools() -> list[network.PoolIn]:
    return [
        network.PoolIn(
            code=row["code"],
            name=row["name"],
            name_bn=row["name_bn"],
            districts=tuple(row["districts"].split(";")),
            neighbours=tuple(n for n in row["neighbours"].split(";") if n),
        )
        for row in read_csv("pools.csv")
    ]


async def load_network_demo(rt: Runtime, *, seed: int = 2021) -> dict[str, int]:
    """Pools, hubs, spokes and doctors, unless a network exists already."""
    async with rt.db.read() as session:
        if await session.scalar(select(func.count()).select_from(Hub)):
            return {"hubs": 0, "spokes": 0, "doctors": 0}
    pools = read_pools()
    await network.save_pools(rt, actor=SYSTEM, pools=pools)
    pool_of = {d: p.code for p in pools for d in p.districts}
    rng = random.Random(seed)
    districts = {d["code"]: d for d in read_csv("districts.csv")}
    password_hash = account_service.hash_password(f"demo-doctor-{seed}")
    now = utcnow()
    async with transactional(rt.db) as session:
        facilities = list(
            await session.scalars(
                select(Facility)
                .where(Facility.kind.in_((*HUB_KINDS, "sub_divisional_hospital")))
                .order_by(Facility.id)
            )
        )
        # Every district's best facilities first, then the rest, until 61 district hubs.
        rank = {k: i for i, k in enumerate((*HUB_KINDS, "sub_divisional_hospital"))}
        by_district: dict[str, list[Facility]] = defaultdict(list)
        for f in sorted(facilities, key=lambda f: (rank[f.kind], f.id)):
            by_district[f.district_code].append(f)
        state_facilities = {code for _, code, _ in STATE_HUBS}
        chosen: list[Facility] = []
        depth = 0
        while len(chosen) < HUBS - len(STATE_HUBS):
            added = False
            for district in sorted(by_district):
                options = [f for f in by_district[district] if f.code not in state_facilities]
                if depth < len(options) and len(chosen) < HUBS - len(STATE_HUBS):
                    chosen.append(options[depth])
                    added = True
            depth += 1
            if not added:
                break
        hubs: list[Hub] = []
        general = ["general_medicine", "paediatrics", "obstetrics_gynaecology"]
        for f in chosen:
            extra = [s for s, _ in SPECIALTY_MIX[3:] if f.kind == "medical_college"]
            hubs.append(
                await network.add_hub(
                    session,
                    network.HubIn(
                        code=f"hub-{f.code}"[:80],
                        facility_code=f.code,
                        pool_code=pool_of[f.district_code],
                        specialties=tuple(general + extra),
                        opens_at="09:00",
                        closes_at="21:00",
                    ),
                )
            )
        for code, facility_code, specialties in STATE_HUBS:
            hubs.append(
                await network.add_hub(
                    session,
                    network.HubIn(
                        code=code,
                        facility_code=facility_code,
                        pool_code="state",
                        specialties=specialties,
                        always_open=True,
                        opens_at=None,
                        closes_at=None,
                    ),
                )
            )
        district_hubs = defaultdict(list)
        for hub in hubs[: len(chosen)]:
            district_hubs[await _district_of(session, hub)].append(hub)
        # Spokes: by population, each to a hub in its district (round robin).
        population = {c: int(d["population_2011"]) for c, d in districts.items()}
        total = sum(population.values())
        spoke_rows = []
        for code, d in sorted(districts.items()):
            n = max(40, round(SPOKES * population[code] / total))
            home = district_hubs[code] or [h for h in hubs if h.pool_code == pool_of[code]]
            for i in range(1, n + 1):
                spoke_rows.append(
                    {
                        "code": f"hwc-{code}-{i:04d}",
                        "name": f"{d['hq_en']} HWC {i}",
                        "name_bn": f"{d['hq_bn']} স্বাস্থ্য ও সুস্থতা কেন্দ্র {str(i).translate(BN)}",
                        "district_code": code,
                        "kind": "hwc",
                        "facility_id": None,
                        "hub_id": home[i % len(home)].id,
                        "active": True,
                        "created_at": now,
                    }
                )
        spoke_rows = spoke_rows[:SPOKES]
        await session.execute(insert(Spoke), spoke_rows)
        doctors = await _insert_doctors(session, rng, hubs, password_hash, now)
        audit.record(
            session,
            actor=SYSTEM,
            action="network.demo",
            entity_type="network",
            entity_id="*",
            after={"hubs": len(hubs), "spokes": len(spoke_rows), "doctors": doctors},
        )
    return {"hubs": len(hubs), "spokes": len(spoke_rows), "doctors": doctors}


async def _district_of(session, hub: Hub) -> str:
    return await session.scalar(
        select(Facility.district_code).where(Facility.id == hub.facility_id)
    )


async def _insert_doctors(session, rng: random.Random, hubs: list[Hub], password_hash, now) -> int:
    users, doctors, memberships, presence, skills = [], [], [], [], []
    next_user = (await session.scalar(select(func.max(StaffUser.id)))) or 0
    next_doctor = (await session.scalar(select(func.max(Doctor.id)))) or 0
    weights = [w for _, w in SPECIALTY_MIX]
    names = [s for s, _ in SPECIALTY_MIX]
    per_hub = DOCTORS // len(hubs)
    for h_index, hub in enumerate(hubs):
        count = per_hub + (1 if h_index < DOCTORS % len(hubs) else 0)
        for i in range(count):
            next_user += 1
            next_doctor += 1
            if hub.pool_code == "state":
                specialty = hub.specialties[i % len(hub.specialties)]
            else:
                specialty = rng.choices(names, weights)[0]
                if specialty not in hub.specialties:
                    specialty = "general_medicine"
            languages = ["bn", "en"]
            if hub.pool_code == "hills" and rng.random() < 0.5:
                languages.append("ne")
            if rng.random() < 0.15:
                languages.append("hi")
            username = f"dr-{hub.id:02d}-{i + 1:03d}"
            users.append(
                {
                    "id": next_user,
                    "username": username,
                    "full_name": f"Dr. Demo {hub.id}-{i + 1}",
                    "password_hash": password_hash,
                    "role": "doctor",
                    "scope_kind": "hub",
                    "scope_code": hub.code,
                    "active": True,
                    "created_at": now,
                }
            )
            doctors.append(
                {
                    "id": next_doctor,
                    "user_id": next_user,
                    "name": f"Dr. Demo {hub.id}-{i + 1}",
                    "qualification": "MBBS" if specialty == "general_medicine" else "MBBS, MD",
                    "registration": f"WBMC {60000 + next_doctor}",
                    "hpr_id": None,
                    "sex": rng.choice(("female", "male")),
                    "specialties": [specialty],
                    "languages": languages,
                    "created_at": now,
                }
            )
            memberships.append({"doctor_id": next_doctor, "hub_id": hub.id})
            presence.append(
                {
                    "doctor_id": next_doctor,
                    "status": "offline",
                    "missed_offers": 0,
                    "updated_at": now,
                }
            )
            skills += [
                {
                    "doctor_id": next_doctor,
                    "specialty": specialty,
                    "language": lang,
                    "pool_code": hub.pool_code,
                }
                for lang in languages
            ]
    await session.execute(insert(StaffUser), users)
    await session.execute(insert(Doctor), doctors)
    await session.execute(insert(DoctorHub), memberships)
    await session.execute(insert(DoctorPresence), presence)
    await session.execute(insert(DoctorSkill), skills)
    if session.bind.dialect.name == "postgresql":
        # Explicit ids above: move the sequences past them.
        for table in ("staff_user", "doctor"):
            await session.execute(
                func.setval(
                    func.pg_get_serial_sequence(table, "id"),
                    select(
                        func.max(StaffUser.id if table == "staff_user" else Doctor.id)
                    ).scalar_subquery(),
                ).select()
            )
    return len(doctors)
