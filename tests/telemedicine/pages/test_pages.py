"""Teleconsultation pages: the CHO registers a patient and raises a consult through the forms,
the doctor's console shows the offer, accepts, prescribes (a refused medicine is explained next
to its own row), completes; the CHO downloads the PDF and the public page checks its code.
Refusals come back as pages in the reader's language and write nothing."""

from __future__ import annotations

import re
from dataclasses import dataclass

import httpx
from markupsafe import escape
from sqlalchemy import func, select

from seba.core.audit import AuditEntry
from seba.core.i18n import gettext
from seba.core.runtime import Runtime
from seba.patients.models import Patient
from seba.referrals.models import AdmissionRequest
from seba.telemedicine.consults import vitals
from seba.telemedicine.models import Consultation, Dispensing, DoctorPresence, Prescription
from seba.telemedicine.pages import text as page_text
from seba.telemedicine.prescriptions import rules as prescribing
from tests import factories
from tests.pages import as_user, bn, csrf_of

PHONE = "98300 12345"


def shown(text: str) -> str:
    """``text`` as the HTML has it (quotes and ampersands escaped)."""
    return str(escape(text))


@dataclass
class World:
    codes: dict[str, str]
    cho: str
    doctor: str


async def _world(rt: Runtime) -> World:
    codes = await factories.network(rt)
    cho = await factories.cho(rt, codes["kolkata_spoke"])
    doctor = await factories.doctor(rt, codes["kolkata_hub"])
    return World(codes=codes, cho=cho.username, doctor=await _username(rt, doctor.user_id))


async def _username(rt: Runtime, user_id: int) -> str:
    from seba.accounts.models import StaffUser

    async with rt.db.read() as s:
        return await s.scalar(select(StaffUser.username).where(StaffUser.id == user_id))


async def _count(rt: Runtime, model, *where) -> int:
    async with rt.db.read() as s:
        return await s.scalar(select(func.count()).select_from(model).where(*where))


async def _csrf(client: httpx.AsyncClient, path: str = "/staff/tele") -> str:
    page = await client.get(path)
    assert page.status_code == 200, page.text
    return csrf_of(page.text)


async def register(client: httpx.AsyncClient, **fields) -> httpx.Response:
    data = {
        "name": "Rina Das",
        "sex": "female",
        "age_years": "54",
        "phone": PHONE,
        "relation_to_phone_owner": "self",
        "village": "Baruipur",
        **fields,
    }
    return await client.post(
        "/staff/tele/patients", data={"csrf": await _csrf(client), "idem": "", **data}
    )


async def registered_patient(client: httpx.AsyncClient, **fields) -> int:
    response = await register(client, **fields)
    assert response.status_code == 303, response.text
    found = re.search(r"patient=(\d+)", response.headers["location"])
    return int(found[1])


def consult_form(patient_id: int, **fields) -> dict[str, str]:
    return {
        "patient": str(patient_id),
        "chief_complaint": "Fever for three days",
        "history": "",
        "bp_systolic": "১২০",  # Bengali digits from a Bengali keyboard
        "bp_diastolic": "80",
        "pulse": "88",
        "temperature_c": "38.2",
        "spo2": "97",
        "specialty": "general_medicine",
        "language": "bn",
        "priority": "routine",
        "consent": "yes",
        **fields,
    }


async def raise_consult(client: httpx.AsyncClient, patient_id: int, **fields) -> httpx.Response:
    csrf = await _csrf(client, f"/staff/tele/consults/new?patient={patient_id}")
    return await client.post(
        "/staff/tele/consults", data={"csrf": csrf, **consult_form(patient_id, **fields)}
    )


async def raised(client: httpx.AsyncClient, patient_id: int, **fields) -> int:
    response = await raise_consult(client, patient_id, **fields)
    assert response.status_code == 303, response.text
    return int(response.headers["location"].rsplit("/", 1)[1])


async def doctor_post(client: httpx.AsyncClient, path: str, **data) -> httpx.Response:
    return await client.post(path, data={"csrf": await _csrf(client, "/staff/tele/doctor"), **data})


