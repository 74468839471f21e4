"""Counselling: free slots, booking with a verified phone, never twice (two citizens at once on
both engines), SMS confirmation and a reminder at its time through the outbox, cancelling."""

from __future__ import annotations

import asyncio
import secrets
from datetime import datetime, time, timedelta

from sqlalchemy import select

from seba.core import outbox
from seba.core.db import transactional
from seba.core.i18n import IST
from seba.core.types import utcnow
from seba.helpline.counselling import REMINDER_BEFORE_MIN
from seba.helpline.models import CounsellingBooking, Counsellor
from seba.referrals.models import PhoneSession
from seba.referrals.otp import token_hash
from tests.pages import count


async def counsellor(rt, **fields) -> Counsellor:
    async with transactional(rt.db) as session:
        row = Counsellor(
            name="Mita Roy",
            name_bn="মিতা রায়",
            languages=fields.pop("languages", "bn en"),
            day_start=9 * 60,
            day_end=21 * 60,
            active=True,
            **fields,
        )
        session.add(row)
    return row


async def phone_session(rt, phone: str) -> dict[str, str]:
    token = secrets.token_urlsafe(24)
    async with transactional(rt.db) as session:
        session.add(
            PhoneSession(
                token_hash=token_hash(token), phone=phone, expires_at=utcnow() + timedelta(hours=1)
            )
        )
    return {"X-Phone-Session": token}


def tomorrow() -> str:
    return str(utcnow().astimezone(IST).date() + timedelta(days=1))


async def test_slots_are_half_hours_from_9_to_21_in_kolkata(rt, client):
    c = await counsellor(rt)
    body = (await client.get(f"/api/v1/counselling/slots?day={tomorrow()}&lang=bn")).json()
    starts = [s["starts_at"] for s in body["slots"] if s["counsellor_id"] == c.id]
    assert len(starts) == 24
    first = datetime.fromisoformat(starts[0]).astimezone(IST)
    last = datetime.fromisoformat(starts[-1]).astimezone(IST)
    assert (first.time(), last.time()) == (time(9, 0), time(20, 30))
    assert body["slots"][0]["counsellor"] == "মিতা রায়"
    far = await client.get("/api/v1/counselling/slots?day=2099-01-01")
    assert far.status_code == 422 and far.json()["error"]["code"] == "day_out_of_range"


async def test_booking_needs_a_verified_phone_and_a_real_slot(rt, client):
    c = await counsellor(rt)
    slot = (await client.get(f"/api/v1/counselling/slots?day={tomorrow()}")).json()["slots"][0]
    body = {"counsellor_id": c.id, "starts_at": slot["starts_at"]}
    r = await client.post("/api/v1/counselling/bookings", json=body)
    assert r.status_code == 401 and r.json()["error"]["code"] == "phone_not_verified"
    headers = await phone_session(rt, "+919830012345")
    odd = datetime.fromisoformat(slot["starts_at"]) + timedelta(minutes=10)
    r = await client.post(
        "/api/v1/counselling/bookings",
        json={**body, "starts_at": odd.isoformat()},
        headers=headers,
    )
    assert r.status_code == 422 and r.json()["error"]["code"] == "not_a_slot"
    r = await client.post(
        "/api/v1/counselling/bookings", json={**body, "counsellor_id": 9999}, headers=headers
    )
    assert r.status_code == 404
    r = await client.post("/api/v1/counselling/bookings", json=body, headers=headers)
    assert r.status_code == 201, r.text
    again = await client.post("/api/v1/counselling/bookings", json=body, headers=headers)
    assert again.status_code == 409 and again.json()["error"]["code"] == "slot_taken"
    left = (await client.get(f"/api/v1/counselling/slots?day={tomorrow()}")).json()["slots"]
    assert slot["starts_at"] not in [s["starts_at"] for s in left]


async def test_two_citizens_booking_the_last_slot_at_once_one_wins(rt, client):
    c = await counsellor(rt)
    slot = (await client.get(f"/api/v1/counselling/slots?day={tomorrow()}")).json()["slots"][-1]
    body = {"counsellor_id": c.id, "starts_at": slot["starts_at"]}
    people = [await phone_session(rt, f"+9198300{n:05d}") for n in range(6)]
    results = await asyncio.gather(
        *(client.post("/api/v1/counselling/bookings", json=body, headers=h) for h in people)
    )
    codes = sorted(r.status_code for r in results)
    assert codes.count(201) == 1, codes
    assert set(codes) <= {201, 409, 503}, codes
    assert await count(rt, CounsellingBooking) == 1


