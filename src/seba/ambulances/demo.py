"""Demo fleet: a few ambulances in every district, based at its government hospitals, loaded
through the same all-or-nothing import an admin uses (so a re-run changes nothing)."""

from __future__ import annotations

import csv
import io
import random

from sqlalchemy import select

from seba.ambulances import service as fleet
from seba.core.access import SYSTEM
from seba.core.runtime import Runtime
from seba.places.models import Facility

DRIVERS = (
    "Sanjay Mondal",
    "Rafiqul Islam",
    "Bapi Das",
    "Tapas Ghosh",
    "Anwar Hossain",
    "Subhas Roy",
    "Mithun Barman",
    "Pradip Mahato",
)
KINDS = ("free_govt", "free_govt", "bls", "bls", "als", "patient_transport")
# Vehicles per district: more where more people live, at least four everywhere.
PER_DISTRICT = {"kolkata": 12, "north-24-parganas": 10, "south-24-parganas": 9}
DEFAULT_PER_DISTRICT = 5


async def fleet_rows(rt: Runtime, *, seed: int) -> list[dict[str, str]]:
    async with rt.db.read() as session:
        facilities = list(
            await session.scalars(
                select(Facility)
                .where(Facility.ownership == "government")
                .order_by(Facility.district_code, Facility.id)
            )
        )
    by_district: dict[str, list[Facility]] = {}
    for f in facilities:
        by_district.setdefault(f.district_code, []).append(f)
    rows = []
    for index, (district, bases) in enumerate(sorted(by_district.items())):
        rng = random.Random(f"{seed}:ambulances:{district}")
        for n in range(PER_DISTRICT.get(district, DEFAULT_PER_DISTRICT)):
            base = bases[n % len(bases)]
            rows.append(
                {
                    # West Bengal RTO numbers run 01–98; one per district is enough here.
                    "registration": f"WB {index * 4 + 2:02d} A{chr(65 + n % 26)} {1001 + n}",
                    "kind": KINDS[n % len(KINDS)],
                    "base_facility": base.code,
                    "driver_name": rng.choice(DRIVERS),
                    "driver_phone": f"9{rng.randrange(10**8, 10**9)}",
                    "status": "off_duty" if rng.random() < 0.1 else "free",
                }
            )
    return rows


async def load_fleet_demo(rt: Runtime, *, seed: int = 2021) -> dict[str, int]:
    rows = await fleet_rows(rt, seed=seed)
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(rows[0]))
    writer.writeheader()
    writer.writerows(rows)
    report = await fleet.import_ambulances(rt, actor=SYSTEM, text=out.getvalue())
    return {"ambulances_created": report.created}
