"""Benchmark the public availability list against nginx serving the same bytes.

    uv run python bench/availability.py                  # SQLite and PostgreSQL, 1 and 2 workers
    uv run python bench/availability.py --db sqlite --workers 1 --duration 5 --no-record

For each database (SQLite in a temp file; PostgreSQL in the ``bench`` database, schema dropped
and recreated) it loads the demo data (264 hospitals) with ``seba demo``, then for each worker
count starts ``seba serve`` and an nginx (Debian package) with as many worker processes serving
the very response bytes seba answered (and its gzip copy, ``gzip_static``) as a static file with
the same Content-Type. Both are measured with ``wrk -t2 -c64 -d10s --latency`` on
``GET /api/v1/beds/availability`` without and with ``Accept-Encoding: gzip``, seba and nginx
back to back so that the ratio is measured under the same noise. The machine is shared: wrk runs
on the same cores as the servers, so compare ratios, not absolute numbers.

It also reports the servers' CPU time per request (all their processes, from /proc), which
varies much less than req/s on a noisy machine. Results are printed and appended to
``docs/benchmarks.md``. Everything listens on and talks to 127.0.0.1 only; every process is
stopped on any exit, and a watchdog bounds the whole run.
"""

from __future__ import annotations

import argparse
import asyncio
import atexit
import contextlib
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parents[1]
RECORD = ROOT / "docs" / "benchmarks.md"
PATH = "/api/v1/beds/availability"
LOCAL_HOSTS = {"127.0.0.1", "localhost"}
GOAL_RATIO = 0.5
GOAL_P99_MS = 20.0
INSTALL_HINT = "apt-get install nginx-light wrk"


class BenchError(Exception):
    pass


def tail(log: Path, chars: int = 3000) -> str:
    """The end of a log (the temp directory is gone once the run ends)."""
    try:
        return "\n--- " + log.name + " ---\n" + log.read_text(errors="replace")[-chars:]
    except OSError:
        return ""


# ---------------------------------------------------------------------------------------------
# processes: every one we start is its own process group, stopped on any exit


_running: list[subprocess.Popen] = []


def spawn(args: list[str], *, env: dict[str, str] | None = None, log: Path) -> subprocess.Popen:
    with log.open("ab") as out:
        process = subprocess.Popen(
            args,
            cwd=ROOT,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    _running.append(process)
    return process


def stop(process: subprocess.Popen) -> None:
    """Stop the process group we started (granian forks its workers into it)."""
    if process.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(timeout=10)
    # Workers may outlive their parent by a moment; make sure the group is gone.
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, signal.SIGKILL)
    if process.poll() is None:
        process.wait(timeout=5)
    if process in _running:
        _running.remove(process)


def stop_all() -> None:
    for process in list(_running):
        stop(process)


def _on_signal(signum: int, _frame: object) -> None:
    raise SystemExit(f"stopped by signal {signum}")


def _on_watchdog(_signum: int, _frame: object) -> None:
    raise SystemExit("watchdog: the benchmark ran past its time budget")


# ---------------------------------------------------------------------------------------------
# tools and services


def require_tools() -> tuple[str, str]:
    nginx = shutil.which("nginx") or next(
        (p for p in ("/usr/sbin/nginx", "/sbin/nginx") if Path(p).exists()), None
    )
    wrk = shutil.which("wrk")
    missing = [name for name, path in (("nginx", nginx), ("wrk", wrk)) if path is None]
    if missing:
        raise BenchError(
            f"{' and '.join(missing)} not found. Install the Debian packages: {INSTALL_HINT}"
        )
    return nginx, wrk  # type: ignore[return-value]


def require_local(url: str, what: str) -> None:
    host = urlsplit(url.replace("+asyncpg", "")).hostname
    if host not in LOCAL_HOSTS:
        raise BenchError(f"{what} must be on 127.0.0.1 (got host {host!r} in {url})")


def machine() -> str:
    cpus = subprocess.run(["nproc"], capture_output=True, text=True, check=True).stdout.strip()
    model = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{cpus} CPUs" + (f" ({model})" if model else "")


