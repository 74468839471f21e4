"""The simulated day of ``seba simulate``: the requests and the doctors' shifts, on the
network of ``network``.

Everything is generated from one seed, so two policies run on exactly the same day and a
rerun gives the same numbers. The constants below are the scenario; each says what it stands
for, and ``docs/telemedicine-routing.md`` explains the choices and what they give.
"""

from __future__ import annotations

import bisect
import itertools
import math
import random
import statistics
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from seba.data import DATA_DIR
from seba.telemedicine.simulation.network import (
    SPECIALTY_MIX,
    STATE_HUBS,
    Network,
    apportion,
    build_network,
    language_mix,
)

# --- The scenario. Each number says what it stands for; the docs explain the choices. ---

WINDOW_OPENS_IST = 9 * 3600  # spokes raise consults 09:00–15:00 IST (times are offsets from it)
# Relative arrival rate over the window, piecewise linear (fraction of the window, rate): the
# morning ramp as CHOs register and take vitals, a late-morning peak, a lunch dip, an afternoon
# plateau and the tail as spokes close.
ARRIVAL_CURVE = (
    (0.0, 0.55),
    (0.125, 1.0),
    (0.5417, 1.0),
    (0.5833, 0.85),
    (0.7083, 0.85),
    (0.75, 0.95),
    (0.875, 0.95),
    (1.0, 0.45),
)
# Doctors follow the expected demand: the roster puts them online LEAD_S before the first
# patients and keeps each level for STAFF_SMOOTH_S around the demand it serves; after the
# window the tail level stays DRAIN_S to finish the queue, then everyone logs off.
LEAD_S = 900.0
STAFF_SMOOTH_S = 600.0
DRAIN_S = 1800.0
SHIFT_MAX_S = 4.5 * 3600  # a longer presence is two doctors handing over

PRIORITY_MIX = (("emergency", 0.01), ("urgent", 0.08), ("routine", 0.79), ("follow_up", 0.12))
STATE_PRIORITY_MIX = (("emergency", 0.45), ("urgent", 0.35), ("routine", 0.10), ("follow_up", 0.10))
# P(a doctor speaks L) = base + 3 × the share of L among the hub's patients (capped at 1).
# Doctors are taught in English; most speak Bengali and many Hindi.
DOCTOR_LANGUAGE_BASE = {"bn": 0.95, "en": 1.0, "hi": 0.35, "ne": 0.01, "sat": 0.01, "ur": 0.02}

# A doctor's time per consult, from the offer to the end: about 4 minutes (DOMAIN §1.2).
ACCEPT_DELAY_S = (2.0, 12.0)  # uniform: the doctor clicks "accept"
JOIN_DELAY_S = (3.0, 15.0)  # uniform: the CHO joins and the call connects
NOMINAL_DOCTOR_S = 240.0
TALK_MEAN_S = NOMINAL_DOCTOR_S - 7.0 - 9.0  # lognormal; with the two delays, 240 s in all
TALK_SIGMA = 0.5  # of the log: CV ≈ 0.53, a consult varies less than an exponential
NO_SHOW_RATE = 0.005  # the CHO never joins: the doctor waits join_timeout_s
# Most doctors answer offers; a few are often distracted (two misses set them away).
MISS_RATE = 0.01
DISTRACTED_SHARE = 0.10
DISTRACTED_MISS_RATE = 0.15
AWAY_BACK_S = (300.0, 900.0)  # an away doctor notices and comes back online
STAFFING_SPREAD = 0.25  # log-sd of each hub's staffing against its demand (rosters are uneven)

MIN_DOCTORS = 20
MAX_REQUESTS = 2_000_000
MAX_DOCTORS = 100_000


@dataclass(frozen=True)
class DayConfig:
    """The day to simulate. Raises ValueError with a message fit for the user."""

    requests: int = 80_000
    hours: float = 6.0
    doctors: int = 950
    seed: int = 2021

    def __post_init__(self) -> None:
        if not 1 <= self.requests <= MAX_REQUESTS:
            raise ValueError(f"requests must be between 1 and {MAX_REQUESTS:,}")
        if not (math.isfinite(self.hours) and 0.25 <= self.hours <= 24):
            raise ValueError("hours must be between 0.25 and 24")
        if not MIN_DOCTORS <= self.doctors <= MAX_DOCTORS:
            raise ValueError(f"doctors must be between {MIN_DOCTORS} and {MAX_DOCTORS:,}")


# --- The network: pools, hubs, spokes' home hubs ---


# --- The day: requests and doctors' shifts ---


@dataclass(frozen=True, slots=True)
class Request:
    id: int
    at: float  # seconds from the window's start
    district: str
    hub: str  # the hub strict per-hub routing sends it to
    specialty: str
    language: str
    priority: str
    talk_s: float
    join_s: float | None  # None: the CHO never joins (no-show)
    preferred_doctor: int | None  # a follow-up's earlier doctor (a shift id)


