"""Roles, scopes and the one policy table.

A staff user has one role and one scope: the whole state, one district, one facility, one
telemedicine spoke (a CHO) or one hub (a doctor's home hub).
``POLICY`` says which roles may take an action; ``covers`` says whether a scope reaches a
facility. Tests walk both tables.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from seba.core.errors import PermissionDenied

ROLES = (
    "state_admin",
    "district_admin",
    "control_room",
    "hospital_staff",
    "viewer",
    "cho",
    "doctor",
)
SCOPE_KINDS = ("state", "district", "facility", "spoke", "hub")

# Which scope kinds each role may hold.
ROLE_SCOPES: dict[str, frozenset[str]] = {
    "state_admin": frozenset({"state"}),
    "district_admin": frozenset({"district"}),
    "control_room": frozenset({"state", "district"}),
    "hospital_staff": frozenset({"facility"}),
    "viewer": frozenset({"state", "district", "facility"}),
    # A community health officer works at one spoke; a doctor's scope is their home hub.
    "cho": frozenset({"spoke"}),
    "doctor": frozenset({"hub"}),
}

# action -> roles allowed to take it (inside their scope).
POLICY: dict[str, frozenset[str]] = {
    "census.update": frozenset({"state_admin", "district_admin", "hospital_staff"}),
    "facility.read": frozenset(ROLES),
    "facility.create": frozenset({"state_admin", "district_admin"}),
    "facility.update": frozenset({"state_admin", "district_admin"}),
    "facility.import": frozenset({"state_admin"}),
    "user.read": frozenset({"state_admin", "district_admin"}),
    "user.manage": frozenset({"state_admin", "district_admin"}),
    "audit.read": frozenset({"state_admin", "district_admin"}),
    # Central referral. Patient data: never viewers. The request queue lists families across
    # the scope, so not hospital staff either (their scope is one facility).
    "request.create": frozenset({"state_admin", "district_admin", "control_room"}),
    "request.read": frozenset({"state_admin", "district_admin", "control_room"}),
    "referral.reserve": frozenset(
        {"state_admin", "district_admin", "control_room", "hospital_staff"}
    ),
    "referral.read": frozenset({"state_admin", "district_admin", "control_room", "hospital_staff"}),
    "referral.respond": frozenset({"state_admin", "district_admin", "hospital_staff"}),
    "referral.cancel": frozenset({"state_admin", "district_admin", "control_room"}),
    "outbox.read": frozenset({"state_admin"}),
    # Telemedicine. The network (codes of hubs and spokes) is no secret among staff.
    "network.read": frozenset(ROLES),
    "network.manage": frozenset({"state_admin"}),
    # Patient records: the CHOs who register and bring patients, the doctors who treat them
    # (only through a consult assigned to them), and admins for oversight. Every read audited.
    "patient.create": frozenset({"cho"}),
    "patient.read": frozenset({"cho", "doctor", "state_admin", "district_admin"}),
    "consult.create": frozenset({"cho"}),
    "consult.read": frozenset({"cho", "doctor", "state_admin", "district_admin"}),
    # Presence, offers, accept, prescribe, complete: the doctor's own work.
    "consult.practice": frozenset({"doctor"}),
    # Counts and waits, no patient data.
    "telemedicine.stats": frozenset({"state_admin", "district_admin", "viewer"}),
}

# A district admin may create these roles inside their district; only a state admin creates
# state admins and district admins.
GRANTABLE_ROLES: dict[str, frozenset[str]] = {
    "state_admin": frozenset(ROLES),
    "district_admin": frozenset({"control_room", "hospital_staff", "viewer", "cho"}),
}


@dataclass(frozen=True)
class Principal:
    """Who is acting. ``user_id`` is None only for the system itself (CLI, demo, worker)."""

    user_id: int | None
    username: str
    role: str
    scope_kind: str
    scope_code: str | None = None
    # The district a district or facility scope lies in (for facility scopes, the facility's).
    scope_district: str | None = None

    @property
    def scope_label(self) -> str:
        return (
            self.scope_kind if self.scope_code is None else f"{self.scope_kind}:{self.scope_code}"
        )


SYSTEM = Principal(user_id=None, username="system", role="state_admin", scope_kind="state")


class Placed(Protocol):
    code: str
    district_code: str


def can(principal: Principal, action: str) -> bool:
    return principal.role in POLICY[action]


def require(principal: Principal, action: str) -> None:
    if not can(principal, action):
        raise PermissionDenied(details={"action": action, "role": principal.role})


def covers(principal: Principal, facility: Placed) -> bool:
    if principal.scope_kind == "state":
        return True
    if principal.scope_kind == "district":
        return facility.district_code == principal.scope_code
    return facility.code == principal.scope_code


def covers_district(principal: Principal, district_code: str) -> bool:
    if principal.scope_kind == "state":
        return True
    if principal.scope_kind == "district":
        return district_code == principal.scope_code
    return False


def require_on_facility(principal: Principal, action: str, facility: Placed) -> None:
    """Role gate plus scope check for an action on one facility (403 when either fails)."""
    require(principal, action)
    if not covers(principal, facility):
        raise PermissionDenied(
            "This facility is outside your scope.",
            code="out_of_scope",
            details={"facility": facility.code, "scope": principal.scope_label},
        )
