"""The policy table, walked: ``can()`` follows it and every endpoint that has an action obeys it."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from seba.core.access import (
    GRANTABLE_ROLES,
    POLICY,
    REACH_SCOPE_KINDS,
    ROLE_SCOPES,
    ROLES,
    SCOPE_KINDS,
    Principal,
    Reach,
    can,
    covers,
    covers_district,
    grantable_roles,
    home_district,
    in_district,
    reach,
    require,
    require_on_facility,
)
from seba.core.errors import PermissionDenied
from tests import factories

# The places/accounts/census part of the table, written out by hand on purpose: widening who
# may do these must be a deliberate change to both this table and POLICY, seen in review,
# never a side effect of editing one set. (Other domains' actions are checked by their tests.)
INTENDED = {
    "census.update": {"state_admin", "district_admin", "hospital_staff"},
    "facility.read": set(ROLES),
    "facility.create": {"state_admin", "district_admin"},
    "facility.update": {"state_admin", "district_admin"},
    "facility.import": {"state_admin"},
    "user.read": {"state_admin", "district_admin"},
    "user.manage": {"state_admin", "district_admin"},
    "audit.read": {"state_admin", "district_admin"},
    # Who is sent a facility's referral SMS: its own bed managers only.
    "referral.alert": {"hospital_staff"},
    # The API reference in production (tests/web/test_api_docs.py walks every role).
    "api_docs.read": set(ROLES),
}
# Actions whose API endpoint the walk below calls (facility reads are public; the audit log
# is a page).
ENDPOINT_ACTIONS = (
    "census.update",
    "facility.create",
    "facility.update",
    "facility.import",
    "user.read",
    "user.manage",
)
# For the walk every role gets a scope that covers the target facility (alpha, in Kolkata), so
# a 403 can only come from the role.
WALK_SCOPE = {
    "state_admin": "state",
    "district_admin": "district:kolkata",
    "control_room": "district:kolkata",
    "hospital_staff": "facility:alpha",
    "viewer": "facility:alpha",
    "counsellor": "state",
}


async def walk_headers(rt, client, role: str) -> dict[str, str]:
    """A logged-in user of ``role``; CHOs and doctors need a spoke or hub, so a network."""
    if role in ("cho", "doctor"):
        codes = await factories.network(rt)
        if role == "cho":
            return await factories.staff(client, rt, "cho", f"spoke:{codes['kolkata_spoke']}")
        doctor = await factories.doctor(rt, codes["kolkata_hub"], username="walk-doctor")
        assert doctor.user_id
        return {"Authorization": f"Bearer {await factories.token(client, 'walk-doctor')}"}
    return await factories.staff(client, rt, role, WALK_SCOPE[role])


def principal(role: str, scope_kind: str = "state", code: str | None = None) -> Principal:
    district = (
        code if scope_kind == "district" else ("kolkata" if scope_kind == "facility" else None)
    )
    return Principal(
        user_id=1,
        username=f"{role}-test",
        role=role,
        scope_kind=scope_kind,
        scope_code=code,
        scope_district=district,
    )


@dataclass
class Place:
    code: str
    district_code: str


def test_policy_table_is_the_intended_one():
    assert {action: set(POLICY[action]) for action in INTENDED} == INTENDED
    assert set(ENDPOINT_ACTIONS) <= set(POLICY)
    # Every action names real roles only: a typo would silently grant nobody.
    assert all(set(rules) <= set(ROLES) for rules in POLICY.values())
    assert all(isinstance(rule, Reach) for rules in POLICY.values() for rule in rules.values())
    assert set(ROLE_SCOPES) == set(ROLES)
    assert all(kinds <= set(SCOPE_KINDS) for kinds in ROLE_SCOPES.values())
    # Only the roles that manage users grant roles; a district admin only the lower ones.
    assert set(GRANTABLE_ROLES) == set(POLICY["user.manage"])
    assert GRANTABLE_ROLES["district_admin"] == {"control_room", "hospital_staff", "viewer", "cho"}


@pytest.mark.parametrize("action", sorted(POLICY))
@pytest.mark.parametrize("role", ROLES)
def test_can_and_require_follow_the_table(action: str, role: str):
    who = principal(role)
    allowed = role in POLICY[action]
    assert allowed is (role in INTENDED.get(action, POLICY[action]))
    assert can(who, action) is allowed
    if allowed:
        require(who, action)
    else:
        with pytest.raises(PermissionDenied) as caught:
            require(who, action)
        assert caught.value.details == {"action": action, "role": role}


@pytest.mark.parametrize("action", sorted(POLICY))
@pytest.mark.parametrize("role", ROLES)
def test_reach_is_the_tables_rule_or_a_refusal(action: str, role: str):
    who = principal(role, next(iter(sorted(ROLE_SCOPES[role]))))
    if role in POLICY[action]:
        assert reach(who, action) is POLICY[action][role]
        # The rule can be applied to the scope kinds the role may hold.
        assert ROLE_SCOPES[role] & REACH_SCOPE_KINDS[reach(who, action)]
    else:
        with pytest.raises(PermissionDenied) as caught:
            reach(who, action)
        assert caught.value.details == {"action": action, "role": role}


def test_the_table_refuses_a_rule_no_scope_of_the_role_can_pass(monkeypatch):
    import seba.core.access as access

    monkeypatch.setattr(
        access, "POLICY", {"consult.practice": {"cho": Reach.ASSIGNED}}, raising=True
    )
    with pytest.raises(AssertionError, match="can never have reach"):
        access._check_table()
    monkeypatch.setattr(access, "POLICY", {"x.y": {"janitor": Reach.ANY}}, raising=True)
    with pytest.raises(AssertionError, match="unknown role"):
        access._check_table()


def test_home_district_and_in_district():
    state = principal("state_admin")
    kolkata = principal("district_admin", "district", "kolkata")
    at_spoke = Principal(1, "c", "cho", "spoke", "hwc-1", scope_district="howrah")
    lost = Principal(2, "d", "cho", "spoke", "hwc-2", scope_district=None)
    assert home_district(state) is None and in_district(state, "anything")
    assert home_district(kolkata) == "kolkata" and in_district(kolkata, "kolkata")
    assert not in_district(kolkata, "howrah")
    assert home_district(at_spoke) == "howrah" and in_district(at_spoke, "howrah")
    # A spoke whose district is unknown reaches no district at all.
    assert not in_district(lost, "howrah") and not in_district(lost, None)


def test_grantable_roles_follow_the_table():
    assert grantable_roles(principal("state_admin")) == GRANTABLE_ROLES["state_admin"]
    assert grantable_roles(principal("cho", "spoke", "hwc-1")) == frozenset()


def test_an_unknown_action_is_a_programming_error_not_a_grant():
    with pytest.raises(KeyError):
        can(principal("state_admin"), "facility.delete")


def test_covers_by_scope():
    alpha = Place("alpha", "kolkata")
    beta = Place("beta", "howrah")
    state = principal("control_room")
    kolkata = principal("district_admin", "district", "kolkata")
    at_alpha = principal("hospital_staff", "facility", "alpha")
    assert covers(state, alpha) and covers(state, beta)
    assert covers(kolkata, alpha) and not covers(kolkata, beta)
    assert covers(at_alpha, alpha) and not covers(at_alpha, beta)
    # A facility in the same district is still another facility.
    assert not covers(at_alpha, Place("gamma", "kolkata"))
    assert covers_district(state, "howrah")
    assert covers_district(kolkata, "kolkata") and not covers_district(kolkata, "howrah")
    # Facility staff never act on a whole district, even their own.
    assert not covers_district(at_alpha, "kolkata")


def test_require_on_facility_checks_role_then_scope():
    alpha = Place("alpha", "kolkata")
    beta = Place("beta", "howrah")
    kolkata = principal("district_admin", "district", "kolkata")
    require_on_facility(kolkata, "facility.update", alpha)
    with pytest.raises(PermissionDenied) as caught:
        require_on_facility(kolkata, "facility.update", beta)
    assert caught.value.code == "out_of_scope"
    with pytest.raises(PermissionDenied) as caught:
        require_on_facility(principal("viewer", "facility", "alpha"), "census.update", alpha)
    assert caught.value.code == "forbidden"


@pytest.mark.parametrize("role", ROLES)
async def test_api_enforces_the_table(rt, client, role: str):
    await factories.districts(rt)
    alpha = await factories.facility(rt, code="alpha")
    await factories.census(rt, alpha, [("icu", "male", 10, 4)])
    headers = await walk_headers(rt, client, role)

    # Each call is valid for an allowed role, so "allowed" must mean 2xx, not merely "not 403".
    async def call(action: str):
        if action == "census.update":
            body = {
                "version": 1,
                "pools": [{"bed_type": "icu", "sex": "male", "total": 10, "occupied": 5}],
            }
            return await client.put(
                f"/api/v1/facilities/{alpha.id}/beds", json=body, headers=headers
            )
        if action == "facility.create":
            body = {
                "code": "walk-new",
                "name": "Walk New",
                "name_bn": "নতুন",
                "district_code": "kolkata",
                "ownership": "government",
                "kind": "rural_hospital",
            }
            return await client.post("/api/v1/facilities", json=body, headers=headers)
        if action == "facility.update":
            return await client.patch(
                f"/api/v1/facilities/{alpha.id}", json={"name": "Alpha Renamed"}, headers=headers
            )
        if action == "facility.import":
            csv = (
                "code,name,name_bn,district_code,ownership,kind\n"
                "walk-csv,Walk Csv,সিএসভি,kolkata,private,private_hospital\n"
            )
            return await client.post(
                "/api/v1/facilities/import",
                content=csv.encode(),
                headers={**headers, "Content-Type": "text/csv"},
            )
        if action == "user.read":
            return await client.get("/api/v1/users", headers=headers)
        if action == "user.manage":
            body = {
                "username": "walk-viewer",
                "password": "long-enough-pw",
                "role": "viewer",
                "scope": "facility:alpha",
            }
            return await client.post("/api/v1/users", json=body, headers=headers)
        raise AssertionError(action)

    for action in ENDPOINT_ACTIONS:
        r = await call(action)
        if role in POLICY[action]:
            assert 200 <= r.status_code < 300, (action, role, r.text)
        else:
            assert r.status_code == 403, (action, role, r.text)
            assert r.json()["error"]["code"] == "forbidden", (action, role)
