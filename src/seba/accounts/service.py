"""Staff accounts: create users, log in (with throttling), resolve and revoke tokens."""

from __future__ import annotations

import asyncio
import hashlib
import re
import secrets
from collections.abc import Collection
from datetime import timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import case, select, update

from seba.accounts import principals
from seba.accounts.models import ApiToken, StaffUser
from seba.accounts.schemas import MIN_PASSWORD
from seba.core import audit, phones, ratelimit
from seba.core.access import (
    ROLE_SCOPES,
    ROLES,
    SCOPE_KINDS,
    Principal,
    grantable_roles,
    require,
)
from seba.core.db import transactional
from seba.core.errors import (
    Conflict,
    NotAuthenticated,
    PermissionDenied,
    TooManyRequests,
    ValidationFailed,
)
from seba.core.runtime import Runtime
from seba.core.types import utcnow
from seba.places.models import District, Facility, Hub, Spoke

_hasher = PasswordHasher()
# Verified against when the username is unknown, so both paths cost the same time.
_DUMMY_HASH = _hasher.hash("not-a-real-password")
USERNAME_RE = re.compile(r"[a-z0-9][a-z0-9_.-]{2,59}")
# Scope codes are district and facility codes (see places/schemas.py).
SCOPE_CODE_RE = re.compile(r"[a-z0-9][a-z0-9-]{1,79}")


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def parse_scope(scope: str | None) -> tuple[str, str | None]:
    """``state`` | ``district:CODE`` | ``facility:CODE`` | ``spoke:CODE`` | ``hub:CODE``."""
    if scope is None or scope == "state":
        return "state", None
    kind, sep, code = scope.partition(":")
    if not sep or kind not in SCOPE_KINDS[1:] or not SCOPE_CODE_RE.fullmatch(code):
        raise ValidationFailed(
            "Scope must be state, district:CODE, facility:CODE, spoke:CODE or hub:CODE.",
            code="invalid_scope",
            details={"scope": scope},
        )
    return kind, code


async def create_user(
    rt: Runtime,
    *,
    actor: Principal,
    username: str,
    password: str,
    role: str,
    scope: str | None = None,
    full_name: str = "",
    mobile: str | None = None,
) -> StaffUser:
    """Create a staff account with one role and one scope, and optionally the mobile its
    facility's SMS alerts go to (``accounts.alerts``).

    The actor needs ``user.manage`` and may grant only roles and scopes inside their own
    (a district admin: control room, hospital staff and viewers of their district).
    Raises ValidationFailed (bad username, short password, role/scope mismatch, unknown scope
    target), PermissionDenied, Conflict (username taken).
    """
    require(actor, "user.manage")
    problems = _new_user_problems(username, password, full_name)
    if mobile:
        try:
            mobile = phones.mobile(mobile)
        except ValueError:
            problems["mobile"] = phones.MOBILE_HINT
    if role == "doctor":
        # A doctor's login comes with their registration number (TPG 2020): `seba doctor add`.
        problems["role"] = "Add doctors with their registration: seba doctor add."
    if role == "counsellor":
        # A counsellor's login is linked to their counsellor row in one transaction.
        problems["role"] = (
            "Add counsellors' logins with: seba user add --role counsellor --counsellor ID."
        )
    if role not in ROLES:
        problems["role"] = f"One of: {', '.join(ROLES)}."
    scope_kind, scope_code = parse_scope(scope)
    if role in ROLES and scope_kind not in ROLE_SCOPES[role]:
        problems["scope"] = (
            f"Role {role} takes a scope of kind: {', '.join(sorted(ROLE_SCOPES[role]))}."
        )
    if problems:
        raise ValidationFailed(details=problems)
    if role not in grantable_roles(actor):
        raise PermissionDenied("You cannot grant this role.", details={"role": role})
    password_hash = await asyncio.to_thread(_hasher.hash, password)
    async with transactional(rt.db) as session:
        district = await _scope_district(session, scope_kind, scope_code)
        if actor.scope_kind == "district" and district != actor.scope_code:
            raise PermissionDenied(
                "This scope is outside yours.", code="out_of_scope", details={"scope": scope}
            )
        if await session.scalar(select(StaffUser.id).where(StaffUser.username == username)):
            raise Conflict("This username is taken.", code="username_taken")
        user = StaffUser(
            username=username,
            full_name=full_name,
            password_hash=password_hash,
            role=role,
            scope_kind=scope_kind,
            scope_code=scope_code,
            mobile=mobile or None,
        )
        session.add(user)
        await session.flush()
        audit.record(
            session,
            actor=actor,
            action="user.create",
            entity_type="staff_user",
            entity_id=user.id,
            after={
                "username": username,
                "role": role,
                "scope": scope or "state",
                "mobile": mobile or None,
            },
        )
    return user


