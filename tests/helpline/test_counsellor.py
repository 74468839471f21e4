"""The counsellor: a login linked to their counsellor row, their day (Asia/Kolkata), marking
sessions done or missed, private notes only they read (every read audited), on both engines."""

from __future__ import annotations

from datetime import datetime, time, timedelta

import pytest
from sqlalchemy import select

from seba.accounts import service as account_service
from seba.core.access import SYSTEM, Principal
from seba.core.audit import AuditEntry
from seba.core.db import transactional
from seba.core.errors import Conflict, NotFound, PermissionDenied, ValidationFailed
from seba.core.i18n import IST
from seba.core.types import utcnow
from seba.helpline import counsellor_work
from seba.helpline.models import CounsellingBooking, Counsellor
from tests import factories
from tests.pages import as_user, count, csrf_of, login


async def counsellor_of(rt, username: str) -> Counsellor:
    async with rt.db.read() as session:
        user_id = await session.scalar(
            select(account_service.StaffUser.id).where(
                account_service.StaffUser.username == username
            )
        )
        return await session.scalar(select(Counsellor).where(Counsellor.user_id == user_id))


async def booking(rt, counsellor_id: int, starts_at: datetime, **fields) -> int:
    """A booking written directly (the service books only future slots)."""
    async with transactional(rt.db) as session:
        row = CounsellingBooking(
            counsellor_id=counsellor_id,
            starts_at=starts_at,
            phone=fields.pop("phone", "+919830012345"),
            lang="bn",
            status=fields.pop("status", "booked"),
            created_at=utcnow(),
            **fields,
        )
        session.add(row)
    return row.id


def at(days: int, hour: int) -> datetime:
    day = utcnow().astimezone(IST).date() + timedelta(days=days)
    return datetime.combine(day, time(hour), tzinfo=IST)


async def principal(rt, client, username: str) -> Principal:
    return await account_service.principal_for_token(rt, await factories.token(client, username))


async def test_a_counsellor_login_is_linked_and_lands_on_their_day(rt, client):
    user = await factories.user(rt, "counsellor", username="mita")
    row = await counsellor_of(rt, "mita")
    assert row.user_id == user.id and user.role == "counsellor" and user.scope_kind == "state"
    r = await login(client, "mita")
    assert r.status_code == 303 and r.headers["location"] == "/staff/counselling"
    home = await client.get("/staff")
    assert 'href="/staff/counselling"' in home.text
    # One login per counsellor; only through the linking path; only who may grant the role.
    with pytest.raises(Conflict) as caught:
        await counsellor_work.add_login(
            rt, actor=SYSTEM, counsellor_id=row.id, username="mita2", password="x" * 12
        )
    assert caught.value.code == "counsellor_has_login"
    with pytest.raises(NotFound):
        await counsellor_work.add_login(
            rt, actor=SYSTEM, counsellor_id=9999, username="nobody", password="x" * 12
        )
    with pytest.raises(ValidationFailed):
        await account_service.create_user(
            rt, actor=SYSTEM, username="loose", password="x" * 12, role="counsellor"
        )
    await factories.districts(rt)
    district = await factories.user(rt, "district_admin", "district:kolkata")
    district_p = await principal(rt, client, district.username)
    with pytest.raises(PermissionDenied):
        await counsellor_work.add_login(
            rt, actor=district_p, counsellor_id=row.id, username="nope", password="x" * 12
        )


async def test_the_day_in_kolkata_and_marking_done_or_missed(rt, client):
    await factories.user(rt, "counsellor", username="mita")
    await factories.user(rt, "counsellor", username="arif")
    mita_row, arif_row = await counsellor_of(rt, "mita"), await counsellor_of(rt, "arif")
    past = await booking(rt, mita_row.id, at(-1, 10), phone="+919830011111")
    late = await booking(
        rt,
        mita_row.id,
        at(
            -1,
            20,
        ),
        phone="+919830022222",
        crisis=True,
    )
    gone = await booking(rt, mita_row.id, at(-1, 11), status="cancelled", phone="+919830033333")
    future = await booking(rt, mita_row.id, at(1, 10))
    theirs = await booking(rt, arif_row.id, at(-1, 10), phone="+919830044444")
    mita = await principal(rt, client, "mita")
    yesterday = at(-1, 0).date()
    day = await counsellor_work.day(rt, actor=mita, day=yesterday)
    assert [s.id for s in day] == [past, late] and day[1].crisis
    await as_user(client, "mita")
    page = await client.get(f"/staff/counselling?day={yesterday}")
    assert page.status_code == 200 and "আমার কাউন্সেলিংয়ের দিন" in page.text
    assert 'href="tel:+919830011111"' in page.text and "+919830033333" not in page.text
    assert "+919830044444" not in page.text
    r = await client.post(
        f"/staff/counselling/{past}/mark",
        data={"csrf": csrf_of(page.text), "outcome": "done", "day": str(yesterday)},
    )
    assert r.status_code == 303
    assert await counsellor_work.mark(rt, actor=mita, booking_id=late, outcome="missed")
    # A mark may be corrected.
    assert await counsellor_work.mark(rt, actor=mita, booking_id=late, outcome="done")
    statuses = {s.id: s.status for s in await counsellor_work.day(rt, actor=mita, day=yesterday)}
    assert statuses == {past: "done", late: "done"}
    assert await count(rt, AuditEntry, AuditEntry.action == "counselling.done") == 2
    for booking_id, code in ((gone, "session_cancelled"), (future, "session_not_started")):
        with pytest.raises(Conflict) as caught:
            await counsellor_work.mark(rt, actor=mita, booking_id=booking_id, outcome="done")
        assert caught.value.code == code
    refused = await client.post(
        f"/staff/counselling/{future}/mark",
        data={"csrf": csrf_of(page.text), "outcome": "done"},
    )
    assert refused.status_code == 409 and "শুরু হয়নি" in refused.text
    with pytest.raises(ValidationFailed):
        await counsellor_work.mark(rt, actor=mita, booking_id=past, outcome="cancelled")
    # Another counsellor's session: not found; an admin: refused by the table.
    with pytest.raises(NotFound):
        await counsellor_work.mark(rt, actor=mita, booking_id=theirs, outcome="done")
    admin = await factories.user(rt, "state_admin")
    await as_user(client, admin.username)
    assert (await client.get("/staff/counselling")).status_code == 403


