"""The capacity page: each pool's alarm with the doctors needed, and a day's figures per pool
or hub, in Bengali by default; only admins and viewers, only their district's pools; a bad day
or grouping is a page with the field marked, never an error page."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from seba.telemedicine.consults import stats
from seba.telemedicine.models import Consultation
from tests import factories
from tests.pages import as_user, bn
from tests.telemedicine import factories as tele

PAGE = "/staff/tele/capacity"


async def _queue(rt, client, n: int) -> dict[str, str]:
    """``n`` consults waiting in the Kolkata–Howrah pool, raised over the last few minutes,
    with no doctor online: the pool is short of doctors."""
    codes = await factories.network(rt)
    cho = await factories.cho(rt, codes["kolkata_spoke"])
    headers = {"Authorization": f"Bearer {await factories.token(client, cho.username)}"}
    patient = await tele.patient(client, headers)
    for _ in range(n):
        r = await client.post(
            "/api/v1/consultations", json=tele.consult_body(patient), headers=headers
        )
        assert r.status_code == 201, r.text
    async with rt.db.write_session() as s, s.begin():
        for consult in await s.scalars(select(Consultation)):
            consult.queued_at -= timedelta(minutes=7)
            consult.created_at -= timedelta(minutes=7)
    client.headers.pop("Authorization", None)
    return codes


async def _raised_on(rt) -> str:
    """The Kolkata day the consults were raised on (the shift above may cross midnight IST)."""
    async with rt.db.read() as s:
        created = await s.scalar(select(Consultation.created_at).limit(1))
    return created.astimezone(stats.KOLKATA).date().isoformat()


async def test_the_alarm_names_the_short_pool_and_the_doctors_needed(rt, client):
    await _queue(rt, client, 12)  # 12 in 15 min × 4 min = 3.2 erlangs: 5 doctors needed
    admin = await factories.user(rt, "state_admin")
    await as_user(client, admin.username)
    page = await client.get(PAGE)
    assert page.status_code == 200, page.text
    html = page.text
    assert bn("Teleconsultation capacity") in html
    assert bn("{n} pool(s) short of doctors now.", n=1) in html
    assert "কলকাতা–হাওড়া" in html  # the pool by its Bengali name
    live = {p.pool: p for p in await stats.live_capacity(rt, actor=_principal(admin))}
    short = live["kolkata-howrah"]
    assert short.alarm and short.doctors_online == 0 and short.doctors_needed == 5
    assert bn("Short by {n}", n=5) in html
    assert not live["hills"].alarm
    # The short pool comes first, before pools in order.
    assert html.index("কলকাতা–হাওড়া") < html.index("পাহাড়")
    # That day's figures per pool, then per hub: 12 requests waiting, none completed.
    day = await _raised_on(rt)
    by_pool = await client.get(PAGE, params={"day": day})
    assert by_pool.status_code == 200 and bn("{n} waiting", n=12) in by_pool.text
    by_hub = await client.get(PAGE, params={"day": day, "by": "hub", "lang": "en"})
    assert by_hub.status_code == 200
    assert "Teleconsultation capacity" in by_hub.text and "12 waiting" in by_hub.text


def _principal(user):
    from seba.core.access import Principal

    return Principal(
        user_id=user.id,
        username=user.username,
        role=user.role,
        scope_kind=user.scope_kind,
        scope_code=user.scope_code,
        scope_district=None,
    )


async def test_bad_day_or_grouping_is_marked_on_the_page(rt, client):
    await _queue(rt, client, 1)
    admin = await factories.user(rt, "state_admin")
    await as_user(client, admin.username)
    for params, message in (
        ({"day": "2026-02-30"}, "Give a date like 2026-12-02."),
        ({"day": "tomorrow"}, "Give a date like 2026-12-02."),
        ({"day": (stats.today() + timedelta(days=1)).isoformat()}, "That day has not come yet."),
        ({"by": "doctor"}, "Group by hub or pool."),
    ):
        page = await client.get(PAGE, params=params)
        assert page.status_code == 400, (params, page.status_code)
        assert bn(message) in page.text and 'aria-invalid="true"' in page.text
    # A past day with nothing in it is simply empty; Bengali digits are read too.
    empty = await client.get(PAGE, params={"day": "২০২৫-০১-০১"})
    assert empty.status_code == 200 and bn("No consults on this day.") in empty.text


async def test_only_admins_and_viewers_and_only_their_districts_pools(rt, client):
    codes = await _queue(rt, client, 3)
    cho = await factories.cho(rt, codes["kolkata_spoke"])
    await as_user(client, cho.username)
    assert (await client.get(PAGE)).status_code == 403
    doctor = await factories.doctor(rt, codes["kolkata_hub"])
    await as_user(client, await tele.username(rt, doctor.user_id))
    assert (await client.get(PAGE)).status_code == 403
    # A Darjeeling admin sees the Hills pool, not Kolkata's queue.
    hills = await factories.user(rt, "district_admin", "district:darjeeling")
    await as_user(client, hills.username)
    page = await client.get(PAGE, params={"day": await _raised_on(rt)})
    assert page.status_code == 200
    assert "পাহাড়" in page.text and "কলকাতা–হাওড়া" not in page.text
    assert bn("{n} waiting", n=3) not in page.text
