"""An honest OpenAPI document: every error status a route can answer, in the one error shape.

FastAPI documents what a route returns when it works and a 422 in its own shape; the errors that
come from the app's wiring are invisible to it. They follow from the route itself, so they are
derived here from each route once the routers are included (``document_errors``):

- 401, 403: the route depends on the staff principal (no or ended token; the policy table
  refuses the role). A route any staff member may use says ``ANY_STAFF``: no 403.
- 404: the path has parameters (the row is missing, or outside the caller's reach).
- 413: POST/PUT/PATCH/DELETE: ``core.limits.BodyLimit`` refuses any body over its ceiling.
- 422: the route takes parameters or a body (request validation, ``ValidationFailed``).
- 503: the route uses the runtime or the staff principal, both of which read the database
  (``http.database_error_handler``: a race lost, or the database unreachable).

What only a service knows (a conflict, a rate limit, a phone session) the route states itself
with ``errors(409)``, ``errors(429)``, ``errors(401)``. Every 4xx/5xx answer without content of its
own is given ``ErrorBody``. A route's own content for a status (``/readyz``'s 503) is kept.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from fastapi import FastAPI
from fastapi import routing as fastapi_routing
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute
from pydantic import BaseModel, ConfigDict, Field

from seba.core.limits import WITH_BODY


class ErrorInfo(BaseModel):
    model_config = ConfigDict(title="ErrorInfo")

    code: str = Field(
        description="Stable machine-readable reason, e.g. `no_bed_available`, `validation_failed`"
    )
    message: str = Field(description="A sentence in the request's language (Bengali by default)")
    details: Any = Field(
        default=None,
        description="What the code needs to explain itself, e.g. the fields refused "
        "(`[{field, type, message}]`) or the candidates of a possible duplicate; may be null",
    )


class ErrorBody(BaseModel):
    """The one error shape of every API answer that is not a success."""

    model_config = ConfigDict(title="ErrorBody")

    error: ErrorInfo


DESCRIPTIONS: dict[int, str] = {
    400: "The request could not be processed (`bad_request`)",
    401: "Not logged in, or the token or session ended (`not_authenticated`)",
    403: "Your role or scope may not do this (`forbidden`, `out_of_scope`)",
    404: "Not found, or outside your reach (answered alike for patient data)",
    409: "The request conflicts with the current state (the code says which)",
    413: "The body is over this route's size limit (`too_large`)",
    422: "Some fields are not valid (`validation_failed`; details lists the fields)",
    429: "Too many attempts; wait for `Retry-After` seconds (`too_many_attempts`)",
    503: "The database is busy or unreachable; nothing was written, try again after "
    "`Retry-After` seconds (`try_again`)",
}
RETRY_AFTER = {
    "Retry-After": {
        "description": "Seconds to wait before trying again",
        "schema": {"type": "integer", "minimum": 1},
    }
}
# A route any signed-in staff member may use (no role gate): it cannot answer 403.
ANY_STAFF: dict[str, Any] = {"x-seba-any-staff": True}


def errors(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """``responses=`` for the statuses only a route's service knows it can answer."""
    return {status: {"description": DESCRIPTIONS[status]} for status in statuses}


def _calls(dependant: Dependant) -> Iterator[Callable[..., Any]]:
    for dependency in dependant.dependencies:
        if dependency.call is not None:
            yield dependency.call
        yield from _calls(dependency)


def _takes_input(route: APIRoute) -> bool:
    flat = route.dependant
    stack = [flat]
    while stack:
        d = stack.pop()
        if d.path_params or d.query_params or d.header_params or d.cookie_params or d.body_params:
            return True
        stack.extend(d.dependencies)
    return bool((route.openapi_extra or {}).get("requestBody"))


def route_errors(
    route: APIRoute,
    *,
    authenticated: tuple[Callable[..., Any], ...],
    database: tuple[Callable[..., Any], ...],
) -> set[int]:
    """The error statuses the app's wiring can answer for ``route`` (see the module's table)."""
    calls = set(_calls(route.dependant))
    statuses: set[int] = set()
    if calls & set(authenticated):
        statuses.add(401)
        if not (route.openapi_extra or {}).get("x-seba-any-staff"):
            statuses.add(403)
    if route.dependant.path_params:
        statuses.add(404)
    if route.methods & WITH_BODY:
        statuses.add(413)
    if _takes_input(route):
        statuses.add(422)
    if calls & (set(database) | set(authenticated)):
        statuses.add(503)
    return statuses


def _error_content() -> dict[str, Any]:
    return {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorBody"}}}


def document_errors(
    app: FastAPI,
    *,
    authenticated: tuple[Callable[..., Any], ...],
    database: tuple[Callable[..., Any], ...],
) -> None:
    """Make ``app.openapi()`` state every error each route can answer, in the error shape.

    Call after every router is included. The document is built once, on first request.
    """
    build = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is not None:
            return app.openapi_schema
        schema = build()
        components = schema.setdefault("components", {}).setdefault("schemas", {})
        components["ErrorInfo"] = ErrorInfo.model_json_schema()
        components["ErrorBody"] = ErrorBody.model_json_schema(
            ref_template="#/components/schemas/{model}"
        )
        components["ErrorBody"].pop("$defs", None)
        # Staff routes take the token of ``POST /api/v1/auth/token`` (or a page session).
        schema["components"].setdefault("securitySchemes", {})["bearer"] = {
            "type": "http",
            "scheme": "bearer",
            "description": "The access_token of POST /api/v1/auth/token",
        }
        for path, route in _api_routes(app):
            derived = route_errors(route, authenticated=authenticated, database=database)
            for method in route.methods:
                operation = schema["paths"].get(path, {}).get(method.lower())
                if operation is not None:
                    _complete(operation, derived)
                    if 401 in derived and set(_calls(route.dependant)) & set(authenticated):
                        operation["security"] = [{"bearer": []}]
        # FastAPI's own 422 shape is never answered (``http.validation_error_handler``).
        for name in ("HTTPValidationError", "ValidationError"):
            components.pop(name, None)
        app.openapi_schema = schema
        return schema

    app.openapi = openapi  # type: ignore[method-assign]


def _api_routes(app: FastAPI) -> Iterator[tuple[str, APIRoute]]:
    """(full path, route) of every documented API route. FastAPI 0.165 keeps included routers
    nested (``_IncludedRouter``); ``iter_route_contexts`` is how its own OpenAPI walks them."""
    contexts = getattr(fastapi_routing, "iter_route_contexts", None)
    if contexts is None:  # older FastAPI: included routes are copied flat into app.routes
        pairs = ((getattr(r, "path_format", ""), r) for r in app.routes)
    else:
        pairs = ((c.path_format or "", c.original_route) for c in contexts(app.routes))
    for path, route in pairs:
        if isinstance(route, APIRoute) and route.include_in_schema:
            yield path, route


def _complete(operation: dict[str, Any], derived: set[int]) -> None:
    responses = operation.setdefault("responses", {})
    for status in derived:
        responses.setdefault(str(status), {"description": DESCRIPTIONS[status]})
    for status, response in responses.items():
        if not status.isdigit() or int(status) < 400:
            continue
        content = response.get("content")
        ours = content and any(
            "HTTPValidationError" in str(media.get("schema", {})) for media in content.values()
        )
        if not content or ours:
            response["content"] = _error_content()
            if int(status) == 422:
                response["description"] = DESCRIPTIONS[422]
        if int(status) in (429, 503):
            response.setdefault("headers", RETRY_AFTER)
    operation["responses"] = dict(sorted(responses.items()))
