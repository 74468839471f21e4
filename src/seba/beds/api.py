"""JSON routes for beds: public availability, facilities, district totals, census, live events."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query, Request
from starlette.types import Scope

from seba.accounts.bearer import current_principal
from seba.beds import public
from seba.beds import service as bed_service
from seba.beds.filter_query import query_items, read_filter
from seba.beds.live import VERSION
from seba.beds.models import BED_TYPES, SEXES
from seba.beds.queries import DEFAULT_LIMIT, MAX_LIMIT, AvailabilityFilter, parse_near
from seba.beds.schemas import CensusUpdate
from seba.core.access import Principal
from seba.core.fast_path import Reply
from seba.core.formats import PathId
from seba.core.http import cached_response, get_runtime
from seba.core.openapi import errors
from seba.core.runtime import Runtime
from seba.places.models import OWNERSHIPS
from seba.web.live import event_stream

router = APIRouter(prefix="/api/v1", tags=["beds"])

FacilityId = PathId


def availability_filter(
    district: Annotated[str | None, Query(max_length=40, pattern=r"^[a-z0-9-]+$")] = None,
    ownership: Annotated[Literal[OWNERSHIPS] | None, Query()] = None,  # type: ignore[valid-type]
    bed_type: Annotated[Literal[BED_TYPES] | None, Query()] = None,  # type: ignore[valid-type]
    sex: Annotated[Literal[SEXES] | None, Query()] = None,  # type: ignore[valid-type]
    covid: bool | None = None,
    available_only: bool = False,
    q: Annotated[str | None, Query(max_length=100)] = None,
    near: Annotated[str | None, Query(max_length=60, description="LAT,LON")] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = DEFAULT_LIMIT,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
) -> AvailabilityFilter:
    return AvailabilityFilter(
        district=district,
        ownership=ownership,
        bed_type=bed_type,
        sex=sex,
        covid=covid,
        available_only=available_only,
        q=(q or "").strip() or None,
        near=parse_near(near),
        limit=limit,
        offset=offset,
    )


# Answered from stored bytes with an ETag: a client that sends it back gets 304.
NOT_MODIFIED = {304: {"description": "Not modified: the `If-None-Match` ETag is current"}}


@router.get("/beds/availability", summary="Free beds per facility (public)", responses=NOT_MODIFIED)
async def get_availability(
    request: Request,
    f: Annotated[AvailabilityFilter, Depends(availability_filter)],
    rt: Runtime = Depends(get_runtime),
):
    return cached_response(request, await public.availability(rt, f))


async def fast_near(rt: Runtime, scope: Scope) -> Reply | None:
    """The list near a location, for the fast path (``core/fast_path.py``): every phone's
    location is a new URL, so it is answered from memory here instead of through the route.
    Lists that repeat (no ``near``) are left to the route and the fast path's stored answers;
    anything unusual is left to the route."""
    params = query_items(scope["query_string"])
    f = read_filter(params) if params is not None and params.get("near") else None
    if f is None or f.near is None:
        return None
    return Reply(await public.availability(rt, f))


@router.get("/districts", summary="Districts with bed totals (public)", responses=NOT_MODIFIED)
async def get_districts(request: Request, rt: Runtime = Depends(get_runtime)):
    return cached_response(request, await public.districts(rt))


@router.get(
    "/facilities/{facility_id}",
    summary="One facility with its beds and census version",
    responses=NOT_MODIFIED,
)
async def get_facility(
    request: Request, facility_id: FacilityId, rt: Runtime = Depends(get_runtime)
):
    return cached_response(request, await public.facility(rt, facility_id))


@router.put(
    "/facilities/{facility_id}/beds",
    summary="Submit a bed census (atomic); 409 `version_conflict` with the current census",
    responses=errors(409),
)
async def put_census(
    facility_id: FacilityId,
    census: CensusUpdate,
    principal: Principal = Depends(current_principal),
    rt: Runtime = Depends(get_runtime),
):
    result = await bed_service.update_census(
        rt, actor=principal, facility_id=facility_id, census=census
    )
    return bed_service.census_state(result)


@router.get("/beds/events", summary="Live bed changes (server-sent events)")
async def bed_events(request: Request, rt: Runtime = Depends(get_runtime)):
    """One SSE stream per page. Each event says which facility changed; the page fetches again.

    The event id is the bed data version; a client that reconnects with ``Last-Event-ID``
    behind the current version gets one catch-up event at once.
    """
    return event_stream(request, rt, topics=(VERSION,), version=VERSION)
