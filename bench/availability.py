"""Benchmark the public reads (the list, a district, "near me", the page) against nginx.

    uv run python bench/availability.py --redis-url redis://127.0.0.1:6379/5
    uv run python bench/availability.py --facilities 264 --workers 1 --duration 5 --no-record

For each registry size (the demo's 264 hospitals; more are generated, ``bench/registry.py``)
and worker count it starts ``seba serve`` on PostgreSQL and an nginx serving the full list's
gzip bytes as a static file, then measures with wrk (Lua picks each request's URL): the mix
(30 % full list, 30 % one district, 20 % ``near=`` a random point around a district
headquarters, 20 % the HTML page of a district) and each kind alone, all with
``Accept-Encoding: gzip``, while a census is submitted through the API every second. nginx is
measured before and after seba's runs (the median is the reference), so every ratio comes
from the same minutes. Then each kind one request at a time (latency). The servers' event-loop
lag probe (``SEBA_LOOP_PROBE_S``) and refresh log give the longest stall while censuses land.

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
import json
import os
import random
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parents[1]
RECORD = ROOT / "docs" / "benchmarks.md"
PATH = "/api/v1/beds/availability"
LOCAL_HOSTS = {"127.0.0.1", "localhost"}
GOAL_RATIO = 0.3
GOAL_P99_MS = 20.0
GOAL_NEAR_MS = {264: 1.0, 30000: 5.0}
DEMO_USER, DEMO_PASSWORD = "admin", "seba-demo-2021"
# page-near: the page's "Near me" (the HTML list near a point); not part of the mix.
KINDS = ("mix", "full", "district", "near", "page", "page-near")
DEFAULT_KINDS = KINDS[:5]
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


LUA = """
local districts = {%(districts)s}
local kind = "%(kind)s"
math.randomseed(%(seed)d)
local function one(k)
  local d = districts[math.random(#districts)]
  if k == "full" then return "/api/v1/beds/availability" end
  if k == "district" then return "/api/v1/beds/availability?district=" .. d[1] end
  if k == "page" then return "/?district=" .. d[1] end
  local path = "/api/v1/beds/availability"
  if k == "page-near" then path = "/" end
  return string.format(path .. "?near=%%.3f,%%.3f%(near_extra)s",
    d[2] + (math.random() - 0.5) * 0.8, d[3] + (math.random() - 0.5) * 0.8)
end
request = function()
  local k = kind
  if k == "mix" then
    local r = math.random()
    if r < 0.3 then k = "full" elseif r < 0.6 then k = "district"
    elseif r < 0.8 then k = "near" else k = "page" end
  end
  return wrk.format("GET", one(k), {["Accept-Encoding"] = "gzip"})
end
"""


def lua_script(
    tmp: Path, kind: str, districts: list[dict], seed: int, near_limit: int | None = None
) -> Path:
    listed = ", ".join(f'{{"{d["code"]}", {d["lat"]}, {d["lon"]}}}' for d in districts)
    path = tmp / f"{kind}-{seed}.lua"
    near_extra = f"&limit={near_limit}" if near_limit else ""
    path.write_text(
        LUA % {"districts": listed, "kind": kind, "seed": seed, "near_extra": near_extra}
    )
    return path


def wrk_script(
    wrk: str, url: str, script: Path, *, threads: int, connections: int, duration: int, pid: int
) -> Run:
    args = [
        wrk,
        f"-t{threads}",
        f"-c{connections}",
        f"-d{duration}s",
        "--latency",
        "-s",
        str(script),
        url,
    ]
    pids = process_tree(pid)
    cpu_before = cpu_seconds(pids)
    out = subprocess.run(args, capture_output=True, text=True, timeout=duration + 60, check=False)
    cpu = cpu_seconds(pids) - cpu_before
    if out.returncode != 0:
        raise BenchError(f"wrk failed: {out.stderr or out.stdout}")
    return parse_wrk(out.stdout, cpu)


def parse_wrk(text: str, cpu: float) -> Run:
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


class CensusWriter(threading.Thread):
    """A census through the API every ``every_s`` seconds on a random facility: the writes the
    reads must follow (each moves the data version on every worker)."""

    def __init__(self, base: str, facility_ids: list[int], every_s: float) -> None:
        super().__init__(daemon=True)
        self.base, self.ids, self.every_s = base, facility_ids, every_s
        self.stop_event = threading.Event()
        self.done = self.failed = 0
        self.rng = random.Random(7)
        body = json.dumps({"username": DEMO_USER, "password": DEMO_PASSWORD}).encode()
        request = urllib.request.Request(
            f"{base}/api/v1/auth/token", data=body, headers={"Content-Type": "application/json"}
        )
        with urllib.request.urlopen(request, timeout=10) as response:
            self.token = json.loads(response.read())["access_token"]

    def run(self) -> None:
        while not self.stop_event.wait(self.every_s):
            try:
                self.write_one()
                self.done += 1
            except Exception:
                self.failed += 1

    def write_one(self) -> None:
        facility_id = self.rng.choice(self.ids)
        _, _, body = http_get(f"{self.base}/api/v1/facilities/{facility_id}")
        current = json.loads(body)
        pools = [
            {
                "bed_type": b["bed_type"],
                "sex": b["sex"],
                "total": b["total"],
                "occupied": self.rng.randint(0, b["total"] - b["reserved"]),
            }
            for b in current["beds"]
        ]
        data = json.dumps(
            {"version": current["version"], "pools": pools, "reason": "benchmark"}
        ).encode()
        request = urllib.request.Request(
            f"{self.base}/api/v1/facilities/{facility_id}/beds",
            data=data,
            method="PUT",
            headers={"Content-Type": "application/json", "Authorization": f"Bearer {self.token}"},
        )
        with urllib.request.urlopen(request, timeout=10) as response:
            response.read()


LAG = re.compile(r"loop lag: max ([\d.]+) ms, p99 ([\d.]+) ms, over 10 ms (\d+) of (\d+)")
STEP = re.compile(r"availability refresh to version \d+: ([\d.]+) ms, longest step ([\d.]+) ms")


@dataclass
class Probe:
    lag_max_ms: float = 0.0
    lag_p99_ms: float = 0.0
    over_10ms: int = 0
    ticks: int = 0
    refreshes: int = 0
    refresh_max_ms: float = 0.0
    step_max_ms: float = 0.0


def probe_since(log: Path, offset: int) -> Probe:
    text = log.read_bytes()[offset:].decode(errors="replace")
    probe = Probe()
    for m in LAG.finditer(text):
        probe.lag_max_ms = max(probe.lag_max_ms, float(m.group(1)))
        probe.lag_p99_ms = max(probe.lag_p99_ms, float(m.group(2)))
        probe.over_10ms += int(m.group(3))
        probe.ticks += int(m.group(4))
    for m in STEP.finditer(text):
        probe.refreshes += 1
        probe.refresh_max_ms = max(probe.refresh_max_ms, float(m.group(1)))
        probe.step_max_ms = max(probe.step_max_ms, float(m.group(2)))
    return probe


@dataclass
class KindRow:
    facilities: int
    workers: int
    versions: str
    kind: str
    seba: Run
    nginx_rps: float
    writes: int
    probe: Probe

    @property
    def ratio(self) -> float:
        return self.seba.rps / self.nginx_rps if self.nginx_rps else 0.0


@dataclass
class LatencyRow:
    facilities: int
    workers: int
    kind: str
    run: Run
    probe: Probe


def bench_cell(
    facilities: int, workers: int, versions: str, args, nginx: str, wrk: str, tmp: Path
) -> tuple[list[KindRow], list[LatencyRow]]:
    redis_url = args.redis_url if versions == "redis" else None
    seba_port, nginx_port = args.port, args.port + 1
    seba = start_seba(args.postgres_url, seba_port, workers, redis_url, tmp)
    log = tmp / f"seba-{seba_port}.log"
    base = f"http://127.0.0.1:{seba_port}"
    ngx = None
    writer = None
    rows: list[KindRow] = []
    latencies: list[LatencyRow] = []
    try:
        full = f"{base}{PATH}"
        status, headers, body = http_get(full)
        status_gz, _, gzip_body = http_get(full, {"Accept-Encoding": "gzip"})
        if status != 200 or status_gz != 200:
            raise BenchError(f"unexpected answer from seba: {status} {status_gz}")
        districts = json.loads(http_get(f"{base}/api/v1/districts")[2])["districts"]
        listed = json.loads(http_get(f"{full}?limit=500&available_only=true")[2])["facilities"]
        ngx = start_nginx(
            nginx,
            body,
            gzip_body,
            headers.get("content-type", "application/json"),
            nginx_port,
            workers,
            tmp,
        )
        nginx_url = f"http://127.0.0.1:{nginx_port}{PATH}"
        common = dict(threads=args.threads, connections=args.connections)
        nginx_runs = []

        def nginx_once() -> None:
            wrk_run(wrk, nginx_url, duration=args.warmup or 1, gzip=True, pid=ngx.pid, **common)
            nginx_runs.append(
                wrk_run(wrk, nginx_url, duration=args.duration, gzip=True, pid=ngx.pid, **common)
            )

        nginx_once()
        writer = CensusWriter(base, [f["id"] for f in listed], args.write_every)
        writer.start()
        measured = []
        for n, kind in enumerate(args.kinds):
            print(f"[{facilities}] {workers} worker(s), {kind} …", flush=True)
            script = lua_script(tmp, kind, districts, seed=n + 1, near_limit=args.near_limit)
            if args.warmup:
                wrk_script(wrk, base + "/", script, duration=args.warmup, pid=seba.pid, **common)
            offset, writes = log.stat().st_size, writer.done
            run = wrk_script(
                wrk, base + "/", script, duration=args.duration, pid=seba.pid, **common
            )
            measured.append((kind, run, writer.done - writes, probe_since(log, offset)))
        for kind in args.kinds:
            if kind == "mix":
                continue
            script = lua_script(tmp, kind, districts, seed=99, near_limit=args.near_limit)
            offset = log.stat().st_size
            run = wrk_script(
                wrk,
                base + "/",
                script,
                threads=1,
                connections=1,
                duration=args.latency_duration,
                pid=seba.pid,
            )
            latencies.append(LatencyRow(facilities, workers, kind, run, probe_since(log, offset)))
            print("   one at a time: " + format_latency(latencies[-1]), flush=True)
        writer.stop_event.set()
        nginx_once()
        reference = statistics.median(r.rps for r in nginx_runs)
        for kind, run, writes, probe in measured:
            rows.append(KindRow(facilities, workers, versions, kind, run, reference, writes, probe))
            print("   " + format_kind(rows[-1]), flush=True)
        if writer.failed:
            print(f"   census writes failed: {writer.failed}", flush=True)
    finally:
        if writer is not None:
            writer.stop_event.set()
        if ngx is not None:
            stop(ngx)
        stop(seba)
    return rows, latencies


# ---------------------------------------------------------------------------------------------
# reporting

KIND_HEADER = (
    "| facilities | workers | versions | kind | seba req/s | nginx req/s (full list) | ratio "
    "| seba p50 / p99 ms | errors | censuses | loop lag max / p99 ms | longest refresh step ms |"
)
KIND_RULE = "|---:|---:|---|---|---:|---:|---:|---:|---:|---:|---:|---:|"
LATENCY_HEADER = (
    "| facilities | workers | kind | p50 ms | p99 ms | req/s (one at a time) "
    "| loop lag max ms | longest refresh step ms |"
)
LATENCY_RULE = "|---:|---:|---|---:|---:|---:|---:|---:|"


def format_kind(row: KindRow) -> str:
    s, p = row.seba, row.probe
    return (
        f"| {row.facilities:,} | {row.workers} | {row.versions} | {row.kind} | {s.rps:,.0f} "
        f"| {row.nginx_rps:,.0f} | {row.ratio:.2f} | {s.p50_ms:.2f} / {s.p99_ms:.2f} "
        f"| {s.errors} | {row.writes} | {p.lag_max_ms:.1f} / {p.lag_p99_ms:.1f} "
        f"| {p.step_max_ms:.2f} |"
    )


def format_latency(row: LatencyRow) -> str:
    r, p = row.run, row.probe
    return (
        f"| {row.facilities:,} | {row.workers} | {row.kind} | {r.p50_ms:.2f} | {r.p99_ms:.2f} "
        f"| {r.rps:,.0f} | {p.lag_max_ms:.1f} | {p.step_max_ms:.2f} |"
    )


def report(rows: list[KindRow], latencies: list[LatencyRow], args, command: str, date: str) -> str:
    mixes = [r for r in rows if r.kind == "mix" and r.facilities == 264]
    lines = [
        f"## {date} — public reads (mix, list, district, near=, page), seba vs nginx",
        "",
        f"- Command: `{command}`",
        f"- Date: {date}",
        f"- Machine: {machine()}, shared with other work; wrk runs on the same cores.",
        f"- Code: {git_revision()}",
        f"- Load: `wrk -t{args.threads} -c{args.connections} -d{args.duration}s --latency` with a "
        f"Lua script choosing each URL, after a {args.warmup}s warm-up, `Accept-Encoding: gzip`; "
        "mix = 30 % full list, 30 % one district (JSON), 20 % `near=` a random point within "
        "±0.4° of a district headquarters, 20 % the HTML page of a district. A census is "
        f"submitted through the API every {args.write_every:g} s during every run (state admin, "
        "a random facility with free beds)."
        + (f" `near=` lists ask for `limit={args.near_limit}`." if args.near_limit else ""),
        "- nginx: Debian nginx-light, `worker_processes` = seba's workers, the full list's gzip "
        "bytes (`gzip_static`), measured before and after seba's runs (median).",
        "- Registry: the demo's 264 hospitals; larger ones add generated facilities "
        "(`bench/registry.py`: satellite centres, rural, sub-divisional and private hospitals "
        "around the district headquarters, 1–12 pools each).",
        "- Loop lag: the servers' probe (`SEBA_LOOP_PROBE_S=1`: a 1 ms sleep, how late it woke; "
        "the worst 1 s window); longest refresh step: the longest the availability refresh held "
        "the loop in one step.",
        f"- Goals (issue 16): the mix ≥ {GOAL_RATIO:.1f}× nginx with p99 < {GOAL_P99_MS:.0f} ms "
        "at 264 facilities with writes; `near=` ≤ 1 ms at 264 and ≤ 5 ms at 30,000 one at a time; "
        "no stall over 10 ms when a census lands.",
        "",
        KIND_HEADER,
        KIND_RULE,
        *(format_kind(r) for r in rows),
        "",
        "One request at a time (`wrk -t1 -c1`, censuses still landing):",
        "",
        LATENCY_HEADER,
        LATENCY_RULE,
        *(format_latency(r) for r in latencies),
        "",
    ]
    for mix in mixes:
        met = mix.ratio >= GOAL_RATIO and mix.seba.p99_ms < GOAL_P99_MS
        lines.append(
            f"- Mix at 264, {mix.workers} worker(s): {mix.ratio:.2f}× nginx, p99 "
            f"{mix.seba.p99_ms:.1f} ms: goal {'met' if met else 'NOT met'}."
        )
    for lat in latencies:
        if lat.kind == "near" and lat.facilities in GOAL_NEAR_MS:
            goal = GOAL_NEAR_MS[lat.facilities]
            lines.append(
                f"- `near=` at {lat.facilities:,}, {lat.workers} worker(s): p50 "
                f"{lat.run.p50_ms:.2f} ms (goal ≤ {goal:g} ms): "
                f"{'met' if lat.run.p50_ms <= goal else 'NOT met'}."
            )
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
    p.add_argument("--facilities", default="264,30000", help="registry sizes (default 264,30000)")
    p.add_argument("--workers", default="1,2", help="seba worker counts to try (default 1,2)")
    p.add_argument(
        "--kinds",
        default=",".join(DEFAULT_KINDS),
        help="mix,full,district,near,page (default), page-near (the page's 'Near me')",
    )
    p.add_argument("--duration", type=int, default=10, help="seconds per measurement")
    p.add_argument("--warmup", type=int, default=3, help="seconds of warm-up before each")
    p.add_argument("--latency-duration", type=int, default=5, help="seconds per one-at-a-time run")
    p.add_argument("--write-every", type=float, default=1.0, help="seconds between censuses")
    p.add_argument("--connections", type=int, default=64)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--port", type=int, default=18000, help="seba's port; nginx uses the next")
    p.add_argument(
        "--postgres-url",
        default="postgresql+asyncpg://postgres@127.0.0.1:5432/bench",
        help="database for the run: its public schema is DROPPED and recreated",
    )
    p.add_argument(
        "--redis-url",
        default=None,
        help="Redis for data versions when workers > 1 (e.g. redis://127.0.0.1:6379/5); "
        "without it several workers read the version from the database",
    )
    p.add_argument(
        "--near-limit",
        type=int,
        default=None,
        help="ask near= lists for this many facilities (default: the API's default page)",
    )
    p.add_argument("--record", type=Path, default=RECORD, help="append the results here")
    p.add_argument("--no-record", action="store_true", help="print only")
    args = p.parse_args(argv)
    args.facilities = sorted(int(n) for n in args.facilities.split(","))
    args.workers = [int(w) for w in args.workers.split(",")]
    args.kinds = [k.strip() for k in args.kinds.split(",") if k.strip()]
    if not set(args.kinds) <= set(KINDS):
        p.error(f"--kinds takes {','.join(KINDS)}")
    if not all(1 <= w <= 16 for w in args.workers) or min(args.facilities) < 264:
        p.error("--workers 1..16, --facilities at least 264 (the demo)")
    return args


def main(argv: list[str]) -> int:
    from registry import grow

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
    per_cell = (len(args.kinds) + 2) * (args.duration + args.warmup + 5) + 200
    budget = 900 + len(args.facilities) * len(args.workers) * per_cell
    atexit.register(stop_all)
    for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, _on_signal)
    signal.signal(signal.SIGALRM, _on_watchdog)
    signal.alarm(budget)
    os.environ["SEBA_LOOP_PROBE_S"] = "1"
    date = utc_date()
    rows: list[KindRow] = []
    latencies: list[LatencyRow] = []
    try:
        with tempfile.TemporaryDirectory(prefix="seba-bench-") as name:
            tmp = Path(name)
            asyncio.run(_reset_postgres(args.postgres_url))
            took = load_demo(args.postgres_url, tmp / "demo.log")
            print(f"demo data loaded in {took:.0f}s", flush=True)
            for facilities in args.facilities:
                added = asyncio.run(grow(args.postgres_url, facilities))
                print(f"registry: {facilities:,} facilities ({added:,} generated)", flush=True)
                for workers in args.workers:
                    versions = (
                        "in-process"
                        if workers == 1
                        else ("redis" if args.redis_url else "database")
                    )
                    if args.redis_url and workers > 1:
                        import redis as redis_client

                        redis_client.Redis.from_url(args.redis_url).flushdb()
                    cell_rows, cell_latencies = bench_cell(
                        facilities, workers, versions, args, nginx, wrk, tmp
                    )
                    rows += cell_rows
                    latencies += cell_latencies
    except BenchError as exc:
        print(f"error: {exc}", file=sys.stderr)
        if rows:
            print("\n".join(format_kind(r) for r in rows))
        return 1
    finally:
        signal.alarm(0)
        stop_all()
    text = report(rows, latencies, args, command, date)
    print()
    print(text)
    if not args.no_record and rows:
        record(text, args.record)
        print(f"appended to {args.record}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
