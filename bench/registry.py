"""A generated facility registry for benchmarks: the demo's 264 hospitals plus as many more as
asked (sub-centres, primary health centres, rural and private hospitals), spread around the
district headquarters, each with one to twelve bed pools and a census of today.

``grow(url, total)`` writes straight into PostgreSQL (far faster than the services for tens of
thousands of rows), then bumps the bed data version once without a change note, so every
worker's in-memory availability is rebuilt from scratch: the path an import takes.
"""

from __future__ import annotations

import asyncio
import json
import random
from datetime import UTC, datetime, timedelta

# (kind, share, pools): a pool is (bed_type, sex, total beds).
SHAPES = [
    ("satellite_centre", 0.55, [("general", "any", 6)]),
    (
        "rural_hospital",
        0.25,
        [("general", "male", 15), ("general", "female", 15), ("oxygen", "any", 6)],
    ),
    (
        "sub_divisional_hospital",
        0.12,
        [
            ("general", "male", 40),
            ("general", "female", 40),
            ("oxygen", "male", 15),
            ("oxygen", "female", 15),
            ("hdu", "any", 6),
            ("icu", "any", 4),
            ("paediatric", "any", 8),
        ],
    ),
    (
        "private_hospital",
        0.08,
        [
            ("general", "male", 30),
            ("general", "female", 30),
            ("oxygen", "male", 12),
            ("oxygen", "female", 12),
            ("hdu", "male", 4),
            ("hdu", "female", 4),
            ("icu", "male", 4),
            ("icu", "female", 4),
            ("ventilator", "any", 3),
            ("paediatric", "male", 5),
            ("paediatric", "female", 5),
            ("general", "any", 10),
        ],
    ),
]


async def grow(url: str, total: int, seed: int = 2021) -> int:
    """Add generated facilities until the registry holds ``total``; returns how many added."""
    import asyncpg

    rng = random.Random(seed)
    conn = await asyncpg.connect(url.replace("postgresql+asyncpg", "postgresql"))
    try:
        have = await conn.fetchval("SELECT count(*) FROM facility")
        districts = await conn.fetch("SELECT code, lat, lon, population_2011 FROM district")
        weights = [d["population_2011"] for d in districts]
        now = datetime.now(UTC)
        rows = []
        kinds = []
        for n in range(max(0, total - have)):
            kind, _, pools = rng.choices(SHAPES, weights=[s[1] for s in SHAPES])[0]
            district = rng.choices(districts, weights=weights)[0]
            ownership = "private" if kind == "private_hospital" else "government"
            updated = now - timedelta(hours=rng.uniform(0, 5))
            rows.append(
                (
                    f"gen-{n:06d}",
                    f"Generated {kind.replace('_', ' ')} {n}",
                    f"উৎপন্ন স্বাস্থ্যকেন্দ্র {n}",
                    district["code"],
                    ownership,
                    kind,
                    rng.random() < 0.3,
                    "",
                    json.dumps(["1800-313-444-222"]),
                    round(district["lat"] + rng.gauss(0, 0.25), 5),
                    round(district["lon"] + rng.gauss(0, 0.25), 5),
                    1,
                    updated,
                    now,
                    now,
                )
            )
            kinds.append(pools)
        await conn.executemany(
            "INSERT INTO facility (code, name, name_bn, district_code, ownership, kind, covid, "
            "address, phones, lat, lon, census_version, census_updated_at, created_at, "
            "updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9::json, $10, $11, $12, $13, "
            "$14, $15)",
            rows,
        )
        ids = {
            r["code"]: r["id"]
            for r in await conn.fetch("SELECT id, code FROM facility WHERE code LIKE 'gen-%'")
        }
        pools = []
        for row, shape in zip(rows, kinds, strict=True):
            for bed_type, sex, beds in shape:
                occupied = rng.randint(0, beds)
                pools.append((ids[row[0]], bed_type, sex, beds, occupied, 0))
        await conn.copy_records_to_table(
            "bed_pool",
            records=pools,
            columns=["facility_id", "bed_type", "sex", "total", "occupied", "reserved"],
        )
        await conn.execute("UPDATE data_version SET value = value + 1 WHERE name = 'beds'")
        return len(rows)
    finally:
        await conn.close()


if __name__ == "__main__":
    import sys

    print(asyncio.run(grow(sys.argv[1], int(sys.argv[2]))))