def utc_date() -> str:
    return subprocess.run(["date", "-u"], capture_output=True, text=True, check=True).stdout.strip()


def git_revision() -> str:
    try:
        head = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=10,
            check=True,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=10,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return head + (" + uncommitted changes" if dirty else "")


async def _reset_postgres(url: str) -> None:
    import asyncpg

    dsn = url.replace("postgresql+asyncpg", "postgresql")
    parts = urlsplit(dsn)
    name = parts.path.lstrip("/")
    try:
        conn = await asyncio.wait_for(asyncpg.connect(dsn), timeout=5)
    except asyncpg.InvalidCatalogNameError:
        admin = await asyncio.wait_for(
            asyncpg.connect(parts._replace(path="/postgres").geturl()), timeout=5
        )
        try:
            await admin.execute(f'CREATE DATABASE "{name}"')
        finally:
            await admin.close()
        conn = await asyncio.wait_for(asyncpg.connect(dsn), timeout=5)
    try:
        await conn.execute("DROP SCHEMA public CASCADE; CREATE SCHEMA public;")
    finally:
        await conn.close()


def load_demo(database_url: str, log: Path) -> float:
    started = time.monotonic()
    env = {**os.environ, "SEBA_DATABASE_URL": database_url, "SEBA_ENV": "dev"}
    env.pop("SEBA_REDIS_URL", None)
    with log.open("ab") as out:
        result = subprocess.run(
            [sys.executable, "-m", "seba.cli", "demo"],
            cwd=ROOT,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            timeout=300,
        )
    if result.returncode != 0:
        raise BenchError(f"seba demo failed on {database_url}" + tail(log))
    return time.monotonic() - started


def http_get(url: str, headers: dict[str, str] | None = None) -> tuple[int, dict[str, str], bytes]:
    request = urllib.request.Request(url, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, dict(response.headers.items()), response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, dict(exc.headers.items()), exc.read()


def wait_ready(url: str, process: subprocess.Popen, log: Path, timeout_s: float = 60.0) -> None:
    deadline = time.monotonic() + timeout_s
    last: object = None
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise BenchError(f"{process.args[0]} exited early" + tail(log))
        try:
            last = http_get(url)[0]
            if last == 200:
                return
        except (OSError, urllib.error.URLError) as exc:
            last = exc
        time.sleep(0.2)
    raise BenchError(f"{url} did not answer 200 within {timeout_s:.0f}s ({last})" + tail(log))


def start_seba(
    database_url: str, port: int, workers: int, redis_url: str | None, tmp: Path
) -> subprocess.Popen:
    env = {
        **os.environ,
        "SEBA_DATABASE_URL": database_url,
        "SEBA_ENV": "prod",
        "SEBA_SECRET_KEY": "bench-" + "x" * 32,
    }
    env.pop("SEBA_REDIS_URL", None)
    if redis_url:
        env["SEBA_REDIS_URL"] = redis_url
    log = tmp / f"seba-{port}.log"
    args = [sys.executable, "-m", "seba.cli", "serve", "--host", "127.0.0.1"]
    process = spawn([*args, "--port", str(port), "--workers", str(workers)], env=env, log=log)
    wait_ready(f"http://127.0.0.1:{port}/healthz", process, log)
    return process


NGINX_CONF = """\
worker_processes {workers};
daemon off;
pid {root}/nginx.pid;
error_log {root}/error.log warn;
events {{ worker_connections 4096; }}
http {{
    access_log off;
    client_body_temp_path {root}/tmp/body;
    proxy_temp_path {root}/tmp/proxy;
    fastcgi_temp_path {root}/tmp/fastcgi;
    uwsgi_temp_path {root}/tmp/uwsgi;
    scgi_temp_path {root}/tmp/scgi;
    sendfile on;
    # No tcp_nopush: with it, 74 KB answers stall on delayed ACKs (p99 ~42 ms, same req/s).
    keepalive_requests 1000000;
    server {{
        listen 127.0.0.1:{port};
        root {root}/www;
        location = {path} {{
            types {{ }}
            default_type {content_type};
            gzip_static on;
            gzip_vary on;
            add_header Cache-Control no-cache;
        }}
    }}
}}
"""


def start_nginx(
    nginx: str, body: bytes, gzip_body: bytes, content_type: str, port: int, workers: int, tmp: Path
) -> subprocess.Popen:
    root = tmp / f"nginx-{port}"
    target = root / "www" / PATH.lstrip("/")
    target.parent.mkdir(parents=True, exist_ok=True)
    # Run as root, nginx's workers drop to www-data: let them reach the (0700) temp directory.
    for directory in target.parents:
        if directory.is_relative_to(tmp):
            directory.chmod(0o755)
    (root / "tmp").mkdir(exist_ok=True)
    target.write_bytes(body)
    target.with_name(target.name + ".gz").write_bytes(gzip_body)
    conf = root / "nginx.conf"
    conf.write_text(
        NGINX_CONF.format(
            workers=workers, root=root, port=port, path=PATH, content_type=content_type
        )
    )
    log = root / "stdout.log"
    process = spawn(
        [nginx, "-p", str(root), "-e", str(root / "error.log"), "-c", str(conf)], log=log
    )
    wait_ready(f"http://127.0.0.1:{port}{PATH}", process, log, timeout_s=15)
    return process


# ---------------------------------------------------------------------------------------------
# measuring


def process_tree(root_pid: int) -> list[int]:
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            text = stat.read_text()
        except OSError:
            continue
        fields = text.rsplit(")", 1)[1].split()
        children.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    pids, todo = [], [root_pid]
    while todo:
        pid = todo.pop()
        pids.append(pid)
        todo.extend(children.get(pid, []))
    return pids


def cpu_seconds(pids: list[int]) -> float:
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])  # utime + stime
    return total / ticks


