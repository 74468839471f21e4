"""An event-loop lag probe: how long callbacks waited beyond their time (``SEBA_LOOP_PROBE_S``).

A task sleeps 1 ms at a time and records how late it woke. Under load the lateness is the
queue of ready requests; a step that holds the loop (a rebuild done in one go) shows up as one
long wait. Every ``period_s`` it logs the window's maximum and 99th percentile, for benchmarks
(``bench/availability.py`` reads the line); off by default.
"""

from __future__ import annotations

import asyncio
import logging
import time

log = logging.getLogger(__name__)
TICK_S = 0.001


async def probe_loop(period_s: float) -> None:
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
                "loop lag: max %.2f ms, p99 %.2f ms, over 10 ms %d of %d ticks",
                lags[-1],
                lags[int(len(lags) * 0.99)],
                sum(1 for x in lags if x > 10),
                len(lags),
            )
            lags.clear()
            window_end = now + period_s
