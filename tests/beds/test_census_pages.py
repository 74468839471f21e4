"""The census form of the staff console: fast submit, validation, conflicts, scope, audit."""

from __future__ import annotations

import re

from markupsafe import escape
from sqlalchemy import func, select

from seba.beds import census_pages
from seba.beds import service as bed_service
from seba.beds.models import BedEvent, BedPool
from seba.core.access import SYSTEM
from seba.core.audit import AuditEntry
from seba.core.db import transactional
from seba.core.i18n import gettext
from seba.core.types import utcnow
from tests import factories
from tests.pages import bn, csrf_of, page_csrf, staff_session


async def _setup(rt, client):
    await factories.districts(rt)
    fac = await factories.facility(rt, code="alpha", name="Alpha Hospital")
    await factories.census(rt, fac, [("icu", "male", 10, 4), ("oxygen", "female", 20, 5)])
    user = await staff_session(client, rt, "hospital_staff", "facility:alpha")
    return fac, user


async def _written(rt) -> tuple[int, int, int, list[tuple[int, int, int]]]:
    async with rt.db.read() as s:
        pools = [
            (p.total, p.occupied, p.reserved)
            for p in await s.scalars(select(BedPool).order_by(BedPool.id))
        ]
        return (
            await s.scalar(select(func.count()).select_from(BedEvent)),
            await s.scalar(select(func.count()).select_from(AuditEntry)),
            len(pools),
            pools,
        )


def _form(html: str) -> dict[str, str]:
    """The census form's fields as the browser would send them."""
    fields = dict(re.findall(r'name="([^"]+)"[^>]*?value="([^"]*)"', html))
    fields["csrf"] = csrf_of(html.split('class="census-form"', 1)[1])
    # A browser sends only the button pressed: "Save census", which has no name.
    return {k: v for k, v in fields.items() if k not in ("q", "check")}


async def test_hospital_staff_reach_their_census_in_one_tap(rt, client):
    fac, _ = await _setup(rt, client)
    home = await client.get("/staff")
    url = f"/staff/facilities/{fac.id}/census"
    assert f'href="{url}"' in home.text
    page = await client.get(url)
    assert page.status_code == 200
    assert page.text.count('inputmode="numeric"') >= 4
    assert 'name="version" value="1"' in page.text
    for name in ("total-icu-male", "occupied-icu-male", "total-oxygen-female"):
        assert f'<label for="f-{name}">' in page.text and f'id="f-{name}"' in page.text
    assert bn("ICU") in page.text and bn("Reserved") in page.text


async def test_submit_updates_the_ledger_and_the_audit_log(rt, client):
    fac, user = await _setup(rt, client)
    url = f"/staff/facilities/{fac.id}/census"
    form = _form((await client.get(url)).text)
    form.update({"total-icu-male": "12", "occupied-icu-male": "১১"})  # Bengali digits too
    r = await client.post(url, data=form)
    assert r.status_code == 303 and r.headers["location"] == url + "?saved=1"
    census = await bed_service.get_census(rt, facility_id=fac.id)
    pools = {(p.bed_type, p.sex): (p.total, p.occupied) for p in census.pools}
    assert pools == {("icu", "male"): (12, 11), ("oxygen", "female"): (20, 5)}
    assert census.facility.census_version == 2
    async with rt.db.read() as s:
        events = list(await s.scalars(select(BedEvent).where(BedEvent.actor_id == user.id)))
        entry = await s.scalar(
            select(AuditEntry).where(
                AuditEntry.action == "census.update", AuditEntry.actor_id == user.id
            )
        )
    assert [(e.total_before, e.total_after, e.occupied_after) for e in events] == [(10, 12, 11)]
    assert entry.actor_name == user.username and entry.entity_id == str(fac.id)
    assert entry.before["version"] == 1 and entry.after["version"] == 2
    saved = await client.get(r.headers["location"])
    assert bn("Saved. The public bed page shows the new numbers now.") in saved.text
    assert 'name="version" value="2"' in saved.text


