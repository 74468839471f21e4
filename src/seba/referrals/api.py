"""JSON routes for central referral: citizen OTP and requests, control room, hospital side.

Admissions are referrals in status ``admitted``: ``/api/v1/admissions/{id}/…`` takes the
referral id. Every POST that changes state honours ``Idempotency-Key``.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Header, Path, Request, Response

from seba.accounts.api import client_address
from seba.accounts.bearer import current_principal
from seba.core.access import Principal
from seba.core.formats import PathId
from seba.core.http import get_runtime, request_language
from seba.core.openapi import errors
from seba.core.runtime import Runtime
from seba.referrals import admissions as referral_admissions
from seba.referrals import board as referral_board
from seba.referrals import otp
from seba.referrals import service as referral_service
from seba.referrals.schemas import (
    CallerRequest,
    CitizenRequest,
    DischargeBody,
    MoveBody,
    OtpStart,
    OtpVerify,
    Reason,
    ReferralCreate,
    RejectBody,
    TransferBody,
    WalkIn,
)

router = APIRouter(prefix="/api/v1", tags=["referrals"])

Id = PathId
IdemKey = Annotated[str | None, Header(alias="Idempotency-Key", max_length=200)]
PHONE_HEADER = "X-Phone-Session"


def _status(response: Response, replayed: bool, created: bool = False) -> None:
    response.status_code = 201 if created else 200
    if replayed:
        response.headers["Idempotent-Replay"] = "true"


async def _phone(request: Request, rt: Runtime) -> str:
    token = request.headers.get(PHONE_HEADER) or request.cookies.get("seba_phone")
    return await otp.phone_for_session(rt, token)


# ---------------------------------------------------------------- citizens


@router.post(
    "/otp",
    status_code=201,
    summary="Send a one-time code to a phone (citizens)",
    responses=errors(429),
)
async def start_otp(body: OtpStart, request: Request, rt: Runtime = Depends(get_runtime)):
    challenge_id = await otp.start(
        rt, phone=body.phone, client=client_address(request), lang=request_language(request)
    )
    return {"challenge_id": challenge_id, "expires_in": rt.settings.otp_ttl_s}


@router.post(
    "/otp/verify", summary="Check the code; answers a phone-session token", responses=errors(401)
)
async def verify_otp(body: OtpVerify, rt: Runtime = Depends(get_runtime)):
    token, phone = await otp.verify(rt, challenge_id=body.challenge_id, code=body.code)
    return {"phone_session": token, "phone": phone, "header": PHONE_HEADER}


@router.post(
    "/admission-requests",
    status_code=201,
    summary="A family asks for a bed (after the code)",
    responses=errors(401, 409),
)
async def submit_request(
    body: CitizenRequest, request: Request, rt: Runtime = Depends(get_runtime)
):
    phone = await _phone(request, rt)
    return await referral_service.submit_citizen_request(
        rt, phone=phone, data=body, lang=request_language(request)
    )


@router.get(
    "/admission-requests/{reference}/status",
    summary="Know your request (behind the code)",
    responses=errors(401),
)
async def request_status(
    reference: Annotated[str, Path(max_length=20, pattern=r"^[A-Za-z0-9-]+$")],
    request: Request,
    rt: Runtime = Depends(get_runtime),
):
    phone = await _phone(request, rt)
    return await referral_service.citizen_status(rt, phone=phone, reference=reference)


# ---------------------------------------------------------------- control room


@router.post(
    "/admission-requests/by-phone",
    status_code=201,
    summary="Record a phone caller's request",
    responses=errors(409),
)
async def caller_request(
    body: CallerRequest,
    actor: Principal = Depends(current_principal),
    rt: Runtime = Depends(get_runtime),
):
    return await referral_service.create_caller_request(rt, actor=actor, data=body)


@router.get("/control-room/queue", summary="Waiting requests with ranked free beds")
async def control_queue(
    actor: Principal = Depends(current_principal), rt: Runtime = Depends(get_runtime)
):
    items, active = await referral_board.control_queue(rt, actor=actor)
    return {"requests": items, "active": active}


@router.get("/control-room/board", summary="Counts and timings today and this week")
async def control_board(
    actor: Principal = Depends(current_principal), rt: Runtime = Depends(get_runtime)
):
    return await referral_board.control_board(rt, actor=actor)


@router.post(
    "/referrals",
    status_code=201,
    summary="Reserve a bed (control room or hospital); 404 for a facility or request not found",
    responses=errors(404, 409),
)
async def create_referral(
    body: ReferralCreate,
    response: Response,
    idempotency_key: IdemKey = None,
    actor: Principal = Depends(current_principal),
    rt: Runtime = Depends(get_runtime),
):
    result, replayed = await referral_service.create_referral(
        rt, actor=actor, data=body, idempotency_key=idempotency_key
    )
    _status(response, replayed, created=True)
    return result


@router.get("/referrals/{referral_id}", summary="One referral (audited read)")
async def get_referral(
    referral_id: Id,
    actor: Principal = Depends(current_principal),
    rt: Runtime = Depends(get_runtime),
):
    return await referral_service.read_referral(rt, actor=actor, referral_id=referral_id)


@router.post(
    "/referrals/{referral_id}/cancel",
    summary="Cancel a hold; the bed is released",
    responses=errors(409),
)
async def cancel_referral(
    referral_id: Id,
    response: Response,
    body: Reason | None = None,
    idempotency_key: IdemKey = None,
    actor: Principal = Depends(current_principal),
    rt: Runtime = Depends(get_runtime),
):
    result, replayed = await referral_service.cancel_referral(
        rt,
        actor=actor,
        referral_id=referral_id,
        reason=(body.reason if body else ""),
        idempotency_key=idempotency_key,
    )
    _status(response, replayed)
    return result


@router.post(
    "/referrals/{referral_id}/move",
    summary="Move a hold to another facility",
    responses=errors(409),
)
async def move_referral(
    referral_id: Id,
    body: MoveBody,
    actor: Principal = Depends(current_principal),
    rt: Runtime = Depends(get_runtime),
):
    return await referral_service.move_referral(rt, actor=actor, referral_id=referral_id, data=body)


# ---------------------------------------------------------------- hospital


@router.get(
    "/facilities/{facility_id}/referrals", summary="Incoming referrals and admissions of a facility"
)
async def facility_referrals(
    facility_id: Id,
    actor: Principal = Depends(current_principal),
    rt: Runtime = Depends(get_runtime),
):
    return {
        "referrals": await referral_board.facility_referrals(
            rt, actor=actor, facility_id=facility_id
        )
    }


@router.post(
    "/referrals/{referral_id}/confirm",
    summary="The hospital accepts the patient",
    responses=errors(409),
)
async def confirm_referral(
    referral_id: Id,
    response: Response,
    idempotency_key: IdemKey = None,
    actor: Principal = Depends(current_principal),
    rt: Runtime = Depends(get_runtime),
):
    result, replayed = await referral_service.confirm_referral(
        rt, actor=actor, referral_id=referral_id, idempotency_key=idempotency_key
    )
    _status(response, replayed)
    return result


@router.post(
    "/referrals/{referral_id}/reject",
    summary="The hospital cannot take the patient (reason)",
    responses=errors(409),
)
async def reject_referral(
    referral_id: Id,
    body: RejectBody,
    response: Response,
    idempotency_key: IdemKey = None,
    actor: Principal = Depends(current_principal),
    rt: Runtime = Depends(get_runtime),
):
    result, replayed = await referral_service.reject_referral(
        rt,
        actor=actor,
        referral_id=referral_id,
        reason=body.reason,
        idempotency_key=idempotency_key,
    )
    _status(response, replayed)
    return result


@router.post(
    "/referrals/{referral_id}/admit",
    summary="The patient arrived: admit (reserved → occupied)",
    responses=errors(409),
)
async def admit_referral(
    referral_id: Id,
    response: Response,
    idempotency_key: IdemKey = None,
    actor: Principal = Depends(current_principal),
    rt: Runtime = Depends(get_runtime),
):
    result, replayed = await referral_admissions.admit_referral(
        rt, actor=actor, referral_id=referral_id, idempotency_key=idempotency_key
    )
    _status(response, replayed)
    return result


@router.post(
    "/facilities/{facility_id}/admissions",
    status_code=201,
    summary="Admit a walk-in patient",
    responses=errors(409),
)
async def walk_in(
    facility_id: Id,
    body: WalkIn,
    response: Response,
    idempotency_key: IdemKey = None,
    actor: Principal = Depends(current_principal),
    rt: Runtime = Depends(get_runtime),
):
    result, replayed = await referral_admissions.admit_walk_in(
        rt, actor=actor, facility_id=facility_id, data=body, idempotency_key=idempotency_key
    )
    _status(response, replayed, created=True)
    return result


@router.post(
    "/admissions/{admission_id}/discharge",
    summary="Discharge, or record a death (frees the bed)",
    responses=errors(409),
)
async def discharge(
    admission_id: Id,
    response: Response,
    body: DischargeBody | None = None,
    idempotency_key: IdemKey = None,
    actor: Principal = Depends(current_principal),
    rt: Runtime = Depends(get_runtime),
):
    result, replayed = await referral_admissions.discharge_admission(
        rt,
        actor=actor,
        admission_id=admission_id,
        data=body or DischargeBody(),
        idempotency_key=idempotency_key,
    )
    _status(response, replayed)
    return result


@router.post(
    "/admissions/{admission_id}/transfer",
    summary="Transfer out: frees the bed, opens a new request",
    responses=errors(409),
)
async def transfer(
    admission_id: Id,
    body: TransferBody,
    response: Response,
    idempotency_key: IdemKey = None,
    actor: Principal = Depends(current_principal),
    rt: Runtime = Depends(get_runtime),
):
    result, replayed = await referral_admissions.transfer_admission(
        rt, actor=actor, admission_id=admission_id, data=body, idempotency_key=idempotency_key
    )
    _status(response, replayed)
    return result
