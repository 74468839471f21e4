"""JSON routes for teleconsultation: the network, consults, doctors' presence and offers,
prescriptions and their PDF. Thin: parse, call one service, shape the answer."""

from __future__ import annotations

from datetime import date
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request, Response, UploadFile

from seba.accounts.bearer import current_principal
from seba.core.access import Principal
from seba.core.formats import CODE_PATTERN, PathId
from seba.core.http import bearer_token, get_runtime
from seba.core.openapi import errors
from seba.core.runtime import Runtime
from seba.places import network
from seba.telemedicine import doctors
from seba.telemedicine.consults import attachments, offers, stats
from seba.telemedicine.consults import service as consult_service
from seba.telemedicine.consults.schemas import (
    CancelIn,
    CompleteIn,
    ConsultIn,
    PresenceIn,
    QueueState,
    consult_out,
)
from seba.telemedicine.pages.events import consult_stream, doctor_stream
from seba.telemedicine.prescriptions import service as prescription_service
from seba.telemedicine.prescriptions.formulary import display_name, load_formulary
from seba.telemedicine.prescriptions.schemas import DispensingIn, PrescriptionIn
from seba.telemedicine.schemas import RosterIn

router = APIRouter(prefix="/api/v1", tags=["telemedicine"])
Id = PathId
Staff = Annotated[Principal, Depends(current_principal)]
Rt = Annotated[Runtime, Depends(get_runtime)]


@router.get("/network/hubs", summary="Hubs: codes, pools, specialties, hours (staff)")
async def list_hubs(principal: Staff, rt: Rt):
    return {"hubs": [row.__dict__ for row in await network.list_hubs(rt, actor=principal)]}


@router.get(
    "/network/spokes",
    summary="Spokes, all or of one hub (home and linked), paged; 404 for an unknown hub",
    responses=errors(404),
)
async def list_spokes(
    principal: Staff,
    rt: Rt,
    hub: Annotated[str | None, Query(pattern=CODE_PATTERN, description="a hub's code")] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 200,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
):
    rows = await network.list_spokes(rt, actor=principal, hub_code=hub, limit=limit, offset=offset)
    return {"spokes": [row.__dict__ for row in rows], "limit": limit, "offset": offset}


def _queued(state: QueueState) -> dict:
    body = consult_out(state.consult)
    # To the CHO an offer not yet accepted is still "waiting for a doctor".
    if body["status"] == "offered":
        body["status"] = "queued"
    body.update(
        position=state.position,
        estimated_wait_s=state.estimated_wait_s,
        doctors_online=state.doctors_online,
    )
    return body


@router.post(
    "/consultations",
    status_code=201,
    summary="Raise a consult for a patient (CHO); 404 for a patient outside your reach",
    responses=errors(404),
)
async def raise_consult(body: ConsultIn, principal: Staff, rt: Rt):
    state = await consult_service.raise_consult(rt, actor=principal, data=body)
    return _queued(state)


@router.get("/consultations/{consult_id}", summary="A consult with its queue position")
async def get_consult(consult_id: Id, principal: Staff, rt: Rt):
    state = await consult_service.queue_state(rt, actor=principal, consult_id=consult_id)
    body = consult_out(state.consult)
    body.update(position=state.position, estimated_wait_s=state.estimated_wait_s)
    return body


@router.post(
    "/consultations/{consult_id}/cancel",
    summary="Withdraw a waiting consult (CHO)",
    responses=errors(409),
)
async def cancel_consult(consult_id: Id, body: CancelIn, principal: Staff, rt: Rt):
    await consult_service.cancel_consult(rt, actor=principal, consult_id=consult_id, data=body)
    return {"id": consult_id, "status": "cancelled"}


@router.post(
    "/consultations/{consult_id}/join",
    summary="The CHO joins the doctor's call",
    responses=errors(409),
)
async def join_consult(consult_id: Id, principal: Staff, rt: Rt):
    return consult_out(
        await consult_service.join_consult(rt, actor=principal, consult_id=consult_id)
    )


