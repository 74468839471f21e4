"""The public bed availability of one data version, held in memory by each worker.

Every public read (the list with any filter, sort, page or ``near=``, a facility, the district
totals, the Bengali page) is answered from this one object; ``beds/refresh.py`` keeps it at the
current data version. It holds plain rows (one ``FacilityRow`` per facility, its pools as
tuples) and, for filtering and ordering, numpy arrays with one slot per row: the nearest to a
place are one vectorised pass (``nearest.py``: tens of microseconds for 264 facilities, about
a millisecond for 30,000), so a phone's location costs no query and no cache entry.

Bed type and sex filters count only the matching pools, so free and total beds are kept per
*variant* (bed type or none × sex or none: 28 of them) in ``(28, rows)`` arrays. A change to a
few facilities (a census) is applied in place, row by row; anything larger is a new snapshot
built to the side (``refresh.py``), so a request never sees half of a big change.

A snapshot is used only between two awaits: nothing here awaits, so a request that reads it
sees one state.
"""

from __future__ import annotations

import math
import unicodedata
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import numpy as np

from seba.beds.models import BED_TYPES, SEXES
from seba.beds.nearest import nearest, unit_vectors
from seba.beds.queries import AvailabilityFilter

BED_FILTERS: tuple[str | None, ...] = (None, *BED_TYPES)
SEX_FILTERS: tuple[str | None, ...] = (None, *SEXES)
VARIANTS = tuple((b, s) for b in BED_FILTERS for s in SEX_FILTERS)
VARIANT_INDEX = {v: i for i, v in enumerate(VARIANTS)}
OWNERSHIP_CODES = ("government", "govt_requisitioned_private", "private")
# Serialised facilities kept per snapshot before the memo is emptied (bounds memory whatever
# mix of variants and facilities is asked for).
MAX_MEMO = 60_000

Pool = tuple[str, str, int, int, int]  # bed_type, sex, total, occupied, reserved


def fold(text: str) -> str:
    # Bengali keyboards type ড় ঢ় য় either as one code point or as letter + nukta; NFC makes both
    # the same (letter + nukta, as the shipped data is), so a search finds either spelling.
    return unicodedata.normalize("NFC", text).casefold()


def pool_matches(pool_type: str, pool_sex: str, bed_type: str | None, sex: str | None) -> bool:
    """A pool counts for a filter of its bed type, and for its sex or a mixed ("any") pool:
    a man can take a bed in a mixed pool."""
    if bed_type is not None and pool_type != bed_type:
        return False
    return sex is None or pool_sex == sex or pool_sex == "any"


def pool_sort_key(pool: Pool) -> tuple[int, int]:
    return BED_TYPES.index(pool[0]), SEXES.index(pool[1])


@dataclass(frozen=True, slots=True)
class District:
    code: str
    name: str
    name_bn: str
    lat: float
    lon: float


@dataclass(frozen=True, slots=True)
class FacilityRow:
    id: int
    code: str
    name: str
    name_bn: str
    district: str
    ownership: str
    kind: str
    covid: bool
    address: str
    phones: tuple[str, ...]
    lat: float | None
    lon: float | None
    hfr_id: str | None
    census_version: int
    updated_at: datetime | None
    pools: tuple[Pool, ...]
    address_bn: str = ""
    reception_phone: str | None = None
    emergency_phone: str | None = None

    def public(self, district: District, variant: int, *, stale: bool) -> dict[str, Any]:
        """The facility as the public API shows it, with the pools of one variant."""
        bed_type, sex = VARIANTS[variant]
        beds = [
            {
                "bed_type": p[0],
                "sex": p[1],
                "total": p[2],
                "occupied": p[3],
                "reserved": p[4],
                "available": p[2] - p[3] - p[4],
            }
            for p in self.pools
            if pool_matches(p[0], p[1], bed_type, sex)
        ]
        return {
            "id": self.id,
            "code": self.code,
            "name": self.name,
            "name_bn": self.name_bn,
            "district": self.district,
            "district_name": district.name,
            "district_name_bn": district.name_bn,
            "ownership": self.ownership,
            "kind": self.kind,
            "covid": self.covid,
            "address": self.address,
            "address_bn": self.address_bn,
            "reception_phone": self.reception_phone,
            "emergency_phone": self.emergency_phone,
            "phones": list(self.phones),
            "lat": self.lat,
            "lon": self.lon,
            "hfr_id": self.hfr_id,
            "updated_at": self.updated_at.isoformat() if self.updated_at else None,
            "stale": stale,
            "total": sum(b["total"] for b in beds),
            "available": sum(b["available"] for b in beds),
            "beds": beds,
        }


