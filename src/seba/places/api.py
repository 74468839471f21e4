"""JSON routes for facility administration (reads are public, in ``beds/api.py``)."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request

from seba.accounts.bearer import current_principal
from seba.core.access import Principal
from seba.core.errors import ValidationFailed
from seba.core.formats import PathId
from seba.core.http import get_runtime
from seba.core.openapi import errors
from seba.core.runtime import Runtime
from seba.places import service as place_service
from seba.places.schemas import FacilityIn, FacilityUpdate

router = APIRouter(prefix="/api/v1", tags=["places"])


def _created(facility) -> dict:
    return {"id": facility.id, **place_service.facility_snapshot(facility)}


@router.post(
    "/facilities", status_code=201, summary="Add a facility (admins)", responses=errors(409)
)
async def create_facility(
    body: FacilityIn,
    principal: Principal = Depends(current_principal),
    rt: Runtime = Depends(get_runtime),
):
    return _created(await place_service.create_facility(rt, actor=principal, data=body))


@router.patch(
    "/facilities/{facility_id}",
    summary="Change a facility's details (admins)",
    responses=errors(409),
)
async def update_facility(
    facility_id: PathId,
    body: FacilityUpdate,
    principal: Principal = Depends(current_principal),
    rt: Runtime = Depends(get_runtime),
):
    return _created(
        await place_service.update_facility(rt, actor=principal, facility_id=facility_id, data=body)
    )


@router.post(
    "/facilities/import",
    summary="Import facilities from CSV (all or nothing; state admins)",
    openapi_extra={"requestBody": {"content": {"text/csv": {"schema": {"type": "string"}}}}},
    responses=errors(409),
)
async def import_facilities(
    request: Request,
    principal: Principal = Depends(current_principal),
    rt: Runtime = Depends(get_runtime),
):
    # Read at most one byte past the limit: a huge upload is refused without being held in
    # memory whole.
    raw = bytearray()
    async for chunk in request.stream():
        raw += chunk
        if len(raw) > place_service.MAX_IMPORT_BYTES:
            raise ValidationFailed("The file is too large.", code="file_too_large")
    try:
        text = bytes(raw).decode("utf-8-sig")
    except UnicodeDecodeError:
        raise ValidationFailed("The file must be UTF-8 text.", code="not_utf8") from None
    report = await place_service.import_facilities(rt, actor=principal, text=text)
    return {"created": report.created, "updated": report.updated}
