"""Roles, scopes and the one policy table.

A staff user has one role and one scope: the whole state, one district, one facility, one
telemedicine spoke (a CHO) or one hub (a doctor's home hub).

``POLICY`` is the one place that says who may do what where: for each action, the roles that
may take it and, per role, the *reach* of that role over the action's rows (``Reach``): the
whole state, the actor's scope, the district their scope lies in, the consults given to them, the
queued consults routing could offer them, or their own record. Nothing else in the code decides
on a role: a role gate is ``require`` (a route dependency or a service's first line), and a row
check is an ``access_*`` function of the domain that owns the rows, which asks ``reach`` which
rule to apply and applies it. ``tests/core/test_access.py`` walks the table, and every
(action, role) pair with a row rule is walked with rows inside and outside its reach by the
owning domain's access tests.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from types import MappingProxyType
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
    "counsellor",
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
    # A helpline counsellor takes phone sessions from anywhere in the state.
    "counsellor": frozenset({"state"}),
}


class Reach(StrEnum):
    """Which rows of an action a role reaches. The rule's code lives with the rows."""

    # Every row: the action has no per-row rule for this role (the network's codes, a
    # hospital's outgoing referral to any hospital in the state).
    ANY = "any"
    # Rows inside the actor's scope (``covers``): everything for the state; a district's
    # facilities, spokes, hubs, patients and requests; a facility or spoke itself.
    SCOPE = "scope"
    # Rows in the district the actor's scope lies in: a CHO's patients are the district's, so
    # a family moving between two centres of one district is found at either.
    DISTRICT = "district"
    # Consults offered to or held by the doctor, and what hangs on them: the patient's record
    # and history, attachments, the prescription.
    ASSIGNED = "assigned"
    # Consults the routing engine could offer this doctor now: their specialty and language,
    # their pools and then the wider pools that the consult's waiting time opens
    # (``consults.routing.may_take``), never one they let lapse.
    POOL = "pool"
    # The actor's own record (a doctor's roster) and what hangs on it (a counsellor's own
    # sessions and their notes).
    SELF = "self"


# The scope kinds a reach rule can be applied to: a role holding another scope kind could never
# pass it, so the table refuses such a pairing when it is built (a typo grants nothing).
REACH_SCOPE_KINDS: Mapping[Reach, frozenset[str]] = MappingProxyType(
    {
        Reach.ANY: frozenset(SCOPE_KINDS),
        Reach.SCOPE: frozenset(SCOPE_KINDS),
        Reach.DISTRICT: frozenset({"state", "district", "facility", "spoke"}),
        Reach.ASSIGNED: frozenset({"hub"}),
        Reach.POOL: frozenset({"hub"}),
        Reach.SELF: frozenset(SCOPE_KINDS),
    }
)


def _rule(reach: Reach, *roles: str) -> dict[str, Reach]:
    return dict.fromkeys(roles, reach)


ANY, SCOPE, DISTRICT, ASSIGNED, POOL, SELF = Reach
ADMINS = ("state_admin", "district_admin")

