"""Queueing arithmetic against DOMAIN §3's figures, an exact formula and its own properties."""

from __future__ import annotations

import math
from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st

from seba.telemedicine.consults.queueing import (
    allen_cunneen_wait_s,
    capacity,
    doctors_needed,
    erlang_b,
    erlang_c,
    estimate_wait_s,
    mean_wait_s,
    service_level,
)

H = 240.0  # 4 minutes a consult
loads = st.floats(0, 300, allow_nan=False)
servers = st.integers(0, 400)


def exact_erlang_b(load: Fraction, n: int) -> Fraction:
    """B = (A^N / N!) / Σ_k A^k / k!, in exact arithmetic (small N only)."""
    terms = [load**k / math.factorial(k) for k in range(n + 1)]
    return terms[-1] / sum(terms)


def log_space_erlang_b(load: float, n: int) -> float:
    """The same formula in logarithms: fine at N = 1000 where factorials overflow."""
    logs = [k * math.log(load) - math.lgamma(k + 1) for k in range(n + 1)]
    top = max(logs)
    return math.exp(logs[-1] - top) / sum(math.exp(x - top) for x in logs)


# --- DOMAIN §3 ---


def test_pooling_figures_of_the_domain_notes() -> None:
    # 16 E on 20 doctors: one pool 0.26 min, two pools 0.82 min, four pools 2.2 min.
    assert mean_wait_s(16, 20, H) / 60 == pytest.approx(0.26, abs=0.005)
    assert mean_wait_s(8, 10, H) / 60 == pytest.approx(0.82, abs=0.005)
    assert mean_wait_s(4, 5, H) / 60 == pytest.approx(2.2, abs=0.05)


def test_per_hub_figures_of_the_domain_notes() -> None:
    load = 1270 * 4 / 360  # ~1,270 consults a day per hub in 6 h, 4 min each: ≈ 14.1 E
    assert load == pytest.approx(14.1, abs=0.05)
    assert mean_wait_s(load, 15, H) / 60 == pytest.approx(3.4, abs=0.05)
    assert mean_wait_s(load, 18, H) / 60 == pytest.approx(0.25, abs=0.005)
    assert doctors_needed(load) == 16


def test_state_scale_figures_of_the_domain_notes() -> None:
    load = 80_000 * 4 / 360  # ≈ 889 E
    assert load == pytest.approx(889, abs=0.5)
    assert mean_wait_s(load, 950, H) < 1.0  # near zero
    assert mean_wait_s(load, 920, H) < 5.0
    assert mean_wait_s(load, 888, H) == math.inf  # 888 doctors cannot carry 888.9 E


def test_the_recurrence_is_stable_at_state_scale() -> None:
    b = erlang_b(900, 1000)
    assert 0 < b < 1e-3
    assert b == pytest.approx(log_space_erlang_b(900, 1000), rel=1e-9)
    c = erlang_c(900, 1000)
    assert b < c < 1e-2
    assert erlang_b(1000, 1000) == pytest.approx(log_space_erlang_b(1000, 1000), rel=1e-9)


# --- Exact and structural properties ---


@given(st.integers(0, 40), st.fractions(min_value=0, max_value=60, max_denominator=8))
def test_erlang_b_matches_the_exact_formula(n: int, load: Fraction) -> None:
    assert erlang_b(float(load), n) == pytest.approx(float(exact_erlang_b(load, n)), rel=1e-9)


@given(loads, servers)
def test_blocking_is_a_probability_decreasing_in_doctors(load: float, n: int) -> None:
    b = erlang_b(load, n)
    assert 0.0 <= b <= 1.0
    assert erlang_b(load, n + 1) <= b


@given(loads, servers)
def test_waiting_probability_is_at_least_blocking(load: float, n: int) -> None:
    b, c = erlang_b(load, n), erlang_c(load, n)
    assert 0.0 <= c <= 1.0
    assert c >= b - 1e-12
    if load >= n:
        assert c == 1.0


@given(loads, servers)
def test_more_doctors_never_wait_longer(load: float, n: int) -> None:
    w, fewer_wait = mean_wait_s(load, n + 1, H), mean_wait_s(load, n, H)
    assert w <= fewer_wait
    assert (fewer_wait == math.inf) == (n <= load)


