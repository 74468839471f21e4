"""``seba simulate``: the generated day, the engine's invariants, the comparisons, the command."""

from __future__ import annotations

import json
import math
import random
from dataclasses import replace
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from seba.data import DATA_DIR
from seba.telemedicine.consults import queueing
from seba.telemedicine.consults.routing import STATE_POOL
from seba.telemedicine.simulation.cli import simulate as simulate_command
from seba.telemedicine.simulation.cli import wait_text
from seba.telemedicine.simulation.day import (
    TALK_MEAN_S,
    Day,
    DayConfig,
    DoctorShift,
    Request,
    build_day,
)
from seba.telemedicine.simulation.engine import POLICIES, policy_settings
from seba.telemedicine.simulation.network import (
    HubSpec,
    Network,
    PoolSpec,
    apportion,
    read_pools,
)
from seba.telemedicine.simulation.report import erlang_c_wait_fractional, percentile
from seba.telemedicine.simulation.run import simulate, simulate_day

SMALL = DayConfig(requests=2_000, doctors=30, seed=7)


@pytest.fixture(scope="module")
def small_day() -> Day:
    return build_day(SMALL)


@pytest.fixture(scope="module")
def small_report():
    return simulate(SMALL)


def _without_wall_time(report) -> dict:
    data = report.to_dict()
    for policy in data["policies"]:
        policy.pop("wall_s")
    return data


# --- The generated day ---


def test_the_day_has_the_requests_and_doctors_asked_for(small_day: Day) -> None:
    assert len(small_day.requests) == SMALL.requests
    times = [r.at for r in small_day.requests]
    assert times == sorted(times)
    assert times[0] >= 0 and times[-1] <= small_day.window_s
    online = peak = 0
    for _, delta in sorted(
        [(s.on_at, 1) for s in small_day.shifts] + [(s.off_at, -1) for s in small_day.shifts]
    ):
        online += delta
        peak = max(peak, online)
    assert peak == SMALL.doctors
    assert all(s.on_at < s.off_at for s in small_day.shifts)


def test_the_full_scale_network_has_63_hubs_and_every_specialty_somewhere() -> None:
    day = build_day(DayConfig(requests=1_000, doctors=950, seed=1))
    net = day.network
    assert len(net.hubs) == 63
    assert {h.code for h in net.hubs if h.pool == STATE_POOL} == {"sskm-cardiology", "bin-stroke"}
    assert net.specialty_level["general_medicine"] == "hub"
    assert net.specialty_level["psychiatry"] == "pool"
    served = {(s.hub, sp) for s in day.shifts for sp in s.specialties}
    for request in day.requests:
        assert (request.hub, request.specialty) in served, request
    assert all(2 <= len(p.districts) <= 4 for p in net.pools)
    # Darjeeling's patients speak Nepali, so some doctors of their hubs do.
    hills_hubs = {h.code for h in net.hubs if "darjeeling" in h.districts}
    assert any("ne" in s.languages for s in day.shifts if s.hub in hills_hubs)


def test_the_day_is_the_same_for_a_seed_and_differs_across_seeds(small_day: Day) -> None:
    again = build_day(SMALL)
    assert again.requests == small_day.requests
    assert again.shifts == small_day.shifts
    other = build_day(replace(SMALL, seed=8))
    assert other.requests != small_day.requests


def test_pools_come_from_the_shared_data() -> None:
    pools, population = read_pools()
    assert len(population) == 23
    assert sorted(d for p in pools for d in p.districts) == sorted(population)
    for pool in pools:
        for neighbour in pool.neighbours:
            # Overflow goes both ways.
            assert pool.code in next(p for p in pools if p.code == neighbour).neighbours


def test_pools_that_miss_a_district_are_refused(tmp_path: Path) -> None:
    (tmp_path / "districts.csv").write_text(
        (DATA_DIR / "districts.csv").read_text(encoding="utf-8"), encoding="utf-8"
    )
    lines = (DATA_DIR / "pools.csv").read_text(encoding="utf-8").splitlines()
    (tmp_path / "pools.csv").write_text("\n".join(lines[:-1]) + "\n", encoding="utf-8")
    with pytest.raises(ValueError, match="exactly one pool"):
        read_pools(tmp_path)


@pytest.mark.parametrize(
    ("total", "weights", "minimum", "expected"),
    [
        (10, [1, 1], 0, [5, 5]),
        (10, [3, 1], 0, [8, 2]),  # 7.5 / 2.5: the larger remainder first
        (5, [100, 1, 1], 1, [3, 1, 1]),
        (3, [0.2, 0.3, 0.5], 1, [1, 1, 1]),
    ],
)
def test_apportion(total: int, weights: list[float], minimum: int, expected: list[int]) -> None:
    assert apportion(total, weights, minimum) == expected


def test_apportion_refuses_impossible_minimums() -> None:
    with pytest.raises(ValueError):
        apportion(2, [1, 1, 1], 1)


@pytest.mark.parametrize(
    "changes",
    [{"requests": 0}, {"requests": -5}, {"hours": 0}, {"hours": math.nan}, {"doctors": 3}],
)
def test_a_bad_day_is_refused(changes) -> None:
    with pytest.raises(ValueError):
        replace(SMALL, **changes)