# action -> {role: reach}. A role missing from an action may not take it at all.
POLICY: Mapping[str, Mapping[str, Reach]] = MappingProxyType(
    {
        action: MappingProxyType(rules)
        for action, rules in {
            # --- places, beds, accounts --------------------------------------------------
            "census.update": _rule(SCOPE, *ADMINS, "hospital_staff"),
            "facility.read": _rule(SCOPE, *ROLES),
            "facility.create": _rule(SCOPE, *ADMINS),
            "facility.update": _rule(SCOPE, *ADMINS),
            "facility.import": _rule(SCOPE, "state_admin"),
            "user.read": _rule(SCOPE, *ADMINS),
            "user.manage": _rule(SCOPE, *ADMINS),
            # A district admin's slice: its facilities, and what its staff did (CHOs of its
            # spokes and doctors of its hubs included).
            "audit.read": _rule(SCOPE, *ADMINS),
            # --- central referral --------------------------------------------------------
            # Patient data: never viewers. The request queue lists families across the scope,
            # so not hospital staff either (their scope is one facility). A referral is in
            # scope when its hospital is, or (to read and cancel) its request's district is.
            "request.create": _rule(SCOPE, *ADMINS, "control_room"),
            "request.read": _rule(SCOPE, *ADMINS, "control_room"),
            # Hospital staff may reserve a bed at any hospital: an outgoing referral.
            "referral.reserve": _rule(SCOPE, *ADMINS, "control_room")
            | _rule(ANY, "hospital_staff"),
            "referral.read": _rule(SCOPE, *ADMINS, "control_room", "hospital_staff"),
            "referral.respond": _rule(SCOPE, *ADMINS, "hospital_staff"),
            "referral.cancel": _rule(SCOPE, *ADMINS, "control_room"),
            # Who is sent the SMS that a bed at their facility was reserved: the bed managers
            # whose scope is that facility (a district admin's phone would ring for every
            # hospital of the district). Never a helpline or a number the public dials.
            "referral.alert": _rule(SCOPE, "hospital_staff"),
            "outbox.read": _rule(SCOPE, "state_admin"),
            # --- the telemedicine network ------------------------------------------------
            # The codes of hubs and spokes are no secret among staff.
            "network.read": _rule(ANY, *ROLES),
            # The API reference (/docs, /redoc, /openapi.json) in production: any staff member
            # (integrators work with a staff account); outside production it is open.
            "api_docs.read": _rule(ANY, *ROLES),
            "network.manage": _rule(SCOPE, "state_admin"),
            # Rosters: admins plan them, a doctor sees and keeps their own.
            "roster.read": _rule(SCOPE, *ADMINS) | _rule(SELF, "doctor"),
            "roster.manage": _rule(SCOPE, "state_admin") | _rule(SELF, "doctor"),
            # --- patients (every staff read audited) -------------------------------------
            # The CHOs who register and bring patients (their spoke's district), the doctors
            # who treat them (only through a consult given to them), admins for oversight.
            "patient.create": _rule(DISTRICT, "cho"),
            "patient.read": _rule(SCOPE, *ADMINS)
            | _rule(DISTRICT, "cho")
            | _rule(ASSIGNED, "doctor"),
            # --- consults ----------------------------------------------------------------
            # The CHO raises, follows, joins, attaches to, cancels and dispenses for the
            # consults of their own spoke.
            "consult.create": _rule(SCOPE, "cho"),
            "consult.read": _rule(SCOPE, *ADMINS, "cho") | _rule(ASSIGNED, "doctor"),
            "consult.manage": _rule(SCOPE, "cho"),
            "attachment.read": _rule(SCOPE, *ADMINS, "cho") | _rule(ASSIGNED, "doctor"),
            "attachment.create": _rule(SCOPE, "cho"),
            "prescription.read": _rule(SCOPE, *ADMINS, "cho") | _rule(ASSIGNED, "doctor"),
            "prescription.dispense": _rule(SCOPE, "cho"),
            # The doctor's own work: presence, offers, prescribing, completing the consults
            # given to them; and taking a queued consult, only one routing could offer them.
            "consult.practice": _rule(ASSIGNED, "doctor"),
            "consult.take": _rule(POOL, "doctor"),
            # The call inside a consult (video, audio, chat) and its chat log: only its two
            # parties, the doctor holding it and the CHOs of its spoke. Admins read the
            # call's times through consult.read, never the conversation.
            "consult.call": _rule(SCOPE, "cho") | _rule(ASSIGNED, "doctor"),
            # Counts and waits, no patient data.
            "telemedicine.stats": _rule(SCOPE, *ADMINS, "viewer"),
            # --- ambulances --------------------------------------------------------------
            # The fleet of a district: its admins manage it; its control room (the
            # dispatchers) reads it. A district's rows are its own: a district dispatcher sees
            # and dispatches only their district's requests (a neighbour's free ambulance may
            # be sent when their own has none).
            "ambulance.read": _rule(SCOPE, *ADMINS, "control_room"),
            "ambulance.manage": _rule(SCOPE, *ADMINS),
            "ambulance.import": _rule(SCOPE, "state_admin"),
            "ambulance_request.create": _rule(SCOPE, *ADMINS, "control_room"),
            "ambulance_request.read": _rule(SCOPE, *ADMINS, "control_room"),
            "ambulance.dispatch": _rule(SCOPE, *ADMINS, "control_room"),
            # A hospital sees the patients an ambulance is bringing to it (its own staff).
            "ambulance.incoming": _rule(SCOPE, *ADMINS, "hospital_staff"),
            # Counts and times per district and day, no patient data.
            "ambulance.figures": _rule(SCOPE, *ADMINS, "control_room", "viewer"),
            # --- the helpline --------------------------------------------------------------
            # Its numbers and the answers to common questions are the state's word: state
            # admins keep them (every edit kept as a revision).
            "helpline.manage": _rule(SCOPE, "state_admin"),
            # Working the callback queue: the control rooms answer the helpline's phones. A
            # callback names no district (a phone, a topic, a language), so any control room
            # may take any one.
            "callback.work": _rule(ANY, "state_admin", "control_room"),
            # A counsellor's day: their own sessions (the time, the phone to ring) and marking
            # each done or missed. Nobody else's.
            "counselling.work": _rule(SELF, "counsellor"),
            # Private notes of a session: only the counsellor whose session it is reads or
            # writes them (every read audited). No admin: they are the counsellor's working
            # notes of a conversation, not a record for oversight.
            "counselling.note": _rule(SELF, "counsellor"),
        }.items()
    }
)

