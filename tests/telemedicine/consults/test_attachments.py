"""Attachments: type by content, size limit, safe storage, access and audit (both databases)."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import select

from seba.core.audit import AuditEntry
from seba.telemedicine.models import ConsultAttachment
from tests import factories
from tests.telemedicine import factories as tele

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64
PDF = b"%PDF-1.4\n" + b"1 0 obj\n" * 8


def _stored_files(settings) -> list[bytes]:
    # Plain file reads in a sync helper: the store is a small tmp directory.
    root = Path(settings.attachment_dir)
    return [p.read_bytes() for p in root.rglob("*") if p.is_file()] if root.exists() else []


async def _consult_id(client, cho_h, patient) -> int:
    r = await client.post("/api/v1/consultations", json=tele.consult_body(patient), headers=cho_h)
    return r.json()["id"]


async def test_attach_list_and_read_back(rt, client, settings):
    _, cho_h, _, _, patient = await tele.setup(rt, client)
    cid = await _consult_id(client, cho_h, patient)
    files = {"file": ("../../etc/rash photo.png", PNG, "text/plain")}
    r = await client.post(f"/api/v1/consultations/{cid}/attachments", files=files, headers=cho_h)
    assert r.status_code == 201, r.text
    body = r.json()
    # The type comes from the bytes, the name loses its directories.
    assert body["content_type"] == "image/png" and body["filename"] == "rash photo.png"
    listed = (await client.get(f"/api/v1/consultations/{cid}/attachments", headers=cho_h)).json()
    assert [a["id"] for a in listed["attachments"]] == [body["id"]]
    r = await client.get(body["url"], headers=cho_h)
    assert r.status_code == 200 and r.content == PNG
    assert r.headers["x-content-type-options"] == "nosniff"
    assert PNG in _stored_files(settings)
    async with rt.db.read() as session:
        actions = list(await session.scalars(select(AuditEntry.action)))
    assert "consult.attach" in actions and "attachment.read" in actions


async def test_bad_files_are_refused_and_store_nothing(rt, client, settings):
    _, cho_h, _, _, patient = await tele.setup(rt, client)
    cid = await _consult_id(client, cho_h, patient)
    too_big = b"%PDF-" + b"x" * settings.attachment_max_bytes
    cases = [
        (b"", "attachment_empty"),
        (b"MZ\x90\x00 not an image", "attachment_type"),
        (b"<svg onload=alert(1)>", "attachment_type"),
        (too_big, "attachment_too_large"),
    ]
    for data, code in cases:
        r = await client.post(
            f"/api/v1/consultations/{cid}/attachments",
            files={"file": ("x.png", data, "image/png")},
            headers={**cho_h, "Accept-Language": "en"},
        )
        assert r.status_code == 422 and r.json()["error"]["code"] == code, r.text
    async with rt.db.read() as session:
        assert list(await session.scalars(select(ConsultAttachment.id))) == []
    assert _stored_files(settings) == []


async def test_only_those_who_see_the_consult_get_its_files(rt, client):
    codes, cho_h, doc_h, _, patient = await tele.setup(rt, client)
    cid = await _consult_id(client, cho_h, patient)
    r = await client.post(
        f"/api/v1/consultations/{cid}/attachments",
        files={"file": ("summary.pdf", PDF, "application/pdf")},
        headers=cho_h,
    )
    url = r.json()["url"]
    other = await factories.cho(rt, codes["hills_spoke"])
    other_h = {"Authorization": f"Bearer {await factories.token(client, other.username)}"}
    assert (await client.get(url, headers=other_h)).status_code == 404
    # The doctor sees it once the consult is theirs; a PDF downloads rather than opens.
    await client.post("/api/v1/doctors/me/presence", json={"status": "online"}, headers=doc_h)
    await client.post(f"/api/v1/consultations/{cid}/accept", headers=doc_h)
    r = await client.get(url, headers=doc_h)
    assert r.status_code == 200 and r.headers["content-disposition"].startswith("attachment")
    # A doctor may not add files; a closed consult takes none.
    r = await client.post(
        f"/api/v1/consultations/{cid}/attachments",
        files={"file": ("x.png", PNG, "image/png")},
        headers=doc_h,
    )
    assert r.status_code == 403
    await client.post(f"/api/v1/consultations/{cid}/complete", headers=doc_h)
    r = await client.post(
        f"/api/v1/consultations/{cid}/attachments",
        files={"file": ("x.png", PNG, "image/png")},
        headers=cho_h,
    )
    assert r.status_code == 409 and r.json()["error"]["code"] == "consult_closed"
