"""Staff console pages: login, logout, the console home, users, and the audit log."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import RedirectResponse, Response
from starlette.datastructures import FormData

from seba.accounts import queries as account_queries
from seba.accounts import service as account_service
from seba.accounts.api import client_address
from seba.core.access import ROLE_SCOPES, ROLES, Principal, grantable_roles, workplace
from seba.core.audit import AuditEntry
from seba.core.errors import Conflict, NotAuthenticated, TooManyRequests, ValidationFailed
from seba.core.http import get_runtime
from seba.core.runtime import Runtime
from seba.places import queries as place_queries
from seba.vocabulary import BED_SEX_LABELS, BED_TYPE_LABELS, ROLE_LABELS, SCOPE_KIND_LABELS
from seba.web import csrf
from seba.web.session import (
    HOME_PATH,
    StaffRoute,
    end_session,
    form_text,
    login_url,
    page_principal,
    permitted,
    render_staff,
    safe_next,
    say,
    session_principal,
    staff_form,
    start_session,
)

router = APIRouter(include_in_schema=False, route_class=StaffRoute)

# Where each console of ``access.WORKPLACE_ACTIONS`` is (who lands where is decided there).
WORKPLACE_PAGES = {
    "consult.practice": "/staff/tele/doctor",
    "consult.create": "/staff/tele",
    "counselling.work": "/staff/counselling",
}

ACTION_LABELS = {
    "auth.login": "Logged in",
    "auth.logout": "Logged out",
    "user.create": "Added a user",
    "facility.create": "Added a facility",
    "facility.update": "Changed a facility",
    "facility.import.create": "Added a facility by import",
    "facility.import.update": "Changed a facility by import",
    "census.update": "Updated the bed census",
}
ENTITY_LABELS = {"facility": "Facility", "staff_user": "Staff user"}
# Keys of the snapshots services write into audit rows, in the console's words.
AUDIT_FIELD_LABELS = {
    "code": "Code",
    "name": "Name in English",
    "name_bn": "Name in Bengali",
    "district_code": "District",
    "ownership": "Run by",
    "kind": "Kind of facility",
    "covid": "Takes Covid patients",
    "address": "Address",
    "phones": "Phone numbers",
    "lat": "Latitude",
    "lon": "Longitude",
    "hfr_id": "HFR ID",
    "username": "Username",
    "role": "Role",
    "scope": "Area",
    "version": "Census version",
}
# Full names are stored in 120 characters; the service does not check the length itself.
MAX_FULL_NAME = 120
USER_FIELDS = ("username", "full_name", "mobile", "role", "scope")
# create_user reports field problems in English prose; the form says them in the user's words.
USER_FIELD_MESSAGES = {
    "full_name": "Use at most {max} ordinary characters.",
    "username": "Use 3 to 60 small English letters, digits, '.', '_' or '-'.",
    "password": "Too short: use at least {min} characters.",
    "mobile": "An Indian mobile number of 10 digits, e.g. 98300 12345.",
    "role": "Choose a role.",
    "scope": "This role cannot work in this area. See which role works where, below.",
}


def _login_page(
    request: Request,
    *,
    status_code: int = 200,
    error: str | None = None,
    username: str = "",
    next_path: str = "/staff",
) -> Response:
    value = csrf.LOGIN.value_for(request)
    notice = None
    if request.query_params.get("bye") == "1":
        notice = say(request, "You have logged out.")
    elif request.query_params.get("expired") == "1":
        notice = say(request, "Your session has ended. Please log in again.")
    response = render_staff(
        request,
        "accounts/login.html",
        status_code,
        login_csrf=value,
        error=error,
        notice=notice,
        username=username,
        next_path=next_path,
    )
    csrf.LOGIN.remember(request, response, value)
    return response


@router.get("/staff/login")
async def login_page(request: Request):
    next_path = safe_next(request.query_params.get("next"))
    if await session_principal(request) is not None:
        return RedirectResponse(next_path, status_code=303)
    return _login_page(request, next_path=next_path)


@router.post("/staff/login")
async def login(
    request: Request, form: FormData = Depends(csrf.LOGIN.form), rt: Runtime = Depends(get_runtime)
):
    # Usernames are lowercase; phones like to capitalise the first letter.
    username = form_text(form, "username").strip().lower()
    password = form_text(form, "password")
    next_path = safe_next(form.get("next"))
    if not username or not password:
        return _login_page(
            request,
            status_code=422,
            error=say(request, "Enter your username and password."),
            username=username,
            next_path=next_path,
        )
    try:
        token, ttl, principal = await account_service.issue_token(
            rt, username=username, password=password, client=client_address(request)
        )
    except (NotAuthenticated, TooManyRequests) as exc:
        response = _login_page(
            request,
            status_code=exc.status_code,
            error=say(request, exc.message, **exc.params),
            username=username,
            next_path=next_path,
        )
        if isinstance(exc, TooManyRequests):
            response.headers["Retry-After"] = str(exc.details["retry_after_s"])
        return response
    response = RedirectResponse(landing(principal, next_path), status_code=303)
    start_session(request, response, token, ttl)
    return response


def landing(principal: Principal, next_path: str) -> str:
    """Where a login goes: the page that sent the person to log in, else their workplace (the
    teleconsultation console of a CHO or a doctor), else the staff home."""
    if next_path != HOME_PATH:
        return next_path
    action = workplace(principal)
    return WORKPLACE_PAGES[action] if action else HOME_PATH


@router.post("/staff/logout")
async def logout(
    request: Request,
    principal: Principal = Depends(page_principal),
    form: FormData = Depends(staff_form),
    rt: Runtime = Depends(get_runtime),
):
    await account_service.revoke_token(rt, actor=principal, token=request.state.session_token)
    response = RedirectResponse(login_url(bye="1"), status_code=303)
    end_session(request, response)
    return response


@router.get("/staff")
async def home(
    request: Request,
    principal: Principal = Depends(page_principal),
    rt: Runtime = Depends(get_runtime),
):
    choices = await place_queries.scope_choices(rt, actor=principal)
    place = await place_queries.scope_place(rt, actor=principal)
    action = workplace(principal)
    return render_staff(
        request,
        "accounts/home.html",
        choices=choices,
        place=place,
        workplace=WORKPLACE_PAGES[action] if action else None,
        role_labels=ROLE_LABELS,
        scope_kind_labels=SCOPE_KIND_LABELS,
    )


async def _users_page(
    request: Request,
    rt: Runtime,
    principal: Principal,
    *,
    status_code: int = 200,
    values: dict[str, str] | None = None,
    errors: dict[str, str] | None = None,
    message: str | None = None,
) -> Response:
    users = await account_service.list_users(rt, actor=principal)
    choices = await place_queries.scope_choices(rt, actor=principal)
    grantable = grantable_roles(principal)
    return render_staff(
        request,
        "accounts/users.html",
        status_code,
        users=users,
        choices=choices,
        districts={d.code: d for d in choices.districts},
        facilities={f.code: f for f in choices.facilities},
        # CHOs (spoke scopes, thousands of them) are added through the API or `seba user add`;
        # doctors with their registration through `seba doctor add`, counsellors linked to
        # their counsellor row through `seba user add --role counsellor --counsellor ID`.
        roles=[r for r in ROLES if r in grantable and r not in ("cho", "doctor", "counsellor")],
        role_labels=ROLE_LABELS,
        role_scopes={r: [k for k in SCOPE_KIND_LABELS if k in ROLE_SCOPES[r]] for r in ROLES},
        scope_kind_labels=SCOPE_KIND_LABELS,
        min_password=account_service.MIN_PASSWORD,
        values=values or {},
        errors=errors or {},
        message=message,
        added=request.query_params.get("added") == "1" and status_code == 200,
    )


@router.get("/staff/users")
async def users(
    request: Request,
    principal: Principal = Depends(permitted("user.read")),
    rt: Runtime = Depends(get_runtime),
):
    return await _users_page(request, rt, principal)


def _user_errors(request: Request, exc: ValidationFailed | Conflict) -> dict[str, str]:
    if exc.code == "validation_failed" and isinstance(exc.details, dict):
        return {
            name: say(
                request,
                USER_FIELD_MESSAGES[name],
                min=account_service.MIN_PASSWORD,
                max=MAX_FULL_NAME,
            )
            for name in exc.details
            if name in USER_FIELD_MESSAGES
        }
    field = {"username_taken": "username", "invalid_scope": "scope"}.get(exc.code, "scope")
    return {field: say(request, exc.message, **exc.params)}


@router.post("/staff/users")
async def add_user(
    request: Request,
    principal: Principal = Depends(permitted("user.manage")),
    form: FormData = Depends(staff_form),
    rt: Runtime = Depends(get_runtime),
):
    values = {name: form_text(form, name).strip() for name in USER_FIELDS}
    try:
        if len(values["full_name"]) > MAX_FULL_NAME:
            raise ValidationFailed(details={"full_name": "too long"})
        await account_service.create_user(
            rt, actor=principal, password=form_text(form, "password"), **values
        )
    except (ValidationFailed, Conflict) as exc:
        return await _users_page(
            request,
            rt,
            principal,
            status_code=exc.status_code,
            values=values,
            errors=_user_errors(request, exc),
            message=say(request, exc.message, **exc.params),
        )
    return RedirectResponse("/staff/users?added=1", status_code=303)


def _pool_counts(pools: Any) -> dict[tuple[str, str], tuple[int, int]]:
    if not isinstance(pools, list):
        return {}
    return {
        (p["bed_type"], p["sex"]): (p["total"], p["occupied"])
        for p in pools
        if isinstance(p, dict) and {"bed_type", "sex", "total", "occupied"} <= p.keys()
    }


def _shown(value: Any) -> str:
    if value is None or value == "":
        return "—"
    if isinstance(value, list):
        return ", ".join(str(v) for v in value) or "—"
    return str(value)


def entry_changes(request: Request, entry: AuditEntry) -> list[tuple[str, str, str]]:
    """What an audit entry changed, as (what, before, after) lines for people to read.

    Census entries hold every pool; only the pools whose numbers moved are listed. Timestamps
    are left out: the entry's own time says when.
    """
    before = entry.before if isinstance(entry.before, dict) else {}
    after = entry.after if isinstance(entry.after, dict) else {}
    lines = []
    for key in dict.fromkeys([*before, *after]):
        old, new = before.get(key), after.get(key)
        if key.endswith("_at") or key == "facility_id" or old == new:
            continue
        if key == "pools":
            old_pools, new_pools = _pool_counts(old), _pool_counts(new)
            for bed_type, sex in dict.fromkeys([*old_pools, *new_pools]):
                was, now = old_pools.get((bed_type, sex)), new_pools.get((bed_type, sex))
                if was == now:
                    continue
                label = " · ".join(
                    (
                        say(request, BED_TYPE_LABELS.get(bed_type, bed_type)),
                        say(request, BED_SEX_LABELS.get(sex, sex)),
                    )
                )
                lines.append((label, _counts_text(request, was), _counts_text(request, now)))
            continue
        label = say(request, AUDIT_FIELD_LABELS[key]) if key in AUDIT_FIELD_LABELS else key
        lines.append((label, _shown(old), _shown(new)))
    return lines


def _counts_text(request: Request, counts: tuple[int, int] | None) -> str:
    if counts is None:
        return "—"
    return say(request, "{total} total, {occupied} occupied", total=counts[0], occupied=counts[1])


@router.get("/staff/audit")
async def audit_log(
    request: Request,
    before: Annotated[int | None, Query(ge=1, le=2**63 - 1)] = None,
    principal: Principal = Depends(permitted("audit.read")),
    rt: Runtime = Depends(get_runtime),
):
    page = await account_queries.audit_log(rt, actor=principal, before_id=before)
    return render_staff(
        request,
        "accounts/audit.html",
        page=page,
        first_page=before is None,
        changes=lambda entry: entry_changes(request, entry),
        action_labels=ACTION_LABELS,
        entity_labels=ENTITY_LABELS,
    )
