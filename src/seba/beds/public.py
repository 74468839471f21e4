"""Public bed views, answered from the worker's in-memory availability (``beds/snapshot.py``).

No view queries the database: each reads the snapshot at (at least) the data version the
request has seen (``refresh.AvailabilityKeeper.at_least``). A facility is serialised once per
(state, variant, staleness) and kept with its row, so a page of any filter or location is a
join of stored fragments; whole answers for keys without ``near`` are also kept per data
version (bytes, gzip, ETag), so the common lists cost a dictionary lookup.
"""

from __future__ import annotations

import json
import time
from collections import OrderedDict
from itertools import chain, repeat
from typing import Any

from seba.beds.live import VERSION
from seba.beds.queries import AvailabilityFilter
from seba.beds.refresh import keeper
from seba.beds.snapshot import Availability
from seba.core.errors import NotFound
from seba.core.response_cache import CachedBody, compressed, make_cached
from seba.core.runtime import Runtime
from seba.core.types import utcnow

# However long a view stays true, rebuild it at least this often (belt and braces).
MAX_TTL_S = 60.0
# District totals carry stale counts, which move with the clock.
DISTRICTS_TTL_S = 30.0
# Whole answers kept per data version (lists without ``near``, facilities, districts, pages).
MAX_VIEWS = 512


def dumps(body: Any) -> bytes:
    return json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode()


async def snapshot(rt: Runtime) -> Availability:
    """The availability at the data version this request sees, or later."""
    return await keeper(rt).at_least(await rt.reads.current(VERSION))


class Views:
    """Whole answers built from one snapshot version, keyed by what they depend on."""

    def __init__(self) -> None:
        self._entries: OrderedDict[str, CachedBody] = OrderedDict()

    def get(self, key: str, version: int) -> CachedBody | None:
        entry = self._entries.get(key)
        if entry is None or entry.version != version or entry.expires_at <= time.monotonic():
            return None
        self._entries.move_to_end(key)
        return entry

    def put(self, key: str, entry: CachedBody) -> CachedBody:
        self._entries[key] = entry
        self._entries.move_to_end(key)
        if len(self._entries) > MAX_VIEWS:
            self._entries.popitem(last=False)
        return entry


def views(rt: Runtime) -> Views:
    found = rt.caches.get("beds.views")
    if found is None:
        found = rt.caches["beds.views"] = Views()
    return found


def filter_key(f: AvailabilityFilter) -> str:
    return "availability?" + json.dumps(
        [
            f.district,
            f.ownership,
            f.bed_type,
            f.sex,
            f.covid,
            f.available_only,
            (f.q or "").casefold() or None,
            f.near,
            f.limit,
            f.offset,
        ]
    )


def ttl_s(now_ts: float, changes_at: float | None, longest: float = MAX_TTL_S) -> float:
    """How long a view built now stays true by itself: until a facility in it turns stale."""
    if changes_at is None:
        return longest
    return max(0.0, min(longest, changes_at - now_ts))


def facility_json(snap: Availability, index: int, variant: int, stale: bool) -> bytes:
    """One facility as the list shows it, serialised once per row state."""
    memo = snap.memo(index)
    key = ("json", variant, stale)
    found = memo.get(key)
    if found is None:
        row = snap.rows[index]
        assert row is not None
        found = dumps(row.public(snap.districts[row.district], variant, stale=stale))
        snap.remember(index, key, found)
    return found


DISTANCE_KEY = b',"distance_km":'


def facility_head(snap: Availability, index: int, variant: int, stale: bool) -> bytes:
    """One facility's object open for its distance (``…,"distance_km":``), kept per row state:
    a list near a place is then its rows' heads, each followed by its distance and ``}``."""
    memo = snap.memo(index)
    key = ("head", variant, stale)
    found = memo.get(key)
    if found is None:
        found = facility_json(snap, index, variant, stale)[:-1] + DISTANCE_KEY
        snap.remember(index, key, found)
    return found