async def test_bad_numbers_are_422_in_bengali_and_write_nothing(rt, client):
    fac, _ = await _setup(rt, client)
    url = f"/staff/facilities/{fac.id}/census"
    form = _form((await client.get(url)).text)
    before = await _written(rt)
    cases = [
        ({"occupied-icu-male": "11"}, "Occupied beds cannot be more than total beds."),
        ({"total-icu-male": "-3"}, "Cannot be less than zero."),
        ({"total-icu-male": "ten"}, "Enter a whole number, like 12."),
        ({"total-icu-male": "1.5"}, "Enter a whole number, like 12."),
        ({"occupied-icu-male": ""}, "Enter a number."),
        ({"total-icu-male": "9" * 5000}, "At most {max} beds."),
        ({"new-bed_type": "icu", "new-sex": "male", "new-total": "1", "new-occupied": "0"}, None),
        ({"new-bed_type": "sofa", "new-total": "1", "new-occupied": "0"}, "Choose a bed type."),
        ({"reason": "x" * 401}, "At most {max} characters."),
        ({"reason": "night\x00shift"}, "Use ordinary text only."),
        ({"version": "old"}, "This form is out of date. Reload the page and try again."),
    ]
    for change, message in cases:
        r = await client.post(url, data={**form, **change})
        assert r.status_code == 422, change
        if message:
            expected = bn(
                message, max=census_pages.MAX_REASON if "characters" in message else 20000
            )
            assert str(escape(expected)) in r.text, change
        # What was typed stays in the form.
        for name, value in change.items():
            if name.startswith(("total", "occupied")) and len(value) < 20:
                assert f'value="{value}"' in r.text, change
    assert await _written(rt) == before
    english = await client.post(url + "?lang=en", data={**form, "occupied-icu-male": "11"})
    assert "Occupied beds cannot be more than total beds." in english.text


async def test_stale_version_shows_the_current_numbers(rt, client):
    fac, _ = await _setup(rt, client)
    url = f"/staff/facilities/{fac.id}/census"
    form = _form((await client.get(url)).text)
    # Someone else saves first.
    await factories.census(rt, fac, [("icu", "male", 10, 9)])
    before = await _written(rt)
    r = await client.post(url, data={**form, "occupied-icu-male": "2"})
    assert r.status_code == 409
    conflict = bn(
        "Someone else updated this census first. Check the current numbers and submit again."
    )
    assert conflict in r.text
    assert 'name="version" value="2"' in r.text
    assert 'id="f-occupied-icu-male"' in r.text
    assert re.search(r'name="occupied-icu-male"[^>]*value="9"', r.text)
    assert gettext("bn", "You typed {value}", value="2") in r.text
    assert await _written(rt) == before
    # Submitting the page as shown now works.
    again = _form(r.text)
    assert (await client.post(url, data=again)).status_code == 303


async def test_reservations_conflict_names_the_pools(rt, client):
    fac, _ = await _setup(rt, client)
    async with transactional(rt.db) as s:
        pool = await s.scalar(select(BedPool).where(BedPool.bed_type == "icu"))
        assert await bed_service._write_pool(
            s,
            pool=pool,
            after=bed_service.PoolCounts(10, 4, 3),
            kind="reserve",
            actor=SYSTEM,
            reason="test",
            at=utcnow(),
        )
    url = f"/staff/facilities/{fac.id}/census"
    form = _form((await client.get(url)).text)
    before = await _written(rt)
    r = await client.post(url, data={**form, "occupied-icu-male": "8"})
    assert r.status_code == 409
    pool_name = f"{bn('ICU')} · {bn('Men')}"
    expected = bn(
        "{pool}: {reserved} beds are reserved for incoming patients, "
        "but your numbers leave {free} free.",
        pool=pool_name,
        reserved=3,
        free=2,
    )
    assert expected in r.text
    assert "census-pool census-short" in r.text
    assert await _written(rt) == before


async def test_staff_of_another_facility_get_403(rt, client):
    await factories.districts(rt)
    alpha = await factories.facility(rt, code="alpha")
    beta = await factories.facility(rt, code="beta")
    await factories.census(rt, beta, [("icu", "male", 10, 4)])
    await staff_session(client, rt, "hospital_staff", "facility:alpha")
    url = f"/staff/facilities/{beta.id}/census"
    r = await client.get(url)
    assert r.status_code == 403 and bn("This facility is outside your scope.") in r.text
    assert "census-form" not in r.text
    csrf = await page_csrf(client, f"/staff/facilities/{alpha.id}/census")
    before = await _written(rt)
    form = {"csrf": csrf, "version": "1", "total-icu-male": "10", "occupied-icu-male": "0"}
    r = await client.post(url, data=form)
    assert r.status_code == 403 and bn("This facility is outside your scope.") in r.text
    assert (await client.post(url, data={**form, "total-icu-male": "x"})).status_code == 403
    assert await _written(rt) == before