@given(loads, servers, st.floats(0, 3600), st.floats(0, 3600))
def test_service_level_is_a_probability_growing_with_the_bound(
    load: float, n: int, t1: float, t2: float
) -> None:
    lo, hi = sorted((t1, t2))
    a, b = service_level(load, n, H, lo), service_level(load, n, H, hi)
    assert 0.0 <= a <= b <= 1.0
    if n > load:
        # At t = 0 it is exactly the chance of not waiting at all.
        assert service_level(load, n, H, 0) == pytest.approx(1 - erlang_c(load, n))


def test_allen_cunneen_scales_erlang_c_by_variability() -> None:
    assert allen_cunneen_wait_s(16, 20, H, 1.0) == pytest.approx(mean_wait_s(16, 20, H))
    assert allen_cunneen_wait_s(16, 20, H, 0.0) == pytest.approx(mean_wait_s(16, 20, H) / 2)


def test_doctors_needed_is_ceiling_plus_one() -> None:
    assert doctors_needed(0) == 1
    assert doctors_needed(14.0) == 15
    assert doctors_needed(14.1) == 16
    assert doctors_needed(889.3) == 891


@pytest.mark.parametrize(
    "call",
    [
        lambda: erlang_b(-1, 3),
        lambda: erlang_b(math.inf, 3),
        lambda: erlang_b(math.nan, 3),
        lambda: erlang_c(1, -1),
        lambda: mean_wait_s(1, 2, 0),
        lambda: service_level(1, 2, H, -1),
        lambda: allen_cunneen_wait_s(1, 2, H, -0.5),
        lambda: doctors_needed(-0.1),
        lambda: capacity(-1, H, 3),
        lambda: capacity(1, H, -3),
        lambda: estimate_wait_s(0, 3, H),
        lambda: estimate_wait_s(1, -1, H),
        lambda: estimate_wait_s(1, 3, H, idle_doctors=-1),
        lambda: estimate_wait_s(1, 3, 0),
    ],
)
def test_bad_inputs_are_refused(call) -> None:
    with pytest.raises(ValueError):
        call()


# --- The CHO's estimate and the pool's capacity ---


def test_estimate_with_nobody_online_is_no_estimate() -> None:
    assert estimate_wait_s(1, 0, H) is None
    assert estimate_wait_s(5, 0, H, idle_doctors=0) is None


def test_estimate_is_zero_when_an_eligible_doctor_is_idle() -> None:
    assert estimate_wait_s(1, 10, H, idle_doctors=1) == 0.0
    assert estimate_wait_s(3, 10, H, idle_doctors=3) == 0.0


def test_estimate_follows_the_line_through_the_busy_doctors() -> None:
    assert estimate_wait_s(1, 10, H) == pytest.approx(24.0)  # position × h / N
    assert estimate_wait_s(25, 10, H) == pytest.approx(600.0)
    # Two idle doctors take the first two; the third waits for the first of 10 to free up.
    assert estimate_wait_s(3, 10, H, idle_doctors=2) == pytest.approx(24.0)
    # More idle doctors than online is nonsense input: capped at all idle.
    assert estimate_wait_s(12, 10, H, idle_doctors=50) == pytest.approx(2 * H / 10)


@given(st.integers(1, 500), st.integers(1, 500), st.integers(0, 500))
def test_estimate_grows_with_position_and_shrinks_with_doctors(
    position: int, online: int, idle: int
) -> None:
    wait = estimate_wait_s(position, online, H, idle)
    assert wait is not None and wait >= 0
    assert estimate_wait_s(position + 1, online, H, idle) >= wait
    assert estimate_wait_s(position, online + 1, H, min(idle, online)) <= wait + 1e-9


def test_capacity_of_a_healthy_pool() -> None:
    pool = capacity(arrival_rate_per_s=16 / H, mean_consult_s=H, doctors_online=20)
    assert pool.load_erlangs == pytest.approx(16)
    assert pool.doctors_needed == 17
    assert not pool.alarm
    assert pool.erlang_c_wait_s == pytest.approx(mean_wait_s(16, 20, H))


def test_capacity_alarm_when_load_reaches_the_doctors_online() -> None:
    full = capacity(arrival_rate_per_s=20 / H, mean_consult_s=H, doctors_online=20)
    assert full.alarm
    assert full.erlang_c_wait_s is None
    assert full.doctors_needed == 21
    nobody = capacity(arrival_rate_per_s=0.01, mean_consult_s=H, doctors_online=0)
    assert nobody.alarm and nobody.erlang_c_wait_s is None
    quiet = capacity(arrival_rate_per_s=0.0, mean_consult_s=H, doctors_online=0)
    assert not quiet.alarm and quiet.erlang_c_wait_s is None and quiet.doctors_needed == 1