_UNKNOWN_SCOPE = {
    "district": "Unknown district.",
    "facility": "Unknown facility.",
    "spoke": "Unknown spoke.",
    "hub": "Unknown hub.",
}


def _new_user_problems(username: str, password: str, full_name: str = "") -> dict[str, str]:
    problems: dict[str, str] = {}
    # fullmatch: with re.match, "$" would also accept a trailing newline.
    if not USERNAME_RE.fullmatch(username):
        problems["username"] = "3–60 lowercase letters, digits, '.', '_' or '-'."
    if "\x00" in full_name:
        # PostgreSQL text cannot hold NUL: bad input, not a 500.
        problems["full_name"] = "Must not contain a NUL character."
    elif len(full_name) > 120:
        problems["full_name"] = "At most 120 characters."
    if len(password) < MIN_PASSWORD:
        problems["password"] = f"At least {MIN_PASSWORD} characters."
    return problems


def check_new_user(username: str, password: str, full_name: str = "") -> None:
    """Validate a new login's username and password for another domain's service."""
    if problems := _new_user_problems(username, password, full_name):
        raise ValidationFailed(details=problems)


def hash_password(password: str) -> str:
    return _hasher.hash(password)


async def _scope_district(session, scope_kind: str, scope_code: str | None) -> str | None:
    """The district a scope lies in (None for the state). Raises ValidationFailed if unknown."""
    if scope_kind == "state":
        return None
    district = await scope_district(session, scope_kind, scope_code)
    if district is None:
        raise ValidationFailed(
            _UNKNOWN_SCOPE[scope_kind], code=f"unknown_{scope_kind}", details={"scope": scope_code}
        )
    return district


async def scope_district(session, scope_kind: str, scope_code: str | None) -> str | None:
    """The district of a district, facility, spoke or hub scope; None if there is none."""
    if scope_kind == "district":
        return await session.scalar(select(District.code).where(District.code == scope_code))
    if scope_kind == "facility":
        query = select(Facility.district_code).where(Facility.code == scope_code)
    elif scope_kind == "spoke":
        query = select(Spoke.district_code).where(Spoke.code == scope_code)
    elif scope_kind == "hub":
        query = (
            select(Facility.district_code)
            .join(Hub, Hub.facility_id == Facility.id)
            .where(Hub.code == scope_code)
        )
    else:
        return None
    return await session.scalar(query)


LOGIN_PER_USERNAME = "login.username"
LOGIN_PER_CLIENT = "login.client"