@dataclass(frozen=True, slots=True)
class DoctorShift:
    id: int
    hub: str
    specialties: frozenset[str]
    languages: frozenset[str]
    on_at: float
    off_at: float
    miss_rate: float


@dataclass(frozen=True)
class Day:
    config: DayConfig
    network: Network
    requests: tuple[Request, ...]
    shifts: tuple[DoctorShift, ...]

    @property
    def window_s(self) -> float:
        return self.config.hours * 3600.0


def arrival_rate(fraction: float) -> float:
    """The relative arrival rate at a fraction of the window (``ARRIVAL_CURVE``)."""
    fraction = min(max(fraction, 0.0), 1.0)
    for (x0, y0), (x1, y1) in itertools.pairwise(ARRIVAL_CURVE):
        if fraction <= x1:
            return y0 + (y1 - y0) * (fraction - x0) / (x1 - x0)
    return ARRIVAL_CURVE[-1][1]


def _arrival_times(n: int, window_s: float, rng: random.Random) -> list[float]:
    # n arrivals of a Poisson process conditioned on its count are n independent draws from
    # the rate's density: inverse CDF on a fine grid, sorted.
    cells = max(1, int(window_s // 10))
    width = window_s / cells
    cumulative = [0.0]
    for i in range(cells):
        cumulative.append(cumulative[-1] + arrival_rate((i + 0.5) / cells))
    total = cumulative[-1]
    times = []
    for _ in range(n):
        u = rng.random() * total
        i = min(bisect.bisect_right(cumulative, u) - 1, cells - 1)
        inside = (u - cumulative[i]) / (cumulative[i + 1] - cumulative[i])
        times.append((i + inside) * width)
    times.sort()
    return times


def staffing(t: float, window_s: float) -> float:
    """Relative doctors rostered at t: the demand around t (±STAFF_SMOOTH_S), the tail level
    through the drain, nobody after it."""
    if t < -LEAD_S or t >= window_s + DRAIN_S:
        return 0.0
    return max(arrival_rate((t + d) / window_s) for d in (-STAFF_SMOOTH_S, 0.0, STAFF_SMOOTH_S))


def _choose(rng: random.Random, mix: Sequence[tuple[str, float]]) -> str:
    u = rng.random() * sum(w for _, w in mix)
    for value, weight in mix:
        u -= weight
        if u < 0:
            return value
    return mix[-1][0]


def build_day(config: DayConfig, data_dir: Path = DATA_DIR) -> Day:
    """Generate the day deterministically from ``config.seed``."""
    rng = random.Random(config.seed)
    network = build_network(config.doctors, rng, data_dir)
    window_s = config.hours * 3600.0
    districts = sorted(network.population)
    district_weights = [network.population[d] for d in districts]
    cumulative_districts = [0.0]
    for w in district_weights:
        cumulative_districts.append(cumulative_districts[-1] + w)
    talk_mu = math.log(TALK_MEAN_S) - TALK_SIGMA**2 / 2
    drafts = []
    for i, at in enumerate(_arrival_times(config.requests, window_s, rng)):
        u = rng.random() * cumulative_districts[-1]
        district = districts[
            min(bisect.bisect_right(cumulative_districts, u) - 1, len(districts) - 1)
        ]
        spoke_hub = _choose(rng, network.spoke_hubs[district])
        specialty = _choose(rng, SPECIALTY_MIX)
        priority = _choose(rng, STATE_PRIORITY_MIX if specialty in STATE_HUBS else PRIORITY_MIX)
        drafts.append(
            (
                i,
                at,
                district,
                network.home_hub(district, spoke_hub, specialty),
                specialty,
                _choose(rng, language_mix(district)),
                priority,
                rng.lognormvariate(talk_mu, TALK_SIGMA),
                None if rng.random() < NO_SHOW_RATE else rng.uniform(*JOIN_DELAY_S),
            )
        )
    shifts = _build_shifts(config, network, rng, window_s)
    by_group: dict[tuple[str, str, str], list[int]] = defaultdict(list)
    for shift in shifts:
        for specialty in shift.specialties:
            for language in shift.languages:
                by_group[(shift.hub, specialty, language)].append(shift.id)
    requests = []
    for i, at, district, hub, specialty, language, priority, talk, join in drafts:
        preferred = None
        if priority == "follow_up":
            # The doctor who saw the patient before: one of the hub's doctors who can.
            seen_by = by_group.get((hub, specialty, language))
            preferred = rng.choice(seen_by) if seen_by else None
        requests.append(
            Request(i, at, district, hub, specialty, language, priority, talk, join, preferred)
        )
    return Day(config=config, network=network, requests=tuple(requests), shifts=shifts)


def _build_shifts(
    config: DayConfig, network: Network, rng: random.Random, window_s: float
) -> tuple[DoctorShift, ...]:
    total_population = sum(network.population.values())
    demand: dict[tuple[str, str], float] = defaultdict(float)
    language_demand: dict[tuple[str, str], dict[str, float]] = defaultdict(
        lambda: defaultdict(float)
    )
    for district, hub_shares in network.spoke_hubs.items():
        for spoke_hub, share in hub_shares:
            for specialty, specialty_share in SPECIALTY_MIX:
                group = (network.home_hub(district, spoke_hub, specialty), specialty)
                weight = network.population[district] / total_population * share * specialty_share
                demand[group] += weight
                for language, language_share in language_mix(district):
                    language_demand[group][language] += weight * language_share
    # Specialty totals by square-root staffing at the expected peak (N = A + β√A, one β for
    # all): a planner gives small specialties a larger margin, or their few doctors would
    # run at the utilisation of general medicine's hundreds and their patients wait for ever.
    # Within a specialty, hubs get doctors by demand times a random spread: rosters are
    # uneven, which is where pooling earns its keep.
    by_specialty: dict[str, list[tuple[str, str]]] = defaultdict(list)
    for group in sorted(demand):
        by_specialty[group[1]].append(group)
    peak_load = config.requests * NOMINAL_DOCTOR_S / window_s * _peak_to_mean()
    loads = {sp: peak_load * sum(demand[g] for g in gs) for sp, gs in by_specialty.items()}
    spare = config.doctors - sum(loads.values())
    root_sum = sum(math.sqrt(a) for a in loads.values())
    targets = {sp: a + max(spare, 0.0) / root_sum * math.sqrt(a) for sp, a in loads.items()}
    specialties = sorted(by_specialty)
    totals = apportion(config.doctors, [targets[sp] for sp in specialties], 1)
    positions: list[tuple[float, int, str, str, set[str]]] = []
    for specialty, total in zip(specialties, totals, strict=True):
        groups = by_specialty[specialty]
        noisy = [demand[g] * rng.lognormvariate(0.0, STAFFING_SPREAD) for g in groups]
        counts = apportion(total, noisy, 1 if total >= len(groups) else 0)
        for group, count in zip(groups, counts, strict=True):
            hub = group[0]
            for i, languages in enumerate(_languages(config, rng, language_demand[group], count)):
                # Spread each hub's doctors evenly over the roster's layers, so the hub's
                # doctors online follow the day like everyone's.
                positions.append(
                    ((i + rng.random()) / count, len(positions), hub, specialty, languages)
                )
    positions.sort()
    # Layer the roster: position r is online while the rostered level exceeds r, so the
    # number online follows ``staffing`` and peaks at config.doctors.
    step = 60.0
    grid = [-LEAD_S + k * step for k in range(int((window_s + DRAIN_S + LEAD_S) // step) + 1)]
    peak = max(staffing(t, window_s) for t in grid)
    levels = [config.doctors * staffing(t, window_s) / peak for t in grid]
    shifts: list[DoctorShift] = []
    for rank, (_, _, hub, specialty, languages) in enumerate(positions):
        start = None
        for t, level in zip([*grid, grid[-1] + step], [*levels, 0.0], strict=True):
            online = level > rank + 0.5
            if online and start is None:
                start = t
            elif not online and start is not None:
                miss = DISTRACTED_MISS_RATE if rng.random() < DISTRACTED_SHARE else MISS_RATE
                # Log on a little after and off a little before the roster's minute, so no
                # two doctors move at the same instant and the count never exceeds the roster.
                begin = start + rng.uniform(0.0, step)
                end = max(t - rng.uniform(0.0, step), begin + step)
                for on_at, off_at in _split_shift(begin, end):
                    shifts.append(
                        DoctorShift(
                            id=len(shifts),
                            hub=hub,
                            specialties=frozenset((specialty,)),
                            languages=frozenset(languages),
                            on_at=on_at,
                            off_at=off_at,
                            miss_rate=miss,
                        )
                    )
                start = None
    return tuple(shifts)


def _languages(
    config: DayConfig, rng: random.Random, mix: dict[str, float], count: int
) -> list[set[str]]:
    """The languages of a hub's ``count`` doctors of one specialty, given its patients' mix."""
    mix_total = sum(mix.values())
    people = [
        {
            language
            for language, base in DOCTOR_LANGUAGE_BASE.items()
            if rng.random() < min(1.0, base + 3.0 * mix.get(language, 0.0) / mix_total)
        }
        for _ in range(count)
    ]
    for language, weight in sorted(mix.items()):
        # A roster covers each language its patients speak at least once a day, in
        # proportion to how many speak it.
        if config.requests * weight < 1:
            continue
        needed = min(count, max(1, round(count * weight / mix_total)))
        speakers = sum(1 for p in people if language in p)
        others = [p for p in people if language not in p]
        rng.shuffle(others)
        for person in others[: max(0, needed - speakers)]:
            person.add(language)
    return people


def _peak_to_mean() -> float:
    rates = [arrival_rate(i / 1000) for i in range(1001)]
    return max(rates) / statistics.fmean(rates)


def _split_shift(start: float, end: float) -> list[tuple[float, float]]:
    if end - start <= SHIFT_MAX_S:
        return [(start, end)]
    middle = (start + end) / 2
    return [(start, middle), (middle, end)]
