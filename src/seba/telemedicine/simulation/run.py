"""Run ``seba simulate``: build the day, run each policy over the very same day, and report.

``engine`` replays a day under one policy; ``report`` turns a finished run into figures beside
Erlang C. This module joins them, so neither needs the other.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from pathlib import Path

from seba.data import DATA_DIR
from seba.telemedicine.consults.routing import STATE_POOL
from seba.telemedicine.simulation.day import Day, DayConfig, DoctorShift, build_day
from seba.telemedicine.simulation.engine import POLICIES, PolicyRun, policy_settings
from seba.telemedicine.simulation.report import PolicyReport, SimulationReport, policy_report


def simulate_day(
    day: Day,
    policy: str,
    progress: Callable[[int], None] | None = None,
    check_invariants: bool = False,
) -> PolicyReport:
    """Run one policy over the day. ``progress`` is called with the number of consults newly
    settled (served, or left unserved at the end). ``check_invariants`` re-checks after every
    event that no idle doctor could take a waiting consult and no consult has two doctors
    (slow: for tests). Raises ValueError on an unknown policy, InvariantBroken on a violation.
    """
    started = time.perf_counter()
    run = PolicyRun(day, policy, progress, check_invariants)
    run.run()
    if progress is not None:
        progress(len(day.requests) - (run.done - run.done % 1000))
    return policy_report(run, time.perf_counter() - started)


def simulate(
    config: DayConfig,
    policies: Sequence[str] = POLICIES,
    progress: Callable[[int], None] | None = None,
    data_dir: Path = DATA_DIR,
) -> SimulationReport:
    """Build the day from ``config`` and run each policy on it (the same day for each)."""
    for policy in policies:
        policy_settings(policy)
    day = build_day(config, data_dir)
    reports = tuple(simulate_day(day, p, progress) for p in policies)
    shifts = day.shifts
    network = {
        "pools": {p.code: list(p.districts) for p in day.network.pools},
        "neighbours": {p.code: sorted(p.neighbours) for p in day.network.pools},
        "hubs": len(day.network.hubs),
        "state_hubs": sorted(h.code for h in day.network.hubs if h.pool == STATE_POOL),
        "specialty_level": day.network.specialty_level,
        "doctor_shifts": len(shifts),
        "peak_doctors_online": _peak_online(shifts),
    }
    return SimulationReport(config=config, network=network, policies=reports)


def _peak_online(shifts: Sequence[DoctorShift]) -> int:
    changes = sorted([(s.on_at, 1) for s in shifts] + [(s.off_at, -1) for s in shifts])
    peak = online = 0
    for _, delta in changes:
        online += delta
        peak = max(peak, online)
    return peak