@dataclass(frozen=True, slots=True)
class Selection:
    """One page of a filtered, ordered list: row indexes, the count before paging, and the
    distance of each row when ``near`` was asked (None for a facility without coordinates).
    ``offset`` is where the page starts: the one asked for, or the last page's start when that
    lies past the end (``page_offset``)."""

    count: int
    rows: list[int]
    distances: list[float | None] | None
    variant: int
    offset: int = 0


def page_offset(offset: int, limit: int, count: int) -> int:
    """``offset``, or the start of the last page when it lies past the end of ``count`` rows.

    A link kept from a longer list, or a typed ``?offset=999999``, shows the last page (and
    says which) rather than "page 50,000 of 14" with nothing on it.
    """
    if offset < count or count == 0:
        return offset if count else 0
    return (count - 1) // limit * limit


# The 18 kinds of pool (bed type × sex) and, for each, the variants it counts in.
POOL_KINDS = tuple((b, s) for b in BED_TYPES for s in SEXES)
KIND_INDEX = {k: i for i, k in enumerate(POOL_KINDS)}
KIND_IN_VARIANT = np.array(
    [[pool_matches(kb, ks, vb, vs) for kb, ks in POOL_KINDS] for vb, vs in VARIANTS],
    dtype=np.bool_,
)
VARIANTS_OF_KIND = tuple(
    tuple(np.flatnonzero(KIND_IN_VARIANT[:, k]).tolist()) for k in range(len(POOL_KINDS))
)


def _sums(pools: Iterable[Pool]) -> tuple[list[bool], list[int], list[int]]:
    """Per variant: has a matching pool, total beds, free beds."""
    has, total, free = [False] * len(VARIANTS), [0] * len(VARIANTS), [0] * len(VARIANTS)
    for bed_type, sex, t, o, r in pools:
        for i in VARIANTS_OF_KIND[KIND_INDEX[(bed_type, sex)]]:
            has[i] = True
            total[i] += t
            free[i] += t - o - r
    has[0] = True  # with no bed filter every facility is listed, pools or not
    return has, total, free


