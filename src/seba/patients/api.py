"""JSON routes of the patient registry (staff tokens). Every read of a patient is audited.

A patient outside the caller's reach answers 404 exactly like a missing one.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Header, Query, Response

from seba.accounts.bearer import current_principal
from seba.core.access import Principal
from seba.core.formats import PathId
from seba.core.http import get_runtime
from seba.core.openapi import errors
from seba.core.runtime import Runtime
from seba.patients import service as patient_service
from seba.patients.schemas import PatientIn, PatientList, PatientOut, PatientUpdate

router = APIRouter(prefix="/api/v1/patients", tags=["patients"])

Id = PathId
IdemKey = Annotated[str | None, Header(alias="Idempotency-Key", max_length=200)]


@router.post(
    "",
    status_code=201,
    response_model=PatientOut,
    summary="Register a patient at the CHO's spoke",
    responses={
        409: {
            "description": "`abha_taken` (details.patient_id when you may see that patient), or "
            "`possible_duplicate` (details.candidates: people under the same phone who may be "
            "this patient; send again with `confirm_new: true` to register anyway)"
        }
    },
)
async def register_patient(
    body: PatientIn,
    response: Response,
    idempotency_key: IdemKey = None,
    actor: Principal = Depends(current_principal),
    rt: Runtime = Depends(get_runtime),
) -> PatientOut:
    patient, replayed = await patient_service.register_patient(
        rt, actor=actor, data=body, idempotency_key=idempotency_key
    )
    if replayed:
        response.headers["Idempotent-Replay"] = "true"
    return PatientOut.of(patient)


@router.get(
    "",
    response_model=PatientList,
    summary="Find patients by phone (the whole family), ABHA number or name (audited)",
)
async def search_patients(
    phone: Annotated[str | None, Query(max_length=20)] = None,
    abha: Annotated[str | None, Query(max_length=40)] = None,
    name: Annotated[str | None, Query(max_length=120)] = None,
    limit: Annotated[int, Query(ge=1, le=patient_service.MAX_SEARCH_LIMIT)] = 20,
    actor: Principal = Depends(current_principal),
    rt: Runtime = Depends(get_runtime),
) -> PatientList:
    patients = await patient_service.search_patients(
        rt, actor=actor, phone=phone, abha=abha, name=name, limit=limit
    )
    return PatientList(patients=[PatientOut.of(p) for p in patients])


@router.get(
    "/{patient_id}",
    response_model=PatientOut,
    summary="One patient (audited read)",
)
async def get_patient(
    patient_id: Id,
    actor: Principal = Depends(current_principal),
    rt: Runtime = Depends(get_runtime),
) -> PatientOut:
    return PatientOut.of(await patient_service.get_patient(rt, actor=actor, patient_id=patient_id))


@router.patch(
    "/{patient_id}",
    response_model=PatientOut,
    summary="Correct a patient's record",
    responses=errors(409),
)
async def update_patient(
    patient_id: Id,
    body: PatientUpdate,
    actor: Principal = Depends(current_principal),
    rt: Runtime = Depends(get_runtime),
) -> PatientOut:
    patient = await patient_service.update_patient(
        rt, actor=actor, patient_id=patient_id, data=body
    )
    return PatientOut.of(patient)
