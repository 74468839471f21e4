"""The helpline's numbers: seeded, shown on /contact and in every page's footer, tap to call,
edited by state admins only, validated (toll-free allowed here, unlike a hospital's)."""

from __future__ import annotations

import pytest

from seba.core import phones
from seba.helpline import queries
from tests import factories
from tests.helpline.world import seed

NUMBERS = {
    "1800-313-444-222": "tel:1800313444222",
    "033 2341 2600": "tel:03323412600",
    "033 2357 1075": "tel:03323571075",
    "033 2357 1083": "tel:03323571083",
    "033 2357 3636": "tel:03323573636",
    "033-4090-2929": "tel:03340902929",
    "033-2357-6001": "tel:03323576001",
}


@pytest.mark.parametrize(
    ("typed", "stored"),
    [
        ("1800-313-444-222", "1800-313-444-222"),
        ("১৮০০-৩১৩-৪৪৪-২২২", "1800-313-444-222"),
        ("108", "108"),
        ("033 2357 1075", "033 2357 1075"),
        ("+91 98300 12345", "98300 12345"),
    ],
)
def test_a_helpline_number_may_be_toll_free_or_a_short_code(typed: str, stored: str):
    assert phones.helpline_phone(typed) == stored


@pytest.mark.parametrize("typed", ["2204 1101", "12", "1800", "call us", "", "033 2357 107"])
def test_a_helpline_number_refuses_what_cannot_be_dialled(typed: str):
    with pytest.raises(ValueError):
        phones.helpline_phone(typed)


def test_a_hospital_still_may_not_give_a_toll_free_number():
    with pytest.raises(ValueError):
        phones.hospital_phone("1800-313-444-222")


async def test_every_seeded_number_is_listed_with_a_tel_link(rt, client):
    await seed(rt)
    body = (await client.get("/api/v1/helpline/numbers?lang=en")).json()
    listed = {n["number"]: n["tel"] for n in body["numbers"]}
    assert listed == {**listed, **NUMBERS}
    assert body["numbers"][0]["name"] == "Integrated helpline"
    page = await client.get("/contact")
    assert page.status_code == 200
    for tel in NUMBERS.values():
        assert f'href="{tel}"' in page.text
    assert "সমন্বিত হেল্পলাইন" in page.text and "২৪ ঘণ্টা" in page.text


async def test_the_footer_shows_the_numbers_marked_for_it_and_follows_an_edit(rt, client):
    await seed(rt)
    await queries.refresh_footer(rt)
    page = (await client.get("/answers?lang=en")).text
    footer = page[page.index('<footer class="foot">') :]
    assert 'href="tel:1800313444222"' in footer and 'href="tel:03340902929"' in footer
    assert 'href="/contact"' in footer

    headers = await factories.staff(client, rt, "state_admin")
    numbers = (await client.get("/api/v1/helpline/numbers?lang=en")).json()["numbers"]
    ambulance = next(n for n in numbers if n["code"] == "ambulance")
    body = {
        "name_en": "Ambulance",
        "name_bn": "অ্যাম্বুলেন্স",
        "purpose_en": "Free ambulance",
        "purpose_bn": "বিনামূল্যে অ্যাম্বুলেন্স",
        "hours_en": "24 hours",
        "hours_bn": "২৪ ঘণ্টা",
        "number": "102",
        "in_footer": True,
    }
    r = await client.put(f"/api/v1/helpline/numbers/{ambulance['id']}", json=body, headers=headers)
    assert r.status_code == 200, r.text
    assert r.json()["tel"] == "tel:102"
    footer = (await client.get("/answers")).text.split('<footer class="foot">')[1]
    assert 'href="tel:102"' in footer and "tel:03340902929" not in footer


async def test_only_state_admins_edit_numbers_and_bad_numbers_are_refused(rt, client):
    await seed(rt)
    numbers = (await client.get("/api/v1/helpline/numbers")).json()["numbers"]
    path = f"/api/v1/helpline/numbers/{numbers[0]['id']}"
    body = {
        "name_en": "Helpline",
        "name_bn": "হেল্পলাইন",
        "purpose_en": "Everything",
        "purpose_bn": "সব কিছু",
        "hours_en": "24 hours",
        "hours_bn": "২৪ ঘণ্টা",
        "number": "1800-313-444-222",
    }
    assert (await client.put(path, json=body)).status_code == 401
    control = await factories.staff(client, rt, "control_room")
    r = await client.put(path, json=body, headers=control)
    assert r.status_code == 403 and r.json()["error"]["code"] == "forbidden"
    admin = await factories.staff(client, rt, "state_admin")
    r = await client.put(path, json={**body, "number": "2204 1101"}, headers=admin)
    assert r.status_code == 422 and r.json()["error"]["code"] == "validation_failed"
    r = await client.put("/api/v1/helpline/numbers/999999", json=body, headers=admin)
    assert r.status_code == 404 and r.json()["error"]["code"] == "number_not_found"