class Availability:
    """The snapshot: rows, per-row arrays, and the data version they are true at."""

    def __init__(self, version: int, districts: list[District], capacity: int = 0) -> None:
        self.version = version
        self.districts = {d.code: d for d in sorted(districts, key=lambda d: d.name)}
        self._district_codes = list(self.districts)
        self._district_index = {c: i for i, c in enumerate(self._district_codes)}
        self.rows: list[FacilityRow | None] = []
        self.row_of: dict[int, int] = {}
        self._folded: list[tuple[str, str, str]] = []
        self._memo: list[dict[Any, Any]] = []
        self._memo_size = 0
        self._grow(max(capacity, 16))
        self.name_rank = np.zeros(0, dtype=np.int64)

    # -- building and changing ----------------------------------------------------------------

    def _grow(self, capacity: int) -> None:
        old = len(getattr(self, "ids", ()))

        def grown(
            array: np.ndarray | None,
            dtype: Any,
            fill: Any,
            variants: bool = False,
            points: bool = False,
        ):
            if points:
                new = np.full((capacity, 3), fill, dtype=dtype)
                if array is not None:
                    new[:old] = array[:old]
                return new
            shape = (len(VARIANTS), capacity) if variants else (capacity,)
            new = np.full(shape, fill, dtype=dtype)
            if array is not None:
                new[..., :old] = array[..., :old]
            return new

        get = self.__dict__.get
        self.ids = grown(get("ids"), np.int64, 0)
        self.listed = grown(get("listed"), np.bool_, False)
        self.district_of = grown(get("district_of"), np.int16, -1)
        self.ownership_of = grown(get("ownership_of"), np.int8, -1)
        self.covid = grown(get("covid"), np.bool_, False)
        self.lat_rad = grown(get("lat_rad"), np.float64, np.nan)
        self.lon_rad = grown(get("lon_rad"), np.float64, np.nan)
        self.cos_lat = grown(get("cos_lat"), np.float64, np.nan)
        # Each facility as a point on the unit sphere: nearness to a place is one dot product
        # (see ``_nearest``); NaN without coordinates.
        self.unit = grown(get("unit"), np.float64, np.nan, points=True)
        self.updated_ts = grown(get("updated_ts"), np.float64, np.nan)
        self.has = grown(get("has"), np.bool_, False, True)
        self.total = grown(get("total"), np.int64, 0, True)
        self.free = grown(get("free"), np.int64, 0, True)

    def fill(self, rows: list[FacilityRow], slice_rows: int) -> Iterator[None]:
        """Load ``rows`` (ascending id) into this new, empty snapshot, yielding between slices
        of ``slice_rows`` so the caller can give the event loop its turn."""
        n = len(rows)
        self._grow(n + 16)
        pool_row: list[int] = []
        pool_kind: list[int] = []
        pool_total: list[int] = []
        pool_free: list[int] = []
        districts = self._district_index
        for start in range(0, n, slice_rows):
            for index in range(start, min(n, start + slice_rows)):
                row = rows[index]
                self.rows.append(row)
                self.row_of[row.id] = index
                self._folded.append((fold(row.name), fold(row.name_bn), fold(row.code)))
                self._memo.append({})
                for bed_type, sex, total, occupied, reserved in row.pools:
                    pool_row.append(index)
                    pool_kind.append(KIND_INDEX[(bed_type, sex)])
                    pool_total.append(total)
                    pool_free.append(total - occupied - reserved)
            yield
        self.ids[:n] = [r.id for r in rows]
        self.district_of[:n] = [districts.get(r.district, -1) for r in rows]
        self.ownership_of[:n] = [
            OWNERSHIP_CODES.index(r.ownership) if r.ownership in OWNERSHIP_CODES else -1
            for r in rows
        ]
        self.covid[:n] = [r.covid for r in rows]
        yield
        lat = np.array([np.nan if r.lat is None or r.lon is None else r.lat for r in rows])
        lon = np.array([np.nan if r.lat is None or r.lon is None else r.lon for r in rows])
        self.lat_rad[:n], self.lon_rad[:n] = np.radians(lat), np.radians(lon)
        self.cos_lat[:n] = np.cos(self.lat_rad[:n])
        self.unit[:n] = unit_vectors(self.lat_rad[:n], self.lon_rad[:n])
        self.updated_ts[:n] = [r.updated_at.timestamp() if r.updated_at else np.nan for r in rows]
        self.listed[:n] = True
        yield
        rows_of_pool = np.array(pool_row, dtype=np.int64)
        kinds = np.array(pool_kind, dtype=np.int64)
        totals = np.array(pool_total, dtype=np.float64)
        frees = np.array(pool_free, dtype=np.float64)
        for variant in range(len(VARIANTS)):
            match = KIND_IN_VARIANT[variant][kinds]
            where = rows_of_pool[match]
            self.has[variant, :n] = np.bincount(where, minlength=n) > 0
            self.total[variant, :n] = np.bincount(where, weights=totals[match], minlength=n)
            self.free[variant, :n] = np.bincount(where, weights=frees[match], minlength=n)
            yield
        self.has[0, :n] = True
        self.rank_names()

    def put(self, row: FacilityRow) -> bool:
        """Add or replace one facility; False if its district is unknown here (rebuild)."""
        district = self._district_index.get(row.district)
        if district is None:
            return False
        index = self.row_of.get(row.id)
        if index is None:
            index = len(self.rows)
            if index >= len(self.ids):
                self._grow(2 * len(self.ids))
            self.rows.append(row)
            self._folded.append((fold(row.name), fold(row.name_bn), fold(row.code)))
            self._memo.append({})
            self.row_of[row.id] = index
        else:
            self.rows[index] = row
            self._folded[index] = (fold(row.name), fold(row.name_bn), fold(row.code))
            self._memo[index] = {}
        self.ids[index] = row.id
        self.listed[index] = True
        self.district_of[index] = district
        self.ownership_of[index] = (
            OWNERSHIP_CODES.index(row.ownership) if row.ownership in OWNERSHIP_CODES else -1
        )
        self.covid[index] = row.covid
        located = row.lat is not None and row.lon is not None
        self.lat_rad[index] = math.radians(row.lat) if located else np.nan  # type: ignore[arg-type]
        self.lon_rad[index] = math.radians(row.lon) if located else np.nan  # type: ignore[arg-type]
        self.cos_lat[index] = math.cos(self.lat_rad[index]) if located else np.nan
        self.unit[index] = unit_vectors(self.lat_rad[index], self.lon_rad[index])
        self.updated_ts[index] = row.updated_at.timestamp() if row.updated_at else np.nan
        has, total, free = _sums(row.pools)
        self.has[:, index] = has
        self.total[:, index] = total
        self.free[:, index] = free
        return True

    def remove(self, facility_id: int) -> None:
        index = self.row_of.pop(facility_id, None)
        if index is not None:
            self.rows[index] = None
            self.listed[index] = False
            self.has[:, index] = False
            self._memo[index] = {}

    def rank_names(self) -> None:
        """Order for "most free beds first, then name": the rank of each row by (name, id)."""
        n = len(self.rows)
        names = np.array([r.name if r else "" for r in self.rows], dtype=np.str_)
        # Rows are appended in id order at a full build; a stable sort keeps id order on ties
        # only if ids ascend, so sort by id first.
        by_id = np.argsort(self.ids[:n], kind="stable")
        by_name = by_id[np.argsort(names[by_id], kind="stable")]
        self.name_rank = np.empty(n, dtype=np.int64)
        self.name_rank[by_name] = np.arange(n)

    # -- answering ----------------------------------------------------------------------------

    @property
    def size(self) -> int:
        return len(self.rows)

    def row(self, facility_id: int) -> int | None:
        return self.row_of.get(facility_id)

    def is_stale(self, index: int, now_ts: float, stale_after_s: int) -> bool:
        updated = self.updated_ts[index]
        return bool(math.isnan(updated) or now_ts - updated > stale_after_s)

    def staleness(
        self, rows: list[int], now_ts: float, stale_after_s: int
    ) -> tuple[list[bool], float | None]:
        """Whether each row is stale now, and when the first fresh one turns stale (if any)."""
        updated = self.updated_ts[rows]
        with np.errstate(invalid="ignore"):
            stale = np.isnan(updated) | (now_ts - updated > stale_after_s)
        fresh = updated[~stale]
        return stale.tolist(), (float(fresh.min()) + stale_after_s if len(fresh) else None)

    def stale_at(self, rows: Iterable[int], now_ts: float, stale_after_s: int) -> float | None:
        """When the first still-fresh row of these turns stale (epoch seconds), if any."""
        times = [
            float(self.updated_ts[i]) + stale_after_s
            for i in rows
            if not self.is_stale(i, now_ts, stale_after_s)
        ]
        return min(times) if times else None

    def memo(self, index: int) -> dict[Any, Any]:
        """What was built from this row (serialised JSON, page cards), by the builder's key;
        emptied when the row changes, and all at once past ``MAX_MEMO`` entries."""
        return self._memo[index]

    def remember(self, index: int, key: Any, value: Any) -> None:
        self._memo_size += 1
        if self._memo_size > MAX_MEMO:
            self._memo = [{} for _ in self._memo]
            self._memo_size = 0
        self._memo[index][key] = value

    def select(self, f: AvailabilityFilter) -> Selection:
        """Filter, order (nearest first with ``near``, else most free beds first, then name,
        then id) and page, as the public list does."""
        n = len(self.rows)
        variant = VARIANT_INDEX[(f.bed_type, f.sex)]
        mask = self.has[variant, :n].copy()
        if f.district is not None:
            district = self._district_index.get(f.district, -2)
            mask &= self.district_of[:n] == district
        if f.ownership is not None:
            ownership = OWNERSHIP_CODES.index(f.ownership) if f.ownership in OWNERSHIP_CODES else -2
            mask &= self.ownership_of[:n] == ownership
        if f.covid is not None:
            mask &= self.covid[:n] == f.covid
        if f.available_only:
            mask &= self.free[variant, :n] > 0
        found = np.flatnonzero(mask)
        if f.q:
            needle = fold(f.q)
            folded = self._folded
            keep = [any(needle in text for text in folded[i]) for i in found.tolist()]
            found = found[np.array(keep, dtype=np.bool_)] if keep else found
        count = len(found)
        offset = page_offset(f.offset, f.limit, count)
        end = offset + f.limit
        if offset >= count:
            return Selection(count, [], [] if f.near else None, variant, offset)
        if f.near is not None:
            page, shown = self._nearest(found, f.near, offset, end)
            return Selection(count, page, shown, variant, offset)
        order = _first(-self.free[variant, found], self.name_rank[found], end)
        return Selection(count, found[order][offset:end].tolist(), None, variant, offset)

    def _nearest(
        self, found: np.ndarray, near: tuple[float, float], offset: int, end: int
    ) -> tuple[list[int], list[float | None]]:
        located = (self.unit, self.lat_rad, self.lon_rad, self.cos_lat, self.ids)
        return nearest(*located, found, near, offset, end)

    def district_totals(self, now_ts: float, stale_after_s: int) -> list[dict[str, Any]]:
        """Per district (every district, by name): facilities, stale ones, total and free beds,
        and the same per bed type."""
        n = len(self.rows)
        listed = self.listed[:n]
        where = self.district_of[:n][listed]
        size = len(self._district_codes)

        def per_district(values: np.ndarray) -> list[int]:
            counts = np.bincount(where, weights=values[listed], minlength=size)
            return [int(c) for c in counts]

        updated = self.updated_ts[:n]
        with np.errstate(invalid="ignore"):
            stale = np.isnan(updated) | (now_ts - updated > stale_after_s)
        facilities = per_district(np.ones(n))
        stale_count = per_district(stale.astype(np.float64))
        total, free = per_district(self.total[0, :n]), per_district(self.free[0, :n])
        by_type = {
            t: (
                per_district(self.total[VARIANT_INDEX[(t, None)], :n]),
                per_district(self.free[VARIANT_INDEX[(t, None)], :n]),
            )
            for t in BED_TYPES
        }
        return [
            {
                "code": d.code,
                "name": d.name,
                "name_bn": d.name_bn,
                "lat": d.lat,
                "lon": d.lon,
                "facilities": facilities[i],
                "stale_facilities": stale_count[i],
                "total": total[i],
                "available": free[i],
                "by_bed_type": {
                    t: {"total": by_type[t][0][i], "available": by_type[t][1][i]} for t in BED_TYPES
                },
            }
            for i, d in enumerate(self.districts.values())
        ]


def _first(primary: np.ndarray, secondary: np.ndarray, k: int) -> np.ndarray:
    """Positions of the ``k`` smallest (primary, secondary) pairs, in that order.

    ``secondary`` is unique, so the order is total. Past a few hundred items only the ones
    that can be among the first ``k`` are sorted (every item tied with the k-th comes too).
    """
    size = len(primary)
    if k < size // 2 and size > 256:
        threshold = primary[np.argpartition(primary, k - 1)[k - 1]]
        candidates = np.flatnonzero(primary <= threshold)
    else:
        candidates = np.arange(size)
    order = np.lexsort((secondary[candidates], primary[candidates]))
    return candidates[order[:k]]
