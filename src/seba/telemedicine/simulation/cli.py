"""``seba simulate``: a seed-scale day routed by the real engine, beside Erlang C.

The command function only checks its options, runs ``simulation.simulate`` behind a progress
bar (on standard error) and prints the report (standard output), optionally as JSON too.
``cli.py`` registers it: ``app.command("simulate")(simulate)``.
"""

from __future__ import annotations

import json
import math
import time
from pathlib import Path
from typing import Annotated, NoReturn

import typer
from rich import box
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.table import Table

from seba.telemedicine.simulation.day import DayConfig
from seba.telemedicine.simulation.engine import POLICIES
from seba.telemedicine.simulation.report import PolicyReport, SimulationReport
from seba.telemedicine.simulation.run import simulate as run_simulation

POLICY_CHOICES = ("both", *POLICIES)
POOL_TITLES = {"state": "state hubs (24x7)", "all": "all pools"}

errors = Console(stderr=True)


def simulate(
    requests: Annotated[int, typer.Option(help="Consult requests in the day.")] = 80_000,
    hours: Annotated[float, typer.Option(help="Hours of the window they arrive in.")] = 6.0,
    doctors: Annotated[int, typer.Option(help="Doctors online at the peak.")] = 950,
    seed: Annotated[int, typer.Option(help="Same seed, same day, same results.")] = 2021,
    policy: Annotated[str, typer.Option(help="seba, strict or both (the same day).")] = "both",
    json_out: Annotated[
        Path | None, typer.Option("--json-out", help="Also write the full report as JSON here.")
    ] = None,
) -> None:
    """Simulate a day of consults routed by the real engine; compare with strict per-hub FIFO
    and with Erlang C. Exit code 2 on a bad option."""
    try:
        config = DayConfig(requests=requests, hours=hours, doctors=doctors, seed=seed)
    except ValueError as exc:
        _refuse(str(exc))
    if policy not in POLICY_CHOICES:
        _refuse(f"--policy must be one of {', '.join(POLICY_CHOICES)}")
    if json_out is not None and (json_out.is_dir() or not json_out.parent.is_dir()):
        _refuse(f"--json-out {json_out}: not a file in an existing directory")
    policies = POLICIES if policy == "both" else (policy,)
    started = time.perf_counter()
    with Progress(
        TextColumn("[progress.description]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=errors,
    ) as progress:
        task = progress.add_task(
            f"routing {requests:,} consults × {len(policies)} policies",
            total=requests * len(policies),
        )
        report = run_simulation(
            config, policies, progress=lambda done: progress.advance(task, done)
        )
    wall_s = time.perf_counter() - started
    out = Console()
    if not out.is_terminal:  # a file or a pipe: wide enough for the tables, not 80 columns
        out = Console(width=132)
    print_report(report, out, wall_s)
    if json_out is not None:
        data = report.to_dict() | {"wall_s": wall_s}
        json_out.write_text(json.dumps(data, ensure_ascii=False, indent=2), encoding="utf-8")
        errors.print(f"[green]wrote[/green] {json_out}")


def _refuse(message: str) -> NoReturn:
    errors.print(f"[red]error[/red] {message}")
    raise typer.Exit(2)


def wait_text(seconds: float | None) -> str:
    """A wait for people: seconds below two minutes, then minutes; ∞ for no steady state."""
    if seconds is None:
        return "—"
    if math.isinf(seconds):
        return "∞"
    if seconds < 120:
        return f"{seconds:.0f} s"
    return f"{seconds / 60:.1f} min"


def print_report(report: SimulationReport, console: Console, wall_s: float) -> None:
    config, network = report.config, report.network
    console.print(
        f"[bold]seba simulate[/bold]: {config.requests:,} consult requests in {config.hours:g} h "
        f"from 09:00 IST, {config.doctors:,} doctors online at the peak "
        f"({network['doctor_shifts']:,} shifts), {network['hubs']} hubs in "
        f"{len(network['pools'])} pools, seed {config.seed}"
    )
    for result in report.policies:
        console.print(_pool_table(result))
        console.print(_summary(result))
    console.print(_hour_table(report))
    comparison = report.comparison()
    seba, strict = report.policy("seba"), report.policy("strict")
    if comparison is not None and seba is not None and strict is not None:
        console.print(
            "[bold]strict per-hub FIFO against Seba routing, same day[/bold]: mean wait "
            f"{wait_text(strict.mean_wait_s)} vs {wait_text(seba.mean_wait_s)} "
            f"({_times(comparison['mean_wait_ratio'])}), p90 {wait_text(strict.p90_wait_s)} vs "
            f"{wait_text(seba.p90_wait_s)} ({_times(comparison['p90_wait_ratio'])}); "
            f"unserved at the end of the day {strict.unserved:,} vs {seba.unserved:,}"
        )
    console.print(f"wall time {wall_s:.1f} s")


def _times(ratio: float | None) -> str:
    return "Seba waited no time" if ratio is None else f"{ratio:.1f}× longer"


def _pool_table(result: PolicyReport) -> Table:
    table = Table(
        box=box.SIMPLE_HEAD,
        title=f"{result.description}",
        caption="Erlang C: per hour, same arrivals, doctor time and doctors online, weighted "
        "by arrivals" + (" (per hub)" if result.policy == "strict" else " (one queue per pool)"),
    )
    for header in ("pool", "requests", "mean wait", "p90 wait", "doctors online", "load E"):
        table.add_column(header, justify="left" if header == "pool" else "right")
    table.add_column("Erlang C", justify="right")
    table.add_column("alarm h", justify="right")
    table.add_column("unserved", justify="right")
    for row in result.rows:
        table.add_row(
            POOL_TITLES.get(row.row, row.row),
            f"{row.requests:,}",
            wait_text(row.mean_wait_s),
            wait_text(row.p90_wait_s),
            f"{row.doctors_online:.1f}",
            f"{row.load_erlangs:.1f}",
            wait_text(row.erlang_c_wait_s),
            str(row.alarm_hours),
            f"{row.unserved:,}",
            end_section=row.row == "state",
        )
    return table


def _summary(result: PolicyReport) -> str:
    served_from = ", ".join(f"{k} {v:,}" for k, v in result.served_from.items())
    priorities = ", ".join(
        f"{name} {wait_text(s.mean_s)}/{wait_text(s.p90_s)}"
        for name, s in result.by_priority.items()
    )
    lines = [
        f"served {result.served:,} of {result.requests:,}; waits p50 "
        f"{wait_text(result.p50_wait_s)}, p90 {wait_text(result.p90_wait_s)}, p99 "
        f"{wait_text(result.p99_wait_s)}, max {wait_text(result.max_wait_s)}; over 5 min "
        f"{result.waited_over_5_min:,}",
        f"mean/p90 by priority: {priorities}",
        f"offers {result.offers:,}, missed {result.missed_offers:,}, doctors set away "
        f"{result.doctors_set_away:,}, CHO no-shows {result.no_shows:,}; doctor time per "
        f"consult {result.doctor_s_per_consult:.0f} s",
        f"served from: {served_from}",
    ]
    if result.policy == "seba":
        lines.append(
            f"follow-ups {result.follow_ups:,}, seen by their own doctor "
            f"{result.follow_ups_same_doctor:,}"
        )
    lines.append(f"simulated in {result.wall_s:.1f} s\n")
    return "\n".join(lines)


def _hour_table(report: SimulationReport) -> Table:
    table = Table(
        box=box.SIMPLE_HEAD, title="by hour (IST)", caption="needed: ⌈load⌉ + 1 (DOMAIN §3)"
    )
    for header in ("hour", "arrivals", "load E", "doctors online", "needed", "Erlang C pooled"):
        table.add_column(header, justify="right")
    for result in report.policies:
        table.add_column(f"{result.policy} mean", justify="right")
        table.add_column(f"{result.policy} p90", justify="right")
    first = report.policies[0]
    for i, hour in enumerate(first.hours):
        needed = math.ceil(hour.load_erlangs) + 1
        alarm = hour.load_erlangs >= hour.doctors_online
        cells = [
            hour.starts_at,
            f"{hour.arrivals:,}",
            f"{hour.load_erlangs:.0f}",
            f"{hour.doctors_online:.0f}",
            f"[red]{needed:,}[/red]" if alarm else f"{needed:,}",
            wait_text(hour.erlang_c_pooled_wait_s),
        ]
        for result in report.policies:
            cells += [wait_text(result.hours[i].mean_wait_s), wait_text(result.hours[i].p90_wait_s)]
        table.add_row(*cells)
    return table
