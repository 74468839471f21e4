"""Complete teleconsult lifecycles per second through the HTTP server (issues 5 and 13).

    uv run python bench/consult_lifecycle.py          # PostgreSQL and SQLite, 1 and 2 workers
    uv run python bench/consult_lifecycle.py --db postgresql --workers 1 --seconds 10 --no-record
    uv run python bench/consult_lifecycle.py --db postgresql --workers 1 --profile /work/notes
    uv run python bench/consult_lifecycle.py --db postgresql --workers 2 --redis-url redis://127.0.0.1:6379/9

One lifecycle: the CHO raises a consult (``POST /consultations``), the doctor's offer fetch
hands it over (``GET /doctors/me/offer`` → 200), the doctor accepts, **the call is joined**
(both parties get a ticket, ``POST /consultations/{id}/call/ticket``, open the signaling
WebSocket ``/ws/consults/{id}/call?ticket=…``, find each other, exchange an SDP offer and
answer, and close), and the doctor prescribes (one list-O medicine, video) and completes
(``--no-call`` leaves the call out). For every cell (database × worker count) the database is
made anew (PostgreSQL: the ``bench_consult`` database dropped and created; SQLite: a temp
file), migrated with ``seba db upgrade``, and given a network built with the services: two
neighbouring pools, ``--hubs`` hubs, one spoke per CHO, ``--chos`` CHOs and ``--doctors``
doctors (general medicine, Bengali). ``seba serve --workers N`` (no Redis unless
``--redis-url``; extra server settings with ``--server-env SEBA_X=…``) then answers ``--chos``
CHO loops and ``--doctors`` doctor loops, each on its own keep-alive connection:

- a CHO raises a consult for one of its patients, joins the call once a doctor has accepted
  it and waits until the doctor has completed it (the load generator tells it; no status
  polling), then raises the next;
- a doctor (``--doctor-mode poll``, the default) polls the offer every 50–200 ms while idle
  (the poll is also the heartbeat), or (``--doctor-mode push``) holds ``GET
  /doctors/me/events`` (server-sent events: ``offer`` with ``{"consult_id": N}`` when a consult
  is offered to them, and one on connect if an offer is standing) and fetches the offer only
  after such an event; on a 200 it accepts, joins the call, prescribes and completes at once.
  Push mode stops at once with a clear message if the events endpoint answers 404.

After ``--warmup`` seconds, completed lifecycles are counted over ``--seconds``, with each
endpoint's latency (p50/p99; ``call`` is the socket's open → close), every non-2xx answer (204
polls aside), and the CPU time of the server's processes, of the PostgreSQL backends serving it
and of the load generator, per lifecycle: on this shared machine CPU per lifecycle moves much
less than lifecycles/s. The window must be long against a lifecycle's latency (p99 in the
table), or the CPU of lifecycles still in flight is charged to the few that finished.

``--sql-count N`` (default 30) also drives N lifecycles through the ASGI app in-process, one
request at a time, and counts the SQL statements and transactions each endpoint runs
(SQLAlchemy events), with the in-process time per request and each endpoint's share of the
lifecycle's CPU, beside two floors (``/healthz``, and ``/auth/me``: the bearer-token check
alone); ``--only-sql`` does only that, without a server.
``--profile DIR`` also runs every cell once more with the server under py-spy during the window
(``--py-spy PATH``, e.g. a throwaway venv's: py-spy is not a project dependency), writing the
collapsed stacks, a speedscope file and a summary, and profiles the in-process lifecycles with
cProfile (``.pstats`` and a summary). For PostgreSQL it also samples the backends waiting on a
lock and reads the deadlock count.

Only 127.0.0.1 is contacted; every process started is its own process group and is stopped on
any exit; the request loops stop by themselves after the window.
"""

from __future__ import annotations

import argparse
import asyncio
import atexit
import contextlib
import cProfile
import json
import logging
import os
import pstats
import random
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

sys.path.insert(0, str(Path(__file__).resolve().parent))
from availability import (
    ROOT,
    BenchError,
    cpu_seconds,
    git_revision,
    machine,
    process_tree,
    require_local,
    spawn,
    stop,
    stop_all,
    tail,
    utc_date,
    wait_ready,
)
from consult_wire import WIRE_ERRORS, AsgiSocket, Closed, Connection, EventStream, WebSocket

RECORD = ROOT / "docs" / "benchmarks.md"
DEFAULT_PG = "postgresql+asyncpg://postgres@127.0.0.1:5432/bench_consult"
PASSWORD = "bench-consult-2026"
GOAL = 60.0  # lifecycles per second (issue 13; issue 5 asked 300)
GOAL_CPU_MS = 20.0  # server CPU per lifecycle (issue 13)
PARACETAMOL = {
    "drug": "paracetamol",
    "strength": "500 mg",
    "form": "tablet",
    "dose": "1 tablet",
    "frequency": "three times a day",
    "duration_days": 3,
}
PRESCRIPTION = {"mode": "video", "items": [PARACETAMOL], "diagnosis": "Viral fever"}
ENDPOINTS = (
    "raise",
    "offer 200",
    "offer 204",
    "accept",
    "ticket",
    "call",
    "prescription",
    "complete",
)
REFERENCES = ("healthz (ref)", "auth/me (ref)")
COMPLAINTS = ("Fever for three days", "Cough and cold", "Headache since morning", "Body ache")


# ---------------------------------------------------------------------------------------------
# the database and the network


async def reset_postgres(url: str) -> None:
    """Drop and create the benchmark's own database (never one whose name is not bench*)."""
    import asyncpg

    dsn = url.replace("postgresql+asyncpg", "postgresql")
    parts = urlsplit(dsn)
    name = parts.path.lstrip("/")
    if not re.fullmatch(r"bench[a-z0-9_]*", name):
        raise BenchError(f"refusing to drop database {name!r}: its name must start with 'bench'")
    admin = await asyncio.wait_for(
        asyncpg.connect(parts._replace(path="/postgres").geturl()), timeout=10
    )
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()


def migrate(url: str, log: Path) -> None:
    env = {**os.environ, "SEBA_DATABASE_URL": url, "SEBA_ENV": "dev"}
    env.pop("SEBA_REDIS_URL", None)
    with log.open("ab") as out:
        result = subprocess.run(
            [sys.executable, "-m", "seba.cli", "db", "upgrade"],
            cwd=ROOT,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            timeout=300,
        )
    if result.returncode != 0:
        raise BenchError("seba db upgrade failed" + tail(log))


@dataclass
class Network:
    chos: list[str]
    doctors: list[str]


POOLS = (
    ("bench-south", "Bench South", "বেঞ্চ দক্ষিণ", ("kolkata", "howrah")),
    ("bench-north", "Bench North", "বেঞ্চ উত্তর", ("darjeeling", "jalpaiguri")),
)


