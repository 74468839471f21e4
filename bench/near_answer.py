"""CPU of one "near me" answer, in process: find, join, compress (issue 16).

    uv run python bench/near_answer.py                 # demo registry (264), 2,000 answers
    uv run python bench/near_answer.py --answers 5000 --no-record

The full-server benchmark (``bench/availability.py``) measures req/s against nginx, which on
this shared 2-core machine moves with whatever else runs. This measures what one ``near=``
answer costs the worker's CPU, its parts timed apart in one process and one run, so the
compressors compare fairly: the snapshot's selection (filter and distance), the join of stored
fragments, then the gzip copy by zlib (level 1 and 3, what the code used before) and by ISA-L
(level 1, what it uses now). Points are random within ±0.4° of a district headquarters, as in
the server benchmark. A fresh SQLite file gets the demo data (``seba db upgrade``, ``seba demo``).
"""

from __future__ import annotations

import argparse
import gzip
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from isal import isal_zlib

ROOT = Path(__file__).resolve().parents[1]
RECORD = ROOT / "docs" / "benchmarks.md"


def _seba(args: list[str], env: dict[str, str]) -> None:
    subprocess.run([sys.executable, "-m", "seba.cli", *args], env=env, check=True, cwd=ROOT)


def measure(answers: int, seed: int) -> list[tuple[str, float, float]]:
    """(part, median µs, mean bytes) for each part of a near= answer."""
    from fastapi.testclient import TestClient

    from seba.app import create_app
    from seba.beds import public
    from seba.beds.queries import AvailabilityFilter

    app = create_app()
    rng = random.Random(seed)
    timings: dict[str, list[float]] = {}
    sizes: dict[str, list[int]] = {}

    def timed(part: str, fn):
        start = time.perf_counter()
        out = fn()
        timings.setdefault(part, []).append((time.perf_counter() - start) * 1e6)
        if isinstance(out, bytes):
            sizes.setdefault(part, []).append(len(out))
        return out

    with TestClient(app) as client:
        client.get("/api/v1/beds/availability")  # the snapshot is built
        rt = app.state.runtime
        snap = client.portal.call(public.snapshot, rt)
        centres = [(d.lat, d.lon) for d in snap.districts.values()]
        stale_after = rt.settings.stale_after_s
        for _ in range(answers):
            lat, lon = rng.choice(centres)
            point = (round(lat + rng.uniform(-0.4, 0.4), 4), round(lon + rng.uniform(-0.4, 0.4), 4))
            f = AvailabilityFilter(near=point)
            timed("select (filter, distances, order)", lambda f=f: snap.select(f))
            entry = timed(
                "select + join (the whole answer)",
                lambda f=f: public.availability_from(snap, f, stale_after).body,
            )
            timed("gzip: zlib level 1", lambda e=entry: gzip.compress(e, 1, mtime=0))
            timed("gzip: zlib level 3 (before)", lambda e=entry: gzip.compress(e, 3, mtime=0))
            timed("gzip: ISA-L level 1 (now)", lambda e=entry: isal_zlib.compress(e, 1, 31))
            sizes.setdefault("answer (JSON)", []).append(len(entry))
    rows = []
    for part, values in timings.items():
        rows.append((part, statistics.median(values), statistics.mean(sizes.get(part, [0]))))
    rows.append(("answer (JSON)", 0.0, statistics.mean(sizes["answer (JSON)"])))
    return rows


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--answers", type=int, default=2000)
    p.add_argument("--seed", type=int, default=2021)
    p.add_argument("--record", type=Path, default=RECORD)
    p.add_argument("--no-record", action="store_true")
    args = p.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        env = {**os.environ, "SEBA_DATABASE_URL": f"sqlite+aiosqlite:///{tmp}/near.db"}
        env.pop("SEBA_REDIS_URL", None)
        _seba(["db", "upgrade"], env)
        _seba(["demo"], env)
        os.environ.update(env)
        rows = measure(args.answers, args.seed)
    load = os.getloadavg()
    lines = [
        f"## {datetime.now(UTC):%a %b %d %H:%M:%S UTC %Y} — one `near=` answer's CPU, in process",
        "",
        f"- Command: `uv run python bench/near_answer.py --answers {args.answers}`",
        f"- {args.answers} answers (50 facilities each, the API's default page) from random "
        "points within ±0.4° of a district headquarters; demo registry; medians; "
        f"load average {load[0]:.2f} (2 cores, shared).",
        "",
        "| part | median µs | mean bytes |",
        "|---|---:|---:|",
    ]
    lines += [f"| {part} | {us:,.0f} | {size:,.0f} |" for part, us, size in rows]
    text = "\n".join(lines) + "\n"
    print(text)
    if not args.no_record:
        with args.record.open("a") as out:
            out.write("\n" + text)


if __name__ == "__main__":
    main()