# --- The engine ---


@pytest.mark.parametrize("policy", POLICIES)
@pytest.mark.parametrize("seed", [3, 11])
def test_no_idle_doctor_beside_a_consult_they_could_take_and_no_consult_held_twice(
    policy: str, seed: int
) -> None:
    # After every event the simulator asks assign() over the whole queue and all idle
    # doctors: it must find nothing, or the simulator's indexes hid a candidate.
    day = build_day(DayConfig(requests=800, doctors=24, seed=seed))
    report = simulate_day(day, policy, check_invariants=True)
    assert report.served + report.unserved == 800


def test_a_small_run_finishes_and_accounts_for_every_consult(small_report) -> None:
    for result in small_report.policies:
        assert result.served + result.unserved == SMALL.requests
        assert result.offers == result.served + result.missed_offers
        all_row = result.rows[-1]
        assert all_row.row == "all" and all_row.requests == SMALL.requests
        assert sum(r.requests for r in result.rows[:-1]) == SMALL.requests
        assert sum(h.arrivals for h in result.hours) == SMALL.requests
        assert result.p50_wait_s <= result.p90_wait_s <= result.p99_wait_s <= result.max_wait_s
        # Doctor time per consult: about 4 minutes, as the scenario says.
        assert 200 < result.doctor_s_per_consult < 300
    seba = small_report.policy("seba")
    assert seba.missed_offers > 0  # offers lapse
    assert seba.served_from.get("neighbour pool", 0) > 0  # overflow happens
    assert seba.follow_ups_same_doctor > 0


def test_the_run_is_the_same_for_a_seed(small_report) -> None:
    assert _without_wall_time(simulate(SMALL)) == _without_wall_time(small_report)
    other = simulate(replace(SMALL, seed=8))
    assert _without_wall_time(other) != _without_wall_time(small_report)


@pytest.mark.parametrize("seed", [7, 19])
def test_overflow_routing_waits_less_than_strict_per_hub_fifo(seed: int) -> None:
    report = simulate(replace(SMALL, seed=seed))
    seba, strict = report.policy("seba"), report.policy("strict")
    assert seba.mean_wait_s <= strict.mean_wait_s
    assert seba.p90_wait_s <= strict.p90_wait_s
    assert seba.unserved <= strict.unserved
    comparison = report.comparison()
    assert comparison["mean_wait_ratio"] == pytest.approx(strict.mean_wait_s / seba.mean_wait_s)


def test_strict_per_hub_fifo_never_leaves_the_hub(small_report) -> None:
    strict = small_report.policy("strict")
    assert set(strict.served_from) == {"own hub"}
    assert strict.follow_ups_same_doctor == 0
    assert policy_settings("strict").state_after_s == math.inf


def _one_hub_day(arrivals: list[float], shifts: tuple[DoctorShift, ...], seed: int = 5) -> Day:
    """One pool, one hub, general medicine in Bengali: the simplest day the engine can run."""
    rng = random.Random(seed)
    _, population = read_pools()
    pool = PoolSpec("only", tuple(sorted(population)), frozenset())
    network = Network(
        pools=(pool,),
        hubs=(HubSpec("hub", "only", pool.districts),),
        population=population,
        district_pool=dict.fromkeys(population, "only"),
        spoke_hubs={d: (("hub", 1.0),) for d in population},
        specialty_level={"general_medicine": "hub"},
        specialist_hub={"only": "hub"},
        state_hub={},
    )
    mu = math.log(TALK_MEAN_S) - 0.5**2 / 2
    requests = tuple(
        Request(
            i, t, "kolkata", "hub", "general_medicine", "bn", "routine",
            rng.lognormvariate(mu, 0.5), rng.uniform(3, 15), None,
        )
        for i, t in enumerate(arrivals)
    )  # fmt: skip
    config = DayConfig(requests=max(1, len(requests)), hours=6.0, doctors=20, seed=seed)
    return Day(config=config, network=network, requests=requests, shifts=shifts)


def _doctor(doctor_id: int, on_at: float = -60.0, miss_rate: float = 0.0) -> DoctorShift:
    gm, bn = frozenset({"general_medicine"}), frozenset({"bn"})
    return DoctorShift(doctor_id, "hub", gm, bn, on_at, 6 * 3600 + 3600, miss_rate)


def _steady_day(doctors: int, load: float, seed: int = 5) -> Day:
    """Doctors online all day, Poisson arrivals at a constant rate, no missed offers: the
    M/G/N queue of Erlang C."""
    rng = random.Random(seed)
    rate = load / 240.0
    arrivals, t = [], rng.expovariate(rate)
    while t < 6 * 3600:
        arrivals.append(t)
        t += rng.expovariate(rate)
    return _one_hub_day(arrivals, tuple(_doctor(i) for i in range(doctors)), seed)


