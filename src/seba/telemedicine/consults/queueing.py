"""Queueing arithmetic for consults (``DOMAIN.md`` §3): Erlang B and C, waits, capacity.

Poisson arrivals at rate λ, mean consult time h (seconds of a doctor's time per consult),
N doctors online; offered load A = λ·h in Erlangs. These give the CHO an estimated wait, the
capacity alarm per pool, and the yardstick that ``seba simulate`` measures the router against.

Erlang C assumes exponential consult times; real consults vary less (a lognormal of CV ≈ 0.5),
so Erlang C is roughly an upper bound and Allen–Cunneen's Wq·(1 + CV²)/2 a closer estimate.
All functions raise ValueError on negative or non-finite inputs.
"""

from __future__ import annotations

import math
from dataclasses import dataclass


def _check_load(load: float) -> None:
    if not (load >= 0 and math.isfinite(load)):
        raise ValueError(f"offered load must be a finite number >= 0 Erlangs, got {load!r}")


def _check_servers(servers: int) -> None:
    if servers < 0:
        raise ValueError(f"the number of doctors must be >= 0, got {servers!r}")


def _check_consult(mean_consult_s: float) -> None:
    if not (mean_consult_s > 0 and math.isfinite(mean_consult_s)):
        raise ValueError(f"mean consult time must be > 0 seconds, got {mean_consult_s!r}")


def erlang_b(load: float, servers: int) -> float:
    """Blocking probability of N servers at load A: B(0)=1, B(k) = A·B(k−1) / (k + A·B(k−1)).

    Every step stays in [0, 1], so the recurrence neither overflows nor loses precision at
    N ≈ 1000, A ≈ 900 (the factorial formula overflows a float near N = 170).
    """
    _check_load(load)
    _check_servers(servers)
    b = 1.0
    for k in range(1, servers + 1):
        b = load * b / (k + load * b)
    return b


def erlang_c(load: float, servers: int) -> float:
    """Probability that a consult has to wait: C = N·B / (N − A(1 − B)); 1 when A ≥ N."""
    _check_load(load)
    _check_servers(servers)
    if load >= servers:
        return 1.0
    b = erlang_b(load, servers)
    return servers * b / (servers - load * (1.0 - b))


def mean_wait_s(load: float, servers: int, mean_consult_s: float) -> float:
    """Erlang C mean wait Wq = C·h / (N − A), in seconds; infinite when N ≤ A (no steady state:
    the queue grows without bound)."""
    _check_consult(mean_consult_s)
    c = erlang_c(load, servers)
    if servers <= load:
        return math.inf
    return c * mean_consult_s / (servers - load)


def service_level(load: float, servers: int, mean_consult_s: float, within_s: float) -> float:
    """P(wait ≤ t) = 1 − C·e^(−(N−A)·t/h); 0 when N ≤ A."""
    _check_consult(mean_consult_s)
    if within_s < 0:
        raise ValueError(f"the wait bound must be >= 0 seconds, got {within_s!r}")
    if servers <= load:
        _check_load(load)
        return 0.0
    c = erlang_c(load, servers)
    return 1.0 - c * math.exp(-(servers - load) * within_s / mean_consult_s)


def allen_cunneen_wait_s(
    load: float, servers: int, mean_consult_s: float, consult_cv: float
) -> float:
    """Erlang C's wait scaled by (1 + CV²)/2 for consult times less variable than exponential
    (Poisson arrivals; CV = standard deviation / mean of the consult time)."""
    if not (consult_cv >= 0 and math.isfinite(consult_cv)):
        raise ValueError(f"the coefficient of variation must be >= 0, got {consult_cv!r}")
    return mean_wait_s(load, servers, mean_consult_s) * (1.0 + consult_cv**2) / 2.0


def doctors_needed(load: float) -> int:
    """⌈A⌉ + 1 (``DOMAIN.md`` §3): the fewest doctors online that keep the queue stable with a
    margin of one; what the capacity alarm asks for."""
    _check_load(load)
    return math.ceil(load) + 1


def estimate_wait_s(
    position: int, doctors_online: int, mean_consult_s: float, idle_doctors: int = 0
) -> float | None:
    """The wait shown to the CHO for the consult at ``position`` (1 = next) in its line.

    - None when no doctor who could take it is online: there is no honest number to show.
    - 0 when an eligible doctor is idle for it (``position ≤ idle_doctors``).
    - otherwise (position − idle)·h / N: the first ``idle`` consults in the line go to the idle
      doctors at once; then all N doctors are busy and one frees up every h / N seconds on
      average (Little's law for a line served in order; exact in the mean for exponential
      consults), so the consult waits for (position − idle) of them. With no idle doctor this
      is position·h / N.

    Assumes the doctors counted serve this consult's line (same specialty, language, reach) and
    nobody with a higher priority arrives meanwhile; an emergency arriving later moves ahead,
    so the figure is an estimate, refreshed as the line moves.
    """
    if position < 1:
        raise ValueError(f"position is 1-based, got {position!r}")
    if doctors_online < 0 or idle_doctors < 0:
        raise ValueError("doctor counts must be >= 0")
    _check_consult(mean_consult_s)
    if doctors_online == 0:
        return None
    idle = min(idle_doctors, doctors_online)
    if position <= idle:
        return 0.0
    return (position - idle) * mean_consult_s / doctors_online


@dataclass(frozen=True)
class Capacity:
    load_erlangs: float
    doctors_online: int
    doctors_needed: int
    alarm: bool  # load ≥ doctors online: the queue grows without bound
    erlang_c_wait_s: float | None  # None when no doctor is online or the load is unstable


def capacity(arrival_rate_per_s: float, mean_consult_s: float, doctors_online: int) -> Capacity:
    """Capacity of one pool from its live arrival rate, consult time and doctors online.

    The alarm rises when the offered load reaches the doctors online (with no arrivals there
    is nothing to alarm about, even with no doctor online).
    """
    if not (arrival_rate_per_s >= 0 and math.isfinite(arrival_rate_per_s)):
        raise ValueError(f"arrival rate must be >= 0 per second, got {arrival_rate_per_s!r}")
    _check_consult(mean_consult_s)
    _check_servers(doctors_online)
    load = arrival_rate_per_s * mean_consult_s
    alarm = load > 0 and load >= doctors_online
    wait = (
        None if alarm or doctors_online == 0 else mean_wait_s(load, doctors_online, mean_consult_s)
    )
    return Capacity(
        load_erlangs=load,
        doctors_online=doctors_online,
        doctors_needed=doctors_needed(load),
        alarm=alarm,
        erlang_c_wait_s=wait,
    )
