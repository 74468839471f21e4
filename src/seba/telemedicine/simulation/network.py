"""The simulated network of ``seba simulate``: pools of districts (from the shipped pools
file), hubs scaled to the doctors online, and the specialties and languages each serves.

Generated from the day's seed with the rest of the day (``day``).
"""

from __future__ import annotations

import csv
import math
import random
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from seba.data import DATA_DIR
from seba.telemedicine.consults.routing import STATE_POOL

# What patients ask for (share of requests). General medicine carries the load; paediatrics
# and maternal care come next (DOMAIN §1.2). Cardiology and stroke go to the state's 24x7 hubs.
SPECIALTY_MIX = (
    ("general_medicine", 0.60),
    ("paediatrics", 0.15),
    ("obstetrics_gynaecology", 0.12),
    ("dermatology", 0.03),
    ("psychiatry", 0.02),
    ("ent", 0.02),
    ("ophthalmology", 0.02),
    ("pulmonology_tb", 0.01),
    ("cardiology", 0.02),
    ("stroke", 0.01),
)
STATE_HUBS = {"cardiology": "sskm-cardiology", "stroke": "bin-stroke"}


# Patients' languages by district: rough shares of the scenario (Nepali in the hills, Santali
# in the west, Hindi and Urdu in the towns), not census figures; the rest speak Bengali.
DISTRICT_LANGUAGES: dict[str, tuple[tuple[str, float], ...]] = {
    "darjeeling": (("ne", 0.55), ("hi", 0.15), ("en", 0.05)),
    "kalimpong": (("ne", 0.65), ("hi", 0.12), ("en", 0.05)),
    "jalpaiguri": (("ne", 0.08), ("hi", 0.10), ("sat", 0.02)),
    "alipurduar": (("ne", 0.08), ("hi", 0.12), ("sat", 0.03)),
    "kolkata": (("hi", 0.18), ("ur", 0.05), ("en", 0.05)),
    "howrah": (("hi", 0.12), ("ur", 0.03), ("en", 0.02)),
    "north-24-parganas": (("hi", 0.08), ("ur", 0.02), ("en", 0.01)),
    "paschim-bardhaman": (("hi", 0.20), ("sat", 0.03), ("ur", 0.02)),
    "uttar-dinajpur": (("hi", 0.08), ("ur", 0.05), ("sat", 0.02)),
    "murshidabad": (("ur", 0.02), ("hi", 0.02)),
    "jhargram": (("sat", 0.17), ("hi", 0.01)),
    "purulia": (("sat", 0.10), ("hi", 0.04)),
    "bankura": (("sat", 0.07), ("hi", 0.01)),
    "paschim-medinipur": (("sat", 0.06), ("hi", 0.02)),
    "birbhum": (("sat", 0.06), ("hi", 0.01)),
    "dakshin-dinajpur": (("sat", 0.04), ("hi", 0.02)),
    "malda": (("sat", 0.03), ("hi", 0.03)),
}
DEFAULT_LANGUAGES = (("hi", 0.03), ("en", 0.01))
DOCTORS_PER_HUB = 15  # hubs scale with the doctors online: 63 hubs at ~950 doctors
DISTRICT_HUBS = 61  # the 63 hubs less the two state hubs


@dataclass(frozen=True)
class PoolSpec:
    code: str
    districts: tuple[str, ...]
    neighbours: frozenset[str]


@dataclass(frozen=True)
class HubSpec:
    code: str
    pool: str  # STATE_POOL for the state-wide hubs
    districts: tuple[str, ...]  # districts whose spokes it serves (all, for a state hub)


@dataclass(frozen=True)
class Network:
    pools: tuple[PoolSpec, ...]
    hubs: tuple[HubSpec, ...]
    population: dict[str, int]
    district_pool: dict[str, str]
    spoke_hubs: dict[str, tuple[tuple[str, float], ...]]  # district → (hub, share of spokes)
    specialty_level: dict[str, str]  # "hub" | "pool" | "state"
    specialist_hub: dict[str, str]  # pool → its hub offering the pool-level specialties
    state_hub: dict[str, str]  # state-level specialty → hub

    def home_hub(self, district: str, spoke_hub: str, specialty: str) -> str:
        """The one hub a spoke's consult goes to under strict per-hub routing."""
        level = self.specialty_level[specialty]
        if level == "hub":
            return spoke_hub
        if level == "pool":
            return self.specialist_hub[self.district_pool[district]]
        return self.state_hub[specialty]

    def row(self, district: str, specialty: str) -> str:
        """The report row of a consult: the state hubs' row, or the spoke's pool."""
        return (
            STATE_POOL
            if self.specialty_level[specialty] == "state"
            else self.district_pool[district]
        )