def test_a_lapsed_offer_goes_to_the_next_doctor_and_two_misses_set_a_doctor_away() -> None:
    # Doctor 0 never answers and is the longer idle; doctor 1 always answers.
    day = _one_hub_day([0.0, 100.0], (_doctor(0, -60.0, miss_rate=1.0), _doctor(1, -30.0)))
    result = simulate_day(day, "seba", check_invariants=True)
    assert result.offers == 4 and result.missed_offers == 2
    assert result.doctors_set_away == 1
    assert result.served == 2
    # The first consult waited exactly the offer timeout before doctor 1 got it; the second
    # was offered to doctor 0 again (idle, not declined), lapsed at 160 s, then waited for 1.
    assert result.p50_wait_s == 60.0
    assert result.max_wait_s > 160.0


@pytest.mark.parametrize(("doctors", "load"), [(20, 17.0), (24, 21.0)])
def test_a_steady_single_queue_waits_about_as_erlang_c_says(doctors: int, load: float) -> None:
    means, erlang = [], []
    for seed in (5, 6, 7, 8):
        result = simulate_day(_steady_day(doctors, load, seed), "seba")
        assert result.unserved == 0
        h = result.doctor_s_per_consult  # offer to free: a little over the nominal 240 s
        means.append(result.mean_wait_s)
        erlang.append(queueing.mean_wait_s(load * h / 240.0, doctors, h))
    simulated, expected = sum(means) / len(means), sum(erlang) / len(erlang)
    # Consults vary less than exponential (CV ≈ 0.5), so Erlang C is an upper bound and
    # Allen–Cunneen (≈ 0.63 of it) an estimate; a day's mean is noisy, four days less so.
    assert 0.5 * expected < simulated < 1.0 * expected, (means, erlang)


def test_with_ample_doctors_nobody_waits_beyond_erlang_c() -> None:
    report = simulate(DayConfig(requests=2_000, doctors=150, seed=4))
    seba = report.policy("seba")
    everyone = seba.rows[-1]
    assert everyone.erlang_c_wait_s < 1.0
    assert seba.p50_wait_s == 0.0
    # Only lapsed offers (60 s each, about 2 % of offers) and follow-up holds make anyone wait.
    assert seba.mean_wait_s < 10.0


def test_erlang_c_for_fractional_doctors_lies_between_the_whole_numbers() -> None:
    low, high = queueing.mean_wait_s(16, 20, 240), queueing.mean_wait_s(16, 21, 240)
    assert high < erlang_c_wait_fractional(16, 20.5, 240) < low
    assert erlang_c_wait_fractional(16, 20.0, 240) == low
    assert erlang_c_wait_fractional(16, 16.5, 240) == math.inf
    assert erlang_c_wait_fractional(0, 0.0, 240) == 0.0


def test_percentile_is_nearest_rank() -> None:
    assert percentile([], 90) is None
    assert percentile([1.0, 2.0, 3.0, 4.0], 50) == 2.0
    assert percentile([float(i) for i in range(1, 11)], 90) == 9.0


def test_an_unknown_policy_is_refused(small_day: Day) -> None:
    with pytest.raises(ValueError, match="unknown policy"):
        simulate_day(small_day, "random")


# --- The command ---


@pytest.fixture()
def command() -> typer.Typer:
    app = typer.Typer()
    app.command("simulate")(simulate_command)
    app.command("other")(lambda: None)  # more than one command: "simulate" is a subcommand
    return app


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--requests", "-1"], "requests must be"),
        (["--requests", "0"], "requests must be"),
        (["--doctors", "5"], "doctors must be"),
        (["--hours", "0"], "hours must be"),
        (["--policy", "fastest"], "--policy must be"),
        (["--json-out", "/nonexistent-dir/x.json"], "--json-out"),
    ],
)
def test_bad_options_exit_with_code_2(command, args: list[str], message: str) -> None:
    result = CliRunner().invoke(command, ["simulate", *args])
    assert result.exit_code == 2
    assert message in result.output


def test_the_command_prints_both_policies_and_writes_json(command, tmp_path: Path) -> None:
    out = tmp_path / "report.json"
    result = CliRunner().invoke(
        command,
        ["simulate", "--requests", "600", "--doctors", "24", "--seed", "3", "--json-out", str(out)],
    )
    assert result.exit_code == 0, result.output
    assert "strict per-hub FIFO against Seba routing" in result.output
    assert "Erlang C" in result.output
    data = json.loads(out.read_text(encoding="utf-8"))
    assert [p["policy"] for p in data["policies"]] == ["seba", "strict"]
    assert data["config"] == {"requests": 600, "hours": 6.0, "doctors": 24, "seed": 3}
    assert (
        data["comparison"]["mean_wait_ratio"] is None or data["comparison"]["mean_wait_ratio"] > 0
    )


def test_the_command_can_run_one_policy(command) -> None:
    result = CliRunner().invoke(
        command, ["simulate", "--requests", "300", "--doctors", "20", "--policy", "strict"]
    )
    assert result.exit_code == 0, result.output
    assert "strict per-hub FIFO: own hub only" in result.output
    assert "Seba routing: pools" not in result.output


def test_wait_text() -> None:
    assert wait_text(None) == "—"
    assert wait_text(math.inf) == "∞"
    assert wait_text(37.4) == "37 s"
    assert wait_text(341.0) == "5.7 min"