async def test_viewer_and_control_room_see_numbers_but_no_form(rt, client):
    fac, _ = await _setup(rt, client)
    url = f"/staff/facilities/{fac.id}/census"
    for role in ("viewer", "control_room"):
        await staff_session(client, rt, role)
        page = await client.get(url)
        assert page.status_code == 200
        assert "census-form" not in page.text and 'inputmode="numeric"' not in page.text
        assert bn("Free now") in page.text
        csrf = await page_csrf(client)
        before = await _written(rt)
        form = {"csrf": csrf, "version": "1", "total-icu-male": "10", "occupied-icu-male": "0"}
        r = await client.post(url, data=form)
        assert r.status_code == 403 and bn("You are not allowed to do this.") in r.text
        assert await _written(rt) == before


async def test_wrong_csrf_is_refused(rt, client):
    fac, _ = await _setup(rt, client)
    url = f"/staff/facilities/{fac.id}/census"
    form = _form((await client.get(url)).text)
    before = await _written(rt)
    for csrf in ("", "f" * 64):
        r = await client.post(url, data={**form, "csrf": csrf, "occupied-icu-male": "5"})
        assert r.status_code == 403
    del form["csrf"]
    assert (await client.post(url, data=form)).status_code == 403
    assert await _written(rt) == before


async def test_a_new_facility_adds_its_first_pool(rt, client):
    await factories.districts(rt)
    fac = await factories.facility(rt, code="alpha")
    await staff_session(client, rt, "hospital_staff", "facility:alpha")
    url = f"/staff/facilities/{fac.id}/census"
    page = await client.get(url)
    assert '<details class="console-help" open>' in page.text
    form = _form(page.text)
    r = await client.post(url, data=form)
    assert r.status_code == 422 and bn("Add at least one kind of bed.") in r.text
    new = {"new-bed_type": "oxygen", "new-sex": "any", "new-total": "30", "new-occupied": "12"}
    r = await client.post(url, data={**form, **new})
    assert r.status_code == 303
    census = await bed_service.get_census(rt, facility_id=fac.id)
    assert [(p.bed_type, p.sex, p.total, p.occupied) for p in census.pools] == [
        ("oxygen", "any", 30, 12)
    ]


async def test_missing_or_bad_facility_is_a_404_page(rt, client):
    await _setup(rt, client)
    for path in ("/staff/facilities/999999/census", "/staff/facilities/abc/census"):
        r = await client.get(path)
        assert r.status_code == 404 and r.headers["content-type"].startswith("text/html")
        assert bn("Not found.") in r.text or bn("No such facility.") in r.text
    client.cookies.clear()
    r = await client.get("/staff/facilities/1/census")
    assert r.status_code == 303
    assert r.headers["location"] == "/staff/login?next=%2Fstaff%2Ffacilities%2F1%2Fcensus"


def _free_now(html: str, pool: str) -> tuple[str, str | None]:
    output = re.search(rf'<output id="free-{pool}"([^>]*)>([^<]*)</output>', html)
    assert output, pool
    return output[2], re.search(r'class="([^"]*)"', output[1]) and output[1]


async def test_free_now_follows_the_typed_numbers_with_and_without_javascript(rt, client):
    """The server works "free now" out from the boxes (the "Work out free beds" button saves
    nothing); ``census.js`` does the same sum while typing, wired by the output's data."""
    fac, _ = await _setup(rt, client)
    url = f"/staff/facilities/{fac.id}/census"
    page = (await client.get(url)).text
    assert _free_now(page, "icu-male")[0] == bn("{n}", n=6)
    assert 'data-total="f-total-icu-male" data-occupied="f-occupied-icu-male"' in page
    assert re.search(r'<script src="/static/census\.[0-9a-f]+\.js" defer>', page)
    before = await _written(rt)
    form = _form(page) | {"total-icu-male": "১৫", "occupied-icu-male": "3", "check": "1"}
    checked = await client.post(url, data=form)
    assert checked.status_code == 200
    assert _free_now(checked.text, "icu-male")[0] == bn("{n}", n=12)
    assert 'value="১৫"' in checked.text  # what was typed stays in the box
    assert await _written(rt) == before  # nothing saved
    # More occupied than the total leaves a shortfall, marked.
    short = await client.post(url, data=form | {"total-icu-male": "4", "occupied-icu-male": "4"})
    free, attrs = _free_now(short.text, "icu-male")
    assert free == bn("{n}", n=0) and "census-short-now" not in (attrs or "")


def test_the_census_script_is_served():
    from seba.web.assets import ASSETS

    assert ASSETS.url("census.js").startswith("/static/census.")