@router.post(
    "/doctors/me/presence", summary="Go online, away or offline (doctor)", responses=errors(409)
)
async def set_presence(body: PresenceIn, principal: Staff, rt: Rt):
    presence = await offers.set_presence(rt, actor=principal, data=body)
    return {"status": presence.status, "consult_id": presence.consult_id}


@router.get(
    "/doctors/me/offer",
    summary="The consult offered to me (200) or nothing (204); also my heartbeat",
    responses={204: {"description": "No consult for you right now"}},
)
async def current_offer(principal: Staff, rt: Rt):
    consult = await offers.current_offer(rt, actor=principal)
    if consult is None:
        return Response(status_code=204)
    return consult_out(consult)


@router.get(
    "/doctors/me/events",
    summary="My offers and my consults' changes, live (server-sent events); my presence",
    responses=errors(403),
)
async def doctor_events(request: Request, principal: Staff, rt: Rt):
    """``offer`` ``{"consult_id"}`` when a consult is offered to me (and at once on connect if
    one stands); ``consult`` ``{"consult_id", "status"}`` when one of mine changes. While the
    stream is open I stay present without polling."""
    token = bearer_token(request) or ""
    return await doctor_stream(request, rt, actor=principal, token=token)


@router.get(
    "/consultations/{consult_id}/events",
    summary="One consult's changes, live (server-sent events): `state` and queue `position`",
    responses=errors(404),
)
async def consult_events(request: Request, consult_id: Id, principal: Staff, rt: Rt):
    token = bearer_token(request) or ""
    return await consult_stream(request, rt, actor=principal, consult_id=consult_id, token=token)


@router.post(
    "/consultations/{consult_id}/accept",
    summary="Take a consult (doctor); 409 if taken",
    responses=errors(409),
)
async def accept_consult(consult_id: Id, principal: Staff, rt: Rt):
    return consult_out(await offers.accept_consult(rt, actor=principal, consult_id=consult_id))


@router.post(
    "/consultations/{consult_id}/prescription",
    status_code=201,
    summary="Issue the e-prescription, checked against TPG 2020 (422 per refused item)",
    responses=errors(409),
)
async def prescribe(consult_id: Id, body: PrescriptionIn, principal: Staff, rt: Rt):
    rx = await prescription_service.prescribe(rt, actor=principal, consult_id=consult_id, data=body)
    return {
        "id": rx.id,
        "consultation_id": consult_id,
        "verification_code": rx.verification_code,
        "items": rx.items,
        "pdf": f"/api/v1/consultations/{consult_id}/prescription.pdf",
        "verify_url": prescription_service.verify_url(rt, rx.verification_code),
        "referral": rx.document.get("referral"),
    }


@router.post(
    "/consultations/{consult_id}/complete",
    summary="End the consult (doctor)",
    responses=errors(409),
)
async def complete_consult(
    consult_id: Id, principal: Staff, rt: Rt, body: CompleteIn | None = None
):
    consult = await offers.complete_consult(rt, actor=principal, consult_id=consult_id, data=body)
    return consult_out(consult)


@router.get(
    "/consultations/{consult_id}/prescription.pdf",
    summary="The prescription as a PDF in Bengali and English",
    response_class=Response,
    responses={200: {"content": {"application/pdf": {}}}},
)
async def prescription_pdf(consult_id: Id, principal: Staff, rt: Rt):
    pdf, code = await prescription_service.prescription_pdf(
        rt, actor=principal, consult_id=consult_id
    )
    return Response(
        pdf,
        media_type="application/pdf",
        headers={
            "Content-Disposition": f'inline; filename="prescription-{code}.pdf"',
            "Cache-Control": "private, no-store",
        },
    )


@router.get("/telemedicine/stats", summary="Per hub or pool for one day: requests, waits, no-shows")
async def daily_stats(
    principal: Staff,
    rt: Rt,
    day: date | None = None,
    by: Annotated[str, Query(pattern="^(hub|pool)$")] = "pool",
):
    day = day or stats.today()
    rows = await stats.daily(rt, actor=principal, day=day, group=by)
    return {"day": day.isoformat(), "by": by, "rows": [row.__dict__ for row in rows]}


