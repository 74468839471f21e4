"""``seba simulate ambulances``: a seeded day of requests in one district, dispatched by the real
ranking (``dispatch.rank``: straight-line distance × road factor at the area's speed), compared
with "the ambulance of the patient's block" (each vehicle serves the block around its base and
the patient waits for it when it is out).

The district is cut into as many blocks as it has ambulances: each vehicle is based at its
block's centre and a pickup belongs to the block whose centre is nearest. Requests arrive as a
Poisson stream shaped over the day (more in the day than at night), uniformly over the
district's area. A trip: assign (``DISPATCH_MIN``), drive to the patient, ``AT_SCENE_MIN`` there,
drive to the nearest hospital, ``HANDOVER_MIN``; the vehicle is then free at that hospital (the
next dispatch starts from there, as the last known location does in the real system). A request
nobody can take waits, first come first served, for the next vehicle to free up.

Pure Python, no database: same seed, same day, same figures.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, field

from seba.ambulances.dispatch import area_kind, eta_minutes, rank
from seba.beds.queries import haversine_km
from seba.data import read_csv

DISPATCH_MIN = 3.5  # 108's promise: a vehicle dispatched within about 3.5 minutes of the call
AT_SCENE_MIN = 10.0
HANDOVER_MIN = 15.0
# The promise of reaching the patient, minutes, by area kind (the defaults).
PROMISE_MIN = {"urban": 20.0, "rural": 40.0}
# Radius of the district's area around its HQ, km: the state's 88,752 km² over 23 districts is
# about 3,860 km² each (a 35 km disc); Kolkata is 206 km² (an 8 km disc).
RADIUS_KM = {"urban": 8.0, "rural": 35.0}
# Share of the day's requests in each hour (night is quiet, day and evening busy).
HOUR_WEIGHTS = (2, 1, 1, 1, 1, 2, 3, 4, 5, 6, 6, 6, 6, 6, 5, 5, 5, 6, 6, 6, 5, 4, 3, 2)
POLICIES = ("nearest_free", "block")


@dataclass
class Vehicle:
    id: int
    base: tuple[float, float]
    at: tuple[float, float]
    free_at: float = 0.0


@dataclass(frozen=True)
class Call:
    id: int
    minute: float
    at: tuple[float, float]
    block: int


@dataclass
class Outcome:
    policy: str
    to_patient_min: list[float] = field(default_factory=list)
    promise_min: float = 0.0

    def summary(self) -> dict[str, float]:
        waits = sorted(self.to_patient_min)
        return {
            "requests": len(waits),
            "p50_min": round(_quantile(waits, 0.5), 1),
            "p90_min": round(_quantile(waits, 0.9), 1),
            "within_promise": round(sum(w <= self.promise_min for w in waits) / len(waits), 3),
        }


def _quantile(values: list[float], q: float) -> float:
    if not values:
        return math.nan
    k = (len(values) - 1) * q
    lo, hi = math.floor(k), math.ceil(k)
    return values[lo] + (values[hi] - values[lo]) * (k - lo)


def _point(
    rng: random.Random, centre: tuple[float, float], radius_km: float
) -> tuple[float, float]:
    """A point uniformly over the disc of ``radius_km`` around ``centre``."""
    r = radius_km * math.sqrt(rng.random())
    theta = rng.uniform(0, 2 * math.pi)
    lat = centre[0] + (r * math.cos(theta)) / 111.0
    lon = centre[1] + (r * math.sin(theta)) / (111.0 * math.cos(math.radians(centre[0])))
    return lat, lon


def build_day(
    district: str, *, fleet: int, requests: int, seed: int
) -> tuple[list[Vehicle], list[Call], list[tuple[float, float]], str]:
    """The district's vehicles at their block centres, the day's calls, its hospitals."""
    rows = {d["code"]: d for d in read_csv("districts.csv")}
    if district not in rows:
        raise ValueError(f"unknown district {district!r}")
    if not 1 <= fleet <= 500 or not 1 <= requests <= 100_000:
        raise ValueError("fleet must be 1–500 and requests 1–100000")
    rng = random.Random(f"{seed}:{district}")
    hq = (float(rows[district]["lat"]), float(rows[district]["lon"]))
    area = area_kind(district)
    radius = RADIUS_KM[area]
    bases = [_point(rng, hq, radius * 0.8) for _ in range(fleet)]
    vehicles = [Vehicle(i, b, b) for i, b in enumerate(bases)]
    hospitals = [hq] + [
        (float(h["lat"]), float(h["lon"]))
        for h in read_csv("hospitals.csv")
        if h["district_code"] == district
    ]
    calls = []
    for n in range(requests):
        hour = rng.choices(range(24), weights=HOUR_WEIGHTS)[0]
        minute = hour * 60 + rng.uniform(0, 60)
        at = _point(rng, hq, radius)
        block = min(range(fleet), key=lambda i: haversine_km(at, bases[i]))
        calls.append(Call(n, minute, at, block))
    calls.sort(key=lambda c: c.minute)
    return vehicles, calls, hospitals, area


def run(
    policy: str,
    vehicles: list[Vehicle],
    calls: list[Call],
    hospitals: list[tuple[float, float]],
    area: str,
) -> Outcome:
    """Dispatch the day's calls under ``policy``; the time to the patient of each call."""
    fleet = [Vehicle(v.id, v.base, v.base) for v in vehicles]
    outcome = Outcome(policy, promise_min=PROMISE_MIN[area])
    for call in calls:
        # The vehicle that can reach the patient first among those the policy allows: free now
        # (ranked by the real rule), else the first to free up.
        allowed = fleet if policy == "nearest_free" else [fleet[call.block]]
        free = [v for v in allowed if v.free_at <= call.minute]
        if free:
            vehicle, _km, drive = rank(call.at, [(v, v.at) for v in free], area)[0]
            start = call.minute
        else:
            vehicle = min(allowed, key=lambda v: v.free_at)
            start = vehicle.free_at
            drive = eta_minutes(haversine_km(vehicle.at, call.at), area)
        reached = start + DISPATCH_MIN + drive
        outcome.to_patient_min.append(reached - call.minute)
        hospital, _km, to_hospital = rank(call.at, [(h, h) for h in hospitals], area)[0]
        vehicle.free_at = reached + AT_SCENE_MIN + to_hospital + HANDOVER_MIN
        vehicle.at = hospital
    return outcome


def simulate_day(
    district: str = "bankura", *, fleet: int = 5, requests: int = 60, seed: int = 2021
) -> dict[str, dict[str, float]]:
    vehicles, calls, hospitals, area = build_day(
        district, fleet=fleet, requests=requests, seed=seed
    )
    return {
        policy: {"area": area, **run(policy, vehicles, calls, hospitals, area).summary()}
        for policy in POLICIES
    }