def rx_rows(*rows: tuple[str, str, str, str, str, str]) -> dict[str, str]:
    data = {"diagnosis": "Viral fever", "advice": "Drink plenty of fluids"}
    for i, row in enumerate(rows):
        for name, value in zip(
            ("drug", "strength", "form", "dose", "frequency", "days"), row, strict=True
        ):
            data[f"{name}-{i}"] = value
    return data


PARACETAMOL = ("paracetamol", "500 mg", "tablet", "1 tablet", "three times a day", "3")
MORPHINE = ("morphine", "10 mg", "tablet", "1 tablet", "twice a day", "3")


# --- the CHO ---------------------------------------------------------------------------------


async def test_pages_need_a_session_and_the_right_role(client, rt):
    world = await _world(rt)
    anonymous = await client.get("/staff/tele")
    assert anonymous.status_code == 303
    assert anonymous.headers["location"].startswith("/staff/login?next=%2Fstaff%2Ftele")
    assert (await client.get("/tele")).headers["location"] == "/staff/tele"
    await as_user(client, world.doctor)
    # A doctor opening the CHO's page lands on the console; a CHO cannot open the console.
    assert (await client.get("/staff/tele")).headers["location"] == "/staff/tele/doctor"
    await as_user(client, world.cho)
    refused = await client.get("/staff/tele/doctor")
    assert refused.status_code == 403
    assert (await client.get("/staff/tele/formulary.json?q=para")).status_code == 403
    viewer = await factories.user(rt, "viewer", "state")
    await as_user(client, viewer.username)
    assert (await client.get("/staff/tele")).status_code == 403


async def test_cho_registers_a_patient_and_raises_a_consult(client, rt):
    world = await _world(rt)
    await as_user(client, world.cho)
    home = await client.get("/staff/tele")
    assert bn("Find the patient") in home.text and bn("Register a new patient") in home.text
    patient_id = await registered_patient(client)
    form = await client.get(f"/staff/tele/consults/new?patient={patient_id}&registered=1")
    assert form.status_code == 200
    assert "Rina Das" in form.text
    assert shown(bn(page_text.CONSENT_TEXT)) in form.text
    assert bn("The patient is registered.") in form.text
    # Each vital has its range beside it, in Bengali digits.
    assert bn("{unit}, from {min} to {max}", unit="%", min="৫০", max="১০০") in form.text

    response = await raise_consult(client, patient_id)
    assert response.status_code == 303
    consult_id = int(response.headers["location"].rsplit("/", 1)[1])
    async with rt.db.read() as s:
        consult = await s.get(Consultation, consult_id)
    assert consult.status == "queued"  # no doctor online
    assert consult.vitals["bp_systolic"] == 120 and consult.vitals["temperature_c"] == 38.2
    assert consult.consent_by_user_id is not None and consult.consent_at is not None

    status = await client.get(f"/staff/tele/consults/{consult_id}")
    assert status.status_code == 200
    assert bn("Waiting for a doctor") in status.text
    assert bn("{position} in the queue", position=1) in status.text
    # Without JavaScript the page refreshes itself, to its own address (never a re-post).
    assert f'<meta http-equiv="refresh" content="5; url=/staff/tele/consults/{consult_id}">' in (
        status.text
    )
    english = await client.get(f"/staff/tele/consults/{consult_id}?lang=en")
    assert "Waiting for a doctor" in english.text and "1 in the queue" in english.text
    state = (await client.get(f"/staff/tele/consults/{consult_id}/state.json")).json()
    assert state["status"] == "queued" and state["position"] == 1
    assert state["doctors_online"] == 0 and state["has_prescription"] is False
    # Today's list at the centre shows it, and listing the patient was audited.
    home = await client.get("/staff/tele")
    assert f'href="/staff/tele/consults/{consult_id}"' in home.text
    assert await _count(rt, AuditEntry, AuditEntry.action == "patient.list") >= 1