async def issue_token(
    rt: Runtime, *, username: str, password: str, client: str
) -> tuple[str, int, Principal]:
    """Check a password and hand out a fresh bearer token.

    Throttled: after ``login_max_failures`` failures in ``login_window_s`` for the username,
    or ``login_max_failures_per_client`` for the client address (many staff share one NAT
    address), every attempt is refused (429, ``retry_after_s`` until the window ends) until the
    window passes, right password or not. A failure stays counted even though the call raises.
    Raises NotAuthenticated (wrong username or password, same message for both),
    TooManyRequests.
    """
    if "\x00" in username or "\x00" in client:
        # No account name holds NUL (USERNAME_RE) and PostgreSQL could not store or compare it.
        raise NotAuthenticated("Wrong username or password.", code="invalid_credentials")
    settings = rt.settings
    # Every attempt takes a failure slot *before* its password is checked, in one conditional
    # statement per key (``core.ratelimit``): of guesses fired at once, the database lets
    # exactly ``login_max_failures`` through to a password check and refuses the rest. A right
    # password gives its slot back. Committed before the check: the slow argon2 check must not
    # hold the write lock, and a failure must count even though the call then raises.
    async with transactional(rt.db) as session:
        slots = []
        # Username first, then address: one order everywhere (see core.ratelimit).
        for kind, key, limit in (
            (LOGIN_PER_USERNAME, username[:60], settings.login_max_failures),
            (LOGIN_PER_CLIENT, client[:64], settings.login_max_failures_per_client),
        ):
            slot = await ratelimit.take(
                session, kind=kind, key=key, limit=limit, window_s=settings.login_window_s
            )
            if not slot.allowed:
                # Raising rolls back the slot already taken: a refused attempt is no failure.
                raise TooManyRequests(details={"retry_after_s": slot.retry_after_s})
            slots.append(slot)
    async with rt.db.read() as session:
        user = await session.scalar(
            select(StaffUser).where(StaffUser.username == username, StaffUser.active.is_(True))
        )
    ok = await asyncio.to_thread(_verify, user.password_hash if user else _DUMMY_HASH, password)
    if not ok or user is None:
        raise NotAuthenticated("Wrong username or password.", code="invalid_credentials")
    token = secrets.token_urlsafe(32)
    now = utcnow()
    async with transactional(rt.db) as session:
        for slot in slots:
            await ratelimit.give_back(session, slot)
        session.add(
            ApiToken(
                token_hash=_token_hash(token),
                user_id=user.id,
                created_at=now,
                expires_at=now + timedelta(seconds=settings.token_ttl_s),
            )
        )
        principal = await _principal(session, user)
        audit.record(
            session,
            actor=principal,
            action="auth.login",
            entity_type="staff_user",
            entity_id=user.id,
        )
    return token, settings.token_ttl_s, principal


