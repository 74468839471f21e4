"""The report of ``seba simulate``: waits per pool and hour beside Erlang C for the same load.

Erlang C needs a steady load on a fixed number of doctors; a day has neither. So each pool's
figure is computed per hour of the window (the hour's arrival rate × the measured doctor time
per consult, on the hour's time-averaged doctors online) and averaged over the hours weighted
by arrivals: the mean wait a patient of that pool would have if every hour were its own steady
M/M/N queue. An hour whose load reaches its doctors has no steady state: the figure is then
infinite and the hour counts as an alarm. For strict per-hub FIFO the same is done per hub (its
real queue) and summed up per pool.
"""

from __future__ import annotations

import bisect
import math
import statistics
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

from seba.telemedicine.consults import queueing, routing
from seba.telemedicine.consults.routing import STATE_POOL
from seba.telemedicine.simulation.day import NOMINAL_DOCTOR_S, WINDOW_OPENS_IST, DayConfig
from seba.telemedicine.simulation.online import BUCKET_S, bucket_length

if TYPE_CHECKING:
    from seba.telemedicine.simulation.engine import PolicyRun


# --- Results ---


@dataclass(frozen=True)
class WaitSummary:
    count: int
    mean_s: float | None
    p90_s: float | None


@dataclass(frozen=True)
class RowReport:
    """One pool (or the state hubs, or everyone): what happened beside what Erlang C expects."""

    row: str
    requests: int
    unserved: int
    mean_wait_s: float | None
    p90_wait_s: float | None
    doctors_online: float  # mean over the window
    load_erlangs: float  # mean over the window: requests × h / window
    erlang_c_wait_s: float  # per hour, weighted by arrivals; inf if some hour had A ≥ N
    alarm_hours: int  # hours (hub-hours for strict) whose load reached the doctors online


@dataclass(frozen=True)
class HourReport:
    starts_at: str  # IST
    arrivals: int
    load_erlangs: float
    doctors_online: float
    erlang_c_pooled_wait_s: float  # one queue of every doctor online: the ideal
    mean_wait_s: float | None
    p90_wait_s: float | None


@dataclass(frozen=True)
class PolicyReport:
    policy: str
    description: str
    requests: int
    served: int
    unserved: int
    no_shows: int
    offers: int
    missed_offers: int
    doctors_set_away: int
    mean_wait_s: float | None
    p50_wait_s: float | None
    p90_wait_s: float | None
    p99_wait_s: float | None
    max_wait_s: float | None
    waited_over_5_min: int
    doctor_s_per_consult: float  # measured h: offer to free, lapsed offers included
    by_priority: dict[str, WaitSummary]
    by_language: dict[str, WaitSummary]
    served_from: dict[str, int]  # own pool/hub, neighbour pool, state-wide, state hubs
    follow_ups: int
    follow_ups_same_doctor: int
    rows: tuple[RowReport, ...]
    hours: tuple[HourReport, ...]
    wall_s: float