async def test_bad_vitals_show_field_errors_in_the_readers_language_and_create_nothing(client, rt):
    world = await _world(rt)
    await as_user(client, world.cho)
    patient_id = await registered_patient(client)
    bad = {"spo2": "150", "temperature_c": "101", "pulse": "eighty"}
    response = await raise_consult(client, patient_id, **bad)
    assert response.status_code == 422
    assert bn("SpO2 must be from {min} to {max} %.", min="৫০", max="১০০") in response.text
    assert "f-spo2-error" in response.text and "f-temperature_c-error" in response.text
    assert bn(vitals.MSG_WHOLE_NUMBER) in response.text  # pulse: "eighty"
    # What was typed is kept.
    assert 'value="150"' in response.text and "Fever for three days" in response.text
    csrf = await _csrf(client, f"/staff/tele/consults/new?patient={patient_id}")
    english = await client.post(
        "/staff/tele/consults?lang=en",
        data={"csrf": csrf, **consult_form(patient_id, **bad)},
    )
    assert english.status_code == 422
    assert "SpO2 must be from 50 to 100 %." in english.text
    assert "looks like degrees Fahrenheit" in english.text
    assert await _count(rt, Consultation) == 0


async def test_consent_and_an_adult_for_a_minor_are_required(client, rt):
    world = await _world(rt)
    await as_user(client, world.cho)
    patient_id = await registered_patient(client)
    no_consent = await raise_consult(client, patient_id, consent="")
    assert no_consent.status_code == 422
    assert shown(bn(page_text.CONSENT_TEXT)) in no_consent.text
    assert "f-consent-error" in no_consent.text
    child = await registered_patient(
        client, name="Mitu Das", age_years="৭", relation_to_phone_owner="child"
    )
    form = await client.get(f"/staff/tele/consults/new?patient={child}")
    assert bn("(required: the patient is under 18)") in form.text
    alone = await raise_consult(client, child)
    assert alone.status_code == 422 and "f-adult_companion-error" in alone.text
    assert await _count(rt, Consultation) == 0
    await raised(client, child, adult_companion="Rina Das, mother")
    assert await _count(rt, Consultation) == 1


async def test_possible_duplicate_is_shown_and_can_be_overridden(client, rt):
    world = await _world(rt)
    await as_user(client, world.cho)
    first = await registered_patient(client)
    again = await register(client, name="Reena Das", age_years="55")
    assert again.status_code == 409
    assert bn("This patient may already be registered under this phone.") in again.text
    assert f"/staff/tele/consults/new?patient={first}" in again.text
    assert 'name="confirm_new" value="1"' in again.text
    assert await _count(rt, Patient) == 1
    await registered_patient(client, name="Reena Das", age_years="55", confirm_new="1")
    assert await _count(rt, Patient) == 2


async def test_registration_errors_are_shown_per_field(client, rt):
    world = await _world(rt)
    await as_user(client, world.cho)
    response = await register(client, phone="12345", age_years="", sex="")
    assert response.status_code == 422
    assert bn("Enter a 10-digit mobile number, e.g. 98300 12345.") in response.text
    assert bn("Give the age in years or the date of birth (one of them).") in response.text
    assert bn("Choose the patient's sex.") in response.text
    assert await _count(rt, Patient) == 0


async def test_search_by_phone_and_name(client, rt):
    world = await _world(rt)
    await as_user(client, world.cho)
    patient_id = await registered_patient(client)
    by_phone = await client.get("/staff/tele", params={"q": "৯৮৩০০১২৩৪৫"})
    assert f"/staff/tele/consults/new?patient={patient_id}" in by_phone.text
    by_name = await client.get("/staff/tele", params={"q": "rina"})
    assert f"/staff/tele/consults/new?patient={patient_id}" in by_name.text
    nobody = await client.get("/staff/tele", params={"q": "Zzz Nobody"})
    assert (
        bn("No patient found. Check the spelling or the number, or register the patient below.")
        in nobody.text
    )
    short = await client.get("/staff/tele", params={"q": "r", "lang": "en"})
    assert "Type at least 2 letters of the name." in short.text