def _verify(password_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


async def _principal(session, user: StaffUser) -> Principal:
    district = user.scope_code if user.scope_kind == "district" else None
    if user.scope_kind in ("facility", "spoke", "hub"):
        district = await scope_district(session, user.scope_kind, user.scope_code)
    return Principal(
        user_id=user.id,
        username=user.username,
        role=user.role,
        scope_kind=user.scope_kind,
        scope_code=user.scope_code,
        scope_district=district,
    )


def _district_of_scope():
    """SQL for the district of the user's scope (None for the state): one statement with the
    token check, instead of a second query on every request."""
    return case(
        (StaffUser.scope_kind == "district", StaffUser.scope_code),
        (
            StaffUser.scope_kind == "facility",
            select(Facility.district_code)
            .where(Facility.code == StaffUser.scope_code)
            .scalar_subquery(),
        ),
        (
            StaffUser.scope_kind == "spoke",
            select(Spoke.district_code).where(Spoke.code == StaffUser.scope_code).scalar_subquery(),
        ),
        (
            StaffUser.scope_kind == "hub",
            select(Facility.district_code)
            .join(Hub, Hub.facility_id == Facility.id)
            .where(Hub.code == StaffUser.scope_code)
            .scalar_subquery(),
        ),
        else_=None,
    )


def _principal_query():
    """The columns a Principal is made of (``_principal_of_row``), from ``StaffUser``."""
    return select(
        StaffUser.id,
        StaffUser.username,
        StaffUser.role,
        StaffUser.scope_kind,
        StaffUser.scope_code,
        _district_of_scope(),
    )


def _principal_of_row(row) -> Principal:
    if row is None:
        raise NotAuthenticated("Your session has ended. Please log in again.", code="invalid_token")
    user_id, username, role, scope_kind, scope_code, district = row
    return Principal(
        user_id=user_id,
        username=username,
        role=role,
        scope_kind=scope_kind,
        scope_code=scope_code,
        scope_district=district,
    )


async def principal_for_token(rt: Runtime, token: str) -> Principal:
    """The staff member a live token belongs to. Raises NotAuthenticated.

    From this worker's principal cache when it holds the token (``accounts/principals.py``:
    the token's expiry is checked on every hit; logout and account changes reach every
    worker's cache at once), else one statement, whose answer the cache keeps.
    """
    key = _token_hash(token)
    cache = principals.cache_of(rt)
    now = utcnow()
    if (cached := cache.get(key, now)) is not None:
        return cached
    epoch = cache.epoch
    async with rt.db.read() as session:
        row = (
            await session.execute(
                _principal_query()
                .add_columns(ApiToken.expires_at)
                .join(ApiToken, ApiToken.user_id == StaffUser.id)
                .where(
                    ApiToken.token_hash == key,
                    ApiToken.revoked_at.is_(None),
                    ApiToken.expires_at > now,
                    StaffUser.active.is_(True),
                )
            )
        ).first()
    principal = _principal_of_row(row and row[:-1])
    cache.put(key, principal, expires_at=row[-1], epoch=epoch)
    return principal


async def live_tokens(rt: Runtime, tokens: Collection[str]) -> set[str]:
    """Which of ``tokens`` still open a session (not revoked, not expired, account active): one
    statement for any number, so a process holding many live streams checks them all at once."""
    if not tokens:
        return set()
    by_hash = {_token_hash(t): t for t in tokens}
    async with rt.db.read() as session:
        found = await session.scalars(
            select(ApiToken.token_hash)
            .join(StaffUser, StaffUser.id == ApiToken.user_id)
            .where(
                ApiToken.token_hash.in_(sorted(by_hash)),
                ApiToken.revoked_at.is_(None),
                ApiToken.expires_at > utcnow(),
                StaffUser.active.is_(True),
            )
        )
        return {by_hash[h] for h in found}


async def principal_for_user(rt: Runtime, user_id: int) -> Principal:
    """The active staff member ``user_id`` as a principal, for a caller that has already proved
    who it is another way (a signed call ticket). Raises NotAuthenticated for an unknown or
    deactivated account. Cached like a token (``principals.user_key``)."""
    key = principals.user_key(user_id)
    cache = principals.cache_of(rt)
    if (cached := cache.get(key)) is not None:
        return cached
    epoch = cache.epoch
    async with rt.db.read() as session:
        row = (
            await session.execute(
                _principal_query().where(StaffUser.id == user_id, StaffUser.active.is_(True))
            )
        ).first()
    principal = _principal_of_row(row)
    cache.put(key, principal, expires_at=None, epoch=epoch)
    return principal


async def revoke_token(rt: Runtime, *, actor: Principal, token: str) -> None:
    """Log out: the token stops working at once, on every worker (the database row is revoked
    and every worker's principal cache forgets the token as the event reaches it)."""
    key = _token_hash(token)
    async with transactional(rt.db) as session:
        await session.execute(
            update(ApiToken)
            .where(ApiToken.token_hash == key, ApiToken.revoked_at.is_(None))
            .values(revoked_at=utcnow())
        )
        audit.record(
            session,
            actor=actor,
            action="auth.logout",
            entity_type="staff_user",
            entity_id=actor.user_id,
        )
    await principals.forget_token(rt, key)


async def user_changed(rt: Runtime, user_id: int) -> None:
    """Call after committing a change to a staff account that bears on who it is or whether
    it may sign in (deactivated, role, scope, password): its tokens are checked against the
    database again on every worker from the next request."""
    await principals.forget_user(rt, user_id)


async def list_users(rt: Runtime, *, actor: Principal) -> list[StaffUser]:
    """Users the actor may see: all for a state admin, their district's for a district admin."""
    require(actor, "user.read")
    async with rt.db.read() as session:
        users = list(await session.scalars(select(StaffUser).order_by(StaffUser.username)))
        if actor.scope_kind == "state":
            return users
        # One query per scope kind, not one per user.
        districts = {
            ("facility", code): d
            for code, d in await session.execute(select(Facility.code, Facility.district_code))
        }
        districts |= {
            ("spoke", code): d
            for code, d in await session.execute(select(Spoke.code, Spoke.district_code))
        }
        districts |= {
            ("hub", code): d
            for code, d in await session.execute(
                select(Hub.code, Facility.district_code).join(
                    Facility, Hub.facility_id == Facility.id
                )
            )
        }
    return [
        u
        for u in users
        if (u.scope_kind == "district" and u.scope_code == actor.scope_code)
        or districts.get((u.scope_kind, u.scope_code)) == actor.scope_code
    ]
