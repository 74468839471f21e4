"""Keep each worker's in-memory availability (``beds/snapshot.py``) at the current data version.

Freshness: a request that has seen data version V is answered only from a snapshot at V or
later; if the snapshot is older it waits for the refresh in progress (one per worker, shared by
every waiting request) and, if that one began before V was committed, for the next. Nothing
older than what a request has seen is ever served.

Cost: a refresh reads, in one consistent read (REPEATABLE READ on PostgreSQL; one read
transaction on SQLite, which sees one state), the version row and the ``availability_change``
rows above the snapshot's version, then only the facilities they name and their pools: a
census costs three small queries and one row rebuilt in place, whatever the registry's size.
When the change log cannot say (an import, districts, a worker far behind, a version bumped
with no note) the snapshot is built anew to the side from two streamed queries, in slices of
``SLICE_ROWS`` rows with the event loop free between them, and swapped in when complete.

A background task per worker refreshes as soon as a ``beds`` event arrives (this worker's
writes, Redis pub/sub from the others, or the version poll without Redis), so requests rarely
wait at all; the per-request version check is what makes it correct, not the event.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Iterable
from typing import Any

from sqlalchemy import Select, and_, select, true
from sqlalchemy.ext.asyncio import AsyncConnection

from seba.beds.live import KEEP_CHANGES, VERSION
from seba.beds.models import AvailabilityChange, BedPool
from seba.beds.snapshot import Availability, District, FacilityRow, pool_sort_key
from seba.core.runtime import Runtime
from seba.core.versions import DataVersion
from seba.places.models import District as DistrictTable
from seba.places.models import Facility

log = logging.getLogger(__name__)

# Rows handled between two yields to the event loop during a full build: a slice costs ~1-3 ms.
SLICE_ROWS = 500
# Facilities a change may name before the snapshot is rebuilt to the side instead of in place.
IN_PLACE_MAX = 200
# Never read a change range that may have been pruned (``live.KEEP_CHANGES``).
KEPT_VERSIONS = KEEP_CHANGES - 500

FACILITY_COLUMNS = (
    Facility.id,
    Facility.code,
    Facility.name,
    Facility.name_bn,
    Facility.district_code,
    Facility.ownership,
    Facility.kind,
    Facility.covid,
    Facility.address,
    Facility.phones,
    Facility.lat,
    Facility.lon,
    Facility.hfr_id,
    Facility.census_version,
    Facility.census_updated_at,
    Facility.address_bn,
    Facility.reception_phone,
    Facility.emergency_phone,
)
DISTRICT_COLUMNS = (
    DistrictTable.code,
    DistrictTable.name,
    DistrictTable.name_bn,
    DistrictTable.lat,
    DistrictTable.lon,
)
POOL_COLUMNS = (
    BedPool.facility_id,
    BedPool.bed_type,
    BedPool.sex,
    BedPool.total,
    BedPool.occupied,
    BedPool.reserved,
)


def facility_row(row: Any, pools: Iterable[tuple]) -> FacilityRow:
    return FacilityRow(
        id=row[0],
        code=row[1],
        name=row[2],
        name_bn=row[3],
        district=row[4],
        ownership=row[5],
        kind=row[6],
        covid=bool(row[7]),
        address=row[8] or "",
        phones=tuple(row[9] or ()),
        lat=row[10],
        lon=row[11],
        hfr_id=row[12],
        census_version=row[13],
        updated_at=row[14],
        address_bn=row[15] or "",
        reception_phone=row[16],
        emergency_phone=row[17],
        pools=tuple(sorted(pools, key=pool_sort_key)),
    )


class AvailabilityKeeper:
    """One per worker (``rt.caches``): the current snapshot and the refresh that follows it."""

    def __init__(self, rt: Runtime) -> None:
        self._rt = rt
        self.snapshot: Availability | None = None
        self._refresh: asyncio.Task[None] | None = None
        self._follower: asyncio.Task[None] | None = None
        self._first: asyncio.Future[None] | None = None
        # Longest the event loop was held by one step of a refresh, and refresh times (ms).
        self.longest_step_ms = 0.0
        self.last_refresh_ms = 0.0
        self.full_builds = 0
        self.in_place = 0

    async def at_least(self, version: int) -> Availability:
        """A snapshot at ``version`` or later (waits for a refresh if need be)."""
        snapshot = self.snapshot
        if snapshot is not None and snapshot.version >= version:
            return snapshot
        self._follow()
        # The refresh in progress may have read the database before ``version`` committed;
        # the one after it cannot have. Its answer is the truth as of after this request.
        for _ in range(2):
            await self._refreshed()
            snapshot = self.snapshot
            if snapshot is not None and snapshot.version >= version:
                return snapshot
        assert snapshot is not None
        return snapshot

    def start(self) -> None:
        """At server start: follow events, and build the first snapshot in the background (so
        the first request does not wait for it; a failure is logged and retried on demand)."""
        self._follow()

        async def first() -> None:
            try:
                await self._refreshed()
            except Exception as exc:
                log.warning("first availability build failed (retried on demand): %s", exc)

        self._first = asyncio.ensure_future(first())

    async def _refreshed(self) -> None:
        task = self._refresh
        if task is None or task.done():
            task = self._refresh = asyncio.ensure_future(self._run())
        # Shielded: a request that goes away must not cancel the refresh others wait for.
        await asyncio.shield(task)

    def _follow(self) -> None:
        """Start the background follower once (lazily: tests build apps without lifespan)."""
        if self._follower is None or self._follower.done():
            self._follower = asyncio.ensure_future(self._follow_events())

    async def _follow_events(self) -> None:
        async with self._rt.bus.subscribe(VERSION) as events:
            while True:
                await events.get()
                while not events.empty():  # one refresh for a burst of events
                    events.get_nowait()
                try:
                    await self._refreshed()
                except Exception as exc:  # the next request retries and reports it
                    log.warning("background availability refresh failed: %s", exc)
                    await asyncio.sleep(1.0)

    async def close(self) -> None:
        for task in (self._first, self._follower, self._refresh):
            if task is not None and not task.done():
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task

    # -- reading --------------------------------------------------------------------------------

    async def _run(self) -> None:
        started = time.perf_counter()
        engine = self._rt.db.read_engine
        async with engine.connect() as conn:
            if self._rt.db.is_postgresql:
                # Every statement of the refresh sees the same committed state.
                conn = await conn.execution_options(isolation_level="REPEATABLE READ")
            async with conn.begin():
                current = self.snapshot
                if current is None:
                    version, districts = await self._version_and_districts(conn)
                    self.snapshot = await self._build(conn, version, districts)
                    self.full_builds += 1
                else:
                    # The version and what changed since the snapshot's, in one round trip.
                    head = (
                        await conn.execute(
                            select(
                                DataVersion.value,
                                AvailabilityChange.version,
                                AvailabilityChange.facility_id,
                            )
                            .select_from(DataVersion)
                            .outerjoin(
                                AvailabilityChange,
                                and_(
                                    AvailabilityChange.version > current.version,
                                    AvailabilityChange.version <= DataVersion.value,
                                ),
                            )
                            .where(DataVersion.name == VERSION)
                        )
                    ).all()
                    version = int(head[0][0]) if head else 0
                    if version == current.version:
                        return
                    changes = [(v, f) for _, v, f in head if v is not None]
                    if await self._apply_changes(conn, current, version, changes):
                        self.in_place += 1
                    else:
                        districts = (await self._version_and_districts(conn))[1]
                        self.snapshot = await self._build(conn, version, districts)
                        self.full_builds += 1
        self.last_refresh_ms = (time.perf_counter() - started) * 1000
        if self._rt.settings.loop_probe_s > 0:
            log.info(
                "availability refresh to version %s: %.1f ms, longest step %.2f ms "
                "(in place %d, full %d, %d facilities)",
                self.snapshot.version if self.snapshot else None,
                self.last_refresh_ms,
                self.longest_step_ms,
                self.in_place,
                self.full_builds,
                self.snapshot.size if self.snapshot else 0,
            )
            self.longest_step_ms = 0.0

    async def _version_and_districts(self, conn: AsyncConnection) -> tuple[int, list[District]]:
        """The data version and every district, in one round trip (none: version alone)."""
        rows = (
            await conn.execute(
                select(DataVersion.value, *DISTRICT_COLUMNS)
                .select_from(DataVersion)
                .outerjoin(DistrictTable, true())
                .where(DataVersion.name == VERSION)
            )
        ).all()
        version = int(rows[0][0]) if rows else 0
        return version, [District(*r[1:]) for r in rows if r[1] is not None]

    async def _apply_changes(
        self,
        conn: AsyncConnection,
        snapshot: Availability,
        to: int,
        changes: list[tuple[int, int | None]],
    ) -> bool:
        """Bring ``snapshot`` to version ``to`` in place from the change log; False if the log
        cannot say what changed (then the caller builds anew)."""
        since = snapshot.version
        if not 0 < to - since <= KEPT_VERSIONS:
            return False
        ids = {facility_id for _, facility_id in changes}
        if len({v for v, _ in changes}) != to - since or None in ids or len(ids) > IN_PLACE_MAX:
            return False
        facilities = await self._facilities(
            conn,
            select(*FACILITY_COLUMNS).where(Facility.id.in_(ids)),
            select(*POOL_COLUMNS).where(BedPool.facility_id.in_(ids)),
        )
        step = time.perf_counter()
        renamed = False
        for facility_id in ids:
            row = facilities.get(facility_id)  # type: ignore[arg-type]
            if row is None:
                snapshot.remove(facility_id)  # type: ignore[arg-type]
                continue
            index = snapshot.row(row.id)
            before = snapshot.rows[index] if index is not None else None
            if not snapshot.put(row):
                return False  # a district this snapshot does not know: build anew
            renamed |= before is None or before.name != row.name
        if renamed:
            snapshot.rank_names()
        snapshot.version = to
        self._held(step)
        return True

    async def _facilities(
        self, conn: AsyncConnection, facilities: Select, pools: Select
    ) -> dict[int, FacilityRow]:
        by_facility: dict[int, list[tuple]] = {}
        for row in (await conn.execute(pools)).all():
            by_facility.setdefault(row[0], []).append(tuple(row[1:]))
        return {
            row[0]: facility_row(row, by_facility.get(row[0], ()))
            for row in (await conn.execute(facilities)).all()
        }

    async def _build(
        self, conn: AsyncConnection, version: int, districts: list[District]
    ) -> Availability:
        """A new snapshot from every facility and pool, streamed in slices."""
        pools: dict[int, list[tuple]] = {}
        stream = await conn.stream(select(*POOL_COLUMNS))
        async for part in stream.partitions(SLICE_ROWS * 4):
            step = time.perf_counter()
            for row in part:
                pools.setdefault(row[0], []).append(tuple(row[1:]))
            self._held(step)
        rows: list[FacilityRow] = []
        stream = await conn.stream(select(*FACILITY_COLUMNS).order_by(Facility.id))
        async for part in stream.partitions(SLICE_ROWS):
            step = time.perf_counter()
            rows.extend(facility_row(row, pools.pop(row[0], ())) for row in part)
            self._held(step)
        snapshot = Availability(version, districts)
        filling = snapshot.fill(rows, SLICE_ROWS)
        while True:
            step = time.perf_counter()
            done = next(filling, True)
            self._held(step)
            if done:
                return snapshot
            await asyncio.sleep(0)

    def _held(self, since: float) -> None:
        self.longest_step_ms = max(self.longest_step_ms, (time.perf_counter() - since) * 1000)


def keeper(rt: Runtime) -> AvailabilityKeeper:
    found = rt.caches.get("beds.availability")
    if found is None:
        found = rt.caches["beds.availability"] = AvailabilityKeeper(rt)
        rt.on_close(found.close)
    return found