async def test_a_cho_of_another_spoke_gets_404(client, rt):
    world = await _world(rt)
    await as_user(client, world.cho)
    consult_id = await raised(client, await registered_patient(client))
    other = await factories.cho(rt, world.codes["hills_spoke"])
    await as_user(client, other.username)
    for path in ("", "/state.json", "/prescription.pdf"):
        assert (await client.get(f"/staff/tele/consults/{consult_id}{path}")).status_code == 404
    cancel = await client.post(
        f"/staff/tele/consults/{consult_id}/cancel", data={"csrf": await _csrf(client)}
    )
    assert cancel.status_code == 404
    async with rt.db.read() as s:
        assert (await s.get(Consultation, consult_id)).status == "queued"


async def test_cho_cancels_a_waiting_consult(client, rt):
    world = await _world(rt)
    await as_user(client, world.cho)
    consult_id = await raised(client, await registered_patient(client))
    page = f"/staff/tele/consults/{consult_id}"
    response = await client.post(
        page + "/cancel", data={"csrf": await _csrf(client, page), "reason": "Felt better"}
    )
    assert response.status_code == 303
    after = await client.get(page)
    assert bn("Cancelled") in after.text and "Felt better" in after.text
    assert "http-equiv" not in after.text  # a closed consult does not refresh itself
    again = await client.post(page + "/cancel", data={"csrf": await _csrf(client, page)})
    assert again.status_code == 409


# --- the doctor, and the whole consult ---------------------------------------------------------


