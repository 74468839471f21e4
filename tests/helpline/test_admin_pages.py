"""The state admin's pages for the helpline's numbers and answers: Bengali first, plain forms
with the staff CSRF, errors by their fields in the reader's language, nothing written on bad
input, the footer following an edit, an answer's history and the stale-edit conflict."""

from __future__ import annotations

import asyncio
import html

import httpx
from sqlalchemy import select

from seba.app import create_app
from seba.core.access import SYSTEM
from seba.helpline import queries
from seba.helpline import service as helpline_service
from seba.helpline.answer_admin_pages import ANSWER_FIELD_MESSAGES, CONFLICT
from seba.helpline.models import Answer, AnswerRevision, HelplineNumber
from seba.helpline.number_admin_pages import NUMBER_FIELD_MESSAGES
from seba.helpline.schemas import AnswerIn
from tests.helpline.world import seed
from tests.pages import bn, count, csrf_of, staff_session

NUMBERS = "/staff/helpline/numbers"
ANSWERS = "/staff/helpline/answers"


async def _row(rt, model, **where):
    async with rt.db.read() as s:
        return await s.scalar(select(model).filter_by(**where))


def _number_form(row: HelplineNumber, csrf: str, **overrides) -> dict:
    form = {
        "csrf": csrf,
        **{
            k: getattr(row, k)
            for k in ("name_bn", "name_en", "purpose_bn", "purpose_en", "hours_bn", "hours_en")
        },
        "number": row.number,
        "position": str(row.position),
        "in_footer": "yes" if row.in_footer else "",
    }
    return {**form, **overrides}


def _answer_form(row: Answer, csrf: str, **overrides) -> dict:
    form = {
        "csrf": csrf,
        "version": str(row.version),
        "topic": row.topic,
        "question_bn": row.question_bn,
        "question_en": row.question_en,
        "body_bn": row.body_bn,
        "body_en": row.body_en,
        "aliases": row.aliases,
        "source": row.source,
        "reviewed_on": row.reviewed_on.isoformat(),
    }
    return {**form, **overrides}


async def test_the_numbers_page_is_bengali_first_and_english_on_request(rt, client):
    await seed(rt)
    await staff_session(client, rt, "state_admin")
    page = await client.get(NUMBERS)
    assert page.status_code == 200
    assert bn("Helpline numbers") in page.text and bn("Add a number") in page.text
    assert "সমন্বিত হেল্পলাইন" in page.text and "1800-313-444-222" in page.text
    english = await client.get(NUMBERS + "?lang=en")
    assert "Add a number" in english.text and "In the footer" in english.text
    # The console's home and menu lead here for a state admin.
    home = await client.get("/staff?lang=en")
    assert f'href="{NUMBERS}"' in home.text and f'href="{ANSWERS}"' in home.text


async def test_a_state_admin_edits_a_number_and_the_footer_shows_it(rt, client):
    await seed(rt)
    await queries.refresh_footer(rt)
    await staff_session(client, rt, "state_admin")
    row = await _row(rt, HelplineNumber, code="ambulance")
    edit = await client.get(f"{NUMBERS}/{row.id}/edit")
    assert edit.status_code == 200 and 'value="033-4090-2929"' in edit.text
    form = _number_form(row, csrf_of(edit.text), number="033-4090-3030", hours_en="Day and night")
    saved = await client.post(f"{NUMBERS}/{row.id}/edit", data=form)
    assert saved.status_code == 303 and saved.headers["location"] == NUMBERS + "?saved=1"
    # This worker's footer follows at once, with no minute's wait.
    page = (await client.get("/answers?lang=en")).text
    footer = page[page.index('<footer class="foot">') :]
    assert 'href="tel:03340903030"' in footer and "tel:03340902929" not in footer
    listed = await client.get(NUMBERS + "?lang=en&saved=1")
    assert "033-4090-3030" in listed.text and "Day and night" in listed.text
    after = await _row(rt, HelplineNumber, id=row.id)
    assert after.number == "033-4090-3030" and after.position == row.position


async def test_a_bad_number_is_refused_by_its_field_and_nothing_is_written(rt, client):
    await seed(rt)
    await staff_session(client, rt, "state_admin")
    row = await _row(rt, HelplineNumber, code="integrated")
    edit = await client.get(f"{NUMBERS}/{row.id}/edit")
    form = _number_form(row, csrf_of(edit.text), number="12", name_en="")
    refused = await client.post(f"{NUMBERS}/{row.id}/edit", data=form)
    assert refused.status_code == 422
    assert html.escape(bn(NUMBER_FIELD_MESSAGES["number"])) in refused.text
    assert html.escape(bn(NUMBER_FIELD_MESSAGES["name_en"])) in refused.text
    assert 'id="f-number-error"' in refused.text and 'value="12"' in refused.text
    english = await client.post(f"{NUMBERS}/{row.id}/edit?lang=en", data=form)
    assert html.escape(NUMBER_FIELD_MESSAGES["number"]) in english.text
    after = await _row(rt, HelplineNumber, id=row.id)
    assert after.number == "1800-313-444-222" and after.name_en == row.name_en
    # A new one with a bad number is not added either.
    before = await count(rt, HelplineNumber)
    new = await client.get(NUMBERS + "/new")
    bad = _number_form(row, csrf_of(new.text), number="call us")
    assert (await client.post(NUMBERS + "/new", data=bad)).status_code == 422
    assert await count(rt, HelplineNumber) == before


