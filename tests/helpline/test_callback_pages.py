"""The "call me back" page: works without JavaScript, Bengali first, errors beside the field,
the wait before and the place after, emergency numbers at once for crisis words."""

from __future__ import annotations

from seba.helpline.models import CallbackRequest
from tests.pages import bn, count, csrf_of, staff_session


async def test_a_citizen_asks_for_a_call_back_in_the_browser(rt, client):
    page = await client.get("/callback")
    assert page.status_code == 200
    assert "আমাকে ফোন করুন" in page.text and "প্রায় ৫ মিনিট" in page.text
    form = {"csrf": csrf_of(page.text), "phone": "98300 12345", "topic": "beds", "lang": "bn"}
    done = await client.post("/callback", data=form)
    assert done.status_code == 200, done.text
    assert "আমরা আপনাকে ফোন করব।" in done.text and "১৮০০-৫৯৯-০০১৯" not in done.text
    assert await count(rt, CallbackRequest) == 1


async def test_crisis_words_show_the_emergency_numbers_at_once(client):
    page = await client.get("/callback?lang=en")
    form = {
        "csrf": csrf_of(page.text),
        "phone": "98300 12346",
        "topic": "counselling",
        "note": "I want to die",
    }
    done = await client.post("/callback", data=form)
    assert 'href="tel:18005990019"' in done.text and 'href="tel:112"' in done.text
    assert "You are not alone" in done.text


async def test_bad_fields_are_named_in_the_readers_language(rt, client):
    page = await client.get("/callback")
    form = {"csrf": csrf_of(page.text), "phone": "12345", "topic": ""}
    r = await client.post("/callback", data=form)
    assert r.status_code == 422
    assert (
        bn("Enter a 10-digit mobile number, e.g. 98300 12345.") in r.text
        and 'id="topic-error"' in r.text
    )
    assert 'value="12345"' in r.text  # what was typed stays
    assert await count(rt, CallbackRequest) == 0
    # Without the form's CSRF value nothing is taken.
    r = await client.post("/callback", data={"phone": "98300 12345", "topic": "beds"})
    assert r.status_code == 403


async def test_too_many_requests_say_so_with_retry_after(client):
    page = await client.get("/callback?lang=en")
    form = {"csrf": csrf_of(page.text), "phone": "98300 12347", "topic": "beds"}
    for _ in range(3):
        assert (await client.post("/callback", data=form)).status_code == 200
    r = await client.post("/callback", data=form)
    assert r.status_code == 429 and int(r.headers["Retry-After"]) > 0
    assert "Too many callback requests" in r.text


async def test_an_agent_works_the_queue_in_the_browser(rt, client):
    page = await client.get("/callback")
    form = {"csrf": csrf_of(page.text), "phone": "98300 12348", "topic": "ambulance"}
    assert (await client.post("/callback", data=form)).status_code == 200
    client.cookies.clear()
    await staff_session(client, rt, "control_room")
    home = await client.get("/staff/callbacks")
    assert home.status_code == 200 and "পরের ফোনটি নিন" in home.text
    taken = await client.post("/staff/callbacks/next", data={"csrf": csrf_of(home.text)})
    assert taken.status_code == 303
    calling = await client.get("/staff/callbacks")
    assert 'href="tel:+919830012348"' in calling.text and "অ্যাম্বুলেন্স" in calling.text
    action = calling.text.split('action="/staff/callbacks/')[1].split('"')[0]
    done = await client.post(
        f"/staff/callbacks/{action}",
        data={"csrf": csrf_of(calling.text), "outcome": "answered"},
    )
    assert done.status_code == 303
    after = await client.get("/staff/callbacks")
    assert "পরের ফোনটি নিন" in after.text
    assert await count(rt, CallbackRequest, CallbackRequest.status == "answered") == 1
    empty = await client.post("/staff/callbacks/next", data={"csrf": csrf_of(after.text)})
    assert empty.headers["location"].endswith("?empty=1")


async def test_viewers_may_not_work_the_queue(rt, client):
    await staff_session(client, rt, "viewer")
    assert (await client.get("/staff/callbacks")).status_code == 403