async def test_the_whole_consult_through_the_pages(client, rt):
    world = await _world(rt)
    await as_user(client, world.doctor)
    console = await client.get("/staff/tele/doctor")
    assert bn("Doctor's console") in console.text and bn("Go online") in console.text
    online = await doctor_post(client, "/staff/tele/doctor/presence", status="online")
    assert online.status_code == 303
    waiting = await client.get("/staff/tele/doctor")
    assert bn("Waiting for the next patient…") in waiting.text

    await as_user(client, world.cho)
    patient_id = await registered_patient(client)
    consult_id = await raised(client, patient_id, spo2="91", priority="urgent")
    status = await client.get(f"/staff/tele/consults/{consult_id}")
    assert bn("Waiting for a doctor") in status.text  # offered, not yet accepted

    await as_user(client, world.doctor)
    state = (await client.get("/staff/tele/doctor/state.json")).json()
    assert state["consult_id"] == consult_id and state["consult_status"] == "offered"
    offer = await client.get("/staff/tele/doctor")
    assert "Rina Das" in offer.text and "Fever for three days" in offer.text
    assert bn("Low oxygen saturation (SpO2 below 94%).") in offer.text  # the red flag
    assert bn("Urgent") in offer.text and bn("Accept") in offer.text
    accept = await doctor_post(client, f"/staff/tele/consults/{consult_id}/accept")
    assert accept.status_code == 303
    held = await client.get("/staff/tele/doctor")
    assert bn("Waiting for the health centre to join") in held.text
    assert bn("None: this is the patient's first teleconsultation.") in held.text
    # Opening the patient's history is audited under the doctor's name.
    assert (
        await _count(
            rt,
            AuditEntry,
            AuditEntry.action == "patient.history",
            AuditEntry.actor_name == world.doctor,
        )
        == 1
    )

    await as_user(client, world.cho)
    ready = await client.get(f"/staff/tele/consults/{consult_id}")
    assert (
        bn("Join now") in ready.text
        and bn("{seconds} seconds left to join", seconds="")[:6] in ready.text
    )
    join = await client.post(
        f"/staff/tele/consults/{consult_id}/join",
        data={"csrf": await _csrf(client, f"/staff/tele/consults/{consult_id}")},
    )
    assert join.status_code == 303
    assert (
        bn("The doctor is with the patient")
        in (await client.get(f"/staff/tele/consults/{consult_id}")).text
    )

    await as_user(client, world.doctor)
    # The form does not ask for the mode: it shows the call record's, read-only.
    console = (await client.get("/staff/tele/doctor")).text
    assert 'name="mode"' not in console
    assert bn("Mode on record so far") in console
    record_mode = console.split('id="rx-mode"', 1)[1].split("</p>", 1)[0]
    assert bn("Text (chat)") in record_mode  # no call yet
    path = f"/staff/tele/consults/{consult_id}/prescription"
    refused = await doctor_post(client, path, **rx_rows(MORPHINE, PARACETAMOL))
    assert refused.status_code == 422
    reason = bn(prescribing.MESSAGES["prohibited_drug"], drug="Morphine")
    assert shown(reason) in refused.text
    # The reason sits in the morphine row (row 0), and what was typed is kept.
    row0 = refused.text.split('id="row-0"', 1)[1].split('id="row-1"', 1)[0]
    assert shown(reason) in row0 and 'value="morphine"' in row0
    assert 'value="paracetamol"' in refused.text
    english = await client.post(
        path + "?lang=en",
        data={"csrf": await _csrf(client, "/staff/tele/doctor"), **rx_rows(MORPHINE)},
    )
    assert shown(gettext("en", prescribing.MESSAGES["prohibited_drug"], drug="Morphine")) in (
        english.text
    )
    assert await _count(rt, Prescription) == 0
    await client.get("/staff/tele/doctor?lang=bn")  # the choice of English was remembered

    # A posted mode is ignored: no call, so the prescription is a text consult's.
    issued = await doctor_post(client, path, **rx_rows(PARACETAMOL), mode="video")
    assert issued.status_code == 303, issued.text
    async with rt.db.read() as session:
        assert (await session.scalar(select(Prescription))).mode == "text"
    after = await client.get(issued.headers["location"])
    assert bn("Prescription issued") in after.text and "PARACETAMOL" in after.text
    done = await doctor_post(client, f"/staff/tele/consults/{consult_id}/complete")
    assert done.status_code == 303
    ready_again = await client.get(done.headers["location"])
    assert bn("Consult completed. You are ready for the next patient.") in ready_again.text
    async with rt.db.read() as s:
        assert (await s.get(Consultation, consult_id)).status == "completed"
        rx = await s.scalar(select(Prescription))
        assert (await s.scalar(select(DoctorPresence))).status == "online"

    await as_user(client, world.cho)
    finished = await client.get(f"/staff/tele/consults/{consult_id}")
    assert bn("Download prescription (PDF)") in finished.text
    assert rx.verification_code in finished.text
    pdf = await client.get(f"/staff/tele/consults/{consult_id}/prescription.pdf")
    assert pdf.status_code == 200
    assert pdf.headers["content-type"] == "application/pdf"
    assert pdf.content.startswith(b"%PDF")

    client.cookies.clear()  # the public check needs no login
    check = await client.get(f"/verify/{rx.verification_code}")
    assert check.status_code == 200
    assert "PARACETAMOL" in check.text and "R." in check.text and "Rina Das" not in check.text
    assert bn("This prescription was issued on a Seba teleconsultation.") in check.text
    check_en = await client.get(f"/verify/{rx.verification_code.lower()}?lang=en")
    assert "This prescription was issued on a Seba teleconsultation." in check_en.text
    typed = await client.get("/verify", params={"code": rx.verification_code.replace("-", " ")})
    assert typed.status_code == 303
    assert typed.headers["location"] == f"/verify/{rx.verification_code}"


async def test_another_doctor_sees_already_taken(client, rt):
    world = await _world(rt)
    second = await factories.doctor(rt, world.codes["kolkata_hub"])
    second_name = await _username(rt, second.user_id)
    await as_user(client, world.doctor)
    await doctor_post(client, "/staff/tele/doctor/presence", status="online")
    await as_user(client, world.cho)
    consult_id = await raised(client, await registered_patient(client))
    await as_user(client, world.doctor)
    assert (
        await doctor_post(client, f"/staff/tele/consults/{consult_id}/accept")
    ).status_code == 303
    await as_user(client, second_name)
    await doctor_post(client, "/staff/tele/doctor/presence", status="online")
    taken = await doctor_post(client, f"/staff/tele/consults/{consult_id}/accept?lang=en")
    assert taken.status_code == 409
    assert "Another doctor has taken this consult." in taken.text
    taken_bn = await doctor_post(client, f"/staff/tele/consults/{consult_id}/accept?lang=bn")
    assert bn("Another doctor has taken this consult.") in taken_bn.text