_UNITS = {"us": 1e-3, "ms": 1.0, "s": 1e3, "m": 60e3}


def _ms(text: str) -> float:
    number, unit = re.fullmatch(r"([\d.]+)(us|ms|s|m)", text).groups()  # type: ignore[union-attr]
    return float(number) * _UNITS[unit]


@dataclass
class Run:
    rps: float
    p50_ms: float
    p99_ms: float
    requests: int
    errors: int
    cpu_us_per_req: float


def wrk_run(
    wrk: str, url: str, *, threads: int, connections: int, duration: int, gzip: bool, pid: int
) -> Run:
    args = [wrk, f"-t{threads}", f"-c{connections}", f"-d{duration}s", "--latency"]
    if gzip:
        args += ["-H", "Accept-Encoding: gzip"]
    pids = process_tree(pid)
    cpu_before = cpu_seconds(pids)
    out = subprocess.run(
        [*args, url], capture_output=True, text=True, timeout=duration + 60, check=False
    )
    cpu = cpu_seconds(pids) - cpu_before
    if out.returncode != 0:
        raise BenchError(f"wrk failed: {out.stderr or out.stdout}")
    text = out.stdout
    latency = dict(re.findall(r"^\s+(50|99)%\s+(\S+)\s*$", text, re.MULTILINE))
    rps = re.search(r"^Requests/sec:\s+([\d.]+)", text, re.MULTILINE)
    total = re.search(r"^\s+(\d+) requests in", text, re.MULTILINE)
    if not (rps and total and "50" in latency and "99" in latency):
        raise BenchError(f"could not read wrk output:\n{text}")
    errors = 0
    non_2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", text)
    if non_2xx:
        errors += int(non_2xx.group(1))
    sockets = re.search(
        r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", text
    )
    if sockets:
        errors += sum(int(n) for n in sockets.groups())
    requests = int(total.group(1))
    return Run(
        rps=float(rps.group(1)),
        p50_ms=_ms(latency["50"]),
        p99_ms=_ms(latency["99"]),
        requests=requests,
        errors=errors,
        cpu_us_per_req=cpu * 1e6 / max(requests, 1),
    )