async def test_a_state_admin_adds_a_number(rt, client):
    await seed(rt)
    await staff_session(client, rt, "state_admin")
    new = await client.get(NUMBERS + "/new")
    form = {
        "csrf": csrf_of(new.text),
        "name_bn": "কিরণ মানসিক স্বাস্থ্য",
        "name_en": "KIRAN mental health",
        "purpose_bn": "মানসিক স্বাস্থ্যের হেল্পলাইন",
        "purpose_en": "Mental health helpline",
        "hours_bn": "২৪ ঘণ্টা",
        "hours_en": "24 hours",
        "number": "1800-599-0019",
        "position": "",
    }
    assert (await client.post(NUMBERS + "/new", data=form)).status_code == 303
    added = await _row(rt, HelplineNumber, code="kiran-mental-health")
    assert added.number == "1800-599-0019" and not added.in_footer and added.position > 0
    assert 'href="tel:18005990019"' in (await client.get("/contact")).text


async def test_other_roles_may_not_open_or_post_the_admin_pages(rt, client):
    await seed(rt)
    row = await _row(rt, HelplineNumber, code="integrated")
    for role in ("control_room", "viewer"):
        await staff_session(client, rt, role)
        for path in (NUMBERS, f"{NUMBERS}/{row.id}/edit", ANSWERS, ANSWERS + "/new"):
            assert (await client.get(path)).status_code == 403, (role, path)
        home = await client.get("/staff")
        posted = await client.post(
            f"{NUMBERS}/{row.id}/edit", data=_number_form(row, csrf_of(home.text), number="108")
        )
        assert posted.status_code == 403
        assert "/staff/helpline" not in home.text
    assert (await _row(rt, HelplineNumber, id=row.id)).number == "1800-313-444-222"


async def test_a_form_without_the_csrf_value_is_refused(rt, client):
    await seed(rt)
    await staff_session(client, rt, "state_admin")
    row = await _row(rt, HelplineNumber, code="integrated")
    form = _number_form(row, "", number="108")
    del form["csrf"]
    assert (await client.post(f"{NUMBERS}/{row.id}/edit", data=form)).status_code == 403
    assert (await _row(rt, HelplineNumber, id=row.id)).number == "1800-313-444-222"
    answer = await _row(rt, Answer, slug="oxygen-level-low")
    forged = _answer_form(answer, "forged", body_en="Changed by a forged form.")
    assert (await client.post(f"{ANSWERS}/{answer.id}/edit", data=forged)).status_code == 403
    assert (await _row(rt, Answer, id=answer.id)).version == 1


async def test_the_answers_list_searches_and_shows_topics(rt, client):
    await seed(rt)
    await staff_session(client, rt, "state_admin")
    index = await client.get(ANSWERS)
    assert index.status_code == 200 and bn("Add an answer") in index.text
    assert index.text.count(f'href="{ANSWERS}/') >= 40  # every answer, by topic
    oxygen = await _row(rt, Answer, slug="oxygen-level-low")
    found = await client.get(ANSWERS, params={"q": "oxygen koto hole hospital", "lang": "en"})
    assert found.status_code == 200 and 'role="search"' in found.text
    assert f'href="{ANSWERS}/{oxygen.id}/edit"' in found.text
    assert "At what oxygen level should I go to hospital?" in found.text
    assert found.text.count(f'href="{ANSWERS}/') < 25  # the best matches, not every answer


async def test_an_answer_edit_is_a_revision_shown_in_its_history(rt, client):
    await seed(rt)
    admin = await staff_session(client, rt, "state_admin")
    row = await _row(rt, Answer, slug="oxygen-level-low")
    edit = await client.get(f"{ANSWERS}/{row.id}/edit")
    assert edit.status_code == 200 and bn("Saved versions") in edit.text
    form = _answer_form(row, csrf_of(edit.text), body_en="Go at once below 94 per cent.")
    saved = await client.post(f"{ANSWERS}/{row.id}/edit", data=form)
    assert saved.status_code == 303
    assert await count(rt, AnswerRevision, AnswerRevision.answer_id == row.id) == 2
    after = await _row(rt, Answer, id=row.id)
    assert after.version == 2 and after.body_en == "Go at once below 94 per cent."
    assert after.slug == "oxygen-level-low"
    history = await client.get(f"{ANSWERS}/{row.id}/edit?lang=en&saved=1")
    versions = history.text[history.text.index("Saved versions") :]
    assert "Version 2" in versions and admin.username in versions
    assert "Changed: Answer in English." in versions and "Added." in versions
    bengali = await client.get(f"{ANSWERS}/{row.id}/edit?lang=bn")
    assert f"{bn('Changed:')} {bn('Answer in English')}" in bengali.text


