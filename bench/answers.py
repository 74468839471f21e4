"""Benchmark answer search at 1,000 entries on SQLite (FTS5) and PostgreSQL (full text).

    .venv/bin/python bench/answers.py --postgres-url postgresql+asyncpg://postgres@127.0.0.1/bench
    .venv/bin/python bench/answers.py --no-record

Loads the 46 shipped answers and enough variants of them (each question and answer with words
of other entries mixed in, its own slug) to make ``--entries`` (1,000), into a fresh SQLite file
and, if a PostgreSQL URL is given, into that database (its schema dropped and recreated: give a
database made for benchmarks). Then it asks the held-out queries of
``tests/helpline/queries.csv`` (Bengali in several spellings, Banglish, English) one at a time,
``--rounds`` times each, through ``helpline.queries.find_answers`` (the path the page and the API
take: fold, full-text match, rank, load the rows), and reports p50/p95/p99 per engine. The goal
is p95 < 50 ms. Results are printed and appended to ``docs/benchmarks.md``.
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import random
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

import seba.models  # noqa: E402, F401  (every table, for the ORM)
from seba.cli import upgrade_database  # noqa: E402
from seba.core.access import SYSTEM  # noqa: E402
from seba.core.runtime import build_runtime  # noqa: E402
from seba.data import read_csv  # noqa: E402
from seba.helpline import queries, service  # noqa: E402
from seba.settings import Settings  # noqa: E402

QUERIES = ROOT / "tests" / "helpline" / "queries.csv"


def variants(rows: list[dict[str, str]], total: int, seed: int = 7) -> list[dict[str, str]]:
    rng = random.Random(seed)
    words_bn = " ".join(r["body_bn"] for r in rows).split()
    words_en = " ".join(r["body_en"] for r in rows).split()
    out = list(rows)
    i = 0
    while len(out) < total:
        base = rows[i % len(rows)]
        i += 1
        extra_bn = " ".join(rng.sample(words_bn, 6))
        extra_en = " ".join(rng.sample(words_en, 6))
        out.append(
            {
                **base,
                "slug": f"{base['slug']}-{i}",
                "question_bn": f"{base['question_bn'][:200]} {extra_bn}"[:300],
                "question_en": f"{base['question_en'][:200]} {extra_en}"[:300],
                "body_bn": f"{base['body_bn']} {extra_bn}",
                "body_en": f"{base['body_en']} {extra_en}",
            }
        )
    return out


async def measure(url: str, entries: int, rounds: int) -> dict[str, float]:
    rt = build_runtime(Settings(database_url=url, env="test", redis_url=None, secret_key="b"))
    await rt.start()
    try:
        rows = variants(read_csv("answers.csv"), entries)
        await service.load_answers(rt, actor=SYSTEM, rows=rows)
        with QUERIES.open(encoding="utf-8") as fh:
            asked = [r["query"] for r in csv.DictReader(fh)]
        for q in asked:  # warm the caches and the connection pool
            await queries.find_answers(rt, q)
        times = []
        for _ in range(rounds):
            for q in asked:
                start = time.perf_counter()
                await queries.find_answers(rt, q)
                times.append((time.perf_counter() - start) * 1000)
    finally:
        await rt.close()
    times.sort()
    return {
        "n": len(times),
        "p50": statistics.median(times),
        "p95": times[int(0.95 * len(times)) - 1],
        "p99": times[int(0.99 * len(times)) - 1],
        "max": times[-1],
    }


async def reset_postgres(url: str) -> None:
    import asyncpg

    conn = await asyncpg.connect(url.replace("postgresql+asyncpg", "postgresql"))
    try:
        await conn.execute("DROP SCHEMA public CASCADE; CREATE SCHEMA public;")
    finally:
        await conn.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--entries", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--postgres-url")
    parser.add_argument("--no-record", action="store_true")
    args = parser.parse_args()
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite+aiosqlite:///{tmp}/bench.db"
        upgrade_database(url)
        results["SQLite (FTS5, bm25)"] = asyncio.run(measure(url, args.entries, args.rounds))
    if args.postgres_url:
        asyncio.run(reset_postgres(args.postgres_url))
        upgrade_database(args.postgres_url)
        results["PostgreSQL (GIN, ts_rank)"] = asyncio.run(
            measure(args.postgres_url, args.entries, args.rounds)
        )
    lines = [
        "",
        f"## Answer search at {args.entries} entries "
        f"({datetime.now(UTC):%Y-%m-%d %H:%M} UTC, `bench/answers.py`)",
        "",
        "One query at a time through `helpline.queries.find_answers` (fold, match, rank, load "
        "rows); the held-out queries of `tests/helpline/queries.csv`, "
        f"{args.rounds} rounds. Goal: p95 < 50 ms.",
        "",
        "| engine | queries | p50 ms | p95 ms | p99 ms | max ms |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for name, r in results.items():
        lines.append(
            f"| {name} | {r['n']} | {r['p50']:.2f} | {r['p95']:.2f} | {r['p99']:.2f} "
            f"| {r['max']:.2f} |"
        )
    text = "\n".join(lines) + "\n"
    print(text)
    if not args.no_record:
        with (ROOT / "docs" / "benchmarks.md").open("a", encoding="utf-8") as fh:
            fh.write(text)


if __name__ == "__main__":
    main()