def _listed_near(
    snap: Availability, rows: list[int], stale: list[bool], variant: int, distances: list
) -> list[bytes]:
    """The facilities of a list near a place as pieces for one join, each written as
    ``json.dumps`` would write it with ``distance_km`` last. Per row only a memo lookup: the
    distances are written by the json module in one call and the pieces are interleaved in C
    (a Python loop of appends per row cost as much as finding the rows)."""
    heads = [facility_head(snap, i, variant, s) for i, s in zip(rows, stale, strict=True)]
    kms = json.dumps(distances, separators=(",", ":")).encode()[1:-1].split(b",")
    pieces = list(chain.from_iterable(zip(heads, kms, repeat(b"},"))))
    if pieces:
        pieces[-1] = b"}"
    return pieces


def availability_from(snap: Availability, f: AvailabilityFilter, stale_after_s: int) -> CachedBody:
    """The list for ``f`` from this snapshot, as bytes: a join of stored facility fragments."""
    now = utcnow()
    now_ts = now.timestamp()
    chosen = snap.select(f)
    stale, changes_at = snap.staleness(chosen.rows, now_ts, stale_after_s)
    if chosen.distances is not None:
        listed = _listed_near(snap, chosen.rows, stale, chosen.variant, chosen.distances)
    else:
        parts = [
            facility_json(snap, i, chosen.variant, s)
            for i, s in zip(chosen.rows, stale, strict=True)
        ]
        listed = [b",".join(parts)]
    body = b"".join(
        (
            b'{"as_of":"',
            now.isoformat().encode(),
            b'","count":',
            str(chosen.count).encode(),
            # Where the page starts: the last page's start when the one asked for lay past it.
            b',"offset":',
            str(chosen.offset).encode(),
            b',"facilities":[',
            *listed,
            b"]}",
        )
    )
    ttl = ttl_s(now_ts, changes_at)
    if f.near is None:
        return make_cached(body, ttl, source=VERSION, version=snap.version)
    # The bytes follow from the snapshot's version, the filter and the time written in them.
    identity = f"{snap.version}|{filter_key(f)}|{now.isoformat()}|{stale_after_s}".encode()
    return make_cached(
        body,
        ttl,
        source=VERSION,
        version=snap.version,
        one_off=True,
        identity=identity,
    )


def districts_data(snap: Availability, stale_after_s: int) -> dict[str, Any]:
    now = utcnow()
    return {
        "as_of": now.isoformat(),
        "districts": snap.district_totals(now.timestamp(), stale_after_s),
    }


async def availability(rt: Runtime, f: AvailabilityFilter) -> CachedBody:
    snap = await snapshot(rt)
    if f.near is not None:
        return availability_from(snap, f, rt.settings.stale_after_s)
    key = filter_key(f)
    found = views(rt).get(key, snap.version)
    if found is None:
        built = availability_from(snap, f, rt.settings.stale_after_s)
        found = views(rt).put(key, await compressed(built))
    return found


async def facility(rt: Runtime, facility_id: int) -> CachedBody:
    snap = await snapshot(rt)
    key = f"facility:{facility_id}"
    found = views(rt).get(key, snap.version)
    if found is not None:
        return found
    index = snap.row(facility_id)
    if index is None:
        raise NotFound("No such facility.", code="facility_not_found")
    row = snap.rows[index]
    assert row is not None
    now = utcnow()
    stale_after_s = rt.settings.stale_after_s
    item = row.public(
        snap.districts[row.district], 0, stale=snap.is_stale(index, now.timestamp(), stale_after_s)
    )
    item["version"] = row.census_version
    ttl = ttl_s(now.timestamp(), snap.stale_at([index], now.timestamp(), stale_after_s))
    entry = make_cached(dumps(item), ttl, source=VERSION, version=snap.version)
    return views(rt).put(key, await compressed(entry))


async def districts(rt: Runtime) -> CachedBody:
    snap = await snapshot(rt)
    found = views(rt).get("districts", snap.version)
    if found is not None:
        return found
    body = dumps(districts_data(snap, rt.settings.stale_after_s))
    entry = make_cached(body, DISTRICTS_TTL_S, source=VERSION, version=snap.version)
    return views(rt).put("districts", await compressed(entry))
