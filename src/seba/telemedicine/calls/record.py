"""What the call record says, as pure functions of its segments (no I/O).

The prescription rules read the mode from here, not from the doctor's click (TPG 2020 ties
list A to a *video* consult): video counts only if it reached the doctor's screen for at least
``SEBA_VIDEO_MIN_SECONDS`` in all; otherwise a call that carried voice was an audio consult,
and anything else (chat only, or no call in Seba at all: a phone call, say) is the weakest
mode, text.

Seconds per mode are the union of the intervals in which either party received that mode, so
two parties reporting the same minute count it once.

Video for the rules is the doctor's side, cross-checked: it is the doctor who must see the
patient, but the doctor's counters come from the doctor's own browser, which its user could
alter. So a second of video counts for the rules only where the doctor reported receiving video
*and* the CHO's browser reported, for the same time, that it was sending and receiving video
(``flows.FlowTracker.two_way_video``): both sides agree it flowed. Each side's stretches are
timed by its own heartbeats, so the agreement loses up to a heartbeat at each edge of a
stretch; a doctor who alters the page can no longer claim video the health centre never sent.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime

from seba.telemedicine.calls.models import CALL_MODES


@dataclass(frozen=True)
class Span:
    party: str
    mode: str
    started_at: datetime
    ended_at: datetime


@dataclass(frozen=True)
class CallRecord:
    started_at: datetime | None
    ended_at: datetime | None
    seconds: dict[str, int] = field(default_factory=dict)  # mode -> seconds (union of parties)
    doctor_video_s: int = 0  # seconds of video the doctor received while the CHO sent it
    mode: str = "text"  # the mode the prescription rules use

    @property
    def duration_s(self) -> int | None:
        if self.started_at is None or self.ended_at is None:
            return None
        return int((self.ended_at - self.started_at).total_seconds())


def _merged(spans: Iterable[tuple[datetime, datetime]]) -> list[tuple[datetime, datetime]]:
    """The intervals sorted, overlapping ones joined."""
    out: list[tuple[datetime, datetime]] = []
    for s, e in sorted(spans):
        if out and s <= out[-1][1]:
            out[-1] = (out[-1][0], max(out[-1][1], e))
        else:
            out.append((s, e))
    return out


def union_seconds(spans: Iterable[tuple[datetime, datetime]]) -> float:
    """Length of the union of the intervals, in seconds."""
    return sum((e - s).total_seconds() for s, e in _merged(spans))


def intersect(
    a: Iterable[tuple[datetime, datetime]], b: Iterable[tuple[datetime, datetime]]
) -> list[tuple[datetime, datetime]]:
    """The times in both sets of intervals (each set may overlap itself)."""
    left, right = _merged(a), _merged(b)
    out: list[tuple[datetime, datetime]] = []
    i = j = 0
    while i < len(left) and j < len(right):
        start, end = max(left[i][0], right[j][0]), min(left[i][1], right[j][1])
        if start < end:
            out.append((start, end))
        if left[i][1] < right[j][1]:
            i += 1
        else:
            j += 1
    return out


def mode_on_record(seconds: dict[str, int], doctor_video_s: int, min_video_s: int) -> str:
    if doctor_video_s >= min_video_s and doctor_video_s > 0:
        return "video"
    # Video under the minimum still carried the voice: an audio consult at best.
    if seconds.get("audio", 0) > 0 or seconds.get("video", 0) > 0:
        return "audio"
    return "text"


def summarise(
    spans: Iterable[Span],
    *,
    started_at: datetime | None,
    ended_at: datetime | None,
    min_video_s: int,
) -> CallRecord:
    spans = list(spans)
    seconds = {
        mode: round(union_seconds((s.started_at, s.ended_at) for s in spans if s.mode == mode))
        for mode in CALL_MODES
    }

    def video_of(party: str) -> list[tuple[datetime, datetime]]:
        return [(s.started_at, s.ended_at) for s in spans if s.mode == "video" and s.party == party]

    # Both sides agree (the module docstring): the doctor received, the CHO sent.
    doctor_video = round(union_seconds(intersect(video_of("doctor"), video_of("cho"))))
    return CallRecord(
        started_at=started_at,
        ended_at=ended_at,
        seconds=seconds,
        doctor_video_s=doctor_video,
        mode=mode_on_record(seconds, doctor_video, min_video_s),
    )