async def test_the_doctor_sees_the_patients_history(client, rt):
    world = await _world(rt)
    await as_user(client, world.doctor)
    await doctor_post(client, "/staff/tele/doctor/presence", status="online")
    await as_user(client, world.cho)
    patient_id = await registered_patient(client)
    first = await raised(client, patient_id)
    await as_user(client, world.doctor)
    await doctor_post(client, f"/staff/tele/consults/{first}/accept")
    await doctor_post(client, f"/staff/tele/consults/{first}/prescription", **rx_rows(PARACETAMOL))
    await doctor_post(client, f"/staff/tele/consults/{first}/complete")
    await as_user(client, world.cho)
    form = await client.get(f"/staff/tele/consults/new?patient={patient_id}")
    assert f'<option value="{first}"' in form.text  # can be followed up
    second = await raised(
        client, patient_id, chief_complaint="Cough", follow_up_of=str(first), priority="follow_up"
    )
    await as_user(client, world.doctor)
    await doctor_post(client, f"/staff/tele/consults/{second}/accept")
    page = await client.get("/staff/tele/doctor")
    history = page.text.split('id="history-h"', 1)[1]
    assert "Fever for three days" in history and "PARACETAMOL" in history
    assert "Viral fever" in history


async def test_formulary_search_shows_the_tpg_list(client, rt):
    world = await _world(rt)
    await as_user(client, world.doctor)
    found = (await client.get("/staff/tele/formulary.json", params={"q": "প্যারা"})).json()
    paracetamol = next(d for d in found["drugs"] if d["generic"] == "paracetamol")
    assert paracetamol["tpg_list"] == "O" and "500 mg" in paracetamol["strengths"]
    assert (await client.get("/staff/tele/formulary.json", params={"q": "x"})).json() == {
        "drugs": []
    }


async def test_verify_unknown_and_malformed_codes(client, rt):
    await factories.districts(rt)
    unknown = await client.get("/verify/ABCD-EFGH-JKMN")
    assert unknown.status_code == 404
    assert (
        bn(
            "No prescription has this code. Check the code on the paper; if it is right, the "
            "prescription was not issued by Seba."
        )
        in unknown.text
    )
    malformed = await client.get("/verify", params={"code": "12", "lang": "en"})
    assert malformed.status_code == 404
    assert "A code has 12 letters and digits, like ABCD-EFGH-JKMN." in malformed.text
    empty = await client.get("/verify?lang=bn")
    assert empty.status_code == 200 and bn("Check a prescription") in empty.text


async def _held_consult(client: httpx.AsyncClient, world: World) -> int:
    """A consult the doctor has accepted, the CHO has joined; the client is the doctor's."""
    await as_user(client, world.doctor)
    await doctor_post(client, "/staff/tele/doctor/presence", status="online")
    await as_user(client, world.cho)
    consult_id = await raised(client, await registered_patient(client))
    await as_user(client, world.doctor)
    assert (
        await doctor_post(client, f"/staff/tele/consults/{consult_id}/accept")
    ).status_code == 303
    return consult_id