async def test_a_bad_answer_is_refused_by_its_fields_and_nothing_is_written(rt, client):
    await seed(rt)
    await staff_session(client, rt, "state_admin")
    row = await _row(rt, Answer, slug="oxygen-level-low")
    edit = await client.get(f"{ANSWERS}/{row.id}/edit")
    form = _answer_form(row, csrf_of(edit.text), body_bn="", reviewed_on="someday")
    refused = await client.post(f"{ANSWERS}/{row.id}/edit", data=form)
    assert refused.status_code == 422
    assert html.escape(bn(ANSWER_FIELD_MESSAGES["body_bn"])) in refused.text
    assert html.escape(bn(ANSWER_FIELD_MESSAGES["reviewed_on"])) in refused.text
    assert (await _row(rt, Answer, id=row.id)).version == 1
    assert await count(rt, AnswerRevision, AnswerRevision.answer_id == row.id) == 1


async def test_a_stale_edit_shows_their_version_and_keeps_yours(rt, client):
    await seed(rt)
    await staff_session(client, rt, "state_admin")
    row = await _row(rt, Answer, slug="oxygen-level-low")
    edit = await client.get(f"{ANSWERS}/{row.id}/edit")  # opened at version 1
    fields = {k: v for k, v in _answer_form(row, "").items() if k != "csrf"}
    theirs = AnswerIn(**{**fields, "slug": row.slug, "body_en": "Their newer answer."})
    await helpline_service.update_answer(rt, actor=SYSTEM, answer_id=row.id, data=theirs)
    mine = _answer_form(row, csrf_of(edit.text), body_en="My older answer.")
    stale = await client.post(f"{ANSWERS}/{row.id}/edit", data=mine)
    assert stale.status_code == 409
    assert bn(CONFLICT) in stale.text
    assert "Their newer answer." in stale.text and "My older answer." in stale.text
    assert 'name="version" value="2"' in stale.text  # saving again starts from theirs
    after = await _row(rt, Answer, id=row.id)
    assert after.version == 2 and after.body_en == "Their newer answer."
    english = await client.post(f"{ANSWERS}/{row.id}/edit?lang=en", data=mine)
    assert "Someone else changed this answer; here is their version." in english.text


async def test_two_admins_saving_one_answer_at_once_one_wins_the_other_sees_the_conflict(
    rt, client, settings
):
    await seed(rt)
    row = await _row(rt, Answer, slug="oxygen-level-low")
    transport = httpx.ASGITransport(app=create_app(settings, runtime=rt))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as other:
        forms = []
        for i, c in enumerate((client, other)):
            await staff_session(c, rt, "state_admin")
            edit = await c.get(f"{ANSWERS}/{row.id}/edit?lang=en")
            forms.append(_answer_form(row, csrf_of(edit.text), body_en=f"Edit number {i}."))
        results = await asyncio.gather(
            client.post(f"{ANSWERS}/{row.id}/edit", data=forms[0]),
            other.post(f"{ANSWERS}/{row.id}/edit", data=forms[1]),
        )
    codes = sorted(r.status_code for r in results)
    assert codes[0] == 303 and codes[1] in (409, 503), codes
    lost = next(r for r in results if r.status_code != 303)
    if lost.status_code == 409:
        assert "Someone else changed this answer" in lost.text
    assert (await _row(rt, Answer, id=row.id)).version == 2
    assert await count(rt, AnswerRevision, AnswerRevision.answer_id == row.id) == 2


async def test_a_state_admin_adds_an_answer_that_the_search_finds(rt, client):
    await seed(rt)
    await staff_session(client, rt, "state_admin")
    new = await client.get(ANSWERS + "/new")
    assert new.status_code == 200
    form = {
        "csrf": csrf_of(new.text),
        "slug": "test-result-change",
        "topic": "testing",
        "question_bn": "পরীক্ষার ফল কি বদলায়?",
        "question_en": "Can a test result change?",
        "body_bn": "হ্যাঁ, আবার পরীক্ষা করলে ফল বদলাতে পারে।",
        "body_en": "Yes, a second test can give another result.",
        "aliases": "fol bodlay",
        "source": "ICMR advisory (2021)",
        "reviewed_on": "2026-12-01",
    }
    assert (await client.post(ANSWERS + "/new", data=form)).status_code == 303
    found = await client.get(ANSWERS, params={"q": "fol bodlay", "lang": "en"})
    assert "Can a test result change?" in found.text
    again = await client.post(ANSWERS + "/new", data=form)
    assert again.status_code == 409 and 'id="f-slug-error"' in again.text
    assert await count(rt, Answer, Answer.slug == "test-result-change") == 1
