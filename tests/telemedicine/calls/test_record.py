"""The call record as pure functions: seconds per mode, the mode the rules use, and the
heartbeat counters turned into stretches of each mode."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from seba.telemedicine.calls.flows import FlowTracker
from seba.telemedicine.calls.record import (
    Span,
    intersect,
    mode_on_record,
    summarise,
    union_seconds,
)

T0 = datetime(2026, 12, 3, 10, 0, tzinfo=UTC)


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def test_union_counts_overlaps_once():
    assert union_seconds([]) == 0
    assert union_seconds([(at(0), at(10)), (at(5), at(20)), (at(30), at(35))]) == 25
    assert union_seconds([(at(30), at(35)), (at(0), at(10))]) == 15


def test_intersect():
    assert intersect([], [(at(0), at(10))]) == []
    a = [(at(0), at(10)), (at(5), at(20)), (at(30), at(40))]
    b = [(at(8), at(32)), (at(35), at(36)), (at(50), at(60))]
    assert intersect(a, b) == [(at(8), at(20)), (at(30), at(32)), (at(35), at(36))]
    assert intersect(b, a) == intersect(a, b)
    # Touching is not overlapping.
    assert intersect([(at(0), at(5))], [(at(5), at(9))]) == []


def test_the_doctors_video_counts_only_where_the_cho_vouches_for_it():
    claimed = [Span("doctor", "video", at(0), at(120)), Span("doctor", "audio", at(0), at(120))]
    # The doctor's page alone claims two minutes of video; the CHO's browser sent none.
    alone = [*claimed, Span("cho", "audio", at(0), at(120))]
    found = summarise(alone, started_at=at(0), ended_at=at(120), min_video_s=60)
    assert found.seconds["video"] == 120  # what the doctor's browser said, kept as reported
    assert found.doctor_video_s == 0 and found.mode == "audio"
    # The CHO sent (and received) video for 70 of those seconds: 70 count.
    vouched = [*claimed, Span("cho", "video", at(10), at(50)), Span("cho", "video", at(60), at(90))]
    found = summarise(vouched, started_at=at(0), ended_at=at(120), min_video_s=60)
    assert found.doctor_video_s == 70 and found.mode == "video"
    # The CHO's video outside the doctor's does not count either.
    late = [Span("doctor", "video", at(0), at(30)), Span("cho", "video", at(20), at(200))]
    assert summarise(late, started_at=None, ended_at=None, min_video_s=5).doctor_video_s == 10


def test_video_counts_only_the_doctors_side_and_only_past_the_minimum():
    spans = [
        Span("cho", "video", at(0), at(300)),  # the CHO saw (and sent) video for five minutes
        Span("doctor", "video", at(0), at(59)),  # the doctor saw the patient for 59 s
        Span("doctor", "audio", at(0), at(300)),
    ]
    found = summarise(spans, started_at=at(0), ended_at=at(300), min_video_s=60)
    assert found.seconds == {"video": 300, "audio": 300, "text": 0}
    assert found.doctor_video_s == 59
    assert found.mode == "audio"
    assert found.duration_s == 300
    spans.append(Span("doctor", "video", at(100), at(101)))
    assert summarise(spans, started_at=at(0), ended_at=None, min_video_s=60).mode == "video"


def test_mode_on_record():
    assert mode_on_record({}, 0, 60) == "text"
    assert mode_on_record({"text": 100}, 0, 60) == "text"
    assert mode_on_record({"audio": 1}, 0, 60) == "audio"
    assert mode_on_record({"video": 30}, 30, 60) == "audio"
    assert mode_on_record({"video": 60}, 60, 60) == "video"
    # A minimum of zero still needs some video.
    assert mode_on_record({}, 0, 0) == "text"


def test_flows_from_heartbeats():
    tracker = FlowTracker(gap_s=15, flush_s=1000)
    assert tracker.observe(at(0), {"video": 0, "audio": 0}) == []
    assert tracker.observe(at(5), {"video": 100, "audio": 50}) == []
    assert tracker.observe(at(10), {"video": 200, "audio": 90}) == []
    # Video stops (audio only): the video stretch is handed out, audio runs on.
    assert tracker.observe(at(15), {"video": 200, "audio": 130}) == [("video", at(0), at(10))]
    # Nothing flows and the party is on chat: text.
    tracker.declared = "text"
    assert tracker.observe(at(20), {"video": 200, "audio": 130}) == [("audio", at(0), at(15))]
    assert tracker.close_all() == [("text", at(15), at(20))]


def test_a_gap_or_a_reset_counts_nothing_across_it():
    tracker = FlowTracker(gap_s=15, flush_s=1000)
    tracker.observe(at(0), {"video": 0, "audio": 0})
    tracker.observe(at(5), {"video": 100, "audio": 0})
    # 30 s of silence: the running stretch ends where the last report was.
    assert tracker.observe(at(35), {"video": 900, "audio": 0}) == [("video", at(0), at(5))]
    assert tracker.observe(at(40), {"video": 1000, "audio": 0}) == []
    # The page reloaded: counters start again from zero; nothing is counted for that interval.
    assert tracker.observe(at(45), {"video": 10, "audio": 0}) == [("video", at(35), at(40))]
    assert tracker.observe(at(50), {"video": 20, "audio": 0}) == []
    assert tracker.close_all() == [("video", at(45), at(50))]


def test_running_stretches_are_flushed_while_they_run():
    tracker = FlowTracker(gap_s=15, flush_s=10)
    tracker.observe(at(0), {"video": 0, "audio": 0})
    assert tracker.observe(at(5), {"video": 1, "audio": 1}) == []
    flushed = tracker.observe(at(10), {"video": 2, "audio": 2})
    assert sorted(flushed) == [("audio", at(0), at(10)), ("video", at(0), at(10))]
    # Still running: handed out again later with the same start (the service merges).
    assert tracker.observe(at(15), {"video": 3, "audio": 3}) == []


def test_the_chos_video_needs_its_own_video_sent_too():
    tracker = FlowTracker(gap_s=15, flush_s=1000, two_way_video=True)
    tracker.observe(at(0), {"video": 0, "audio": 0}, {"video": 0})
    # Receiving the doctor's video while sending none (no camera, or it was withheld): audio.
    assert tracker.observe(at(5), {"video": 100, "audio": 10}, {"video": 0}) == []
    assert tracker.observe(at(10), {"video": 200, "audio": 20}, {"video": 500}) == []
    assert tracker.observe(at(15), {"video": 300, "audio": 30}, {"video": 900}) == []
    assert sorted(tracker.close_all()) == [("audio", at(0), at(15)), ("video", at(5), at(15))]
    # A sent counter that went back is a new connection too: nothing counted across it.
    tracker.observe(at(20), {"video": 400, "audio": 40}, {"video": 1000})
    ended = tracker.observe(at(25), {"video": 500, "audio": 50}, {"video": 10})
    assert sorted(ended) == [("audio", at(15), at(20)), ("video", at(15), at(20))]
    assert tracker.close_all() == []
    # The doctor's side ignores what it sends: received video is video.
    doctor = FlowTracker(gap_s=15, flush_s=1000)
    doctor.observe(at(0), {"video": 0, "audio": 0})
    doctor.observe(at(5), {"video": 100, "audio": 0}, {"video": 0})
    assert doctor.close_all() == [("video", at(0), at(5))]
