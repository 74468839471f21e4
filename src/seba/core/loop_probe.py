"""An event-loop lag probe: how long callbacks waited beyond their time (``SEBA_LOOP_PROBE_S``).

A task sleeps 1 ms at a time and records how late it woke. Under load the lateness is the
queue of ready requests; a step that holds the loop (a rebuild done in one go) shows up as one
long wait. Every ``period_s`` it logs the window's maximum and 99th percentile, for benchmarks
(``bench/availability.py`` reads the line); off by default.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import time

log = logging.getLogger(__name__)
TICK_S = 0.001


class _Collections:
    """Time spent in the garbage collector (a full collection holds the loop too)."""

    def __init__(self) -> None:
        self.longest_ms = 0.0
        self.full = 0
        self._started = 0.0

    def __call__(self, phase: str, info: dict) -> None:
        if phase == "start":
            self._started = time.perf_counter()
        else:
            self.longest_ms = max(self.longest_ms, (time.perf_counter() - self._started) * 1000)
            self.full += info.get("generation") == 2


async def probe_loop(period_s: float) -> None:
    collections = _Collections()
    gc.callbacks.append(collections)
    try:
        await _probe(period_s, collections)
    finally:
        gc.callbacks.remove(collections)


async def _probe(period_s: float, collections: _Collections) -> None:
    lags: list[float] = []
    window_end = time.perf_counter() + period_s
    while True:
        before = time.perf_counter()
        await asyncio.sleep(TICK_S)
        now = time.perf_counter()
        lags.append((now - before - TICK_S) * 1000)
        if now >= window_end:
            lags.sort()
            log.info(
                "loop lag: max %.2f ms, p99 %.2f ms, over 10 ms %d of %d ticks; "
                "gc: longest %.2f ms, %d full",
                lags[-1],
                lags[int(len(lags) * 0.99)],
                sum(1 for x in lags if x > 10),
                len(lags),
                collections.longest_ms,
                collections.full,
            )
            lags.clear()
            collections.longest_ms, collections.full = 0.0, 0
            window_end = now + period_s