def read_pools(data_dir: Path = DATA_DIR) -> tuple[tuple[PoolSpec, ...], dict[str, int]]:
    """The pools (``pools.csv``, the network the service uses) and district populations.

    Raises ValueError when the pools do not cover each district of ``districts.csv`` exactly
    once or name an unknown neighbour, or a pool has fewer than 2 or more than 4 districts.
    """
    with (data_dir / "districts.csv").open(encoding="utf-8") as fh:
        population = {row["code"]: int(row["population_2011"]) for row in csv.DictReader(fh)}
    with (data_dir / "pools.csv").open(encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    pools = tuple(
        PoolSpec(
            code=row["code"],
            districts=tuple(d for d in row["districts"].split(";") if d),
            neighbours=frozenset(n for n in row["neighbours"].split(";") if n),
        )
        for row in sorted(rows, key=lambda r: r["code"])
    )
    codes = {p.code for p in pools}
    seen = [d for p in pools for d in p.districts]
    if sorted(seen) != sorted(population):
        raise ValueError("pools.csv must put each district of districts.csv in exactly one pool")
    for pool in pools:
        if not 2 <= len(pool.districts) <= 4:
            raise ValueError(f"pool {pool.code} must have 2–4 districts")
        if not pool.neighbours <= codes - {pool.code}:
            raise ValueError(f"pool {pool.code} names an unknown neighbour")
    return pools, population


def apportion(total: int, weights: Sequence[float], minimum: int = 0) -> list[int]:
    """Split ``total`` into integers proportional to ``weights``, each at least ``minimum``
    (largest remainders). Raises ValueError if the minimums alone exceed the total."""
    if minimum * len(weights) > total:
        raise ValueError(f"cannot give {len(weights)} parts at least {minimum} of {total}")
    weight_sum = sum(weights)
    quotas = [total * w / weight_sum for w in weights]
    counts = [max(minimum, math.floor(q)) for q in quotas]
    while sum(counts) > total:  # minimums pushed us over: take from the most over quota
        i = max(
            (k for k in range(len(counts)) if counts[k] > minimum),
            key=lambda k: (counts[k] - quotas[k], -k),
        )
        counts[i] -= 1
    order = sorted(range(len(counts)), key=lambda k: (counts[k] - quotas[k], k))
    for i in order[: total - sum(counts)]:
        counts[i] += 1
    return counts


def language_mix(district: str) -> list[tuple[str, float]]:
    others = list(DISTRICT_LANGUAGES.get(district, DEFAULT_LANGUAGES))
    return [("bn", 1.0 - sum(w for _, w in others)), *others]


def build_network(doctors: int, rng: random.Random, data_dir: Path = DATA_DIR) -> Network:
    """Pools from ``pools.csv``; hubs scaled to the doctors online (63 at ~950), spread over
    pools and districts by population; where each specialty is offered (see ``docs``)."""
    pools, population = read_pools(data_dir)
    district_pool = {d: p.code for p in pools for d in p.districts}
    n_hubs = max(len(pools), min(DISTRICT_HUBS, round(doctors / DOCTORS_PER_HUB)))
    per_pool = apportion(n_hubs, [sum(population[d] for d in p.districts) for p in pools], 1)
    hubs: list[HubSpec] = []
    for pool, k in zip(pools, per_pool, strict=True):
        districts = sorted(pool.districts, key=lambda d: (-population[d], d))
        if k >= len(districts):
            counts = apportion(k, [population[d] for d in districts], 1)
            for district, count in zip(districts, counts, strict=True):
                hubs += [
                    HubSpec(f"{district}-{i + 1}", pool.code, (district,)) for i in range(count)
                ]
        else:  # fewer hubs than districts: each hub serves several districts
            hubs += [
                HubSpec(f"{pool.code}-{i + 1}", pool.code, tuple(districts[i::k])) for i in range(k)
            ]
    spoke_hubs: dict[str, list[tuple[str, float]]] = defaultdict(list)
    for hub in hubs:
        for district in hub.districts:
            spoke_hubs[district].append((hub.code, rng.gammavariate(4.0, 1.0)))
    shares = {
        d: tuple((h, w / sum(x for _, x in hw)) for h, w in hw) for d, hw in spoke_hubs.items()
    }
    total_population = sum(population.values())
    hub_demand: dict[str, float] = defaultdict(float)
    for district, hub_shares in shares.items():
        for hub_code, share in hub_shares:
            hub_demand[hub_code] += population[district] / total_population * share
    specialist_hub = {
        p.code: max(
            (h for h in hubs if h.pool == p.code), key=lambda h: (hub_demand[h.code], h.code)
        ).code
        for p in pools
    }
    level: dict[str, str] = {}
    state_hub: dict[str, str] = {}
    for specialty, share in SPECIALTY_MIX:
        if specialty in STATE_HUBS:
            level[specialty] = "state"
        elif doctors * share / len(hubs) >= 1:
            level[specialty] = "hub"
        elif doctors * share / len(pools) >= 1:
            level[specialty] = "pool"
        else:  # too little demand for a doctor per pool: one state-wide hub offers it
            level[specialty] = "state"
        if level[specialty] == "state":
            state_hub[specialty] = STATE_HUBS.get(specialty, f"state-{specialty}")
    all_districts = tuple(sorted(population))
    hubs += [HubSpec(code, STATE_POOL, all_districts) for code in sorted(set(state_hub.values()))]
    return Network(
        pools=pools,
        hubs=tuple(hubs),
        population=population,
        district_pool=district_pool,
        spoke_hubs=shares,
        specialty_level=level,
        specialist_hub=specialist_hub,
        state_hub=state_hub,
    )