@router.get(
    "/telemedicine/capacity",
    summary="Each pool now: load, doctors online vs needed, the capacity alarm",
)
async def live_capacity(principal: Staff, rt: Rt):
    rows = await stats.live_capacity(rt, actor=principal)
    return {"pools": [row.__dict__ for row in rows]}


def _attachment_out(row) -> dict:
    return {
        "id": row.id,
        "filename": row.filename,
        "content_type": row.content_type,
        "size_bytes": row.size_bytes,
        "url": f"/api/v1/consultations/{row.consultation_id}/attachments/{row.id}",
    }


@router.post(
    "/consultations/{consult_id}/attachments",
    status_code=201,
    summary="Attach a photo (JPEG/PNG/WebP) or PDF to an open consult (CHO; 5 MB, 10 files)",
    responses=errors(409),
)
async def attach(consult_id: Id, file: UploadFile, principal: Staff, rt: Rt):
    # Read one byte past the limit: enough to refuse, never the whole of a huge upload.
    data = await file.read(rt.settings.attachment_max_bytes + 1)
    row = await attachments.attach(
        rt, actor=principal, consult_id=consult_id, filename=file.filename or "", data=data
    )
    return _attachment_out(row)


@router.get("/consultations/{consult_id}/attachments", summary="A consult's attachments")
async def list_attachments(consult_id: Id, principal: Staff, rt: Rt):
    rows = await attachments.list_attachments(rt, actor=principal, consult_id=consult_id)
    return {"attachments": [_attachment_out(r) for r in rows]}


@router.get(
    "/consultations/{consult_id}/attachments/{attachment_id}",
    summary="One attachment's bytes (audited)",
    response_class=Response,
)
async def read_attachment(consult_id: Id, attachment_id: Id, principal: Staff, rt: Rt):
    row, data = await attachments.read_attachment(
        rt, actor=principal, consult_id=consult_id, attachment_id=attachment_id
    )
    # PDFs download rather than open inline; nosniff keeps browsers to the type we checked.
    disposition = "attachment" if row.content_type == "application/pdf" else "inline"
    return Response(
        data,
        media_type=row.content_type,
        headers={
            "Content-Disposition": f'{disposition}; filename="attachment-{row.id}"',
            "X-Content-Type-Options": "nosniff",
            "Cache-Control": "private, no-store",
        },
    )


@router.post(
    "/consultations/{consult_id}/dispensing",
    status_code=201,
    summary="Record what the spoke handed over, per prescription line (CHO)",
)
async def record_dispensing(consult_id: Id, body: DispensingIn, principal: Staff, rt: Rt):
    rows = await prescription_service.record_dispensing(
        rt, actor=principal, consult_id=consult_id, data=body
    )
    return {
        "dispensed": [{"index": r.item_index, "quantity": r.quantity, "note": r.note} for r in rows]
    }


@router.get("/formulary", summary="Search the formulary (generic or Bengali name), with TPG list")
async def search_formulary(principal: Staff, q: Annotated[str, Query(min_length=1, max_length=60)]):
    return {
        "drugs": [
            {
                "generic": d.generic,
                "display": display_name(d),
                "name_bn": d.name_bn,
                "tpg_list": d.tpg_list,
                "forms": list(d.forms),
                "strengths": list(d.strengths),
            }
            for d in load_formulary().search(q)
        ]
    }


def _shifts(shifts) -> dict:
    return {"shifts": [s.model_dump() for s in shifts]}


@router.get("/doctors/{doctor_id}/roster", summary="A doctor's weekly shifts")
async def get_roster(doctor_id: Id, principal: Staff, rt: Rt):
    return _shifts(await doctors.roster(rt, actor=principal, doctor_id=doctor_id))


@router.put("/doctors/{doctor_id}/roster", summary="Replace a doctor's weekly shifts")
async def put_roster(doctor_id: Id, body: RosterIn, principal: Staff, rt: Rt):
    await doctors.set_roster(rt, actor=principal, doctor_id=doctor_id, data=body)
    return _shifts(await doctors.roster(rt, actor=principal, doctor_id=doctor_id))
