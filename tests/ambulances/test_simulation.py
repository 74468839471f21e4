"""``seba simulate ambulances``: seeded, the real ranking, both policies compared."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from seba.ambulances import simulation
from seba.cli import app


def test_the_day_is_seeded_and_nearest_free_beats_the_block_at_p90():
    first = simulation.simulate_day("bankura", fleet=10, requests=30, seed=2021)
    assert first == simulation.simulate_day("bankura", fleet=10, requests=30, seed=2021)
    assert first != simulation.simulate_day("bankura", fleet=10, requests=30, seed=7)
    assert set(first) == set(simulation.POLICIES)
    assert first["nearest_free"]["p90_min"] < first["block"]["p90_min"]
    city = simulation.simulate_day("kolkata", fleet=12, requests=60)
    assert city["nearest_free"]["area"] == "urban"
    assert city["nearest_free"]["within_promise"] >= city["block"]["within_promise"]
    for figures in (*first.values(), *city.values()):
        assert 0 <= figures["within_promise"] <= 1
        assert figures["p50_min"] <= figures["p90_min"]


def test_every_call_waits_at_least_the_dispatch_time():
    vehicles, calls, hospitals, area = simulation.build_day("nadia", fleet=3, requests=40, seed=1)
    for policy in simulation.POLICIES:
        outcome = simulation.run(policy, vehicles, calls, hospitals, area)
        assert len(outcome.to_patient_min) == 40
        assert min(outcome.to_patient_min) >= simulation.DISPATCH_MIN


@pytest.mark.parametrize(
    "args", [["--district", "atlantis"], ["--fleet", "0"], ["--requests", "0"]]
)
def test_bad_options_exit_2(args):
    result = CliRunner().invoke(app, ["simulate", "ambulances", *args])
    assert result.exit_code == 2


def test_the_command_prints_both_policies():
    result = CliRunner().invoke(app, ["simulate", "ambulances", "--district", "kolkata"])
    assert result.exit_code == 0, result.output
    assert "nearest_free" in result.output and "block" in result.output