async def test_confirmation_now_and_a_reminder_30_minutes_before(rt, client):
    c = await counsellor(rt)
    slot = (await client.get(f"/api/v1/counselling/slots?day={tomorrow()}")).json()["slots"][0]
    headers = await phone_session(rt, "+919830012345")
    body = {"counsellor_id": c.id, "starts_at": slot["starts_at"], "lang": "en"}
    booked = (await client.post("/api/v1/counselling/bookings", json=body, headers=headers)).json()
    starts = datetime.fromisoformat(booked["starts_at"])
    now_due = await outbox.claim_due(rt.db)
    assert [m.topic["kind"] for m in now_due] == ["confirmation"]
    assert "counselling booked" in now_due[0].body
    assert await outbox.mark_sent(rt.db, now_due[0], provider_id="t")
    remind_at = starts - timedelta(minutes=REMINDER_BEFORE_MIN)
    assert await outbox.claim_due(rt.db, now=remind_at - timedelta(seconds=1)) == []
    due = await outbox.claim_due(rt.db, now=remind_at + timedelta(seconds=1))
    assert [m.topic["kind"] for m in due] == ["reminder"]
    # Sent once: marked sent, a later worker (a restart) finds nothing more.
    assert await outbox.mark_sent(rt.db, due[0], provider_id="t")
    assert await outbox.claim_due(rt.db, now=starts + timedelta(hours=1)) == []


async def test_cancelling_frees_the_slot_and_drops_the_reminder(rt, client):
    c = await counsellor(rt)
    slot = (await client.get(f"/api/v1/counselling/slots?day={tomorrow()}")).json()["slots"][0]
    mine = await phone_session(rt, "+919830012345")
    other = await phone_session(rt, "+919830054321")
    body = {"counsellor_id": c.id, "starts_at": slot["starts_at"]}
    booked = (await client.post("/api/v1/counselling/bookings", json=body, headers=mine)).json()
    path = f"/api/v1/counselling/bookings/{booked['id']}/cancel"
    assert (await client.post(path, headers=other)).status_code == 404
    r = await client.post(path, headers=mine)
    assert r.status_code == 200 and r.json()["status"] == "cancelled"
    assert (await client.post(path, headers=mine)).status_code == 409
    async with rt.db.read() as session:
        kinds = [m.topic["kind"] for m in await session.scalars(select(outbox.OutboxMessage))]
    assert kinds == ["confirmation"]
    # The slot is free again and can be booked by someone else.
    r = await client.post("/api/v1/counselling/bookings", json=body, headers=other)
    assert r.status_code == 201


async def test_state_admins_add_counsellors(rt, client):
    from tests import factories

    body = {"name": "Arif Hossain", "name_bn": "আরিফ হোসেন", "languages": ["bn"]}
    assert (await client.post("/api/v1/counsellors", json=body)).status_code == 401
    control = await factories.staff(client, rt, "control_room")
    assert (await client.post("/api/v1/counsellors", json=body, headers=control)).status_code == 403
    admin = await factories.staff(client, rt, "state_admin")
    r = await client.post("/api/v1/counsellors", json=body, headers=admin)
    assert r.status_code == 201 and r.json()["day_start"] == 540
    bad = {**body, "day_start": 600, "day_end": 540}
    assert (await client.post("/api/v1/counsellors", json=bad, headers=admin)).status_code == 422
    english = await client.get(f"/api/v1/counselling/slots?day={tomorrow()}&lang=en")
    assert english.json()["slots"] == []


