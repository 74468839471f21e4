"""Answers: the public pages and API (Bengali first, no JavaScript needed), and admins' edits
with their history."""

from __future__ import annotations

import asyncio

from seba.helpline.models import AnswerRevision
from tests import factories
from tests.helpline.world import seed
from tests.pages import count


def answer_body(**overrides) -> dict:
    body = {
        "slug": "test-answer",
        "topic": "testing",
        "question_bn": "পরীক্ষার ফল কি বদলায়?",
        "question_en": "Can a test result change?",
        "body_bn": "হ্যাঁ, আবার পরীক্ষা করলে ফল বদলাতে পারে।",
        "body_en": "Yes, a second test can give another result.",
        "aliases": "result change; fol bodlay",
        "source": "ICMR advisory (2021)",
        "reviewed_on": "2026-12-01",
    }
    return {**body, **overrides}


async def test_the_answers_page_searches_without_javascript(rt, client):
    await seed(rt)
    page = await client.get("/answers", params={"q": "অক্সিজেন বেড কোথায় পাবো"})
    assert page.status_code == 200
    assert 'method="get" action="/answers"' in page.text
    assert "অক্সিজেন শয্যা কোথায় পাব?" in page.text  # the best answer, in Bengali
    assert "উত্তর পেলেন না?" in page.text and 'href="/callback"' in page.text
    english = await client.get("/answers", params={"q": "ambulance number", "lang": "en"})
    assert "How do I get an ambulance?" in english.text
    # Without a question: every answer, by topic.
    index = await client.get("/answers?lang=en")
    assert "Warning signs" in index.text and index.text.count('href="/answers/') >= 40


async def test_an_answer_has_its_page_with_source_and_review_date(rt, client):
    await seed(rt)
    found = (await client.get("/api/v1/answers", params={"q": "vaccine free", "lang": "en"})).json()
    first = found["answers"][0]
    assert first["slug"] == "vaccine-free" and first["source"].startswith("MoHFW")
    page = await client.get(f"/answers/{first['id']}")
    assert page.status_code == 200
    assert "কোভিডের টিকা কি বিনামূল্যে?" in page.text and "০১-১২-২০২৬" in page.text
    missing = await client.get("/answers/99999", headers={"Accept": "application/json"})
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "answer_not_found"


async def test_bad_search_input_gets_the_one_error_shape_in_the_users_language(rt, client):
    r = await client.get("/api/v1/answers", params={"q": "x" * 201, "lang": "bn"})
    assert r.status_code == 422 and r.json()["error"]["code"] == "validation_failed"
    r = await client.get("/api/v1/answers", params={"limit": 0})
    assert r.status_code == 422
    assert (await client.get("/api/v1/answers", params={"q": ""})).json()["answers"] == []


async def test_admins_edit_answers_and_every_version_is_kept(rt, client):
    await seed(rt)
    admin = await factories.staff(client, rt, "state_admin")
    created = await client.post("/api/v1/answers", json=answer_body(), headers=admin)
    assert created.status_code == 201, created.text
    answer = created.json()
    again = await client.post("/api/v1/answers", json=answer_body(), headers=admin)
    assert again.status_code == 409 and again.json()["error"]["code"] == "answer_slug_taken"

    edited = await client.put(
        f"/api/v1/answers/{answer['id']}",
        json=answer_body(body_en="Yes: test again after a day.", aliases="bodle jay", version=1),
        headers=admin,
    )
    assert edited.status_code == 200, edited.text
    assert edited.json()["version"] == 2
    # The edit is searchable at once (the index follows the row), the old aliases are gone.
    hits = (await client.get("/api/v1/answers", params={"q": "bodle jay"})).json()["answers"]
    assert hits[0]["id"] == answer["id"]

    stale = await client.put(
        f"/api/v1/answers/{answer['id']}", json=answer_body(version=1), headers=admin
    )
    assert stale.status_code == 409 and stale.json()["error"]["code"] == "version_conflict"
    history = (await client.get(f"/api/v1/answers/{answer['id']}/history", headers=admin)).json()
    assert [r["version"] for r in history["revisions"]] == [2, 1]
    assert history["revisions"][0]["content"]["body_en"] == "Yes: test again after a day."
    assert history["revisions"][1]["content"]["body_en"] == answer_body()["body_en"]


async def test_two_admins_editing_one_version_one_wins(rt, client):
    await seed(rt)
    admin = await factories.staff(client, rt, "state_admin")
    answer = (await client.post("/api/v1/answers", json=answer_body(), headers=admin)).json()
    path = f"/api/v1/answers/{answer['id']}"
    results = await asyncio.gather(
        *(
            client.put(path, json=answer_body(body_en=f"Edit {i}", version=1), headers=admin)
            for i in range(4)
        )
    )
    codes = sorted(r.status_code for r in results)
    assert codes.count(200) == 1 and all(c in (409, 503) for c in codes if c != 200), codes
    assert await count(rt, AnswerRevision, AnswerRevision.answer_id == answer["id"]) == 2


async def test_only_state_admins_edit_answers(rt, client):
    await seed(rt)
    assert (await client.post("/api/v1/answers", json=answer_body())).status_code == 401
    control = await factories.staff(client, rt, "control_room")
    r = await client.post("/api/v1/answers", json=answer_body(), headers=control)
    assert r.status_code == 403
    r = await client.get("/api/v1/answers/1/history", headers=control)
    assert r.status_code == 403
    admin = await factories.staff(client, rt, "state_admin")
    r = await client.put("/api/v1/answers/1", json=answer_body(), headers=admin)
    assert r.status_code == 422 and r.json()["error"]["code"] == "version_required"
    r = await client.post(
        "/api/v1/answers", json=answer_body(topic="astrology", slug="x"), headers=admin
    )
    assert r.status_code == 422