async def test_the_cho_records_what_was_handed_over(client, rt):
    world = await _world(rt)
    consult_id = await _held_consult(client, world)
    two = rx_rows(
        PARACETAMOL,
        ("ors", "20.5 g", "sachet", "1 sachet in 1 litre", "after each loose stool", "3"),
    )
    issued = await doctor_post(client, f"/staff/tele/consults/{consult_id}/prescription", **two)
    assert issued.status_code == 303, issued.text
    await doctor_post(client, f"/staff/tele/consults/{consult_id}/complete")
    await as_user(client, world.cho)
    page = f"/staff/tele/consults/{consult_id}"
    status = await client.get(page)
    assert bn("Record the medicines handed over") in status.text
    bad = await client.post(
        page + "/dispensed", data={"csrf": csrf_of(status.text), "qty-0": "ten"}
    )
    assert bad.status_code == 422
    assert bn("Enter how many were handed over: 0 to {max}.", max=10_000) in bad.text
    assert await _count(rt, Dispensing) == 0
    saved = await client.post(
        page + "/dispensed",
        data={"csrf": csrf_of(status.text), "qty-0": "৯", "qty-1": "0", "note-1": "Out of stock"},
    )
    assert saved.status_code == 303
    after = await client.get(saved.headers["location"])
    assert bn("Saved: what was handed over is recorded.") in after.text
    assert "Out of stock" in after.text
    async with rt.db.read() as s:
        rows = list(await s.scalars(select(Dispensing).order_by(Dispensing.item_index)))
    assert [(r.item_index, r.quantity, r.note) for r in rows] == [
        (0, 9, ""),
        (1, 0, "Out of stock"),
    ]


async def test_the_doctor_refers_for_admission_with_the_prescription(client, rt):
    world = await _world(rt)
    consult_id = await _held_consult(client, world)
    path = f"/staff/tele/consults/{consult_id}/prescription"
    no_bed = await doctor_post(
        client, path, **rx_rows(PARACETAMOL), admit="yes", condition="severe"
    )
    assert no_bed.status_code == 422
    assert bn("Choose the kind of bed the patient needs.") in no_bed.text
    assert await _count(rt, Prescription) == 0 and await _count(rt, AdmissionRequest) == 0
    referred = await doctor_post(
        client, path, **rx_rows(PARACETAMOL), admit="yes", need="oxygen", condition="severe"
    )
    assert referred.status_code == 303, referred.text
    async with rt.db.read() as s:
        request = await s.scalar(select(AdmissionRequest))
    assert request.need == "oxygen" and request.condition == "severe"
    assert request.source == "teleconsult"


def _medicine_lines(html: str) -> list[str]:
    items = html.split('<ol class="tele-rx-items">', 1)[1].split("</ol>", 1)[0]
    return [re.sub(r"<[^>]+>", "", li).strip() for li in items.split("<li>")[1:]]


async def test_a_bengali_page_says_the_prescription_in_bengali(client, rt):
    """Dosage form, strength, dose, how often and days in Bengali words and digits, the
    medicine by its Bengali name; the generic (which the pharmacist matches) stays beside it
    in brackets, never inside a Bengali phrase. English pages say it in English."""
    world = await _world(rt)
    consult_id = await _held_consult(client, world)
    # Typed in English on purpose: the doctor's words, shown in the reader's language.
    rx = rx_rows(("paracetamol", "125 mg/5 mL", "syrup", "5 ml", "twice a day", "3"))
    issued = await doctor_post(client, f"/staff/tele/consults/{consult_id}/prescription", **rx)
    assert issued.status_code == 303, issued.text
    await as_user(client, world.cho)
    page = (await client.get(f"/staff/tele/consults/{consult_id}?lang=bn")).text
    [line] = _medicine_lines(page)
    assert "প্যারাসিটামল" in line and "(PARACETAMOL)" in line
    for bengali in ("১২৫ মিগ্রা/৫ মিলি", "সিরাপ", "৫ মিলি", "দিনে দুবার", "৩ দিন"):
        assert bengali in line, (bengali, line)
    # Apart from the generic in brackets, no English letter in the Bengali line.
    assert not re.search("[A-Za-z]", line.replace("(PARACETAMOL)", "")), line
    english = (await client.get(f"/staff/tele/consults/{consult_id}?lang=en")).text
    [line] = _medicine_lines(english)
    assert "PARACETAMOL" in line and "Syrup" in line and "twice a day" in line
    assert "প্যারাসিটামল" not in line
    code = (await _latest_rx(rt)).verification_code
    check = (await client.get(f"/verify/{code}?lang=bn")).text
    assert "দিনে দুবার" in _medicine_lines(check)[0] and "প্যারাসিটামল" in check


async def _latest_rx(rt: Runtime) -> Prescription:
    async with rt.db.read() as s:
        return await s.scalar(select(Prescription).order_by(Prescription.id.desc()))
