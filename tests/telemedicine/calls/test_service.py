"""The call record on both databases: what the signaling layer reports is stored, merged and
summed; the prescription rules take the mode from it (TPG list A needs video that really
flowed for SEBA_VIDEO_MIN_SECONDS); the chat is kept with the consult for its two parties."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from seba.accounts import service as account_service
from seba.core.audit import AuditEntry
from seba.core.errors import ValidationFailed
from seba.core.types import utcnow
from seba.telemedicine.calls import service
from seba.telemedicine.calls.models import CallSegment, ConsultCall
from seba.telemedicine.models import Prescription
from tests.telemedicine import factories as tele

ENALAPRIL = {**tele.PARACETAMOL, "drug": "enalapril", "strength": "5 mg"}


async def party(rt, user_id: int, consult_id: int, side: str) -> service.Party:
    actor = await account_service.principal_for_user(rt, user_id)
    assert service.party_of(actor) == side
    return service.Party(actor=actor, consult_id=consult_id, party=side)


async def test_both_parties_joining_at_once_make_one_call(rt, call):
    # The doctor and the CHO open the call at the same moment: one call row, no unique
    # violation for the second (found by the lifecycle benchmark on PostgreSQL).
    doctor = await party(rt, call.doctor_user_id, call.consult_id, "doctor")
    cho = await party(rt, call.cho_user_id, call.consult_id, "cho")
    await asyncio.gather(service.call_joined(rt, who=doctor), service.call_joined(rt, who=cho))
    async with rt.db.read() as session:
        rows = list(await session.scalars(select(ConsultCall)))
        joins = await session.scalar(select(func.count()).where(AuditEntry.action == "call.join"))
    assert len(rows) == 1 and rows[0].ended_at is None
    assert joins == 2
    await asyncio.gather(service.call_left(rt, who=doctor), service.call_left(rt, who=cho))
    async with rt.db.read() as session:
        row = await session.scalar(select(ConsultCall))
    assert row.ended_at is not None


async def test_reports_of_one_mode_extend_one_stretch(rt, call):
    doctor = await party(rt, call.doctor_user_id, call.consult_id, "doctor")
    t0 = utcnow() - timedelta(minutes=5)

    def at(s: float):
        return t0 + timedelta(seconds=s)

    await service.call_joined(rt, who=doctor)
    await service.record_flow(rt, who=doctor, mode="video", started_at=at(0), ended_at=at(15))
    # The same stretch again (a flush while it ran), then its continuation.
    await service.record_flow(rt, who=doctor, mode="video", started_at=at(0), ended_at=at(30))
    await service.record_flow(rt, who=doctor, mode="video", started_at=at(30), ended_at=at(45))
    # Far later: a stretch of its own.
    await service.record_flow(rt, who=doctor, mode="video", started_at=at(100), ended_at=at(110))
    await service.record_flow(rt, who=doctor, mode="audio", started_at=at(0), ended_at=at(110))
    async with rt.db.read() as session:
        rows = (
            await session.execute(
                select(CallSegment.mode, CallSegment.started_at, CallSegment.ended_at)
                .where(CallSegment.consultation_id == call.consult_id)
                .order_by(CallSegment.mode, CallSegment.started_at)
            )
        ).all()
        audited = await session.scalar(
            select(func.count()).where(AuditEntry.action == "call.media")
        )
    assert [(m, (s - t0).total_seconds(), (e - t0).total_seconds()) for m, s, e in rows] == [
        ("audio", 0, 110),
        ("video", 0, 45),
        ("video", 100, 110),
    ]
    assert audited == 3  # one per new stretch, none per extension
    await service.call_left(rt, who=doctor)
    found = await service.call_record(rt, actor=doctor.actor, consult_id=call.consult_id)
    assert found.seconds == {"video": 55, "audio": 110, "text": 0}
    # The CHO's page vouched for none of the doctor's video (record.py): none counts.
    assert found.doctor_video_s == 0 and found.mode == "audio"
    assert found.started_at is not None and found.ended_at is not None


@pytest.mark.parametrize(
    ("mode", "started", "ended"),
    [("smell", 0, 10), ("video", 10, 0), ("video", 0, 3600)],  # unknown, backwards, future
)
async def test_a_bad_report_changes_nothing(rt, call, mode, started, ended):
    doctor = await party(rt, call.doctor_user_id, call.consult_id, "doctor")
    t0 = utcnow() - timedelta(seconds=60)
    with pytest.raises(ValidationFailed):
        await service.record_flow(
            rt,
            who=doctor,
            mode=mode,
            started_at=t0 + timedelta(seconds=started),
            ended_at=t0 + timedelta(seconds=ended),
        )
    async with rt.db.read() as session:
        assert await session.scalar(select(func.count()).select_from(CallSegment)) == 0


async def _prescribe(client, call, items, mode="video"):
    return await client.post(
        f"/api/v1/consultations/{call.consult_id}/prescription",
        json={"mode": mode, "items": items},
        headers={**call.doc_h, "Accept-Language": "en"},
    )


async def test_list_a_is_refused_when_the_record_has_no_video(rt, client, call):
    # The doctor ticks "video", but the call carried voice only.
    cho = await party(rt, call.cho_user_id, call.consult_id, "cho")
    doctor = await party(rt, call.doctor_user_id, call.consult_id, "doctor")
    t0 = utcnow() - timedelta(minutes=4)
    for who in (cho, doctor):
        await service.record_flow(
            rt, who=who, mode="audio", started_at=t0, ended_at=t0 + timedelta(minutes=3)
        )
    r = await _prescribe(client, call, [tele.PARACETAMOL, ENALAPRIL])
    assert r.status_code == 422, r.text
    error = r.json()["error"]
    assert error["code"] == "prescription_not_allowed"
    assert [i["code"] for i in error["details"]["items"]] == ["list_a_needs_video"]
    assert error["details"]["call"] == {"mode": "audio", "video": 0, "audio": 180, "text": 0}
    async with rt.db.read() as session:
        assert await session.scalar(select(func.count()).select_from(Prescription)) == 0


async def test_video_the_cho_saw_or_too_short_is_not_video(rt, client, call):
    cho = await party(rt, call.cho_user_id, call.consult_id, "cho")
    doctor = await party(rt, call.doctor_user_id, call.consult_id, "doctor")
    t0 = utcnow() - timedelta(minutes=4)
    # The CHO's screen showed the doctor for 3 minutes; the doctor saw the patient for 59 s.
    await service.record_flow(
        rt, who=cho, mode="video", started_at=t0, ended_at=t0 + timedelta(minutes=3)
    )
    await service.record_flow(
        rt, who=doctor, mode="video", started_at=t0, ended_at=t0 + timedelta(seconds=59)
    )
    r = await _prescribe(client, call, [ENALAPRIL])
    assert r.status_code == 422
    assert r.json()["error"]["details"]["items"][0]["code"] == "list_a_needs_video"


async def test_list_a_on_a_call_that_had_video_prints_video(rt, client, call):
    doctor = await party(rt, call.doctor_user_id, call.consult_id, "doctor")
    cho = await party(rt, call.cho_user_id, call.consult_id, "cho")
    t0 = utcnow() - timedelta(minutes=4)
    await service.record_flow(
        rt, who=doctor, mode="video", started_at=t0, ended_at=t0 + timedelta(seconds=60)
    )
    # The doctor's page alone says so: not enough (the CHO's page must agree it sent video).
    r = await _prescribe(client, call, [ENALAPRIL])
    assert r.status_code == 422
    assert r.json()["error"]["details"]["call"]["mode"] == "audio"
    await service.record_flow(
        rt, who=cho, mode="video", started_at=t0, ended_at=t0 + timedelta(seconds=90)
    )
    # Whatever the doctor ticks, the record says video.
    r = await _prescribe(client, call, [ENALAPRIL], mode="text")
    assert r.status_code == 201, r.text
    async with rt.db.read() as session:
        rx = await session.scalar(select(Prescription))
        assert rx.mode == "video"
        audit = await session.scalar(
            select(AuditEntry).where(AuditEntry.action == "prescription.issue")
        )
    assert audit.after["mode"] == "video" and audit.after["mode_claimed"] == "text"


async def test_no_call_at_all_is_text(rt, client, call):
    r = await _prescribe(client, call, [ENALAPRIL])
    assert r.status_code == 422
    assert r.json()["error"]["details"]["call"]["mode"] == "text"
    r = await _prescribe(client, call, [tele.PARACETAMOL])
    assert r.status_code == 201, r.text


async def test_chat_is_kept_for_the_two_parties_only(rt, client, call):
    cho = await party(rt, call.cho_user_id, call.consult_id, "cho")
    line = await service.post_chat(rt, who=cho, body="  রোগীর জ্বর ১০২°F\r\n  ")
    assert line.body == "রোগীর জ্বর ১০২°F"
    for bad in ("", "   ", "x" * 1001, 42, None):
        with pytest.raises(ValidationFailed):
            await service.post_chat(rt, who=cho, body=bad)
    path = f"/api/v1/consultations/{call.consult_id}/call/chat"
    for headers in (call.cho_h, call.doc_h):
        r = await client.get(path, headers=headers)
        assert r.status_code == 200
        assert [(m["party"], m["body"]) for m in r.json()["messages"]] == [
            ("cho", "রোগীর জ্বর ১০২°F")
        ]
    for headers in (call.other_doc_h, call.other_cho_h):
        r = await client.get(path, headers=headers)
        assert r.status_code == 404 and r.json()["error"]["code"] == "unknown_consult"
    # After the consult, the chat is still theirs to read.
    await client.post(f"/api/v1/consultations/{call.consult_id}/complete", headers=call.doc_h)
    r = await client.get(path, headers=call.doc_h)
    assert len(r.json()["messages"]) == 1


async def test_the_record_through_the_api(rt, client, call):
    r = await client.get(f"/api/v1/consultations/{call.consult_id}/call", headers=call.cho_h)
    assert r.status_code == 200
    assert r.json() == {
        "started_at": None,
        "ended_at": None,
        "duration_s": None,
        "seconds": {"video": 0, "audio": 0, "text": 0},
        "doctor_video_s": 0,
        "mode": "text",
    }
    r = await client.get(f"/api/v1/consultations/{call.consult_id}/call", headers=call.other_cho_h)
    assert r.status_code == 404
