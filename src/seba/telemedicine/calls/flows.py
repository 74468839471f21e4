"""From a party's media counters to stretches of each mode (pure; the signaling layer feeds it).

Every heartbeat a call page reports the bytes its browser has *received* so far, per kind
(``getStats`` inbound-rtp ``bytesReceived``). Between two heartbeats that arrive close enough
together, a kind whose counter grew flowed for that whole interval, timed by the server's
clock (the browser's clock is not trusted for the record). An interval with no media while the
party is on chat counts as text. Stretches are handed out when they end, and also while they
run (every ``flush_s``), so a worker that dies loses at most that much of the record.

The heartbeat also carries the bytes the browser has *sent* (outbound-rtp ``bytesSent``). For
the CHO (``two_way_video``) video counts only while its browser both received video and sent
its own: the CHO's "video" is then the CHO's word that the patient's picture left for the
doctor, which ``record`` holds the doctor's inbound video against.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

MEDIA = ("video", "audio")
Stretch = tuple[str, datetime, datetime]  # mode, from, to


@dataclass
class FlowTracker:
    # Heartbeats further apart than this are a gap: nothing is counted across it.
    gap_s: float
    flush_s: float = 15.0
    declared: str = "video"  # the mode the party last chose (text: on chat only)
    # Video counts only if the sent video counter grew too (the CHO's side: see the docstring).
    two_way_video: bool = False
    _last_at: datetime | None = None
    _last: dict[str, int] = field(default_factory=dict)
    _open: dict[str, list[datetime]] = field(default_factory=dict)  # mode -> [start, end]
    _flushed_at: datetime | None = None

    def observe(
        self, at: datetime, received: dict[str, int], sent: dict[str, int] | None = None
    ) -> list[Stretch]:
        """Take one heartbeat's counters; returns the stretches to record now."""
        out: list[Stretch] = []
        counters = {k: max(0, int(received.get(k, 0))) for k in MEDIA}
        counters["video_sent"] = max(0, int((sent or {}).get("video", 0)))
        previous, last_at = self._last, self._last_at
        self._last, self._last_at = counters, at
        # A first report, a gap, or counters that went back (a new peer connection after a
        # reload) start afresh: nothing is known about the time between.
        if (
            last_at is None
            or at - last_at > timedelta(seconds=self.gap_s)
            or any(counters[k] < previous.get(k, 0) for k in counters)
        ):
            self._flushed_at = at
            return out + self.close_all()
        flowing = {k for k in MEDIA if counters[k] > previous.get(k, 0)}
        if self.two_way_video and counters["video_sent"] <= previous.get("video_sent", 0):
            flowing.discard("video")
        if not flowing and self.declared == "text":
            flowing = {"text"}
        for mode in [m for m in self._open if m not in flowing]:
            start, end = self._open.pop(mode)
            out.append((mode, start, end))
        for mode in flowing:
            span = self._open.setdefault(mode, [last_at, at])
            span[1] = at
        if self._flushed_at is not None and (at - self._flushed_at).total_seconds() >= self.flush_s:
            self._flushed_at = at
            out.extend((mode, s, e) for mode, (s, e) in self._open.items())
        return out

    def close_all(self) -> list[Stretch]:
        """End every running stretch (the party left, or went silent)."""
        out = [(mode, s, e) for mode, (s, e) in self._open.items() if e > s]
        self._open.clear()
        return out