async def test_a_citizen_books_and_cancels_in_the_browser_with_the_phone_session(rt, client):
    from tests.pages import csrf_of

    await counsellor(rt)
    first = await client.get("/admission/counselling")
    assert first.status_code == 303
    assert first.headers["location"] == "/admission/phone?then=counselling"
    token = (await phone_session(rt, "+919830012345"))["X-Phone-Session"]
    client.cookies.set("seba_phone", token, path="/admission")
    page = await client.get(f"/admission/counselling?day={tomorrow()}")
    assert page.status_code == 200 and "কাউন্সেলিংয়ের সময় বুক করুন" in page.text
    slot = page.text.split('name="slot" value="')[1].split('"')[0]
    done = await client.post(
        "/admission/counselling", data={"csrf": csrf_of(page.text), "slot": slot}
    )
    assert done.status_code == 303, done.text
    booked = await client.get("/admission/counselling?booked=1")
    assert "বুক হয়েছে" in booked.text and "/cancel" in booked.text
    action = booked.text.split('action="/admission/counselling/')[1].split('"')[0]
    r = await client.post(f"/admission/counselling/{action}", data={"csrf": csrf_of(booked.text)})
    assert r.status_code == 303
    assert await count(rt, CounsellingBooking, CounsellingBooking.status == "cancelled") == 1
    bad = await client.post(
        "/admission/counselling", data={"csrf": csrf_of(booked.text), "slot": "x@y"}
    )
    assert bad.status_code == 422


async def _book(client, headers, slot) -> dict:
    body = {"counsellor_id": slot["counsellor_id"], "starts_at": slot["starts_at"]}
    r = await client.post("/api/v1/counselling/bookings", json=body, headers=headers)
    assert r.status_code == 201, r.text
    return r.json()


async def _pending_reminders(rt) -> list[tuple[int, datetime]]:
    async with rt.db.read() as session:
        rows = await session.scalars(
            select(outbox.OutboxMessage).where(outbox.OutboxMessage.status == "pending")
        )
        return [
            (m.topic["counselling_booking_id"], m.next_attempt_at)
            for m in rows
            if m.topic.get("kind") == "reminder"
        ]


async def test_moving_a_booking_in_one_step_frees_the_old_slot_and_moves_the_reminder(rt, client):
    await counsellor(rt)
    slots = (await client.get(f"/api/v1/counselling/slots?day={tomorrow()}")).json()["slots"]
    mine = await phone_session(rt, "+919830012345")
    other = await phone_session(rt, "+919830054321")
    booked = await _book(client, mine, slots[0])
    theirs = await _book(client, other, slots[2])
    path = f"/api/v1/counselling/bookings/{booked['id']}/move"
    to = {"counsellor_id": slots[1]["counsellor_id"], "starts_at": slots[1]["starts_at"]}
    assert (await client.post(path, json=to, headers=other)).status_code == 404
    taken = {"counsellor_id": theirs["counsellor_id"], "starts_at": theirs["starts_at"]}
    r = await client.post(path, json=taken, headers=mine)
    assert r.status_code == 409 and r.json()["error"]["code"] == "slot_taken"
    r = await client.post(path, json=to, headers=mine)
    assert r.status_code == 200, r.text
    assert r.json()["id"] == booked["id"]
    assert datetime.fromisoformat(r.json()["starts_at"]) == datetime.fromisoformat(to["starts_at"])
    free = [
        s["starts_at"]
        for s in (await client.get(f"/api/v1/counselling/slots?day={tomorrow()}")).json()["slots"]
    ]
    assert slots[0]["starts_at"] in free and to["starts_at"] not in free
    # One reminder for the booking, 30 minutes before its new time; an SMS says it moved.
    new_start = datetime.fromisoformat(to["starts_at"])
    reminders = dict(await _pending_reminders(rt))
    assert reminders[booked["id"]] == new_start - timedelta(minutes=REMINDER_BEFORE_MIN)
    assert sorted(b for b, _ in await _pending_reminders(rt)) == sorted(
        [booked["id"], theirs["id"]]
    )
    async with rt.db.read() as session:
        kinds = [m.topic["kind"] for m in await session.scalars(select(outbox.OutboxMessage))]
    assert kinds.count("moved") == 1
    await client.post(f"/api/v1/counselling/bookings/{booked['id']}/cancel", headers=mine)
    gone = await client.post(path, json=to, headers=mine)
    assert gone.status_code == 409 and gone.json()["error"]["code"] == "booking_closed"


