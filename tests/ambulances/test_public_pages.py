"""The public district page: kinds and free counts, base hospitals with their own numbers,
how to ask, in Bengali and English; never a vehicle number or a driver's phone."""

from __future__ import annotations

from seba.core.access import SYSTEM
from seba.data import read_csv
from seba.helpline import queries as helpline_queries
from seba.helpline import service as helpline_service
from tests.ambulances import world as w
from tests.pages import bn


async def test_a_districts_ambulances_in_both_languages(rt, client):
    made = await w.world(rt)
    # The state's numbers (PostgreSQL tests start from empty tables), as every worker keeps them.
    await helpline_service.load_numbers(rt, actor=SYSTEM, rows=read_csv("helplines.csv"))
    await helpline_queries.refresh_footer(rt)
    await w.ambulance(rt, made["hospital"].code, kind="free_govt", status="off_duty")
    page = await client.get("/ambulances/kolkata")
    assert page.status_code == 200
    assert bn("Ambulances in {district}", district="কলকাতা") in page.text
    assert bn("Basic life support") in page.text
    assert bn("{free} free now of {total}", free=1, total=1) in page.text
    assert bn("Free government ambulance") in page.text
    assert bn("{free} free now of {total}", free=0, total=1) in page.text
    assert made["hospital"].name_bn in page.text
    # How to ask: the ambulance line and the integrated helpline as buttons, above the footer.
    main = page.text.split('<footer class="foot">')[0]
    assert 'class="button call" href="tel:03340902929"' in main
    assert 'class="button call" href="tel:1800313444222"' in main
    assert made["ambulance"]["registration"] not in page.text
    assert made["ambulance"]["driver_phone"][-5:] not in page.text
    english = await client.get("/ambulances/kolkata?lang=en")
    assert "Ambulances in Kolkata" in english.text and "1 free now of 1" in english.text
    empty = await client.get("/ambulances/howrah?lang=bn")
    assert bn("No ambulance is listed for this district yet.") in empty.text
    assert (await client.get("/ambulances/atlantis")).status_code == 404
    chooser = await client.get("/ambulances")
    assert chooser.status_code == 200 and 'href="/ambulances/kolkata"' in chooser.text