@dataclass(frozen=True)
class SimulationReport:
    config: DayConfig
    network: dict[str, Any]
    policies: tuple[PolicyReport, ...]

    def policy(self, name: str) -> PolicyReport | None:
        return next((p for p in self.policies if p.policy == name), None)

    def comparison(self) -> dict[str, float | None] | None:
        """How much worse strict per-hub FIFO is than Seba routing (ratios; None if 0/0)."""
        seba, strict = self.policy("seba"), self.policy("strict")
        if seba is None or strict is None:
            return None
        return {
            "mean_wait_ratio": _ratio(strict.mean_wait_s, seba.mean_wait_s),
            "p90_wait_ratio": _ratio(strict.p90_wait_s, seba.p90_wait_s),
            "mean_wait_saved_s": _difference(strict.mean_wait_s, seba.mean_wait_s),
            "p90_wait_saved_s": _difference(strict.p90_wait_s, seba.p90_wait_s),
        }

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready data (infinite waits become null with an ``unstable`` flag)."""
        return _jsonable(
            {
                "config": asdict(self.config),
                "network": self.network,
                "policies": [asdict(p) for p in self.policies],
                "comparison": self.comparison(),
            }
        )


def _ratio(a: float | None, b: float | None) -> float | None:
    if a is None or b is None or b == 0:
        return None
    return a / b


def _difference(a: float | None, b: float | None) -> float | None:
    return None if a is None or b is None else a - b


def _jsonable(value: Any) -> Any:
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    return value


def percentile(sorted_values: Sequence[float], p: float) -> float | None:
    """Nearest-rank percentile of already sorted values; None for none."""
    if not sorted_values:
        return None
    rank = max(1, math.ceil(p / 100 * len(sorted_values)))
    return sorted_values[rank - 1]


def _summary(values: list[float]) -> WaitSummary:
    values.sort()
    return WaitSummary(
        count=len(values),
        mean_s=statistics.fmean(values) if values else None,
        p90_s=percentile(values, 90),
    )


def erlang_c_wait_fractional(load: float, doctors: float, mean_consult_s: float) -> float:
    """Erlang C mean wait for a time-averaged (fractional) number of doctors: linear between
    the two whole numbers around it; infinite if the lower one cannot carry the load."""
    if load <= 0:
        return 0.0
    low = math.floor(doctors)
    wait_low = queueing.mean_wait_s(load, low, mean_consult_s)
    share = doctors - low
    if share == 0 or math.isinf(wait_low):
        return wait_low
    wait_high = queueing.mean_wait_s(load, low + 1, mean_consult_s)
    return wait_low * (1 - share) + wait_high * share


def policy_report(run: PolicyRun, wall_s: float) -> PolicyReport:
    """The report of one finished run."""
    day, net = run.day, run.day.network
    window_s = day.window_s
    buckets = run.online_acc.buckets
    served = [w for w in run.wait if w is not None]
    served.sort()
    h = run.busy_s / len(served) if served else NOMINAL_DOCTOR_S
    by_row: dict[str, list[float]] = defaultdict(list)
    unserved_by_row: dict[str, int] = defaultdict(int)
    arrivals: dict[str, list[int]] = defaultdict(lambda: [0] * buckets)
    hour_waits: list[list[float]] = [[] for _ in range(buckets)]
    by_priority: dict[str, list[float]] = {p: [] for p in routing.PRIORITIES}
    by_language: dict[str, list[float]] = defaultdict(list)
    served_from: dict[str, int] = defaultdict(int)
    follow_ups = same_doctor = 0
    for request, wait, doctor in zip(day.requests, run.wait, run.served_by, strict=True):
        row = net.row(request.district, request.specialty)
        b = min(int(request.at // BUCKET_S), buckets - 1)
        for group in (f"row:{row}", f"hub:{request.hub}", "row:all"):
            arrivals[group][b] += 1
        if request.priority == "follow_up":
            follow_ups += 1
        if wait is None:
            unserved_by_row[row] += 1
            unserved_by_row["all"] += 1
            by_language.setdefault(request.language, [])  # listed even if nobody was served
            continue
        for key in (row, "all"):
            by_row[key].append(wait)
        hour_waits[b].append(wait)
        by_priority[request.priority].append(wait)
        by_language[request.language].append(wait)
        assert doctor is not None
        if request.preferred_doctor == doctor and run.policy_name == "seba":
            same_doctor += 1
        served_from[_served_from(run, request.id, doctor)] += 1
    rows = []
    row_keys = [*sorted(p.code for p in net.pools), STATE_POOL, "all"]
    for row in row_keys:
        waits = sorted(by_row.get(row, []))
        requests = sum(arrivals[f"row:{row}"])
        if run.policy_name == "strict" and row != "all":
            hubs = [hub.code for hub in net.hubs if hub.pool == row]
        elif run.policy_name == "strict":
            hubs = [hub.code for hub in net.hubs]
        else:
            hubs = []
        # (arrivals, doctors online) of each queue Erlang C is asked about: the hubs of the
        # row for strict routing, the whole row (pool, state hubs, or everyone) for Seba.
        doctors_group = f"row:{row}" if row != "all" else "all"
        queues = (
            [(f"hub:{code}", f"hub:{code}") for code in hubs]
            if hubs
            else [(f"row:{row}", doctors_group)]
        )
        weighted = weight = 0.0
        alarms = 0
        for arrival_group, online_group in queues:
            online = run.online_acc.per_bucket(online_group)
            counts = arrivals[arrival_group]
            for b in range(buckets):
                load = counts[b] / bucket_length(b, window_s) * h
                if load > 0 and load >= online[b]:
                    alarms += 1
                if counts[b]:
                    wait_b = erlang_c_wait_fractional(load, online[b], h)
                    weighted += counts[b] * wait_b
                    weight += counts[b]
        rows.append(
            RowReport(
                row=row,
                requests=requests,
                unserved=unserved_by_row.get(row, 0),
                mean_wait_s=statistics.fmean(waits) if waits else None,
                p90_wait_s=percentile(waits, 90),
                doctors_online=run.online_acc.mean(doctors_group),
                load_erlangs=requests * h / window_s,
                erlang_c_wait_s=weighted / weight if weight else 0.0,
                alarm_hours=alarms,
            )
        )
    hours = []
    all_online = run.online_acc.per_bucket("all")
    for b in range(buckets):
        load = arrivals["row:all"][b] / bucket_length(b, window_s) * h
        waits = sorted(hour_waits[b])
        clock = WINDOW_OPENS_IST + b * BUCKET_S
        hours.append(
            HourReport(
                starts_at=f"{int(clock // 3600) % 24:02d}:{int(clock % 3600 // 60):02d}",
                arrivals=arrivals["row:all"][b],
                load_erlangs=load,
                doctors_online=all_online[b],
                erlang_c_pooled_wait_s=erlang_c_wait_fractional(load, all_online[b], h),
                mean_wait_s=statistics.fmean(waits) if waits else None,
                p90_wait_s=percentile(waits, 90),
            )
        )
    return PolicyReport(
        policy=run.policy_name,
        description=run.description,
        requests=len(day.requests),
        served=len(served),
        unserved=len(day.requests) - len(served),
        no_shows=run.counts["no_shows"],
        offers=run.counts["offers"],
        missed_offers=run.counts["missed_offers"],
        doctors_set_away=run.counts["doctors_set_away"],
        mean_wait_s=statistics.fmean(served) if served else None,
        p50_wait_s=percentile(served, 50),
        p90_wait_s=percentile(served, 90),
        p99_wait_s=percentile(served, 99),
        max_wait_s=served[-1] if served else None,
        waited_over_5_min=len(served) - bisect.bisect_right(served, 300.0),
        doctor_s_per_consult=h,
        by_priority={p: _summary(v) for p, v in by_priority.items()},
        by_language={k: _summary(v) for k, v in sorted(by_language.items())},
        served_from=dict(sorted(served_from.items())),
        follow_ups=follow_ups,
        follow_ups_same_doctor=same_doctor,
        rows=tuple(rows),
        hours=tuple(hours),
        wall_s=wall_s,
    )


def _served_from(run: PolicyRun, cid: int, did: int) -> str:
    consult = run.consults[cid]
    pool = run.hub_pool[run.day.shifts[did].hub]
    if run.policy_name == "strict":
        return "own hub"
    if pool == STATE_POOL:
        return "state hubs"
    if pool == consult.pool:
        return "own pool"
    if pool in consult.neighbour_pools:
        return "neighbour pool"
    return "state-wide overflow"
