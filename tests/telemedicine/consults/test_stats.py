"""Statistics per hub/pool and day, and the live capacity alarm (both databases)."""

from __future__ import annotations

from tests import factories
from tests.telemedicine import factories as tele


async def test_daily_stats_count_waits_and_no_shows(rt, client):
    codes, cho_h, doc_h, _, patient = await tele.setup(rt, client)
    admin = await factories.staff(client, rt, "state_admin")
    ids = [
        (
            await client.post(
                "/api/v1/consultations", json=tele.consult_body(patient), headers=cho_h
            )
        ).json()["id"]
        for _ in range(3)
    ]
    # The first waited 100 s before a doctor came online and took it.
    await tele.time_passes(rt, 100)
    await client.post("/api/v1/doctors/me/presence", json={"status": "online"}, headers=doc_h)
    assert (
        await client.post(f"/api/v1/consultations/{ids[0]}/accept", headers=doc_h)
    ).status_code == 200
    await client.post(f"/api/v1/consultations/{ids[0]}/complete", headers=doc_h)
    await client.post(f"/api/v1/consultations/{ids[2]}/cancel", json={}, headers=cho_h)

    r = await client.get("/api/v1/telemedicine/stats?by=pool", headers=admin)
    assert r.status_code == 200, r.text
    rows = {row["code"]: row for row in r.json()["rows"]}
    row = rows["kolkata-howrah"]
    assert (row["requests"], row["completed"], row["cancelled"]) == (3, 1, 1)
    assert row["waiting_now"] == 1  # the second: offered to the doctor, not yet taken
    assert 100 <= row["wait_p50_s"] < 130 and row["doctors_served"] == 1
    by_hub = (await client.get("/api/v1/telemedicine/stats?by=hub", headers=admin)).json()
    assert [x["code"] for x in by_hub["rows"]] == [codes["kolkata_hub"]]


async def test_stats_input_and_roles(rt, client):
    await factories.network(rt)
    admin = await factories.staff(client, rt, "state_admin")
    r = await client.get("/api/v1/telemedicine/stats?by=spoke", headers=admin)
    assert r.status_code == 422
    r = await client.get("/api/v1/telemedicine/stats?day=2026-13-01", headers=admin)
    assert r.status_code == 422
    control = await factories.staff(client, rt, "control_room")
    assert (await client.get("/api/v1/telemedicine/capacity", headers=control)).status_code == 403


async def test_capacity_alarm_when_load_reaches_doctors_online(rt, client):
    _, cho_h, doc_h, _, patient = await tele.setup(rt, client)
    viewer = await factories.staff(client, rt, "viewer")
    await client.post("/api/v1/doctors/me/presence", json={"status": "online"}, headers=doc_h)
    # 5 requests in 15 minutes at 4 minutes each is 1.33 Erlangs on one doctor online.
    for _ in range(5):
        await client.post("/api/v1/consultations", json=tele.consult_body(patient), headers=cho_h)
    pools = {
        p["pool"]: p
        for p in (await client.get("/api/v1/telemedicine/capacity", headers=viewer)).json()["pools"]
    }
    kol = pools["kolkata-howrah"]
    assert kol["doctors_online"] == 1 and abs(kol["load_erlangs"] - 5 * 240 / 900) < 1e-9
    assert kol["alarm"] is True and kol["doctors_needed"] == 3
    assert kol["waiting"] == 5
    hills = pools["hills"]
    assert hills["alarm"] is False and hills["doctors_online"] == 0