async def test_notes_only_their_counsellor_reads_and_every_read_is_audited(rt, client):
    await factories.user(rt, "counsellor", username="mita")
    await factories.user(rt, "counsellor", username="arif")
    session_id = await booking(rt, (await counsellor_of(rt, "mita")).id, at(-1, 10))
    secret = "Sleeps badly since the flood; call again in a week"
    await as_user(client, "mita")
    page = await client.get(f"/staff/counselling/{session_id}/note")
    assert page.status_code == 200 and "শুধু আপনি" in page.text
    r = await client.post(
        f"/staff/counselling/{session_id}/note", data={"csrf": csrf_of(page.text), "note": secret}
    )
    assert r.status_code == 303
    again = await client.get(f"/staff/counselling/{session_id}/note")
    assert secret in again.text and again.headers["cache-control"] == "no-store"
    day = await client.get(f"/staff/counselling?day={at(-1, 0).date()}")
    assert secret not in day.text
    reads = AuditEntry.action == "counselling.note.read"
    assert await count(rt, AuditEntry, reads) == 2
    async with rt.db.read() as s:
        written = await s.scalar(
            select(AuditEntry).where(AuditEntry.action == "counselling.note.write")
        )
    assert secret not in str(written.after)
    too_long = await client.post(
        f"/staff/counselling/{session_id}/note",
        data={"csrf": csrf_of(page.text), "note": "x" * 5000},
    )
    assert too_long.status_code == 422
    # Another counsellor: 404; an admin or a control room: 403. Nothing of the note either way.
    await as_user(client, "arif")
    other = await client.get(f"/staff/counselling/{session_id}/note")
    assert other.status_code == 404 and secret not in other.text
    arif_csrf = csrf_of((await client.get("/staff/counselling")).text)
    overwrite = await client.post(
        f"/staff/counselling/{session_id}/note", data={"csrf": arif_csrf, "note": "mine now"}
    )
    assert overwrite.status_code == 404
    for role in ("state_admin", "control_room"):
        user = await factories.user(rt, role)
        await as_user(client, user.username)
        denied = await client.get(f"/staff/counselling/{session_id}/note")
        assert denied.status_code == 403 and secret not in denied.text
        with pytest.raises(PermissionDenied):
            await counsellor_work.read_note(
                rt, actor=await principal(rt, client, user.username), booking_id=session_id
            )
    mita = await principal(rt, client, "mita")
    assert await counsellor_work.read_note(rt, actor=mita, booking_id=session_id) == secret
    # Refused reads are not reads: only the counsellor's three.
    assert await count(rt, AuditEntry, reads) == 3


async def test_seba_user_add_makes_a_counsellors_login(rt, client, db_url):
    from tests.accounts.test_auth import _seba_user_add

    async with transactional(rt.db) as session:
        row = Counsellor(name="Arif Hossain", name_bn="আরিফ হোসেন", languages="bn")
        session.add(row)
    loose = _seba_user_add(db_url, "cli-arif", "--role", "counsellor")
    assert loose.returncode != 0 and "--counsellor" in loose.stdout + loose.stderr
    ok = _seba_user_add(db_url, "cli-arif", "--role", "counsellor", "--counsellor", str(row.id))
    assert ok.returncode == 0, ok.stderr
    assert (await counsellor_of(rt, "cli-arif")).id == row.id
    again = _seba_user_add(db_url, "cli-arif2", "--role", "counsellor", "--counsellor", str(row.id))
    assert again.returncode != 0 and "counsellor_has_login" in again.stdout + again.stderr
    assert (await login(client, "cli-arif", "cli-password-1")).status_code == 303