def median_run(runs: list[Run]) -> Run:
    return Run(
        rps=statistics.median(r.rps for r in runs),
        p50_ms=statistics.median(r.p50_ms for r in runs),
        p99_ms=statistics.median(r.p99_ms for r in runs),
        requests=sum(r.requests for r in runs),
        errors=sum(r.errors for r in runs),
        cpu_us_per_req=statistics.median(r.cpu_us_per_req for r in runs),
    )


@dataclass
class Row:
    db: str
    workers: int
    versions: str
    encoding: str
    size: int
    seba: Run
    nginx: Run
    notes: list[str] = field(default_factory=list)

    @property
    def ratio(self) -> float:
        return self.seba.rps / self.nginx.rps if self.nginx.rps else 0.0

    @property
    def goal_met(self) -> bool:
        return self.ratio >= GOAL_RATIO and self.seba.p99_ms < GOAL_P99_MS and not self.seba.errors


def measure_pair(
    wrk: str, seba_url: str, seba_pid: int, nginx_url: str, nginx_pid: int, args, gzip: bool
) -> tuple[Run, Run]:
    """seba and nginx back to back, alternating which goes first, after a warm-up each."""
    common = dict(threads=args.threads, connections=args.connections, gzip=gzip)
    seba_runs, nginx_runs = [], []
    for round_ in range(args.rounds):
        order = [("seba", seba_url, seba_pid), ("nginx", nginx_url, nginx_pid)]
        if round_ % 2:
            order.reverse()
        for name, url, pid in order:
            if args.warmup:
                wrk_run(wrk, url, duration=args.warmup, pid=pid, **common)
            run = wrk_run(wrk, url, duration=args.duration, pid=pid, **common)
            (seba_runs if name == "seba" else nginx_runs).append(run)
    return median_run(seba_runs), median_run(nginx_runs)


def cells(args: argparse.Namespace) -> list[tuple[int, str]]:
    """(workers, where the data version is read): one process keeps it in memory; several read
    it from the database, or from Redis when given."""
    return [
        (workers, versions)
        for workers in args.workers
        for versions in (["in-process"] if workers == 1 else args.versions)
    ]


def bench_database(db: str, database_url: str, args, nginx: str, wrk: str, tmp: Path) -> list[Row]:
    rows = []
    print(f"[{db}] loading demo data …", flush=True)
    took = load_demo(database_url, tmp / f"demo-{db}.log")
    print(f"[{db}] demo data loaded in {took:.0f}s", flush=True)
    for workers, versions in cells(args):
        redis_url = args.redis_url if versions == "redis" else None
        seba_port, nginx_port = args.port, args.port + 1
        seba = start_seba(database_url, seba_port, workers, redis_url, tmp)
        ngx = None
        try:
            seba_url = f"http://127.0.0.1:{seba_port}{PATH}"
            status, headers, body = http_get(seba_url)
            status_gz, headers_gz, gzip_body = http_get(seba_url, {"Accept-Encoding": "gzip"})
            if status != 200 or status_gz != 200 or headers_gz.get("content-encoding") != "gzip":
                raise BenchError(f"unexpected answer from seba: {status} {status_gz}")
            if b'"facilities"' not in body:
                raise BenchError("seba's answer does not look like the availability list")
            content_type = headers.get("content-type", "application/json")
            ngx = start_nginx(nginx, body, gzip_body, content_type, nginx_port, workers, tmp)
            nginx_url = f"http://127.0.0.1:{nginx_port}{PATH}"
            if http_get(nginx_url)[2] != body:
                raise BenchError("nginx does not serve seba's bytes")
            for gzip in (False, True):
                encoding = "gzip" if gzip else "identity"
                print(f"[{db}] {workers} worker(s), {encoding} …", flush=True)
                seba_run, nginx_run = measure_pair(
                    wrk, seba_url, seba.pid, nginx_url, ngx.pid, args, gzip
                )
                row = Row(
                    db=db,
                    workers=workers,
                    versions=versions,
                    encoding=encoding,
                    size=len(gzip_body if gzip else body),
                    seba=seba_run,
                    nginx=nginx_run,
                )
                if seba_run.errors or nginx_run.errors:
                    row.notes.append(
                        f"errors: seba {seba_run.errors}, nginx {nginx_run.errors} "
                        "(non-2xx/3xx or socket errors)"
                    )
                rows.append(row)
                print("   " + format_row(row), flush=True)
        finally:
            if ngx is not None:
                stop(ngx)
            stop(seba)
    return rows


