"""The OpenAPI document states every error each route can answer, in the one error shape, and
the shared formats check at runtime exactly what the document says."""

from __future__ import annotations

import re
from typing import Annotated

import pytest
from fastapi import APIRouter, Depends, FastAPI, Path
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import BaseModel, ValidationError

from seba.accounts.bearer import current_principal
from seba.app import create_app
from seba.core.formats import MOBILE_PATTERN, NAME_PATTERN, IndianMobile, PersonName
from seba.core.http import get_runtime
from seba.core.openapi import ANY_STAFF, document_errors, errors
from seba.settings import Settings


@pytest.fixture(scope="module")
def spec() -> dict:
    app = create_app(Settings(database_url="sqlite+aiosqlite:////nonexistent/x.db", env="test"))
    return app.openapi()


def _operations(spec: dict):
    for path, methods in spec["paths"].items():
        for method, operation in methods.items():
            yield f"{method.upper()} {path}", operation


def test_every_error_answer_has_the_error_shape(spec: dict) -> None:
    assert "HTTPValidationError" not in spec["components"]["schemas"]
    for label, operation in _operations(spec):
        for status, response in operation["responses"].items():
            if int(status) >= 400 and label != "GET /readyz":
                schema = response["content"]["application/json"]["schema"]
                assert schema == {"$ref": "#/components/schemas/ErrorBody"}, (label, status)


def test_statuses_follow_the_routes_wiring(spec: dict) -> None:
    ops = dict(_operations(spec))
    census = set(ops["PUT /api/v1/facilities/{facility_id}/beds"]["responses"])
    assert census == {"200", "401", "403", "404", "409", "413", "422", "503"}
    # Public, no path parameter, no body.
    assert set(ops["GET /api/v1/districts"]["responses"]) == {"200", "304", "503"}
    # Any signed-in staff member: no 403.
    assert "403" not in ops["GET /api/v1/auth/me"]["responses"]
    assert set(ops["POST /api/v1/auth/token"]["responses"]) >= {"401", "422", "429"}
    assert "Retry-After" in ops["POST /api/v1/auth/token"]["responses"]["429"]["headers"]
    # Found by the contract test: answered, and now documented.
    assert "404" in ops["POST /api/v1/referrals"]["responses"]  # a facility or request not found
    assert "404" in ops["GET /api/v1/network/spokes"]["responses"]  # an unknown hub
    assert ops["GET /api/v1/users"]["security"] == [{"bearer": []}]
    assert "security" not in ops["GET /api/v1/districts"]


def test_route_errors_on_a_small_app() -> None:
    router = APIRouter()

    @router.get("/open")
    async def open_route() -> dict:
        return {}

    @router.post("/things/{thing_id}", responses=errors(409))
    async def change(
        thing_id: Annotated[int, Path(ge=1)],
        _p=Depends(current_principal),
        _rt=Depends(get_runtime),
    ) -> dict:
        return {}

    @router.get("/me", openapi_extra=ANY_STAFF)
    async def me(_p=Depends(current_principal)) -> dict:
        return {}

    app = FastAPI()
    app.include_router(router)
    document_errors(app, authenticated=(current_principal,), database=(get_runtime,))
    paths = app.openapi()["paths"]
    assert set(paths["/open"]["get"]["responses"]) == {"200"}
    assert set(paths["/things/{thing_id}"]["post"]["responses"]) == {
        "200", "401", "403", "404", "409", "413", "422", "503",
    }  # fmt: skip
    assert set(paths["/me"]["get"]["responses"]) == {"200", "401", "503"}


class Phone(BaseModel):
    phone: IndianMobile


class Name(BaseModel):
    name: PersonName


def _accepted(model: type[BaseModel], **data: object) -> bool:
    try:
        model(**data)
    except ValidationError:
        return False
    return True


@pytest.mark.parametrize(
    ("raw", "stored"),
    [
        ("98300 12345", "+919830012345"),
        ("98300-12345", "+919830012345"),
        ("+91 98300 12345", "+919830012345"),
        ("919830012345", "+919830012345"),
        ("09830012345", "+919830012345"),
        ("০৯৮৩০০১২৩৪৫", "+919830012345"),
    ],
)
def test_mobile_forms_people_write(raw: str, stored: str) -> None:
    assert Phone(phone=raw).phone == stored


def test_the_documented_patterns_are_the_checked_ones() -> None:
    schema = Phone.model_json_schema()["properties"]["phone"]
    assert schema["pattern"] == MOBILE_PATTERN
    assert Name.model_json_schema()["properties"]["name"]["pattern"] == NAME_PATTERN


@settings(max_examples=200, derandomize=True, database=None)
@given(st.one_of(st.from_regex(MOBILE_PATTERN, fullmatch=True), st.text(max_size=20)))
def test_mobile_runtime_agrees_with_its_schema(raw: str) -> None:
    assert _accepted(Phone, phone=raw) == bool(re.fullmatch(MOBILE_PATTERN, raw.strip()))


@settings(max_examples=200, derandomize=True, database=None)
@given(st.one_of(st.from_regex(NAME_PATTERN, fullmatch=True), st.text(max_size=130)))
def test_names_runtime_agrees_with_its_schema(raw: str) -> None:
    documented = bool(re.fullmatch(NAME_PATTERN, raw.strip())) and 2 <= len(raw.strip()) <= 120
    assert _accepted(Name, name=raw) == documented
