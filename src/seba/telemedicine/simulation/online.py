"""Doctor-seconds online, per group and hour of the simulated window: what the simulator
accumulates while it runs and the report turns into time averages."""

from __future__ import annotations

import math
from collections import defaultdict

BUCKET_S = 3600.0


class OnlineSeconds:
    """Doctor-seconds online per group and hour of the window (for time averages)."""

    def __init__(self, window_s: float) -> None:
        self.window_s = window_s
        self.buckets = max(1, math.ceil(window_s / BUCKET_S))
        self.count: dict[str, int] = defaultdict(int)
        self.since: dict[str, float] = {}
        self.seconds: dict[str, list[float]] = defaultdict(lambda: [0.0] * self.buckets)

    def change(self, row: str, hub: str, delta: int, now: float) -> None:
        for group in (f"row:{row}", f"hub:{hub}", "all"):
            self._add(group, now)
            self.count[group] += delta

    def _add(self, group: str, now: float) -> None:
        start = self.since.get(group, now)
        self.since[group] = now
        count = self.count[group]
        if count == 0:
            return
        lo, hi = max(start, 0.0), min(now, self.window_s)
        if hi <= lo:
            return
        seconds = self.seconds[group]
        b = int(lo // BUCKET_S)
        while lo < hi:
            edge = min(hi, (b + 1) * BUCKET_S)
            seconds[b] += count * (edge - lo)
            lo, b = edge, b + 1

    def close(self, now: float) -> None:
        for group in list(self.count):
            self._add(group, now)

    def per_bucket(self, group: str) -> list[float]:
        """Mean doctors online in each hour of the window."""
        seconds = self.seconds.get(group, [0.0] * self.buckets)
        return [s / bucket_length(b, self.window_s) for b, s in enumerate(seconds)]

    def mean(self, group: str) -> float:
        return sum(self.seconds.get(group, [0.0])) / self.window_s


def bucket_length(b: int, window_s: float) -> float:
    return min(BUCKET_S, window_s - b * BUCKET_S)