# ---------------------------------------------------------------------------------------------
# reporting

HEADER = (
    "| DB | workers | versions | encoding | bytes | seba req/s | nginx req/s | ratio "
    "| seba p50 / p99 ms | nginx p50 / p99 ms | CPU µs/req seba / nginx | goal |"
)
RULE = "|---|---:|---|---|---:|---:|---:|---:|---:|---:|---:|---|"


def format_row(row: Row) -> str:
    s, n = row.seba, row.nginx
    return (
        f"| {row.db} | {row.workers} | {row.versions} | {row.encoding} | {row.size:,} "
        f"| {s.rps:,.0f} | {n.rps:,.0f} | {row.ratio:.2f} "
        f"| {s.p50_ms:.2f} / {s.p99_ms:.2f} | {n.p50_ms:.2f} / {n.p99_ms:.2f} "
        f"| {s.cpu_us_per_req:.0f} / {n.cpu_us_per_req:.0f} "
        f"| {'met' if row.goal_met else 'NOT met'} |"
    )


def report(rows: list[Row], args, command: str, date: str, skipped: list[str]) -> str:
    met = sum(r.goal_met for r in rows)
    lines = [
        f"## {date} — availability list, seba vs nginx",
        "",
        f"- Command: `{command}`",
        f"- Date: {date}",
        f"- Machine: {machine()}, shared with other work; wrk runs on the same cores.",
        f"- Code: {git_revision()}",
        f"- Load: `wrk -t{args.threads} -c{args.connections} -d{args.duration}s --latency` "
        f"after a {args.warmup}s warm-up, {args.rounds} round(s) per cell (median), seba and "
        f"nginx back to back; `GET {PATH}` (default page: 50 of 264 hospitals).",
        "- nginx: Debian nginx-light, `worker_processes` = seba's workers, the same bytes as a "
        "static file (`gzip_static` for the gzip copy), same Content-Type.",
        f"- Goal: seba ≥ {GOAL_RATIO:.0%} of nginx's req/s and p99 < {GOAL_P99_MS:.0f} ms.",
        "",
        HEADER,
        RULE,
        *(format_row(r) for r in rows),
        "",
        f"Goal met in {met} of {len(rows)} cells.",
    ]
    notes = [f"{r.db}/{r.workers}/{r.encoding}: {n}" for r in rows for n in r.notes]
    noisy = [r for r in rows if r.nginx.p99_ms >= GOAL_P99_MS]
    if noisy:
        notes.append(
            f"nginx's own p99 was {GOAL_P99_MS:.0f} ms or more in {len(noisy)} of {len(rows)} "
            "cells: there the machine was too busy for the p99 goal to say much about seba."
        )
    notes += skipped
    if notes:
        lines += ["", "Notes:", *(f"- {n}" for n in notes)]
    return "\n".join(lines) + "\n"


RECORD_INTRO = """\
# Benchmarks

Each section below is one run of a script in `bench/`, appended by the script itself. The
machine these were taken on is shared and noisy: compare the ratios measured within one run
(seba against nginx serving the same bytes, back to back), not absolute numbers across runs.
"CPU µs/req" is the CPU time of all the server's processes divided by the requests answered:
it moves much less with noise than req/s.

"""


