"""Who the prescription says issued it, on SQLite and PostgreSQL."""

from __future__ import annotations

from sqlalchemy import select

from seba.places.models import Facility, Hub
from seba.telemedicine.consults import sweep
from seba.telemedicine.models import Prescription
from tests import factories
from tests.telemedicine import factories as tele


async def test_an_overflowed_consult_names_the_doctors_own_hub(rt, client):
    """A Hills CHO's consult overflows to a Kolkata doctor: the prescription (and so the PDF
    and /verify) names the Kolkata hub where the doctor sits, not the CHO's home hub."""
    codes, _, doc_h, _, _ = await tele.setup(rt, client)
    hills_cho = await factories.cho(rt, codes["hills_spoke"])
    hills_h = {"Authorization": f"Bearer {await factories.token(client, hills_cho.username)}"}
    patient = await tele.patient(client, hills_h)
    await client.post("/api/v1/doctors/me/presence", json={"status": "online"}, headers=doc_h)
    r = await client.post("/api/v1/consultations", json=tele.consult_body(patient), headers=hills_h)
    cid = r.json()["id"]
    assert r.json()["status"] == "queued"  # no Hills doctor: it waits for the overflow
    await tele.time_passes(rt, rt.settings.overflow_neighbour_after_s + 1)
    await sweep.sweep(rt)
    assert (await client.post(f"/api/v1/consultations/{cid}/accept", headers=doc_h)).is_success
    assert (await client.post(f"/api/v1/consultations/{cid}/join", headers=hills_h)).is_success
    r = await client.post(
        f"/api/v1/consultations/{cid}/prescription",
        json={"mode": "video", "items": [tele.PARACETAMOL]},
        headers=doc_h,
    )
    assert r.status_code == 201, r.text

    async with rt.db.read() as session:
        names = dict(
            (
                await session.execute(
                    select(Hub.code, Facility.name).join(Facility, Hub.facility_id == Facility.id)
                )
            ).all()
        )
        document = (await session.scalars(select(Prescription.document))).one()
    assert document["hub_name"] == names[codes["kolkata_hub"]]
    assert names[codes["kolkata_hub"]] != names[codes["hills_hub"]]
    page = await client.get(f"/verify/{r.json()['verification_code']}")
    assert names[codes["kolkata_hub"]] in page.text or document["hub_name_bn"] in page.text
