"""Public bed availability: what a filter is, and the small rules every view shares.

The views themselves are answered from each worker's in-memory availability
(``beds/snapshot.py``, kept current by ``beds/refresh.py``, served by ``beds/public.py``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta

from seba.beds.models import BED_TYPES, SEXES, BedPool
from seba.core.errors import ValidationFailed

DEFAULT_LIMIT = 50
MAX_LIMIT = 500


@dataclass(frozen=True)
class AvailabilityFilter:
    district: str | None = None
    ownership: str | None = None
    bed_type: str | None = None
    sex: str | None = None
    covid: bool | None = None
    available_only: bool = False
    q: str | None = None
    near: tuple[float, float] | None = None
    limit: int = DEFAULT_LIMIT
    offset: int = 0


def haversine_km(a: tuple[float, float], b: tuple[float, float]) -> float:
    lat1, lon1, lat2, lon2 = map(math.radians, (*a, *b))
    h = (
        math.sin((lat2 - lat1) / 2) ** 2
        + math.cos(lat1) * math.cos(lat2) * math.sin((lon2 - lon1) / 2) ** 2
    )
    return 6371.0088 * 2 * math.asin(math.sqrt(h))


def is_stale(updated_at: datetime | None, now: datetime, stale_after_s: int) -> bool:
    return updated_at is None or now - updated_at > timedelta(seconds=stale_after_s)


def pool_order(pool: BedPool) -> tuple[int, int]:
    """Pools as every view lists them: by bed type, then sex, in the models' order."""
    return BED_TYPES.index(pool.bed_type), SEXES.index(pool.sex)


def parse_near(near: str | None) -> tuple[float, float] | None:
    if near is None or near == "":
        return None
    lat_s, sep, lon_s = near.partition(",")
    try:
        if not sep:
            raise ValueError
        lat, lon = float(lat_s), float(lon_s)
    except ValueError:
        raise ValidationFailed(
            "near must be LAT,LON, e.g. 22.57,88.36.", code="invalid_near", details={"near": near}
        ) from None
    if not (-90 <= lat <= 90 and -180 <= lon <= 180):
        raise ValidationFailed(
            "near is outside the globe.", code="invalid_near", details={"near": near}
        )
    return lat, lon
