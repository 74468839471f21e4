"""What the call record says, as pure functions of its segments (no I/O).

The prescription rules read the mode from here, not from the doctor's click (TPG 2020 ties
list A to a *video* consult): video counts only if it reached the doctor's screen for at least
``SEBA_VIDEO_MIN_SECONDS`` in all; otherwise a call that carried voice was an audio consult,
and anything else (chat only, or no call in Seba at all: a phone call, say) is the weakest
mode, text.

Seconds per mode are the union of the intervals in which either party received that mode, so
two parties reporting the same minute count it once. Video for the rules counts the doctor's
side only: it is the doctor who must see the patient.
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
    doctor_video_s: int = 0  # seconds of video the doctor received
    mode: str = "text"  # the mode the prescription rules use

    @property
    def duration_s(self) -> int | None:
        if self.started_at is None or self.ended_at is None:
            return None
        return int((self.ended_at - self.started_at).total_seconds())


def union_seconds(spans: Iterable[tuple[datetime, datetime]]) -> float:
    """Length of the union of the intervals, in seconds."""
    total = 0.0
    end: datetime | None = None
    start: datetime | None = None
    for s, e in sorted(spans):
        if end is None or s > end:
            if end is not None and start is not None:
                total += (end - start).total_seconds()
            start, end = s, e
        elif e > end:
            end = e
    if end is not None and start is not None:
        total += (end - start).total_seconds()
    return total


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
    doctor_video = round(
        union_seconds(
            (s.started_at, s.ended_at) for s in spans if s.mode == "video" and s.party == "doctor"
        )
    )
    return CallRecord(
        started_at=started_at,
        ended_at=ended_at,
        seconds=seconds,
        doctor_video_s=doctor_video,
        mode=mode_on_record(seconds, doctor_video, min_video_s),
    )