def record(text: str, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    existing = path.read_text() if path.exists() else RECORD_INTRO
    path.write_text(existing.rstrip("\n") + "\n\n" + text)


# ---------------------------------------------------------------------------------------------


def parse_args(argv: list[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--db", default="sqlite,postgresql", help="sqlite,postgresql (default both)")
    p.add_argument("--workers", default="1,2", help="seba worker counts to try (default 1,2)")
    p.add_argument("--duration", type=int, default=10, help="seconds per measurement")
    p.add_argument("--warmup", type=int, default=3, help="seconds of warm-up before each")
    p.add_argument("--rounds", type=int, default=1, help="measurements per cell (median)")
    p.add_argument("--connections", type=int, default=64)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--port", type=int, default=18000, help="seba's port; nginx uses the next")
    p.add_argument(
        "--postgres-url",
        default="postgresql+asyncpg://postgres@127.0.0.1:5432/bench",
        help="database for the PostgreSQL run: its public schema is DROPPED and recreated",
    )
    p.add_argument(
        "--redis-url",
        default=None,
        help="Redis for data versions when workers > 1 (e.g. redis://127.0.0.1:6379/5); "
        "without it several workers read the version from the database",
    )
    p.add_argument(
        "--versions",
        default=None,
        help="for workers > 1: database and/or redis (default: redis with --redis-url, "
        "else database)",
    )
    p.add_argument("--record", type=Path, default=RECORD, help="append the results here")
    p.add_argument("--no-record", action="store_true", help="print only")
    args = p.parse_args(argv)
    args.dbs = [d.strip() for d in args.db.split(",") if d.strip()]
    if not set(args.dbs) <= {"sqlite", "postgresql"}:
        p.error("--db takes sqlite and/or postgresql")
    args.workers = [int(w) for w in args.workers.split(",")]
    args.versions = [
        v.strip()
        for v in (args.versions or ("redis" if args.redis_url else "database")).split(",")
        if v.strip()
    ]
    if not set(args.versions) <= {"database", "redis"}:
        p.error("--versions takes database and/or redis")
    if "redis" in args.versions and not args.redis_url:
        p.error("--versions redis needs --redis-url")
    if not all(1 <= w <= 16 for w in args.workers):
        p.error("--workers takes counts between 1 and 16")
    if not 1 <= args.duration <= 120 or not 0 <= args.warmup <= 60 or not 1 <= args.rounds <= 9:
        p.error("--duration 1..120, --warmup 0..60, --rounds 1..9")
    return args


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    command = "uv run python bench/availability.py" + "".join(f" {a}" for a in argv)
    try:
        nginx, wrk = require_tools()
        require_local(args.postgres_url, "--postgres-url")
        if args.redis_url:
            require_local(args.redis_url, "--redis-url")
    except BenchError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2

    per_cell = args.rounds * 2 * (args.duration + args.warmup) + 5
    budget = len(args.dbs) * (400 + len(cells(args)) * (120 + 2 * per_cell))
    atexit.register(stop_all)
    for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, _on_signal)
    signal.signal(signal.SIGALRM, _on_watchdog)
    signal.alarm(budget)

    date = utc_date()
    rows: list[Row] = []
    skipped: list[str] = []
    try:
        with tempfile.TemporaryDirectory(prefix="seba-bench-") as name:
            tmp = Path(name)
            for db in args.dbs:
                if db == "sqlite":
                    url = f"sqlite+aiosqlite:///{tmp / 'seba.db'}"
                else:
                    url = args.postgres_url
                    try:
                        asyncio.run(_reset_postgres(url))
                    except Exception as exc:
                        skipped.append(f"PostgreSQL skipped: {url} not usable ({exc!r})")
                        print(skipped[-1], file=sys.stderr)
                        continue
                rows += bench_database(db, url, args, nginx, wrk, tmp)
    except BenchError as exc:
        print(f"error: {exc}", file=sys.stderr)
        if rows:
            print("\nmeasured before the error (not recorded):\n" + HEADER + "\n" + RULE)
            print("\n".join(format_row(r) for r in rows))
        return 1
    finally:
        signal.alarm(0)
        stop_all()

    text = report(rows, args, command, date, skipped)
    print()
    print(text)
    if not args.no_record and rows:
        record(text, args.record)
        print(f"appended to {args.record}")
    return 0 if rows and all(r.goal_met for r in rows) else 3


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
