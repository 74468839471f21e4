"""Nearest first: the facilities of a list ordered by distance from a place (``near=``).

Distance is the haversine great-circle distance, but computing it for every facility cost
more than the rest of an answer. The nearer of two points on the sphere is the one whose unit
vector has the larger dot product with the place's, so one matrix product over the matching
facilities picks the candidates (every row within float error of the ``end``-th nearest comes
too), and only they get the haversine and are sorted.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

EARTH_KM = 6371.0088
# How far past the ``end``-th nearest (in dot product of unit vectors) a row is still weighed:
# 1e-12 is a few metres next to the place (less farther away) and far above the product's
# float error (~1e-16), so no row outside the candidates can be nearer than one inside.
NEAREST_SLACK = 1e-12


def unit_vectors(lat_rad: Any, lon_rad: Any) -> np.ndarray:
    """Points on the unit sphere (x, y, z) for latitudes and longitudes in radians."""
    cos_lat = np.cos(lat_rad)
    return np.stack(
        (cos_lat * np.cos(lon_rad), cos_lat * np.sin(lon_rad), np.sin(lat_rad)), axis=-1
    )


def haversine_km(
    lat_rad: np.ndarray, lon_rad: np.ndarray, cos_lat: np.ndarray, near: tuple[float, float]
) -> np.ndarray:
    """Great-circle distance from ``near`` to each point; inf without coordinates (NaN)."""
    lat0, lon0 = math.radians(near[0]), math.radians(near[1])
    h = np.sin((lat_rad - lat0) * 0.5) ** 2 + math.cos(lat0) * cos_lat * (
        np.sin((lon_rad - lon0) * 0.5) ** 2
    )
    distance = (2 * EARTH_KM) * np.arcsin(np.sqrt(np.minimum(h, 1.0)))
    return np.where(np.isnan(distance), np.inf, distance)


def nearest(
    unit: np.ndarray,
    lat_rad: np.ndarray,
    lon_rad: np.ndarray,
    cos_lat: np.ndarray,
    ids: np.ndarray,
    found: np.ndarray,
    near: tuple[float, float],
    offset: int,
    end: int,
) -> tuple[list[int], list[float | None]]:
    """Rows ``offset:end`` of ``found`` nearest first (ties by id), with their distances in km
    to two decimals (None for a row without coordinates: those come last). The arrays hold a
    slot per row (a snapshot's); ``found`` are the rows that match the filter."""
    lat0, lon0 = math.radians(near[0]), math.radians(near[1])
    place = np.array(
        (math.cos(lat0) * math.cos(lon0), math.cos(lat0) * math.sin(lon0), math.sin(lat0))
    )
    closeness = unit[found] @ place
    farness = np.where(np.isnan(closeness), np.inf, -closeness)
    if end < len(found):
        kth = farness[np.argpartition(farness, end - 1)[end - 1]]
        candidates = found[farness <= kth + NEAREST_SLACK]
    else:
        candidates = found
    distance = haversine_km(lat_rad[candidates], lon_rad[candidates], cos_lat[candidates], near)
    order = np.lexsort((ids[candidates], distance))[offset:end]
    shown = np.round(distance[order], 2)
    distances: list[float | None] = shown.tolist()
    if np.isinf(shown[-1:]).any():  # unlocated rows come last
        distances = [None if math.isinf(d) else d for d in distances]  # type: ignore[arg-type]
    return candidates[order].tolist(), distances
