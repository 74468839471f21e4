"""Reservations per second through the HTTP server, and reservation → SMS-sent latency.

For each database (a temp SQLite file; PostgreSQL ``--pg-url``, reset first) it loads the demo
(264 hospitals, ~2,600 bed pools), starts ``seba serve --workers N`` and ``seba worker``, and
has ``--clients`` concurrent control-room clients POST ``/api/v1/referrals`` for ``--seconds``
(a new patient each time, a random hospital, a general bed; a 409 ``no_bed_available`` counts
apart). Then it reads from the outbox how long each reservation's SMS to the family waited
before the worker marked it sent. Results are appended to docs/benchmarks.md.

Only 127.0.0.1 is contacted; every process is stopped on exit. The load generator shares the
two cores with the server: read the figures as a floor.

    uv run python bench/referrals.py [--seconds 10] [--clients 32] [--workers 2]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import sys
import tempfile
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
from availability import (
    ROOT,
    BenchError,
    _reset_postgres,
    git_revision,
    load_demo,
    machine,
    record,
    spawn,
    stop_all,
    utc_date,
    wait_ready,
)

DEFAULT_PG = "postgresql+asyncpg://postgres@127.0.0.1:5432/bench"


def pct(values: list[float], q: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, round(q * (len(values) - 1)))] if values else float("nan")


async def load(base: str, seconds: float, clients: int) -> dict[str, object]:
    async with httpx.AsyncClient(
        base_url=base, timeout=30, limits=httpx.Limits(max_connections=clients)
    ) as c:
        token = (
            await c.post(
                "/api/v1/auth/token", json={"username": "control", "password": "seba-demo-2021"}
            )
        ).json()["access_token"]
        headers = {"Authorization": f"Bearer {token}"}
        ids = [
            f["id"]
            for f in (await c.get("/api/v1/beds/availability?limit=500")).json()["facilities"]
        ]
        latencies: list[float] = []
        codes: dict[int, int] = {}
        deadline = time.monotonic() + seconds

        async def client(n: int) -> None:
            rng = random.Random(n)
            i = 0
            while time.monotonic() < deadline:
                i += 1
                body = {
                    "patient": {
                        "name": f"Bench Patient {n}-{i}",
                        "age": rng.randint(1, 90),
                        "sex": rng.choice(["male", "female"]),
                        "phone": f"98{rng.randrange(10**8):08d}",
                    },
                    "facility_id": rng.choice(ids),
                    "bed_type": "general",
                }
                started = time.perf_counter()
                r = await c.post("/api/v1/referrals", json=body, headers=headers)
                latencies.append(time.perf_counter() - started)
                codes[r.status_code] = codes.get(r.status_code, 0) + 1

        started = time.monotonic()
        await asyncio.gather(*(client(n) for n in range(clients)))
        elapsed = time.monotonic() - started
    return {"elapsed": elapsed, "codes": codes, "latencies": latencies}


async def sms_latency(database_url: str, wait_s: float) -> tuple[list[float], int]:
    """Seconds from enqueue to sent for family SMS; waits up to ``wait_s`` for the worker."""
    from sqlalchemy import text

    from seba.core.db import make_engine

    engine = make_engine(database_url)
    deadline = time.monotonic() + wait_s
    try:
        while True:
            async with engine.connect() as conn:
                pending = (
                    await conn.execute(
                        text("SELECT count(*) FROM outbox_message WHERE status = 'pending'")
                    )
                ).scalar()
                rows = (
                    await conn.execute(
                        text(
                            "SELECT created_at, sent_at FROM outbox_message"
                            " WHERE status = 'sent' AND recipient LIKE '+91%'"
                        )
                    )
                ).all()
            if pending == 0 or time.monotonic() > deadline:
                break
            await asyncio.sleep(1)
    finally:
        await engine.dispose()

    def ts(value):
        from datetime import UTC, datetime

        if isinstance(value, str):
            value = datetime.fromisoformat(value)
        return value if value.tzinfo else value.replace(tzinfo=UTC)

    return [(ts(s) - ts(c)).total_seconds() for c, s in rows], pending


def bench(db: str, url: str, args, tmp: Path) -> str:
    log = tmp / f"{db}.log"
    load_demo(url, log)
    env = {
        **os.environ,
        "SEBA_DATABASE_URL": url,
        "SEBA_ENV": "dev",
        "SEBA_SMS_FILE": str(tmp / f"{db}-sms.jsonl"),
        "SEBA_WORKER_POLL_S": "0.2",
    }
    env.pop("SEBA_REDIS_URL", None)
    port = args.port + (0 if db == "sqlite" else 1)
    server = spawn(
        [
            sys.executable,
            "-m",
            "seba.cli",
            "serve",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--workers",
            str(args.workers),
        ],
        env=env,
        log=log,
    )
    wait_ready(f"http://127.0.0.1:{port}/healthz", server, log, timeout_s=180)
    worker_log = tmp / f"{db}-worker.log"
    spawn([sys.executable, "-m", "seba.cli", "worker"], env=env, log=worker_log)
    # Measure the worker's delivery, not its start-up: wait until it polls.
    deadline = time.monotonic() + 120
    while "worker running" not in (
        worker_log.read_text(errors="replace") if worker_log.exists() else ""
    ):
        if time.monotonic() > deadline:
            raise BenchError("seba worker did not start")
        time.sleep(0.2)
    result = asyncio.run(load(f"http://127.0.0.1:{port}", args.seconds, args.clients))
    sms, pending = asyncio.run(sms_latency(url, wait_s=60))
    stop_all()
    codes = result["codes"]
    ok = codes.get(201, 0)
    lat = result["latencies"]
    return (
        f"| {db} | {args.workers} | {args.clients} | {ok / result['elapsed']:,.0f} "
        f"| {codes.get(409, 0)} | {sum(v for k, v in codes.items() if k >= 500)} "
        f"| {pct(lat, 0.5) * 1000:.1f} / {pct(lat, 0.99) * 1000:.1f} | "
        f"{pct(sms, 0.5):.2f} / {pct(sms, 0.99):.2f} ({len(sms)} sent, {pending} pending) |"
    )


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--clients", type=int, default=32)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--port", type=int, default=18200)
    parser.add_argument("--pg-url", default=DEFAULT_PG)
    parser.add_argument("--databases", default="sqlite,postgresql")
    parser.add_argument("--record", type=Path, default=ROOT / "docs" / "benchmarks.md")
    args = parser.parse_args(argv)
    rows = []
    with tempfile.TemporaryDirectory(prefix="seba-bench-ref-") as tmp_name:
        tmp = Path(tmp_name)
        try:
            for db in args.databases.split(","):
                if db == "sqlite":
                    url = f"sqlite+aiosqlite:///{tmp / 'bench.db'}"
                else:
                    url = args.pg_url
                    asyncio.run(_reset_postgres(url))
                rows.append(bench(db, url, args, tmp))
                print(rows[-1], flush=True)
        except BenchError as exc:
            print(f"benchmark failed: {exc}", file=sys.stderr)
            return 1
        finally:
            stop_all()
    date = utc_date()
    text = "\n".join(
        [
            f"## {date} — reservations through the HTTP server, and reservation → SMS sent",
            "",
            f"- Command: `uv run python bench/referrals.py {' '.join(argv)}`",
            f"- Date: {date}",
            f"- Machine: {machine()}; the load generator (httpx, {args.clients} concurrent "
            "clients) runs on the same cores.",
            f"- Code: {git_revision()}",
            "- Each request reserves a general bed for a new patient at a random one of the "
            "264 demo hospitals (control-room token); `seba worker` (poll 0.2 s) runs alongside "
            "and sends the family SMS to the console provider.",
            "",
            "| DB | server workers | clients | reservations/s (201) | 409 no bed | 5xx "
            "| latency p50 / p99 ms | SMS wait p50 / p99 s |",
            "|---|---:|---:|---:|---:|---:|---:|---:|",
            *rows,
        ]
    )
    record(text, args.record)
    print(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