# The console a role works in all day, named by the action it is for, in order: after login a
# staff member lands on the console of the first of these actions their role may take (a CHO
# on the teleconsultation desk, a hub doctor on the doctor's console, a counsellor on their
# day), everyone else on the staff home. The pages map an action to its address; the decision
# stays in this table.
WORKPLACE_ACTIONS = ("consult.practice", "consult.create", "counselling.work")

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
    # The district a district, facility or spoke scope lies in.
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
    """The role gate. An unknown action is a programming error (KeyError), never a grant."""
    return principal.role in POLICY[action]


def require(principal: Principal, action: str) -> None:
    if not can(principal, action):
        raise PermissionDenied(details={"action": action, "role": principal.role})


def reach(principal: Principal, action: str) -> Reach:
    """The row rule for ``principal`` taking ``action``; PermissionDenied when the role may not
    take it at all (so a row check is also a role gate)."""
    rule = POLICY[action].get(principal.role)
    if rule is None:
        raise PermissionDenied(details={"action": action, "role": principal.role})
    return rule


def roles_for(action: str) -> tuple[str, ...]:
    """The roles that may take ``action`` (to find the people a notice is for, in SQL)."""
    return tuple(POLICY[action])


def workplace(principal: Principal) -> str | None:
    """The action whose console ``principal`` lands on after login, or None (the staff home)."""
    return next((action for action in WORKPLACE_ACTIONS if can(principal, action)), None)


def grantable_roles(principal: Principal) -> frozenset[str]:
    """The roles ``principal`` may give to new staff (none for roles that manage no users)."""
    return GRANTABLE_ROLES.get(principal.role, frozenset())


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


def home_district(principal: Principal) -> str | None:
    """The district the principal's scope lies in (None for the state: every district).

    Filled for district, facility and spoke scopes when the token is read; a spoke whose
    district is unknown reaches no district at all.
    """
    if principal.scope_kind == "state":
        return None
    if principal.scope_kind == "district":
        return principal.scope_district or principal.scope_code
    return principal.scope_district


def in_district(principal: Principal, district_code: str | None) -> bool:
    """``Reach.DISTRICT`` (and ``Reach.SCOPE`` for district-wide rows) applied to one row."""
    if principal.scope_kind == "state":
        return True
    home = home_district(principal)
    return home is not None and district_code == home


def require_on_facility(principal: Principal, action: str, facility: Placed) -> None:
    """Role gate plus the action's reach over one facility (403 when either fails)."""
    if reach(principal, action) is Reach.ANY:
        return
    if not covers(principal, facility):
        raise PermissionDenied(
            "This facility is outside your scope.",
            code="out_of_scope",
            details={"facility": facility.code, "scope": principal.scope_label},
        )


def _check_table() -> None:
    """Refuse, at import, a table that names an unknown role or pairs a role with a reach its
    scope kinds can never pass."""
    for action, rules in POLICY.items():
        for role, rule in rules.items():
            if role not in ROLES:
                raise AssertionError(f"{action}: unknown role {role!r}")
            if not ROLE_SCOPES[role] & REACH_SCOPE_KINDS[rule]:
                raise AssertionError(f"{action}: {role} can never have reach {rule}")


_check_table()
