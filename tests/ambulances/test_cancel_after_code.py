"""The family's cancel through the pages, phone code included: after the code they are back
on their request's cancel page (``then=ambulance_cancel`` with its ``ref``), and a crafted
``then``/``ref`` never leads anywhere but the family's own pages."""

from __future__ import annotations

import pytest

from seba.ambulances import dispatch
from seba.ambulances.models import Ambulance, AmbulanceRequest
from seba.ambulances.schemas import CitizenRequestIn
from seba.core.access import SYSTEM
from tests.ambulances import world as w
from tests.pages import bn, csrf_of
from tests.referrals.test_citizen_pages import _code_for

PHONE = "+919830077777"


async def test_status_page_cancel_code_and_back_on_the_cancel_page(rt, client):
    made = await w.world(rt)
    req = await dispatch.submit_citizen_request(
        rt,
        phone=PHONE,
        data=CitizenRequestIn(district="kolkata", lat=22.57, lon=88.36, condition="mild"),
    )
    await dispatch.assign(
        rt, actor=SYSTEM, request_id=req["id"], ambulance_id=made["ambulance"]["id"]
    )
    ref = req["reference"]
    link = f"/admission/ambulance/{ref}/cancel"
    status = await client.get(f"/ambulance/{ref}")
    assert link in status.text
    # The cancel page without the code: the phone step, which keeps the reference.
    r = await client.get(link)
    assert r.status_code == 303
    assert r.headers["location"] == f"/admission/phone?then=ambulance_cancel&ref={ref}"
    phone_page = await client.get(r.headers["location"])
    assert phone_page.status_code == 200
    assert bn("Cancel the ambulance") in phone_page.text and f'value="{ref}"' in phone_page.text
    r = await client.post(
        "/admission/phone",
        data={
            "csrf": csrf_of(phone_page.text),
            "phone": PHONE[3:],
            "then": "ambulance_cancel",
            "ref": ref,
        },
    )
    assert r.status_code == 303
    assert r.headers["location"] == f"/admission/code?then=ambulance_cancel&ref={ref}"
    code_page = await client.get(r.headers["location"])
    assert f'name="ref" value="{ref}"' in code_page.text
    r = await client.post(
        "/admission/code",
        data={
            "csrf": csrf_of(code_page.text),
            "code": await _code_for(rt, PHONE),
            "then": "ambulance_cancel",
            "ref": ref,
        },
    )
    # Back on the cancel page of this request, not on the ask form.
    assert r.status_code == 303 and r.headers["location"] == link
    page = await client.get(link)
    assert page.status_code == 200 and bn("Yes, cancel the ambulance") in page.text
    done = await client.post(link, data={"csrf": csrf_of(page.text)})
    assert done.status_code == 303 and done.headers["location"] == f"/ambulance/{ref}"
    async with rt.db.read() as s:
        assert (await s.get(AmbulanceRequest, req["id"])).status == "cancelled"
        assert (await s.get(Ambulance, made["ambulance"]["id"])).status == "free"


@pytest.mark.parametrize(
    ("then", "ref", "lands"),
    [
        # Another site, a path outside the pattern, a bad or foreign reference: never followed.
        ("https://evil.example/", "", "/admission"),
        ("//evil.example", "", "/admission"),
        ("ambulance_cancel", "https://evil.example/", "/admission/ambulance"),
        ("ambulance_cancel", "../../staff", "/admission/ambulance"),
        ("ambulance_cancel", "AM-0000000", "/admission/ambulance"),  # 0 is not in the alphabet
        ("ambulance_cancel", "WB-7K3M9QX", "/admission/ambulance"),  # a bed request's
        ("ambulance_cancel", "AM-7K3M9QX/../../x", "/admission/ambulance"),
        ("ambulance_cancel", "", "/admission/ambulance"),
        ("/admission/ambulance/AM-7K3M9QX/cancel", "", "/admission"),
        # A good reference in lower case is read as the family typed it.
        ("ambulance_cancel", "am-7k3m9qx", "/admission/ambulance/AM-7K3M9QX/cancel"),
    ],
)
async def test_a_crafted_then_or_ref_is_ignored(rt, client, then, ref, lands):
    phone_page = await client.get("/admission/phone", params={"then": then, "ref": ref})
    assert phone_page.status_code == 200
    # (The language link repeats the query, escaped; the form's hidden fields do not.)
    assert 'value="https://evil' not in phone_page.text
    r = await client.post(
        "/admission/phone",
        data={"csrf": csrf_of(phone_page.text), "phone": PHONE[3:], "then": then, "ref": ref},
    )
    assert r.status_code == 303 and "evil" not in r.headers["location"]
    code_page = await client.get(r.headers["location"])
    r = await client.post(
        "/admission/code",
        data={
            "csrf": csrf_of(code_page.text),
            "code": await _code_for(rt, PHONE),
            "then": then,
            "ref": ref,
        },
    )
    assert r.status_code == 303 and r.headers["location"] == lands