async def build_network(url: str, *, hubs: int, chos: int, doctors: int) -> Network:
    """Two neighbouring pools, ``hubs`` hubs spread over them, one spoke and CHO per spoke,
    doctors spread over the hubs: built through the services, as an admin would."""
    import seba.models  # noqa: F401  (every table on the metadata before the first flush)
    from seba.accounts import service as account_service
    from seba.core.access import SYSTEM
    from seba.core.runtime import build_runtime
    from seba.data import read_csv
    from seba.places import network as net
    from seba.places import service as place_service
    from seba.places.schemas import FacilityIn
    from seba.settings import Settings
    from seba.telemedicine import doctors as doctor_service

    rt = build_runtime(Settings(database_url=url, env="dev"))
    try:
        await place_service.load_districts(rt, actor=SYSTEM, rows=read_csv("districts.csv"))
        await net.save_pools(
            rt,
            actor=SYSTEM,
            pools=[
                net.PoolIn(
                    code, name, name_bn, districts, tuple(p[0] for p in POOLS if p[0] != code)
                )
                for code, name, name_bn, districts in POOLS
            ],
        )
        hub_codes: list[tuple[str, str]] = []
        for i in range(hubs):
            pool, _, _, districts = POOLS[i % len(POOLS)]
            district = districts[(i // len(POOLS)) % len(districts)]
            facility = await place_service.create_facility(
                rt,
                actor=SYSTEM,
                data=FacilityIn(
                    code=f"bench-hub-hospital-{i}",
                    name=f"Bench Hub Hospital {i}",
                    name_bn=f"বেঞ্চ হাসপাতাল {i}",
                    district_code=district,
                    ownership="government",
                    kind="district_hospital",
                    address=district.title(),
                ),
            )
            hub = await net.create_hub(
                rt,
                actor=SYSTEM,
                data=net.HubIn(
                    code=f"bench-hub-{i}",
                    facility_code=facility.code,
                    pool_code=pool,
                    specialties=("general_medicine",),
                    always_open=True,
                    opens_at=None,
                    closes_at=None,
                ),
            )
            hub_codes.append((hub.code, district))
        cho_names = []
        for i in range(chos):
            hub_code, district = hub_codes[i % hubs]
            spoke = await net.create_spoke(
                rt,
                actor=SYSTEM,
                data=net.SpokeIn(
                    code=f"bench-hwc-{i}",
                    name=f"Bench HWC {i}",
                    name_bn=f"বেঞ্চ স্বাস্থ্য কেন্দ্র {i}",
                    district_code=district,
                    hub_code=hub_code,
                ),
            )
            user = await account_service.create_user(
                rt,
                actor=SYSTEM,
                username=f"bench-cho-{i}",
                password=PASSWORD,
                role="cho",
                scope=f"spoke:{spoke.code}",
                full_name=f"Bench CHO {i}",
            )
            cho_names.append(user.username)
        doctor_names = []
        for i in range(doctors):
            await doctor_service.add_doctor(
                rt,
                actor=SYSTEM,
                data=doctor_service.DoctorIn(
                    username=f"bench-doctor-{i}",
                    password=PASSWORD,
                    name=f"Dr. Bench {i}",
                    qualification="MBBS",
                    registration=f"WBMC {50000 + i}",
                    hub_codes=(hub_codes[i % hubs][0],),
                    specialties=("general_medicine",),
                    languages=("bn",),
                    sex="female" if i % 2 else "male",
                ),
            )
            doctor_names.append(f"bench-doctor-{i}")
    finally:
        await rt.close()
    return Network(cho_names, doctor_names)


# ---------------------------------------------------------------------------------------------
# preparing the actors (httpx: setup is not measured)


@dataclass
class Actors:
    cho_tokens: list[str]
    doctor_tokens: list[str]
    patients: list[list[int]]  # per CHO


async def prepare(
    base: str, net: Network, patients_per_cho: int, doctor_mode: str = "poll"
) -> Actors:
    import httpx

    async with httpx.AsyncClient(base_url=base, timeout=60) as client:
        gate = asyncio.Semaphore(8)

        async def login(username: str) -> str:
            r = await client.post(
                "/api/v1/auth/token", json={"username": username, "password": PASSWORD}
            )
            if r.status_code != 200:
                raise BenchError(f"login {username}: {r.status_code} {r.text[:300]}")
            return r.json()["access_token"]

        # One at a time: the login throttle counts every attempt in flight from one address
        # (written down before the password is checked), so 6 logins at once get a 429.
        cho_tokens = [await login(u) for u in net.chos]
        doctor_tokens = [await login(u) for u in net.doctors]

        async def register(cho: int, n: int) -> int:
            body = {
                "name": f"Bench Patient {cho} {n}",
                "sex": "female" if n % 2 else "male",
                # Adults well clear of 18: no minor's companion needed on any calendar day.
                "age_years": 25 + (cho * 7 + n * 13) % 55,
                "phone": f"9{cho:03d}{n:06d}",
                "village": "Behala",
                "address": f"{n} Diamond Harbour Road",
            }
            async with gate:
                r = await client.post(
                    "/api/v1/patients",
                    json=body,
                    headers={"Authorization": f"Bearer {cho_tokens[cho]}"},
                )
            if r.status_code != 201:
                raise BenchError(f"patient for CHO {cho}: {r.status_code} {r.text[:300]}")
            return r.json()["id"]

        patients = [
            list(await asyncio.gather(*(register(c, n) for n in range(patients_per_cho))))
            for c in range(len(net.chos))
        ]

        async def online(token: str) -> None:
            async with gate:
                r = await client.post(
                    "/api/v1/doctors/me/presence",
                    json={"status": "online"},
                    headers={"Authorization": f"Bearer {token}"},
                )
            if r.status_code != 200:
                raise BenchError(f"presence: {r.status_code} {r.text[:300]}")

        await asyncio.gather(*(online(t) for t in doctor_tokens))
    if doctor_mode == "push":
        parts = urlsplit(base)
        stream = EventStream(parts.hostname, parts.port, doctor_tokens[0], EVENTS_PATH)
        try:
            status, _ = await asyncio.wait_for(stream.open(), 30)
        finally:
            stream.close()
        if status != 200:
            raise push_missing(status)
    return Actors(cho_tokens, doctor_tokens, patients)


# ---------------------------------------------------------------------------------------------
# the load


@dataclass
class Load:
    """What the loops saw; only what finished inside the measured window counts."""

    window: tuple[float, float] = (0.0, 0.0)
    latencies: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    statuses: Counter = field(default_factory=Counter)  # (endpoint, status)
    errors: list[str] = field(default_factory=list)
    lifecycles: int = 0
    end_to_end: list[float] = field(default_factory=list)
    total_requests: int = 0

    def inside(self, t: float) -> bool:
        return self.window[0] <= t <= self.window[1]

    def note(self, endpoint: str, status: int, started: float, ended: float, body: bytes) -> None:
        if not self.inside(ended):
            return
        self.total_requests += 1
        self.latencies[endpoint].append(ended - started)
        self.statuses[(endpoint, status)] += 1
        if status >= 300 and len(self.errors) < 20:
            try:
                error = json.loads(body)["error"]
                what = f"{error['code']} {error.get('details')}"
            except (ValueError, KeyError, TypeError):
                what = body[:200].decode("utf-8", "replace")
            self.errors.append(f"{endpoint} {status} {what}")


EVENTS_PATH = "/api/v1/doctors/me/events"
# What the call step sends: one SDP offer and its answer, the size of a small real one.
SDP = "v=0\r\no=- 4611731400430051336 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n" + "a=x\r\n" * 40


class PushMissing(BenchError):
    pass


def push_missing(status: int) -> PushMissing:
    return PushMissing(
        f"--doctor-mode push needs GET {EVENTS_PATH} (server-sent events), which answered "
        f"{status}: it is not on this branch yet. Use --doctor-mode poll."
    )


async def join_call(host: str, port: int, ticket: dict, party: str) -> None:
    """One party's side of the call step: open the signaling socket, find the other party
    (``hello`` / ``here`` / ``peer joined``), exchange the SDP offer (doctor) and answer (CHO),
    close. Raises Closed, TimeoutError or a wire error."""
    other = "cho" if party == "doctor" else "doctor"
    ws = await WebSocket.connect(host, port, f"{ticket['ws_path']}?ticket={ticket['ticket']}")
    try:
        welcome = await ws.receive()
        if welcome.get("type") != "welcome":
            raise ValueError(f"no welcome: {welcome}")
        await ws.send({"type": "hello"})
        while True:
            m = await ws.receive()
            if m.get("from") != other:
                continue
            kind = m.get("type")
            if kind == "hello":
                await ws.send({"type": "here"})
            if party == "doctor" and (
                kind in ("hello", "here") or (kind == "peer" and m.get("state") == "joined")
            ):
                await ws.send({"type": "offer", "sdp": SDP})
                while (await ws.receive()).get("type") != "answer":
                    pass
                return
            if party == "cho" and kind == "offer":
                await ws.send({"type": "answer", "sdp": SDP})
                return
    finally:
        await ws.close()


async def drive(
    host: str,
    port: int,
    actors: Actors,
    *,
    warmup: float,
    seconds: float,
    poll_s: tuple[float, float],
    per_cho: int,
    on_window: asyncio.Event,
    doctor_mode: str = "poll",
    with_call: bool = True,
) -> Load:
    load = Load()
    start = time.perf_counter()
    load.window = (start + warmup, start + warmup + seconds)
    stopping = asyncio.Event()
    done: dict[int, asyncio.Event] = {}
    done_at: dict[int, float] = {}
    accepted: dict[int, asyncio.Event] = {}
    clock = time.perf_counter

    def finished(cid: int) -> asyncio.Event:
        return done.setdefault(cid, asyncio.Event())

    def was_accepted(cid: int) -> asyncio.Event:
        return accepted.setdefault(cid, asyncio.Event())

    def failed(endpoint: str, exc: BaseException) -> None:
        if load.inside(clock()):
            load.statuses[(endpoint, 0)] += 1
            if len(load.errors) < 20:
                load.errors.append(f"{endpoint}: {exc!r}")

    async def call(conn: Connection, endpoint: str, method: str, path: str, body=None):
        t0 = clock()
        try:
            status, data = await asyncio.wait_for(conn.request(method, path, body), 60)
        except (*WIRE_ERRORS, TimeoutError) as exc:
            conn.close()
            failed(endpoint, exc)
            return 0, b""
        load.note(endpoint, status, t0, clock(), data)
        return status, data

    async def call_step(conn: Connection, cid: int, party: str) -> bool:
        """Ticket, then the signaling socket (latency ``call``: connect to close)."""
        base = f"/api/v1/consultations/{cid}"
        status, data = await call(conn, "ticket", "POST", f"{base}/call/ticket")
        if status != 200:
            return False
        t0 = clock()
        try:
            await asyncio.wait_for(join_call(host, port, json.loads(data), party), 30)
        except (*WIRE_ERRORS, TimeoutError, Closed) as exc:
            failed("call", exc)
            return False
        load.note("call", 200, t0, clock(), b"")
        return True

    async def cho_loop(index: int, lane: int) -> None:
        conn = Connection(host, port, actors.cho_tokens[index])
        patients = actors.patients[index]
        rng = random.Random(index * 100 + lane)
        try:
            while not stopping.is_set():
                body = {
                    "patient_id": rng.choice(patients),
                    "chief_complaint": rng.choice(COMPLAINTS),
                    "consent": True,
                    "vitals": {"bp_systolic": 124, "bp_diastolic": 82, "pulse": 88},
                }
                t0 = clock()
                status, data = await call(conn, "raise", "POST", "/api/v1/consultations", body)
                if status != 201:
                    await asyncio.sleep(0.2)
                    continue
                cid = json.loads(data)["id"]
                event = finished(cid)
                if with_call:
                    # The CHO joins the call once a doctor has accepted (the page is told by
                    # its live event; here the load generator tells it).
                    joined = was_accepted(cid)
                    while not joined.is_set() and not stopping.is_set():
                        with contextlib.suppress(TimeoutError):
                            await asyncio.wait_for(joined.wait(), 0.5)
                    if joined.is_set():
                        await call_step(conn, cid, "cho")
                while not event.is_set() and not stopping.is_set():
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(event.wait(), 0.5)
                if event.is_set() and load.inside(done_at[cid]):
                    load.end_to_end.append(done_at[cid] - t0)
        finally:
            conn.close()

    async def offers_pushed(index: int, nudged: asyncio.Event) -> None:
        """Push mode: hold the doctor's event stream; every ``offer`` event nudges the loop."""
        while not stopping.is_set():
            stream = EventStream(host, port, actors.doctor_tokens[index], EVENTS_PATH)
            try:
                status, _ = await stream.open()
                if status == 404:
                    raise push_missing(status)
                if status != 200:
                    failed("events", ValueError(f"events answered {status}"))
                    await asyncio.sleep(1.0)
                    continue
                async for kind, _data in stream.events():
                    if kind == "offer":
                        nudged.set()
            except WIRE_ERRORS as exc:
                failed("events", exc)
                await asyncio.sleep(0.5)
            finally:
                stream.close()

    async def doctor_loop(index: int) -> None:
        conn = Connection(host, port, actors.doctor_tokens[index])
        rng = random.Random(10_000 + index)
        nudged = asyncio.Event()
        listener = None
        if doctor_mode == "push":
            listener = asyncio.create_task(offers_pushed(index, nudged))
        try:
            while not stopping.is_set():
                if listener is not None:
                    # Fetch the offer only when told there is one: no database work while idle.
                    while not nudged.is_set() and not stopping.is_set():
                        if listener.done():
                            listener.result()  # PushMissing, raised here
                        with contextlib.suppress(TimeoutError):
                            await asyncio.wait_for(nudged.wait(), 0.5)
                    if stopping.is_set():
                        break
                    nudged.clear()
                t0 = clock()
                try:
                    status, data = await asyncio.wait_for(
                        conn.request("GET", "/api/v1/doctors/me/offer"), 60
                    )
                except (*WIRE_ERRORS, TimeoutError) as exc:
                    conn.close()
                    failed("offer", exc)
                    await asyncio.sleep(0.2)
                    continue
                endpoint = {200: "offer 200", 204: "offer 204"}.get(status, "offer")
                load.note(endpoint, status, t0, clock(), data)
                if status != 200:
                    if listener is None:
                        await asyncio.sleep(rng.uniform(*poll_s))
                    continue
                consult = json.loads(data)
                cid = consult["id"]
                base = f"/api/v1/consultations/{cid}"
                if consult["status"] == "offered":
                    status, _ = await call(conn, "accept", "POST", f"{base}/accept")
                    if status != 200:
                        continue
                if with_call:
                    was_accepted(cid).set()
                    if not await call_step(conn, cid, "doctor"):
                        continue
                status, _ = await call(
                    conn, "prescription", "POST", f"{base}/prescription", PRESCRIPTION
                )
                if status != 201:
                    continue
                status, _ = await call(conn, "complete", "POST", f"{base}/complete")
                if status == 200:
                    t1 = clock()
                    done_at[cid] = t1
                    finished(cid).set()
                    if load.inside(t1):
                        load.lifecycles += 1
                # Push mode: completing makes the server offer this doctor the next consult
                # that waits for them, and that offer arrives on the stream like any other.
        finally:
            conn.close()
            if listener is not None:
                listener.cancel()
                with contextlib.suppress(BaseException):
                    await listener

    async def timer() -> None:
        await asyncio.sleep(max(0.0, load.window[0] - clock()))
        on_window.set()
        await asyncio.sleep(max(0.0, load.window[1] - clock()))
        stopping.set()

    tasks = [asyncio.create_task(timer())]
    tasks += [
        asyncio.create_task(cho_loop(i, lane))
        for i in range(len(actors.cho_tokens))
        for lane in range(per_cho)
    ]
    tasks += [asyncio.create_task(doctor_loop(i)) for i in range(len(actors.doctor_tokens))]
    _, pending = await asyncio.wait(tasks, timeout=warmup + seconds + 90)
    for task in pending:
        task.cancel()
    for task in tasks:
        if task.done() and not task.cancelled() and task.exception() is not None:
            if isinstance(task.exception(), BenchError):
                raise task.exception()
            raise BenchError(f"a load loop failed: {task.exception()!r}")
    return load


# ---------------------------------------------------------------------------------------------
# CPU accounting: the server's processes, the PostgreSQL backends serving it, ourselves, and the
# whole machine (the rest is other people's work on the shared cores)


def machine_busy() -> tuple[float, float]:
    """(busy, total) jiffies of all CPUs since boot."""
    fields = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = fields[3] + fields[4]  # idle + iowait
    return sum(fields) - idle, sum(fields)


async def backend_pids(url: str) -> list[int]:
    import asyncpg

    dsn = url.replace("postgresql+asyncpg", "postgresql")
    name = urlsplit(dsn).path.lstrip("/")
    conn = await asyncpg.connect(dsn)
    try:
        rows = await conn.fetch(
            "SELECT pid FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()",
            name,
        )
    finally:
        await conn.close()
    return [r["pid"] for r in rows]


def load_average() -> str:
    with open("/proc/loadavg") as fh:
        return " ".join(fh.read().split()[:3])


@dataclass
class Usage:
    server_s: float = 0.0
    postgres_s: float = 0.0
    loadgen_s: float = 0.0
    machine_busy: float = 0.0  # fraction of all CPUs
    window_s: float = 0.0
    loadavg: str = ""
    # PostgreSQL only: backends of this database busy on a query, and waiting on a row or
    # transaction lock, sampled every 0.2 s (means); deadlocks and rollbacks over the whole run.
    pg_active: float = 0.0
    pg_lock_waits: float = 0.0
    pg_deadlocks: int = 0
    pg_rollbacks: int = 0
    pg_commits: int = 0


async def sample_backends(url: str, stop_at: float) -> tuple[float, float]:
    """Mean (active, waiting on a lock) backends of the database until ``stop_at``."""
    import asyncpg

    dsn = url.replace("postgresql+asyncpg", "postgresql")
    name = urlsplit(dsn).path.lstrip("/")
    conn = await asyncpg.connect(dsn)
    active = waiting = samples = 0
    try:
        while time.perf_counter() < stop_at:
            row = await conn.fetchrow(
                "SELECT count(*) AS active,"
                " count(*) FILTER (WHERE wait_event_type = 'Lock') AS waiting"
                " FROM pg_stat_activity"
                " WHERE datname = $1 AND state = 'active' AND pid <> pg_backend_pid()",
                name,
            )
            active += row["active"]
            waiting += row["waiting"]
            samples += 1
            await asyncio.sleep(0.2)
    finally:
        await conn.close()
    return (active / samples, waiting / samples) if samples else (0.0, 0.0)


async def database_totals(url: str) -> tuple[int, int, int]:
    """(deadlocks, rollbacks, commits) of the database since it was created; read once the
    server has stopped, when every backend has flushed its statistics."""
    import asyncpg

    dsn = url.replace("postgresql+asyncpg", "postgresql")
    name = urlsplit(dsn).path.lstrip("/")
    conn = await asyncpg.connect(dsn)
    try:
        await asyncio.sleep(1.0)
        row = await conn.fetchrow(
            "SELECT deadlocks, xact_rollback, xact_commit FROM pg_stat_database WHERE datname = $1",
            name,
        )
    finally:
        await conn.close()
    return row["deadlocks"], row["xact_rollback"], row["xact_commit"]


class UsageMeter:
    def __init__(self, server_pid: int, url: str | None) -> None:
        self.server_pid, self.url = server_pid, url

    async def begin(self) -> None:
        self.server_pids = process_tree(self.server_pid)
        self.server0 = cpu_seconds(self.server_pids)
        self.pg_pids = await backend_pids(self.url) if self.url else []
        self.pg0 = {pid: cpu_seconds([pid]) for pid in self.pg_pids}
        self.self0 = time.process_time()
        self.busy0 = machine_busy()
        self.t0 = time.perf_counter()

    async def end(self) -> Usage:
        t1 = time.perf_counter()
        busy1 = machine_busy()
        usage = Usage(window_s=t1 - self.t0)
        usage.server_s = cpu_seconds(self.server_pids) - self.server0
        usage.loadgen_s = time.process_time() - self.self0
        if self.url:
            # Backends opened during the window count from zero.
            pids = set(self.pg_pids) | set(await backend_pids(self.url))
            usage.postgres_s = sum(cpu_seconds([p]) - self.pg0.get(p, 0.0) for p in pids)
        d_busy, d_total = busy1[0] - self.busy0[0], busy1[1] - self.busy0[1]
        usage.machine_busy = d_busy / d_total if d_total else 0.0
        usage.loadavg = load_average()
        return usage


# ---------------------------------------------------------------------------------------------
# profiling the server with py-spy


def start_py_spy(py_spy: str, server_pid: int, seconds: float, out_dir: Path, tag: str):
    out_dir.mkdir(parents=True, exist_ok=True)
    raw = out_dir / f"consult-profile-{tag}.txt"
    speedscope = out_dir / f"consult-profile-{tag}.speedscope.json"
    log = out_dir / f"consult-profile-{tag}.log"
    common = [py_spy, "record", "--pid", str(server_pid), "--subprocesses", "--rate", "200"]
    common += ["--duration", str(int(seconds)), "--nonblocking"]
    # One sampler writing collapsed stacks: summarised below and converted to speedscope, so
    # that a second sampler does not double the overhead on the measured server.
    process = spawn([*common, "--format", "raw", "--output", str(raw)], log=log)
    return process, raw, speedscope


def raw_to_speedscope(raw: Path, out: Path) -> None:
    """Collapsed stacks → a speedscope 'sampled' profile (one profile, weights = samples)."""
    frames: list[dict] = []
    index: dict[str, int] = {}
    samples, weights = [], []
    for line in raw.read_text(errors="replace").splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        ids = []
        for frame in stack.split(";"):
            if frame not in index:
                index[frame] = len(frames)
                frames.append({"name": frame})
            ids.append(index[frame])
        samples.append(ids)
        weights.append(int(count))
    doc = {
        "$schema": "https://www.speedscope.app/file-format-schema.json",
        "shared": {"frames": frames},
        "profiles": [
            {
                "type": "sampled",
                "name": raw.stem,
                "unit": "none",
                "startValue": 0,
                "endValue": sum(weights),
                "samples": samples,
                "weights": weights,
            }
        ],
    }
    out.write_text(json.dumps(doc))


FRAME_RE = re.compile(r"^(?P<func>.*) \((?P<path>[^():]+?)(?::\d+)?\)$")
# Samples whose leaf is not Python work: py-spy counts a thread as active while it is inside a
# socket write (on this 2-core box, preempted there by the PostgreSQL backend it just woke) or in
# native code with no Python frame (granian's Rust side): kept apart from the CPU picture.
NOT_PYTHON_WORK = ("_SelectorSocketTransport.write", "process ")


def frame_parts(frame: str) -> tuple[str, str]:
    """(function, module path) of a py-spy raw frame ``func (path/file.py:line)``."""
    match = FRAME_RE.match(frame)
    return (match["func"], match["path"]) if match else (frame, "")


def frame_package(frame: str) -> str:
    _, path = frame_parts(frame)
    if path.startswith("seba/"):
        return path.removesuffix(".py").replace("/", ".")
    return path.split("/", 1)[0].removesuffix(".py") if path else "(no Python frame)"


def summarise_profile(raw: Path, top: int = 25) -> str:
    """Where the samples are: by package of the leaf frame, by leaf function, and inclusive
    time of every seba function (routes and services)."""
    leaf: Counter = Counter()
    package: Counter = Counter()
    inclusive: Counter = Counter()
    apart: Counter = Counter()
    total = 0
    for line in raw.read_text(errors="replace").splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        n = int(count)
        frames = [f for f in stack.split(";") if not f.startswith("process ")] or ["process "]
        tip = frames[-1]
        if tip.startswith(NOT_PYTHON_WORK):
            apart[tip.split(" (", 1)[0] if "(" in tip else "no Python frame"] += n
            continue
        total += n
        names = [re.sub(r":\d+\)$", ")", f) for f in frames]
        leaf[names[-1]] += n
        package[frame_package(frames[-1])] += n
        for name in set(names):
            inclusive[name] += n
    if not total:
        return "no samples"

    def pct(n: int) -> str:
        return f"{100 * n / total:5.1f}%"

    everything = total + sum(apart.values())
    lines = [
        f"{everything} samples; {sum(apart.values())} set apart (not Python work): "
        + ", ".join(f"{k} {v}" for k, v in apart.most_common()),
        f"percentages below are of the other {total}",
        "",
        "self time by package (leaf frame):",
    ]
    lines += [f"  {pct(n)}  {name}" for name, n in package.most_common(20)]
    lines += ["", "self time by function:"]
    lines += [f"  {pct(n)}  {name}" for name, n in leaf.most_common(top)]
    lines += ["", "inclusive time of seba functions:"]
    seba = [(name, n) for name, n in inclusive.most_common() if "(seba/" in name]
    lines += [f"  {pct(n)}  {name}" for name, n in seba[: top * 2]]
    return "\n".join(lines)


# ---------------------------------------------------------------------------------------------
# SQL statements per endpoint, through the ASGI app in-process


@dataclass
class SqlCount:
    statements: dict[str, Counter] = field(default_factory=lambda: defaultdict(Counter))
    texts: dict[str, Counter] = field(default_factory=lambda: defaultdict(Counter))
    requests: Counter = field(default_factory=Counter)
    wall_s: dict[str, float] = field(default_factory=lambda: defaultdict(float))
    cpu_s: dict[str, float] = field(default_factory=lambda: defaultdict(float))
    lifecycles: int = 0


async def count_sql(
    url: str,
    net: Network,
    lifecycles: int,
    cprofile: Path | None = None,
    server_env: dict[str, str] | None = None,
) -> SqlCount:
    """Drive ``lifecycles`` lifecycles one request at a time through the app in-process, and
    count per endpoint: statements by kind, transactions (BEGIN/COMMIT/ROLLBACK), pool
    checkouts. Wall and CPU time per request are the app's own (no network, no concurrency),
    plus, on PostgreSQL, the round trips' waiting."""
    import httpx
    from sqlalchemy import event

    import seba.models  # noqa: F401
    from seba.app import create_app
    from seba.core.runtime import build_runtime
    from seba.settings import Settings

    extra = {k.removeprefix("SEBA_").lower(): v for k, v in (server_env or {}).items()}
    settings = Settings(
        **{"database_url": url, "env": "prod", "secret_key": "bench-" + "x" * 32, **extra}
    )
    rt = build_runtime(settings)
    await rt.start()
    app = create_app(settings, runtime=rt)
    logging.getLogger("httpx").setLevel(logging.WARNING)
    result = SqlCount()
    label: list[str | None] = [None]

    def on_execute(conn, cursor, statement, parameters, context, executemany) -> None:
        if label[0] is None:
            return
        text = " ".join(statement.split())
        kind = text.split(" ", 1)[0].upper()
        result.statements[label[0]][kind] += 1
        result.texts[label[0]][text[:160]] += 1
        # SQLAlchemy's compiled cache: a statement compiled anew on every request costs more
        # than its round trip.
        compiled = context is not None and context.compiled is not None
        if compiled and context.cache_hit != context.dialect.CACHE_HIT:
            result.statements[label[0]]["compiled*"] += 1

    def on_tx(kind: str):
        def listener(*_args) -> None:
            if label[0] is not None:
                result.statements[label[0]][kind] += 1

        return listener

    engines = {rt.db.write_engine, rt.db.read_engine}
    for engine in engines:
        sync = engine.sync_engine
        event.listen(sync, "before_cursor_execute", on_execute)
        for kind in ("begin", "commit", "rollback"):
            event.listen(sync, kind, on_tx(kind.upper() + "*"))
        event.listen(sync.pool, "checkout", on_tx("checkout*"))

    counting = [True]

    @contextlib.asynccontextmanager
    async def measure(name: str):
        if not counting[0]:
            yield
            return
        label[0] = name
        w0, c0 = time.perf_counter(), time.process_time()
        yield
        result.wall_s[name] += time.perf_counter() - w0
        result.cpu_s[name] += time.process_time() - c0
        label[0] = None
        result.requests[name] += 1

    async def timed(client, name: str, method: str, path: str, token: str, body=None):
        headers = {"Authorization": f"Bearer {token}"}
        async with measure(name):
            return await client.request(method, path, json=body, headers=headers)

    async def call_step(client, cid: int, doc: str, cho: str) -> None:
        """Both parties' tickets, then both sockets: find each other, offer, answer, close."""
        path = f"/api/v1/consultations/{cid}/call/ticket"
        passes = []
        for token in (doc, cho):
            r = await timed(client, "ticket", "POST", path, token)
            assert r.status_code == 200, r.text
            passes.append(r.json())
        async with measure("call"):
            sockets = [
                await AsgiSocket(app, f"{p['ws_path']}?ticket={p['ticket']}").open() for p in passes
            ]
            doctor, cho_side = sockets
            for socket in sockets:
                await socket.until("welcome")
            await doctor.until("peer", "cho")
            await doctor.send({"type": "offer", "sdp": SDP})
            await cho_side.until("offer", "doctor")
            await cho_side.send({"type": "answer", "sdp": SDP})
            await doctor.until("answer", "cho")
            for socket in sockets:
                await socket.close()

    try:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://bench") as client:

            async def login(username: str) -> str:
                r = await client.post(
                    "/api/v1/auth/token", json={"username": username, "password": PASSWORD}
                )
                return r.json()["access_token"]

            cho, doc = await login(net.chos[0]), await login(net.doctors[0])
            patients = []
            for n in range(10):
                body = {
                    "name": f"Count Patient {n}",
                    "sex": "female",
                    "age_years": 40 + n,
                    "phone": f"98000000{n:02d}",
                }
                r = await timed(client, "patient", "POST", "/api/v1/patients", cho, body)
                patients.append(r.json()["id"])
            r = await timed(
                client, "presence", "POST", "/api/v1/doctors/me/presence", doc, {"status": "online"}
            )

            async def lifecycle(n: int) -> None:
                # Floors for comparison: no database; the bearer-token check alone.
                r = await timed(client, "healthz (ref)", "GET", "/healthz", doc)
                assert r.status_code == 200, r.text
                r = await timed(client, "auth/me (ref)", "GET", "/api/v1/auth/me", doc)
                assert r.status_code == 200, r.text
                r = await timed(client, "offer 204", "GET", "/api/v1/doctors/me/offer", doc)
                assert r.status_code == 204, r.text
                body = {"patient_id": patients[n % 10], "chief_complaint": "Fever", "consent": True}
                r = await timed(client, "raise", "POST", "/api/v1/consultations", cho, body)
                assert r.status_code == 201, r.text
                cid = r.json()["id"]
                r = await timed(client, "offer 200", "GET", "/api/v1/doctors/me/offer", doc)
                assert r.status_code == 200, r.text
                base = f"/api/v1/consultations/{cid}"
                r = await timed(client, "accept", "POST", f"{base}/accept", doc)
                assert r.status_code == 200, r.text
                await call_step(client, cid, doc, cho)
                r = await timed(
                    client, "prescription", "POST", f"{base}/prescription", doc, PRESCRIPTION
                )
                assert r.status_code == 201, r.text
                r = await timed(client, "complete", "POST", f"{base}/complete", doc)
                assert r.status_code == 200, r.text

            # One lifecycle warms the caches (formulary, compiled and prepared statements).
            await lifecycle(0)
            for kept in (result.statements, result.texts, result.requests):
                kept.clear()
            result.wall_s.clear()
            result.cpu_s.clear()
            for n in range(lifecycles):
                await lifecycle(n)
            result.lifecycles = lifecycles
            if cprofile is not None:
                # Profiled apart: cProfile's overhead must not reach the times counted above.
                counting[0] = False
                profiler = cProfile.Profile()
                profiler.enable()
                for n in range(lifecycles):
                    await lifecycle(n)
                profiler.disable()
                profiler.dump_stats(cprofile)
    finally:
        await rt.close()
    return result


def summarise_cprofile(path: Path, lifecycles: int, top: int = 30) -> str:
    """cProfile of the in-process lifecycles: per lifecycle, the functions with the most own
    time, and the cumulative time of seba's functions (profiling overhead included)."""
    stats = pstats.Stats(str(path))
    rows = stats.stats  # type: ignore[attr-defined]
    total = stats.total_tt  # type: ignore[attr-defined]

    def name(key) -> str:
        file, line, func = key
        short = re.sub(r"^.*?/(site-packages|python3\.\d+|src)/", "", file)
        return f"{func} ({short}:{line})"

    own = sorted(rows.items(), key=lambda kv: kv[1][2], reverse=True)[:top]
    cum = sorted(
        ((k, v) for k, v in rows.items() if "/seba/" in k[0]),
        key=lambda kv: kv[1][3],
        reverse=True,
    )[:top]
    lines = [
        f"cProfile: {1000 * total / lifecycles:.1f} ms per lifecycle (with profiling overhead)",
        "own time per lifecycle (ms, calls):",
    ]
    lines += [
        f"  {1000 * v[2] / lifecycles:7.2f}  {v[1] / lifecycles:7.1f}  {name(k)}" for k, v in own
    ]
    lines += ["cumulative time per lifecycle of seba functions (ms, calls):"]
    lines += [
        f"  {1000 * v[3] / lifecycles:7.2f}  {v[1] / lifecycles:7.1f}  {name(k)}" for k, v in cum
    ]
    return "\n".join(lines)


def format_sql(db: str, count: SqlCount, show_sql: bool) -> tuple[list[str], str]:
    rows = []
    per_lifecycle = max(count.lifecycles, 1)
    lifecycle_cpu = sum(count.cpu_s[e] for e in ENDPOINTS) / per_lifecycle
    for name in ENDPOINTS + REFERENCES:
        n = count.requests[name]
        if not n:
            continue
        kinds = count.statements[name]
        statements = sum(v for k, v in kinds.items() if not k.endswith("*"))

        def per(k: str, kinds: Counter = kinds, n: int = n) -> str:
            return f"{kinds.get(k, 0) / n:.1f}"

        rows.append(
            f"| {db} | {name} | {statements / n:.1f} | {per('SELECT')} | {per('INSERT')} "
            f"| {per('UPDATE')} | {per('BEGIN*')} / {per('COMMIT*')} / {per('ROLLBACK*')} "
            f"| {per('compiled*')} | {per('checkout*')} | {1000 * count.wall_s[name] / n:.2f} "
            f"| {1000 * count.cpu_s[name] / n:.2f} "
            + (
                f"| {n / per_lifecycle:.0f} | {1000 * count.cpu_s[name] / per_lifecycle:.2f} "
                f"| {100 * count.cpu_s[name] / per_lifecycle / lifecycle_cpu:.0f}% |"
                if name in ENDPOINTS and lifecycle_cpu
                else "| – | – | – |"
            )
        )
    rows.append(f"| {db} | **lifecycle** | | | | | | | | | | | {1000 * lifecycle_cpu:.2f} | 100% |")
    detail = []
    if show_sql:
        for name in ENDPOINTS + REFERENCES:
            n = count.requests[name]
            if not n:
                continue
            detail.append(f"-- {db} {name} (per request)")
            for text, c in count.texts[name].most_common():
                detail.append(f"   {c / n:4.1f}  {text}")
    return rows, "\n".join(detail)


SQL_HEADER = (
    "| DB | endpoint | statements | SELECT | INSERT | UPDATE | BEGIN / COMMIT / ROLLBACK "
    "| compiled anew | pool checkouts | in-process ms | in-process CPU ms "
    "| per lifecycle | CPU ms per lifecycle | share of the lifecycle's CPU |"
)
SQL_RULE = "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"


# ---------------------------------------------------------------------------------------------
# one cell: a fresh database, the network, the server, the load


def pct(values: list[float], q: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, round(q * (len(values) - 1)))] if values else float("nan")


@dataclass
class Cell:
    db: str
    workers: int
    load: Load
    usage: Usage
    profiled: bool = False
    profile: str = ""
    # The server's own account of its 500s: exception line and statement, with counts.
    server_errors: Counter = field(default_factory=Counter)

    @property
    def per_s(self) -> float:
        return self.load.lifecycles / (self.load.window[1] - self.load.window[0])

    @property
    def failures(self) -> int:
        return sum(n for (_, s), n in self.load.statuses.items() if s >= 300 or s < 200)


def database_url(db: str, args, tmp: Path, tag: str) -> str:
    if db == "sqlite":
        path = tmp / f"consult-{tag}.db"
        for suffix in ("", "-wal", "-shm"):
            Path(str(path) + suffix).unlink(missing_ok=True)
        return f"sqlite+aiosqlite:///{path}"
    asyncio.run(reset_postgres(args.pg_url))
    return args.pg_url


def fresh_network(db: str, args, tmp: Path, tag: str) -> tuple[str, Network]:
    url = database_url(db, args, tmp, tag)
    t0 = time.monotonic()
    migrate(url, tmp / f"migrate-{tag}.log")
    net = asyncio.run(build_network(url, hubs=args.hubs, chos=args.chos, doctors=args.doctors))
    print(f"[{tag}] database and network ready in {time.monotonic() - t0:.0f}s", flush=True)
    return url, net


def run_cell(db: str, workers: int, args, tmp: Path, profile: bool) -> Cell:
    tag = f"{db}-{workers}w" + ("-profile" if profile else "")
    url, net = fresh_network(db, args, tmp, tag)
    env = {
        **os.environ,
        "SEBA_DATABASE_URL": url,
        "SEBA_ENV": "prod",
        "SEBA_SECRET_KEY": "bench-" + "x" * 32,
        "SEBA_PUBLIC_BASE_URL": "http://127.0.0.1",
    }
    env.pop("SEBA_REDIS_URL", None)
    if args.redis_url:
        # Several workers share logout events (the principal cache) and call messages.
        env["SEBA_REDIS_URL"] = args.redis_url
    env.update(args.server_env)
    log = tmp / f"serve-{tag}.log"
    port = args.port
    serve = ["serve", "--host", "127.0.0.1", "--port", str(port), "--workers", str(workers)]
    server = spawn(
        [sys.executable, "-m", "seba.cli", *serve],
        env=env,
        log=log,
    )
    worker = None
    py_spy = None
    try:
        wait_ready(f"http://127.0.0.1:{port}/healthz", server, log, timeout_s=120)
        if args.with_worker:
            worker = spawn([sys.executable, "-m", "seba.cli", "worker"], env=env, log=log)
        actors = asyncio.run(
            prepare(f"http://127.0.0.1:{port}", net, args.patients, args.doctor_mode)
        )
        print(
            f"[{tag}] {len(net.chos)} CHOs, {len(net.doctors)} doctors online; load …", flush=True
        )

        async def measured() -> tuple[Load, Usage]:
            nonlocal py_spy
            meter = UsageMeter(server.pid, url if db == "postgresql" else None)
            window = asyncio.Event()
            task = asyncio.create_task(
                drive(
                    "127.0.0.1",
                    port,
                    actors,
                    warmup=args.warmup,
                    seconds=args.seconds,
                    poll_s=(args.poll_min_ms / 1000, args.poll_max_ms / 1000),
                    per_cho=args.per_cho,
                    on_window=window,
                    doctor_mode=args.doctor_mode,
                    with_call=not args.no_call,
                )
            )
            await window.wait()
            await meter.begin()
            if profile:
                py_spy = start_py_spy(args.py_spy, server.pid, args.seconds, args.profile, tag)
            sampler = None
            if db == "postgresql":
                stop_at = time.perf_counter() + args.seconds
                sampler = asyncio.create_task(sample_backends(url, stop_at))
            await asyncio.sleep(args.seconds)
            usage = await meter.end()
            if sampler is not None:
                usage.pg_active, usage.pg_lock_waits = await sampler
            return await task, usage

        load, usage = asyncio.run(measured())
        summary = ""
        if py_spy is not None:
            process, raw, speedscope = py_spy
            process.wait(timeout=args.seconds + 60)
            if raw.exists():
                raw_to_speedscope(raw, speedscope)
                summary = summarise_profile(raw)
                (raw.with_suffix(".summary.txt")).write_text(summary + "\n")
            else:
                summary = "py-spy wrote nothing" + tail(raw.with_suffix(".log"))
    finally:
        if worker is not None:
            stop(worker)
        stop(server)
    if db == "postgresql":
        usage.pg_deadlocks, usage.pg_rollbacks, usage.pg_commits = asyncio.run(database_totals(url))
    server_errors = logged_errors(log.read_text(errors="replace"))
    for what, n in server_errors.most_common():
        print(f"[{tag}] server logged {n} × {what}", file=sys.stderr)
    return Cell(
        db, workers, load, usage, profiled=profile, profile=summary, server_errors=server_errors
    )


ERROR_LINE_RE = re.compile(r"^(?:[\w.]+\.)?(\w+(?:Error|Exception|Violation)): (.*)$")


CHAIN_NOISE = ("[SQL:", "[param", "(Back", "DETAIL:", "HINT:", "Process ", "CONTEXT:")


def logged_errors(text: str) -> Counter:
    """Per 500 the app logged (``unhandled error on METHOD PATH``): the route and the final
    exception of its traceback (a cause in a chain is skipped), with the statement it ran."""
    found: Counter = Counter()
    lines = text.splitlines()
    route = None
    for i, line in enumerate(lines):
        if "unhandled error on " in line:
            route = line.split("unhandled error on ", 1)[1].strip()
            continue
        match = ERROR_LINE_RE.match(line) if route else None
        if not match:
            continue
        following = next(
            (x for x in lines[i + 1 : i + 20] if x.strip() and not x.startswith(CHAIN_NOISE)), ""
        )
        if following.startswith(("The above", "During handling")):
            continue
        kind, message = match.groups()
        message = re.sub(r"^\(.*?\) ", "", message)[:60]
        statement = next(
            (x[6:70].rstrip("]") for x in lines[i + 1 : i + 3] if x.startswith("[SQL: ")), ""
        )
        found[f"{route}: {kind}: {message}" + (f" — {statement}" if statement else "")] += 1
        route = None
    return found


# ---------------------------------------------------------------------------------------------
# reporting


HEADER = (
    "| DB | workers | lifecycles/s | requests/s | 204 polls per lifecycle | non-2xx "
    "| lifecycle p50 / p99 ms | CPU ms per lifecycle: server / PostgreSQL / load gen "
    "| machine busy | load avg |"
)
RULE = "|---|---:|---:|---:|---:|---:|---:|---:|---:|---|"
LATENCY_HEADER = "| DB | workers | " + " | ".join(f"{e} p50 / p99 ms" for e in ENDPOINTS) + " |"
LATENCY_RULE = "|---|---:|" + "---:|" * len(ENDPOINTS)


def format_cell(c: Cell) -> str:
    n = max(c.load.lifecycles, 1)
    window = c.load.window[1] - c.load.window[0]
    polls = sum(v for (e, s), v in c.load.statuses.items() if e == "offer 204")
    u = c.usage
    pg = f"{1000 * u.postgres_s / n:.1f}" if c.db == "postgresql" else "–"
    return (
        f"| {c.db}{' (py-spy)' if c.profiled else ''} | {c.workers} | {c.per_s:,.1f} "
        f"| {c.load.total_requests / window:,.0f} | {polls / n:.1f} | {c.failures} "
        f"| {pct(c.load.end_to_end, 0.5) * 1000:.0f} / {pct(c.load.end_to_end, 0.99) * 1000:.0f} "
        f"| {1000 * u.server_s / n:.1f} / {pg} / {1000 * u.loadgen_s / n:.1f} "
        f"| {100 * u.machine_busy:.0f}% | {u.loadavg} |"
    )


def format_latency(c: Cell) -> str:
    cells = []
    for e in ENDPOINTS:
        lat = c.load.latencies.get(e, [])
        cells.append(f"{pct(lat, 0.5) * 1000:.1f} / {pct(lat, 0.99) * 1000:.1f}" if lat else "–")
    return (
        f"| {c.db}{' (py-spy)' if c.profiled else ''} | {c.workers} | " + " | ".join(cells) + " |"
    )


PG_HEADER = (
    "| DB | workers | backends active (mean) | of them waiting on a lock (mean) "
    "| deadlocks (whole run) | rollbacks / commits (whole run) |"
)
PG_RULE = "|---|---:|---:|---:|---:|---:|"


def format_pg(c: Cell) -> str:
    u = c.usage
    return (
        f"| {c.db}{' (py-spy)' if c.profiled else ''} | {c.workers} | {u.pg_active:.1f} "
        f"| {u.pg_lock_waits:.1f} | {u.pg_deadlocks} | {u.pg_rollbacks:,} / {u.pg_commits:,} |"
    )


def report(cells: list[Cell], sql_rows: list[str], args, command: str, date: str) -> str:
    lines = [
        f"## {date} — teleconsult lifecycles through the HTTP server",
        "",
        f"- Command: `{command}`",
        f"- Date: {date}",
        f"- Machine: {machine()}, shared with other work (other sessions ran test suites at "
        "the same time: see the machine's busy share and load average per row); the load "
        "generator runs on the same cores.",
        f"- Code: {git_revision()}",
        f"- Load: {args.chos} CHOs × {args.per_cho} consult(s) outstanding, {args.doctors} "
        f"doctors (general medicine, bn) over {args.hubs} hubs in 2 neighbouring pools; "
        + (
            f"doctors poll the offer every {args.poll_min_ms}–{args.poll_max_ms} ms while idle; "
            if args.doctor_mode == "poll"
            else "doctors wait on their event stream while idle; "
        )
        + f"{args.warmup:.0f} s warm-up, then {args.seconds:.0f} s measured; one keep-alive "
        "connection per actor (minimal HTTP/1.1 client); a fresh database per row"
        + ("; `seba worker` (sweep) alongside." if args.with_worker else "."),
        "- Lifecycle: raise → offer (200) → accept → "
        + ("" if args.no_call else "call joined (2 tickets, 2 sockets, offer/answer) → ")
        + "prescription (1 item) → complete; 'lifecycle p50 / p99' is from the CHO's raise to "
        f"the doctor's complete. Doctors: `{args.doctor_mode}`"
        + (f"; server Redis {args.redis_url}" if args.redis_url else "; no Redis")
        + "".join(f"; `{k}={v}`" for k, v in args.server_env.items())
        + ".",
        f"- Goal (issue 13): ≥ {GOAL:.0f} complete lifecycles/s on PostgreSQL with ≤ "
        f"{GOAL_CPU_MS:.0f} ms of server CPU per lifecycle. Need: West Bengal's peak ≈ 4/s; "
        "India's record day ≈ 24/s over six busy hours.",
        "",
        HEADER,
        RULE,
        *(format_cell(c) for c in cells),
        "",
        "Per endpoint, latency seen by the client (p50 / p99 ms):",
        "",
        LATENCY_HEADER,
        LATENCY_RULE,
        *(format_latency(c) for c in cells),
    ]
    pg_cells = [c for c in cells if c.db == "postgresql"]
    if pg_cells:
        lines += [
            "",
            "PostgreSQL during the window (rollbacks include every read-only request's session):",
            "",
            PG_HEADER,
            PG_RULE,
            *(format_pg(c) for c in pg_cells),
        ]
    if sql_rows:
        lines += [
            "",
            f"SQL per request, counted in-process (ASGI app, one request at a time, "
            f"{args.sql_count} lifecycles after one warm-up; `*` columns are transaction and "
            "pool events, not statements):",
            "",
            SQL_HEADER,
            SQL_RULE,
            *sql_rows,
        ]
    failed = [
        f"{c.db}/{c.workers}: "
        + ", ".join(
            f"{endpoint} {status or 'no answer'} × {n}"
            for (endpoint, status), n in sorted(c.load.statuses.items())
            if not 200 <= status < 300
        )
        for c in cells
        if c.failures
    ]
    if failed:
        lines += [
            "",
            "Non-2xx answers in the window (204 polls aside):",
            *(f"- {f}" for f in failed),
        ]
    logged = [
        f"{c.db}/{c.workers}{' (py-spy)' if c.profiled else ''}: {n} × `{what}`"
        for c in cells
        for what, n in c.server_errors.most_common(4)
    ]
    if logged:
        lines += [
            "",
            "The server's log for its 500s (whole run, warm-up included):",
            *(f"- {x}" for x in logged),
        ]
    errors = [e[:300] for c in cells for e in c.load.errors[:3]]
    if errors:
        lines += ["", "First errors:", *(f"- `{e}`" for e in errors)]
    return "\n".join(lines) + "\n"


def append_record(text: str, path: Path) -> None:
    """Append only (other benchmarks append to the same file)."""
    with path.open("a", encoding="utf-8") as fh:
        fh.write("\n" + text)


# ---------------------------------------------------------------------------------------------


def parse_args(argv: list[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--db", default="postgresql,sqlite", help="postgresql and/or sqlite")
    p.add_argument("--workers", default="1,2", help="server worker counts (default 1,2)")
    p.add_argument("--seconds", type=float, default=20.0, help="measured window")
    p.add_argument("--warmup", type=float, default=5.0)
    p.add_argument("--chos", type=int, default=40)
    p.add_argument("--doctors", type=int, default=40)
    p.add_argument("--hubs", type=int, default=4)
    p.add_argument("--per-cho", type=int, default=1, help="consults each CHO keeps open")
    p.add_argument("--patients", type=int, default=10, help="patients registered per CHO")
    p.add_argument("--poll-min-ms", type=int, default=50)
    p.add_argument("--poll-max-ms", type=int, default=200)
    p.add_argument("--with-worker", action="store_true", help="run `seba worker` alongside")
    p.add_argument(
        "--doctor-mode",
        choices=("poll", "push"),
        default="poll",
        help="poll: GET the offer every --poll-*-ms while idle; push: hold GET "
        f"{EVENTS_PATH} and GET the offer only after an `offer` event",
    )
    p.add_argument("--no-call", action="store_true", help="leave out the call step")
    p.add_argument(
        "--redis-url", default=None, help="the server's SEBA_REDIS_URL (default: no Redis)"
    )
    p.add_argument(
        "--server-env",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="an extra environment variable for the server (repeatable), e.g. "
        "SEBA_PRINCIPAL_CACHE_S=0",
    )
    p.add_argument("--port", type=int, default=18300)
    p.add_argument("--pg-url", default=DEFAULT_PG, help="DROPPED and created for every row")
    p.add_argument("--sql-count", type=int, default=30, help="in-process lifecycles; 0: skip")
    p.add_argument("--show-sql", action="store_true", help="print each endpoint's statements")
    p.add_argument("--only-sql", action="store_true", help="no server: the in-process count only")
    p.add_argument(
        "--profile", type=Path, default=None, help="also run each cell once under py-spy here"
    )
    p.add_argument("--py-spy", default=shutil.which("py-spy") or "/tmp/pyspy-venv/bin/py-spy")
    p.add_argument("--record", type=Path, default=RECORD)
    p.add_argument("--no-record", action="store_true")
    args = p.parse_args(argv)
    pairs = [item.partition("=") for item in args.server_env]
    if not all(name.startswith("SEBA_") and sep for name, sep, _ in pairs):
        p.error("--server-env takes SEBA_NAME=VALUE")
    args.server_env = {name: value for name, _, value in pairs}
    args.dbs = [d.strip() for d in args.db.split(",") if d.strip()]
    if not args.dbs or not set(args.dbs) <= {"postgresql", "sqlite"}:
        p.error("--db takes postgresql and/or sqlite")
    args.worker_counts = [int(w) for w in args.workers.split(",")]
    if not all(1 <= w <= 8 for w in args.worker_counts):
        p.error("--workers takes counts between 1 and 8")
    if not (1 <= args.chos <= 500 and 1 <= args.doctors <= 500 and 1 <= args.hubs <= 50):
        p.error("--chos and --doctors 1..500, --hubs 1..50")
    if not (1 <= args.seconds <= 600 and 0 <= args.warmup <= 120):
        p.error("--seconds 1..600, --warmup 0..120")
    if not (1 <= args.per_cho <= 10 and 1 <= args.patients <= 1000):
        p.error("--per-cho 1..10, --patients 1..1000")
    if not 1 <= args.poll_min_ms <= args.poll_max_ms <= 10_000:
        p.error("--poll-min-ms ≤ --poll-max-ms, 1..10000")
    if args.profile is not None and not Path(args.py_spy).exists():
        p.error(f"py-spy not found at {args.py_spy} (pip install py-spy into a throwaway venv)")
    return args


def _on_signal(signum: int, _frame: object) -> None:
    raise SystemExit(f"stopped by signal {signum}")


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    command = "uv run python bench/consult_lifecycle.py" + "".join(f" {a}" for a in argv)
    try:
        require_local(args.pg_url, "--pg-url")
        if args.redis_url:
            require_local(args.redis_url, "--redis-url")
    except BenchError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    atexit.register(stop_all)
    for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, _on_signal)
    per_cell = 240 + args.warmup + args.seconds
    runs = len(args.dbs) * len(args.worker_counts) * (2 if args.profile else 1)
    signal.signal(signal.SIGALRM, lambda *_: _on_signal(signal.SIGALRM, None))
    signal.alarm(int(runs * per_cell + len(args.dbs) * 300))

    date = utc_date()
    cells: list[Cell] = []
    sql_rows: list[str] = []
    try:
        with tempfile.TemporaryDirectory(prefix="seba-bench-consult-") as name:
            tmp = Path(name)
            for db in args.dbs:
                for workers in [] if args.only_sql else args.worker_counts:
                    cells.append(run_cell(db, workers, args, tmp, profile=False))
                    print("   " + format_cell(cells[-1]), flush=True)
                    print("   " + format_latency(cells[-1]), flush=True)
                    if db == "postgresql":
                        print("   " + format_pg(cells[-1]), flush=True)
                    if args.profile is not None:
                        cells.append(run_cell(db, workers, args, tmp, profile=True))
                        print("   " + format_cell(cells[-1]), flush=True)
                        print(cells[-1].profile, flush=True)
                if args.sql_count:
                    url, net = fresh_network(db, args, tmp, f"{db}-sql")
                    cprofile = (
                        args.profile / f"consult-cprofile-{db}.pstats" if args.profile else None
                    )
                    count = asyncio.run(
                        count_sql(url, net, args.sql_count, cprofile, args.server_env)
                    )
                    if cprofile is not None:
                        summary = summarise_cprofile(cprofile, args.sql_count)
                        cprofile.with_suffix(".txt").write_text(summary + "\n")
                        print(summary, flush=True)
                    rows, detail = format_sql(db, count, args.show_sql)
                    sql_rows += rows
                    print(SQL_HEADER + "\n" + SQL_RULE + "\n" + "\n".join(rows), flush=True)
                    if detail:
                        print(detail, flush=True)
    except BenchError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    finally:
        signal.alarm(0)
        stop_all()

    text = report(cells, sql_rows, args, command, date)
    print()
    print(text)
    if not args.no_record and (cells or sql_rows):
        append_record(text, args.record)
        print(f"appended to {args.record}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