async def test_moving_into_a_slot_another_citizen_books_at_once_one_wins(rt, client):
    await counsellor(rt)
    slots = (await client.get(f"/api/v1/counselling/slots?day={tomorrow()}")).json()["slots"]
    for round_ in range(3):
        old, target = slots[2 * round_], slots[2 * round_ + 1]
        mover = await phone_session(rt, f"+91983001{round_:04d}")
        booker = await phone_session(rt, f"+91983002{round_:04d}")
        booked = await _book(client, mover, old)
        to = {"counsellor_id": target["counsellor_id"], "starts_at": target["starts_at"]}
        moved, fresh = await asyncio.gather(
            client.post(
                f"/api/v1/counselling/bookings/{booked['id']}/move", json=to, headers=mover
            ),
            client.post("/api/v1/counselling/bookings", json=to, headers=booker),
        )
        assert sorted([moved.status_code, fresh.status_code]) in ([200, 409], [201, 409]), (
            moved.text,
            fresh.text,
        )
        async with rt.db.read() as session:
            row = await session.get(CounsellingBooking, booked["id"])
            holders = await count(
                rt,
                CounsellingBooking,
                CounsellingBooking.starts_at == datetime.fromisoformat(target["starts_at"]),
                CounsellingBooking.status == "booked",
            )
        assert holders == 1
        assert row.status == "booked"
        # The loser of the move keeps their old slot.
        wanted = target if moved.status_code == 200 else old
        assert row.starts_at == datetime.fromisoformat(wanted["starts_at"])


async def test_crisis_words_when_booking_show_the_emergency_numbers_at_once(rt, client):
    from tests.pages import csrf_of

    await counsellor(rt)
    slots = (await client.get(f"/api/v1/counselling/slots?day={tomorrow()}")).json()["slots"]
    headers = await phone_session(rt, "+919830012345")
    body = {
        "counsellor_id": slots[0]["counsellor_id"],
        "starts_at": slots[0]["starts_at"],
        "note": "আর বাঁচতে ইচ্ছে করে না",
    }
    r = await client.post("/api/v1/counselling/bookings", json=body, headers=headers)
    assert r.status_code == 201 and r.json()["crisis"] is True
    assert "1800-599-0019" in r.json()["emergency_numbers"]
    calm = {**body, "starts_at": slots[1]["starts_at"], "note": "ঘুম হয় না"}
    r = await client.post("/api/v1/counselling/bookings", json=calm, headers=headers)
    assert r.json()["crisis"] is False and r.json()["emergency_numbers"] == []
    # The page: the numbers with the booking, and with a refusal too (the slot was taken).
    token = (await phone_session(rt, "+919830099999"))["X-Phone-Session"]
    client.cookies.set("seba_phone", token, path="/admission")
    page = await client.get(f"/admission/counselling?day={tomorrow()}")
    slot = page.text.split('name="slot" value="')[1].split('"')[0]
    form = {"csrf": csrf_of(page.text), "slot": slot, "note": "I want to end my life"}
    done = await client.post("/admission/counselling", data=form)
    assert done.status_code == 303 and "crisis=1" in done.headers["location"]
    shown = await client.get(done.headers["location"])
    assert 'href="tel:18005990019"' in shown.text and 'href="tel:112"' in shown.text
    again = await client.post("/admission/counselling", data=form)
    assert again.status_code == 409 and 'href="tel:18005990019"' in again.text
    plain = await client.post("/admission/counselling", data={**form, "note": ""})
    assert plain.status_code == 409 and "tel:18005990019" not in plain.text


async def test_a_citizen_moves_a_booking_on_the_page(rt, client):
    from tests.pages import csrf_of

    await counsellor(rt)
    token = (await phone_session(rt, "+919830012345"))["X-Phone-Session"]
    client.cookies.set("seba_phone", token, path="/admission")
    page = await client.get(f"/admission/counselling?day={tomorrow()}")
    first = page.text.split('name="slot" value="')[1].split('"')[0]
    await client.post("/admission/counselling", data={"csrf": csrf_of(page.text), "slot": first})
    async with rt.db.read() as session:
        booking_id = await session.scalar(select(CounsellingBooking.id))
    moving = await client.get(f"/admission/counselling?day={tomorrow()}&move={booking_id}")
    assert f'action="/admission/counselling/{booking_id}/move"' in moving.text
    later = moving.text.split('name="slot" value="')[2].split('"')[0]
    r = await client.post(
        f"/admission/counselling/{booking_id}/move",
        data={"csrf": csrf_of(moving.text), "slot": later},
    )
    assert r.status_code == 303 and r.headers["location"].endswith("moved=1")
    async with rt.db.read() as session:
        row = await session.get(CounsellingBooking, booking_id)
    assert row.starts_at == datetime.fromisoformat(later.split("@")[1])
