"""The public list's filter read straight from a raw query string, for the fast path.

``read_filter`` gives exactly the ``AvailabilityFilter`` that the route's validation
(``api.availability_filter`` through FastAPI, or ``pages.page_filter``) gives for the same
query string, or None whenever anything is unusual: an unknown or repeated parameter, a value
outside what is written here, a spelling FastAPI also accepts but this does not (``covid=yes``),
an invalid value. None sends the request on to the route, which answers it (a 422 included),
so this may refuse anything but must never accept differently.
"""

from __future__ import annotations

import re
from urllib.parse import parse_qsl

from seba.beds.models import BED_TYPES, SEXES
from seba.beds.queries import DEFAULT_LIMIT, MAX_LIMIT, AvailabilityFilter, parse_near
from seba.core.errors import ValidationFailed
from seba.places.models import OWNERSHIPS

FILTER_NAMES = frozenset(
    {
        "district",
        "ownership",
        "bed_type",
        "sex",
        "covid",
        "available_only",
        "q",
        "near",
        "limit",
        "offset",
    }
)
DISTRICT = re.compile(r"[a-z0-9-]{1,40}")
NUMBER = re.compile(r"[0-9]{1,7}")
BOOLEANS = {"true": True, "false": False}
MAX_OFFSET = 1_000_000


def query_items(raw: bytes) -> dict[str, str] | None:
    """The parameters as Starlette reads them; None if one is repeated."""
    items = parse_qsl(raw.decode("latin-1"), keep_blank_values=True)
    found = dict(items)
    return found if len(found) == len(items) else None


def read_filter(
    params: dict[str, str], *, default_limit: int = DEFAULT_LIMIT
) -> AvailabilityFilter | None:
    """The filter these parameters name (all of them filter parameters), or None."""
    if not params.keys() <= FILTER_NAMES:
        return None
    district = params.get("district")
    if district is not None and not DISTRICT.fullmatch(district):
        return None
    ownership = params.get("ownership")
    bed_type = params.get("bed_type")
    sex = params.get("sex")
    if (
        (ownership is not None and ownership not in OWNERSHIPS)
        or (bed_type is not None and bed_type not in BED_TYPES)
        or (sex is not None and sex not in SEXES)
    ):
        return None
    covid = params.get("covid")
    available_only = params.get("available_only", "false")
    if (covid is not None and covid not in BOOLEANS) or available_only not in BOOLEANS:
        return None
    q = params.get("q")
    near_text = params.get("near")
    if (q is not None and len(q) > 100) or (near_text is not None and len(near_text) > 60):
        return None
    try:
        near = parse_near(near_text)
    except ValidationFailed:
        return None
    limit_text = params.get("limit", str(default_limit))
    offset_text = params.get("offset", "0")
    if not (NUMBER.fullmatch(limit_text) and NUMBER.fullmatch(offset_text)):
        return None
    limit, offset = int(limit_text), int(offset_text)
    if not (1 <= limit <= MAX_LIMIT and 0 <= offset <= MAX_OFFSET):
        return None
    return AvailabilityFilter(
        district=district,
        ownership=ownership,
        bed_type=bed_type,
        sex=sex,
        covid=None if covid is None else BOOLEANS[covid],
        available_only=BOOLEANS[available_only],
        q=(q or "").strip() or None,
        near=near,
        limit=limit,
        offset=offset,
    )
