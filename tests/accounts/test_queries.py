"""The audit log a district admin reads: their district's staff (CHOs of its spokes and
doctors of its hubs too) and what was done to its facilities, staff, patients and consults;
never another district's."""

from __future__ import annotations

from seba.accounts import queries as account_queries
from seba.accounts import service as account_service
from tests import factories
from tests.telemedicine import factories as tele


async def test_a_district_admin_sees_chos_and_doctors_of_the_district_only(rt, client):
    codes, cho_h, doc_h, _, patient_id = await tele.setup(rt, client)  # Kolkata CHO, doctor
    r = await client.post(
        "/api/v1/consultations", json=tele.consult_body(patient_id), headers=cho_h
    )
    consult_id = r.json()["id"]
    await client.post("/api/v1/doctors/me/presence", json={"status": "online"}, headers=doc_h)
    assert (
        await client.post(f"/api/v1/consultations/{consult_id}/accept", headers=doc_h)
    ).status_code == 200
    # A Hills CHO's work is another district's business.
    hills_cho = await factories.cho(rt, codes["hills_spoke"])
    hills_h = {"Authorization": f"Bearer {await factories.token(client, hills_cho.username)}"}
    await tele.patient(client, hills_h, name="Pemba Sherpa", phone="9733012345")

    async def actions_seen_by(username: str) -> set[tuple[str, str]]:
        who = await account_service.principal_for_token(rt, await factories.token(client, username))
        page = await account_queries.audit_log(rt, actor=who, limit=200)
        return {(e.action, e.actor_name) for e in page.entries}

    kolkata = await factories.user(rt, "district_admin", "district:kolkata")
    darjeeling = await factories.user(rt, "district_admin", "district:darjeeling")
    seen = await actions_seen_by(kolkata.username)
    actions = {action for action, _ in seen}
    assert {"consult.raise", "patient.create", "consult.accept"} <= actions, actions
    assert "doctor.presence" in actions
    assert not any(name == hills_cho.username for _, name in seen)
    other = await actions_seen_by(darjeeling.username)
    assert any(name == hills_cho.username for _, name in other)
    assert not {"consult.raise", "consult.accept"} & {action for action, _ in other}
