"""The family's page for an ambulance request: ``/ambulance/{reference}`` (public; the
reference travels by SMS and the page shows no patient data, only the status, the vehicle and
its driver's phone once one is sent)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Request
from fastapi.responses import HTMLResponse

from seba.ambulances import trips
from seba.core.http import get_runtime
from seba.core.phones import tel_uri
from seba.core.runtime import Runtime
from seba.vocabulary import (
    AMBULANCE_KIND_LABELS,
    AMBULANCE_REQUEST_STATUS_LABELS,
    TRIP_STATUS_LABELS,
)
from seba.web.render import render

router = APIRouter(include_in_schema=False)


@router.get("/ambulance/{reference}", response_class=HTMLResponse)
async def family_status_page(
    request: Request,
    reference: Annotated[str, Path(max_length=20, pattern=r"^[A-Za-z0-9-]+$")],
    rt: Runtime = Depends(get_runtime),
):
    found = await trips.family_status(rt, reference=reference)
    return render(
        request,
        "ambulances/status.html",
        found=found,
        request_labels=AMBULANCE_REQUEST_STATUS_LABELS,
        trip_labels=TRIP_STATUS_LABELS,
        kind_labels=AMBULANCE_KIND_LABELS,
        tel_href=tel_uri,
    )
