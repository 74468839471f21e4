"""The consult contract end to end over HTTP, on SQLite and PostgreSQL: a CHO raises a consult,
a doctor online is offered it, accepts, prescribes, completes; the CHO gets the PDF."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta

from sqlalchemy import select

from seba.core.audit import AuditEntry
from seba.core.types import utcnow
from seba.telemedicine.consults import sweep
from seba.telemedicine.models import Consultation, DoctorPresence
from tests import factories
from tests.telemedicine import factories as tele


async def test_full_lifecycle(rt, client):
    _, cho_h, doc_h, doctor, patient = await tele.setup(rt, client)
    assert (await client.get("/api/v1/doctors/me/offer", headers=doc_h)).status_code == 204

    r = await client.post("/api/v1/consultations", json=tele.consult_body(patient), headers=cho_h)
    assert r.status_code == 201, r.text
    created = r.json()
    assert created["status"] == "queued" and created["position"] == 1
    # No doctor online: no estimate can be promised.
    assert created["estimated_wait_s"] is None and created["doctors_online"] == 0
    cid = created["id"]

    r = await client.post("/api/v1/doctors/me/presence", json={"status": "online"}, headers=doc_h)
    assert r.status_code == 200 and r.json()["consult_id"] == cid  # offered on going online

    r = await client.get("/api/v1/doctors/me/offer", headers=doc_h)
    assert r.status_code == 200 and r.json()["id"] == cid and r.json()["status"] == "offered"
    assert r.json()["vitals"]["temperature_c"] == 38.6

    r = await client.post(f"/api/v1/consultations/{cid}/accept", headers=doc_h)
    assert r.status_code == 200 and r.json()["status"] == "accepted"
    assert r.json()["doctor_id"] == doctor.id
    # The CHO's join window, as the answer tells it.
    window = datetime.fromisoformat(r.json()["join_deadline_at"]) - datetime.fromisoformat(
        r.json()["accepted_at"]
    )
    assert window == timedelta(seconds=rt.settings.join_timeout_s)

    r = await client.post(f"/api/v1/consultations/{cid}/join", headers=cho_h)
    assert r.status_code == 200 and r.json()["status"] == "in_progress"

    r = await client.post(
        f"/api/v1/consultations/{cid}/prescription",
        json={"mode": "video", "items": [tele.PARACETAMOL], "diagnosis": "Viral fever"},
        headers=doc_h,
    )
    assert r.status_code == 201, r.text
    code = r.json()["verification_code"]
    assert len(code) == 14 and r.json()["items"][0]["tpg_list"] == "O"

    r = await client.post(f"/api/v1/consultations/{cid}/complete", headers=doc_h)
    assert r.status_code == 200 and r.json()["status"] == "completed"
    async with rt.db.read() as session:
        presence = await session.get(DoctorPresence, doctor.id)
        assert (presence.status, presence.consult_id) == ("online", None)

    r = await client.get(f"/api/v1/consultations/{cid}/prescription.pdf", headers=cho_h)
    assert r.status_code == 200 and r.headers["content-type"] == "application/pdf"
    assert r.content.startswith(b"%PDF") and r.headers["cache-control"] == "private, no-store"

    async with rt.db.read() as session:
        actions = set(await session.scalars(select(AuditEntry.action)))
    assert {
        "consult.raise",
        "consult.accept",
        "consult.join",
        "prescription.issue",
        "consult.complete",
        "prescription.read",
    } <= actions


async def test_raise_is_offered_at_once_to_an_idle_doctor_and_estimates_wait(rt, client):
    _, cho_h, doc_h, _doctor, patient = await tele.setup(rt, client)
    await client.post("/api/v1/doctors/me/presence", json={"status": "online"}, headers=doc_h)
    first = (
        await client.post("/api/v1/consultations", json=tele.consult_body(patient), headers=cho_h)
    ).json()
    assert first["estimated_wait_s"] == 0 and first["doctors_online"] == 1
    second = (
        await client.post("/api/v1/consultations", json=tele.consult_body(patient), headers=cho_h)
    ).json()
    assert second["position"] == 1  # the first is with the doctor, not in the queue
    assert second["estimated_wait_s"] > 0
    offer = (await client.get("/api/v1/doctors/me/offer", headers=doc_h)).json()
    assert offer["id"] == first["id"]


async def test_priority_goes_first(rt, client):
    _, cho_h, doc_h, _, patient = await tele.setup(rt, client)
    routine = (
        await client.post("/api/v1/consultations", json=tele.consult_body(patient), headers=cho_h)
    ).json()
    urgent = (
        await client.post(
            "/api/v1/consultations",
            json=tele.consult_body(patient, priority="emergency"),
            headers=cho_h,
        )
    ).json()
    assert urgent["position"] == 1
    r = await client.get(f"/api/v1/consultations/{routine['id']}", headers=cho_h)
    assert r.json()["position"] == 2
    await client.post("/api/v1/doctors/me/presence", json={"status": "online"}, headers=doc_h)
    offer = (await client.get("/api/v1/doctors/me/offer", headers=doc_h)).json()
    assert offer["id"] == urgent["id"]


async def test_two_doctors_accept_the_same_consult_at_once(rt, client):
    codes, cho_h, doc_h, _, patient = await tele.setup(rt, client)
    other = await factories.doctor(rt, codes["kolkata_hub"])
    other_token = await factories.token(client, await tele.username(rt, other.user_id))
    other_h = {"Authorization": f"Bearer {other_token}"}
    cid = (
        await client.post("/api/v1/consultations", json=tele.consult_body(patient), headers=cho_h)
    ).json()["id"]
    # Both online (neither was idle when it was raised), then both take it at the same moment.
    await _online_without_dispatch(rt)
    results = await asyncio.gather(
        client.post(f"/api/v1/consultations/{cid}/accept", headers=doc_h),
        client.post(f"/api/v1/consultations/{cid}/accept", headers=other_h),
    )
    codes_seen = sorted(r.status_code for r in results)
    assert codes_seen == [200, 409], [r.text for r in results]
    loser = next(r for r in results if r.status_code == 409)
    assert loser.json()["error"]["code"] == "already_taken"
    async with rt.db.read() as session:
        holders = list(
            await session.scalars(
                select(DoctorPresence.doctor_id).where(DoctorPresence.consult_id == cid)
            )
        )
        consult = await session.get(Consultation, cid)
    assert len(holders) == 1 and consult.doctor_id == holders[0] and consult.status == "accepted"


async def _online_without_dispatch(rt) -> None:
    """Doctors online and free, while the consult stays queued (as between two polls)."""
    from sqlalchemy import update

    now = utcnow()
    async with rt.db.write_session() as session, session.begin():
        await session.execute(
            update(DoctorPresence).values(
                status="online", idle_since=now, last_heartbeat_at=now, consult_id=None
            )
        )


async def test_offer_lapses_back_to_the_queue_and_two_misses_set_away(rt, client):
    _codes, cho_h, doc_h, doctor, patient = await tele.setup(rt, client)
    await client.post("/api/v1/doctors/me/presence", json={"status": "online"}, headers=doc_h)
    cid = (
        await client.post("/api/v1/consultations", json=tele.consult_body(patient), headers=cho_h)
    ).json()["id"]
    await tele.time_passes(rt, rt.settings.offer_timeout_s + 1)
    result = await sweep.sweep(rt)
    assert result.offers_lapsed == 1
    async with rt.db.read() as session:
        consult = await session.get(Consultation, cid)
        presence = await session.get(DoctorPresence, doctor.id)
    assert consult.status == "queued" and doctor.id in consult.declined_by
    assert presence.missed_offers == 1 and presence.status == "online"
    # Idle again from the lapse, as a UTC timestamp on both databases.
    assert abs((utcnow() - presence.idle_since).total_seconds()) < 30
    # Never offered again to the doctor who let it lapse.
    r = await client.get("/api/v1/doctors/me/offer", headers=doc_h)
    assert r.status_code == 204
    # A second consult, a second miss: the doctor is set away.
    cid2 = (
        await client.post("/api/v1/consultations", json=tele.consult_body(patient), headers=cho_h)
    ).json()["id"]
    async with rt.db.read() as session:
        assert (await session.get(Consultation, cid2)).status == "offered"
    await tele.time_passes(rt, rt.settings.offer_timeout_s + 1)
    await sweep.sweep(rt)
    async with rt.db.read() as session:
        assert (await session.get(DoctorPresence, doctor.id)).status == "away"


async def test_cho_who_does_not_join_is_a_no_show(rt, client):
    _, cho_h, doc_h, doctor, patient = await tele.setup(rt, client)
    await client.post("/api/v1/doctors/me/presence", json={"status": "online"}, headers=doc_h)
    cid = (
        await client.post("/api/v1/consultations", json=tele.consult_body(patient), headers=cho_h)
    ).json()["id"]
    assert (
        await client.post(f"/api/v1/consultations/{cid}/accept", headers=doc_h)
    ).status_code == 200
    await tele.time_passes(rt, rt.settings.join_timeout_s + 1)
    result = await sweep.sweep(rt)
    assert result.no_shows == 1
    async with rt.db.read() as session:
        consult = await session.get(Consultation, cid)
        presence = await session.get(DoctorPresence, doctor.id)
    assert consult.status == "no_show" and "join" in consult.closed_reason
    assert presence.status == "online" and presence.consult_id is None
    async with rt.db.read() as session:
        recorded = (
            await session.execute(
                select(AuditEntry.actor_name, AuditEntry.entity_id).where(
                    AuditEntry.action == "consult.no_show"
                )
            )
        ).all()
    assert recorded == [("system", str(cid))]
    # A second sweep finds nothing more to do.
    assert (await sweep.sweep(rt)).no_shows == 0


async def test_prescription_refused_per_item_changes_nothing(rt, client):
    _, cho_h, doc_h, _, patient = await tele.setup(rt, client)
    await client.post("/api/v1/doctors/me/presence", json={"status": "online"}, headers=doc_h)
    cid = (
        await client.post("/api/v1/consultations", json=tele.consult_body(patient), headers=cho_h)
    ).json()["id"]
    await client.post(f"/api/v1/consultations/{cid}/accept", headers=doc_h)
    morphine = {**tele.PARACETAMOL, "drug": "morphine", "strength": "10 mg"}
    enalapril = {**tele.PARACETAMOL, "drug": "enalapril", "strength": "5 mg"}
    r = await client.post(
        f"/api/v1/consultations/{cid}/prescription",
        json={"mode": "audio", "items": [tele.PARACETAMOL, morphine, enalapril]},
        headers={**doc_h, "Accept-Language": "en"},
    )
    assert r.status_code == 422, r.text
    err = r.json()["error"]
    assert err["code"] == "prescription_not_allowed"
    refused = {i["index"]: i["code"] for i in err["details"]["items"]}
    assert refused[1] == "prohibited_drug" and refused[2] == "list_a_needs_video"
    assert 0 not in refused
    r = await client.get(f"/api/v1/consultations/{cid}/prescription.pdf", headers=cho_h)
    assert r.status_code == 404


async def test_bad_consult_input_is_refused_and_writes_nothing(rt, client):
    _, cho_h, _, _, patient = await tele.setup(rt, client)
    cases = [
        (tele.consult_body(patient, consent=False), "validation_failed"),
        (tele.consult_body(patient, vitals={"spo2": 140}), "invalid_vitals"),
        (tele.consult_body(patient, specialty="astrology"), "validation_failed"),
        (tele.consult_body(patient + 999), "not_found"),
    ]
    for body, code in cases:
        r = await client.post("/api/v1/consultations", json=body, headers=cho_h)
        assert r.status_code in (404, 422), r.text
        assert r.json()["error"]["code"] in (code, "patient_not_found"), r.text
    async with rt.db.read() as session:
        assert list(await session.scalars(select(Consultation.id))) == []


async def test_minor_needs_an_adult(rt, client):
    _, cho_h, _, _, _ = await tele.setup(rt, client)
    child = await tele.patient(
        client, cho_h, name="Tuktuki Das", age_years=6, relation_to_phone_owner="child"
    )
    r = await client.post("/api/v1/consultations", json=tele.consult_body(child), headers=cho_h)
    assert r.status_code == 422 and r.json()["error"]["code"] == "minor_needs_adult"
    r = await client.post(
        "/api/v1/consultations",
        json=tele.consult_body(child, adult_companion="Rina Das (mother)"),
        headers=cho_h,
    )
    assert r.status_code == 201


async def test_roles_and_scopes(rt, client):
    codes, cho_h, doc_h, _, patient = await tele.setup(rt, client)
    cid = (
        await client.post("/api/v1/consultations", json=tele.consult_body(patient), headers=cho_h)
    ).json()["id"]
    # A doctor cannot raise consults; a CHO cannot take them.
    assert (
        await client.post("/api/v1/consultations", json=tele.consult_body(patient), headers=doc_h)
    ).status_code == 403
    r = await client.post(f"/api/v1/consultations/{cid}/accept", headers=cho_h)
    assert r.status_code == 403
    # A CHO at another spoke does not see this consult at all.
    other = await factories.cho(rt, codes["hills_spoke"])
    other_h = {"Authorization": f"Bearer {await factories.token(client, other.username)}"}
    assert (await client.get(f"/api/v1/consultations/{cid}", headers=other_h)).status_code == 404
    viewer = await factories.staff(client, rt, "viewer")
    assert (await client.get(f"/api/v1/consultations/{cid}", headers=viewer)).status_code == 403


async def test_network_lists(rt, client):
    codes = await factories.network(rt)
    h = await factories.staff(client, rt, "viewer")
    hubs = (await client.get("/api/v1/network/hubs", headers=h)).json()["hubs"]
    assert {x["code"] for x in hubs} == {codes["kolkata_hub"], codes["hills_hub"]}
    r = await client.get(f"/api/v1/network/spokes?hub={codes['kolkata_hub']}", headers=h)
    assert [s["code"] for s in r.json()["spokes"]] == [codes["kolkata_spoke"]]
    assert (await client.get("/api/v1/network/spokes?hub=nope", headers=h)).status_code == 404
    # Found by the contract test: an empty or malformed hub code is bad input (422, as the
    # document's pattern says), not an unknown hub (404).
    for bad in ("", "Hub 1", "-x"):
        r = await client.get("/api/v1/network/spokes", params={"hub": bad}, headers=h)
        assert r.status_code == 422, bad
        assert r.json()["error"]["details"][0]["field"] == "hub"
    assert (await client.get("/api/v1/network/hubs")).status_code == 401


async def _in_consult(rt, client):
    codes, cho_h, doc_h, _doctor, patient = await tele.setup(rt, client)
    await client.post("/api/v1/doctors/me/presence", json={"status": "online"}, headers=doc_h)
    cid = (
        await client.post("/api/v1/consultations", json=tele.consult_body(patient), headers=cho_h)
    ).json()["id"]
    assert (
        await client.post(f"/api/v1/consultations/{cid}/accept", headers=doc_h)
    ).status_code == 200
    return codes, cho_h, doc_h, cid


async def test_referral_for_admission_joins_the_control_room_queue(rt, client):
    from seba.referrals.models import AdmissionRequest

    _, _cho_h, doc_h, cid = await _in_consult(rt, client)
    body = {
        "mode": "video",
        "items": [tele.PARACETAMOL],
        "diagnosis": "Pneumonia, SpO2 91%",
        "admission": {"need": "oxygen", "condition": "severe", "notes": "Needs oxygen today"},
    }
    r = await client.post(f"/api/v1/consultations/{cid}/prescription", json=body, headers=doc_h)
    assert r.status_code == 201, r.text
    async with rt.db.read() as session:
        request = await session.scalar(select(AdmissionRequest))
    assert (request.source, request.need, request.condition, request.status) == (
        "teleconsult",
        "oxygen",
        "severe",
        "waiting",
    )
    assert request.patient_name == "Rina Das" and request.district_code == "kolkata"
    assert f"Teleconsult #{cid}" in request.notes
    assert request.reference in r.json()["referral"]
    # The control room sees it in its queue.
    control = await factories.staff(client, rt, "control_room")
    queue = (await client.get("/api/v1/control-room/queue", headers=control)).json()
    assert request.reference in str(queue)


async def test_bad_admission_writes_neither_prescription_nor_request(rt, client):
    from seba.referrals.models import AdmissionRequest

    _, _, doc_h, cid = await _in_consult(rt, client)
    body = {"mode": "video", "items": [tele.PARACETAMOL], "admission": {"need": "spa"}}
    r = await client.post(f"/api/v1/consultations/{cid}/prescription", json=body, headers=doc_h)
    assert r.status_code == 422
    async with rt.db.read() as session:
        assert await session.scalar(select(AdmissionRequest)) is None


async def test_dispensing_is_recorded_per_line(rt, client):
    from seba.telemedicine.models import Dispensing

    _, cho_h, doc_h, cid = await _in_consult(rt, client)
    url = f"/api/v1/consultations/{cid}/dispensing"
    assert (
        await client.post(url, json={"items": [{"index": 0, "quantity": 9}]}, headers=cho_h)
    ).status_code == 404
    await client.post(
        f"/api/v1/consultations/{cid}/prescription",
        json={"mode": "video", "items": [tele.PARACETAMOL]},
        headers=doc_h,
    )
    r = await client.post(url, json={"items": [{"index": 3, "quantity": 9}]}, headers=cho_h)
    assert r.status_code == 422 and r.json()["error"]["code"] == "invalid_dispensing"
    r = await client.post(url, json={"items": [{"index": 0, "quantity": -1}]}, headers=cho_h)
    assert r.status_code == 422
    r = await client.post(
        url, json={"items": [{"index": 0, "quantity": 9, "note": "3 days"}]}, headers=doc_h
    )
    assert r.status_code == 403
    r = await client.post(
        url, json={"items": [{"index": 0, "quantity": 9, "note": "3 days"}]}, headers=cho_h
    )
    assert r.status_code == 201 and r.json()["dispensed"] == [
        {"index": 0, "quantity": 9, "note": "3 days"}
    ]
    async with rt.db.read() as session:
        assert [d.quantity for d in await session.scalars(select(Dispensing))] == [9]


async def test_refusal_reasons_come_in_the_callers_language(rt, client):
    _, _, doc_h, cid = await _in_consult(rt, client)
    morphine = {**tele.PARACETAMOL, "drug": "morphine", "strength": "10 mg"}
    body = {"mode": "video", "items": [morphine]}
    url = f"/api/v1/consultations/{cid}/prescription"
    en = (await client.post(url, json=body, headers={**doc_h, "Accept-Language": "en"})).json()
    bn = (await client.post(url, json=body, headers={**doc_h, "Accept-Language": "bn"})).json()
    en_reason = en["error"]["details"]["items"][0]["reason"]
    bn_reason = bn["error"]["details"]["items"][0]["reason"]
    assert "prohibited" in en_reason.lower() or "never" in en_reason.lower()
    assert bn_reason != en_reason and any("\u0980" <= ch <= "\u09ff" for ch in bn_reason)


async def test_formulary_search(rt, client):
    h = await factories.staff(client, rt, "viewer")
    r = await client.get("/api/v1/formulary?q=para", headers=h)
    drugs = r.json()["drugs"]
    assert drugs[0]["generic"] == "paracetamol" and drugs[0]["tpg_list"] == "O"
    assert drugs[0]["display"] == "PARACETAMOL"
    assert (await client.get("/api/v1/formulary?q=para")).status_code == 401


async def test_roster_is_kept_and_checked(rt, client):
    codes = await factories.network(rt)
    doctor = await factories.doctor(rt, codes["kolkata_hub"], username="roster-doctor")
    me = {"Authorization": f"Bearer {await factories.token(client, 'roster-doctor')}"}
    url = f"/api/v1/doctors/{doctor.id}/roster"
    shifts = [
        {"weekday": 0, "starts_at": "09:00", "ends_at": "15:00", "hub": codes["kolkata_hub"]},
        {"weekday": 2, "starts_at": "14:00", "ends_at": "21:00", "hub": codes["kolkata_hub"]},
    ]
    r = await client.put(url, json={"shifts": shifts}, headers=me)
    assert r.status_code == 200 and r.json()["shifts"] == shifts
    # Not at one of the doctor's hubs; end before start; bad time: refused, nothing changed.
    for bad in (
        {**shifts[0], "hub": codes["hills_hub"]},
        {**shifts[0], "starts_at": "16:00"},
        {**shifts[0], "ends_at": "25:00"},
    ):
        r = await client.put(url, json={"shifts": [bad]}, headers=me)
        assert r.status_code == 422, r.text
    assert (await client.get(url, headers=me)).json()["shifts"] == shifts
    # Another doctor cannot read or change it.
    other = await factories.doctor(rt, codes["kolkata_hub"], username="other-doctor")
    assert other.id != doctor.id
    them = {"Authorization": f"Bearer {await factories.token(client, 'other-doctor')}"}
    assert (await client.get(url, headers=them)).status_code == 404
    assert (await client.put(url, json={"shifts": []}, headers=them)).status_code == 403


async def test_idle_doctors_polling_each_find_their_own_consult_longest_idle_first(rt, client):
    """Two consults waiting, two doctors idle: whoever polls first, the doctor idle longer gets
    the first consult and the other the second; neither poll comes back empty."""
    from sqlalchemy import update

    codes, cho_h, doc_h, doctor, patient = await tele.setup(rt, client)
    other = await factories.doctor(rt, codes["kolkata_hub"])
    other_token = await factories.token(client, await tele.username(rt, other.user_id))
    other_h = {"Authorization": f"Bearer {other_token}"}
    first, second = [
        (
            await client.post(
                "/api/v1/consultations", json=tele.consult_body(patient), headers=cho_h
            )
        ).json()["id"]
        for _ in range(2)
    ]
    now = utcnow()
    async with rt.db.write_session() as session, session.begin():
        for doctor_id, idle_for in ((doctor.id, 300), (other.id, 60)):
            await session.execute(
                update(DoctorPresence)
                .where(DoctorPresence.doctor_id == doctor_id)
                .values(
                    status="online",
                    idle_since=now - timedelta(seconds=idle_for),
                    last_heartbeat_at=now,
                )
            )
    # The doctor idle for a minute polls first: the first consult is kept for the other.
    got = await client.get("/api/v1/doctors/me/offer", headers=other_h)
    assert got.status_code == 200 and got.json()["id"] == second
    got = await client.get("/api/v1/doctors/me/offer", headers=doc_h)
    assert got.status_code == 200 and got.json()["id"] == first


async def test_a_follow_up_may_refill_only_the_patients_own_list_a_medicine(rt, client):
    """TPG list A on audio: allowed as a refill of what this patient was prescribed before,
    refused for any other list A medicine (the service reads the earlier prescriptions)."""
    _, cho_h, doc_h, _doctor, patient = await tele.setup(rt, client)
    await client.post("/api/v1/doctors/me/presence", json={"status": "online"}, headers=doc_h)
    clotrimazole = {
        "drug": "clotrimazole",
        "strength": "1%",
        "form": "cream",
        "dose": "apply thinly",
        "frequency": "twice a day",
        "duration_days": 14,
    }
    miconazole = {**clotrimazole, "drug": "miconazole", "strength": "2%"}

    async def consult(**extra) -> int:
        r = await client.post(
            "/api/v1/consultations", json=tele.consult_body(patient, **extra), headers=cho_h
        )
        cid = r.json()["id"]
        assert (await client.get("/api/v1/doctors/me/offer", headers=doc_h)).json()["id"] == cid
        accepted = await client.post(f"/api/v1/consultations/{cid}/accept", headers=doc_h)
        assert accepted.status_code == 200, accepted.text
        return cid

    first = await consult()
    # List A on a first consult needs video on the call record (not the doctor's tick).
    await tele.record_video(rt, first, doctor_user_id=_doctor.user_id)
    r = await client.post(
        f"/api/v1/consultations/{first}/prescription",
        json={"mode": "video", "items": [clotrimazole]},
        headers=doc_h,
    )
    assert r.status_code == 201, r.text
    await client.post(f"/api/v1/consultations/{first}/complete", headers=doc_h)

    follow_up = await consult(follow_up_of=first, priority="follow_up")
    path = f"/api/v1/consultations/{follow_up}/prescription"
    refused = await client.post(
        path,
        json={"mode": "audio", "items": [miconazole]},
        headers={**doc_h, "Accept-Language": "en"},
    )
    assert refused.status_code == 422
    assert refused.json()["error"]["code"] == "prescription_not_allowed"
    assert refused.json()["error"]["details"]["items"][0]["code"] == "list_a_refill_only"
    refill = await client.post(path, json={"mode": "audio", "items": [clotrimazole]}, headers=doc_h)
    assert refill.status_code == 201, refill.text
