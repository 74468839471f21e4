"""JSON routes for login, logout and staff users."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request, Response

from seba.accounts import service as account_service
from seba.accounts.bearer import current_principal
from seba.accounts.models import StaffUser
from seba.accounts.schemas import Me, TokenOut, TokenRequest, UserCreate, UserOut
from seba.core.access import Principal
from seba.core.http import bearer_token, get_runtime
from seba.core.openapi import ANY_STAFF, errors
from seba.core.runtime import Runtime

router = APIRouter(prefix="/api/v1", tags=["accounts"])


def client_address(request: Request) -> str:
    """The caller's address for throttling. Behind a reverse proxy listed in
    ``SEBA_TRUSTED_PROXIES`` the proxy's X-Forwarded-For (its last hop) is used; otherwise every
    citizen would share the proxy's address and its limits."""
    peer = request.client.host if request.client else "unknown"
    trusted = request.app.state.runtime.settings.trusted_proxies
    forwarded = request.headers.get("x-forwarded-for")
    if forwarded and peer in trusted:
        return forwarded.split(",")[-1].strip()[:64] or peer
    return peer


def user_out(user: StaffUser) -> UserOut:
    scope = "state" if user.scope_kind == "state" else f"{user.scope_kind}:{user.scope_code}"
    return UserOut(
        id=user.id,
        username=user.username,
        full_name=user.full_name,
        role=user.role,
        scope=scope,
        active=user.active,
        mobile=user.mobile,
    )


@router.post(
    "/auth/token",
    response_model=TokenOut,
    summary="Log in: username and password → bearer token",
    responses=errors(401, 429),
)
async def login(body: TokenRequest, request: Request, rt: Runtime = Depends(get_runtime)):
    token, expires_in, _ = await account_service.issue_token(
        rt, username=body.username, password=body.password, client=client_address(request)
    )
    return TokenOut(access_token=token, expires_in=expires_in)


@router.post("/auth/logout", status_code=204, summary="Revoke this token", openapi_extra=ANY_STAFF)
async def logout(
    request: Request,
    principal: Principal = Depends(current_principal),
    rt: Runtime = Depends(get_runtime),
):
    await account_service.revoke_token(rt, actor=principal, token=bearer_token(request) or "")
    return Response(status_code=204)


@router.get("/auth/me", response_model=Me, openapi_extra=ANY_STAFF)
async def me(principal: Principal = Depends(current_principal)):
    return Me(username=principal.username, role=principal.role, scope=principal.scope_label)


@router.get("/users", response_model=list[UserOut], summary="Staff users in your scope")
async def list_users(
    principal: Principal = Depends(current_principal), rt: Runtime = Depends(get_runtime)
):
    return [user_out(u) for u in await account_service.list_users(rt, actor=principal)]


@router.post(
    "/users",
    response_model=UserOut,
    status_code=201,
    summary="Create a staff user",
    responses=errors(409),
)
async def create_user(
    body: UserCreate,
    principal: Principal = Depends(current_principal),
    rt: Runtime = Depends(get_runtime),
):
    user = await account_service.create_user(
        rt,
        actor=principal,
        username=body.username,
        password=body.password,
        role=body.role,
        scope=body.scope,
        full_name=body.full_name,
        mobile=body.mobile,
    )
    return user_out(user)
