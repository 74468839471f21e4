"""Where a facility's SMS alerts go: the mobiles of its own staff (``referral.alert`` in the
policy table), never the public's numbers for the hospital, never a helpline."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from seba.accounts.models import StaffUser
from seba.core.access import roles_for

# Enough for the bed managers of a shift; a facility with more staff still sends only these.
MAX_ALERT_MOBILES = 5


def _alerted():
    return select(StaffUser.scope_code, StaffUser.mobile).where(
        StaffUser.role.in_(roles_for("referral.alert")),
        StaffUser.scope_kind == "facility",
        StaffUser.active.is_(True),
        StaffUser.mobile.is_not(None),
    )


async def alert_mobiles(session: AsyncSession, facility_code: str) -> list[str]:
    """The distinct mobiles (+91…) of the facility's active staff who take its alerts, in the
    order the accounts were made, at most ``MAX_ALERT_MOBILES``; empty when none is set."""
    rows = await session.execute(
        _alerted().where(StaffUser.scope_code == facility_code).order_by(StaffUser.id)
    )
    return list(dict.fromkeys(mobile for _code, mobile in rows))[:MAX_ALERT_MOBILES]


async def reachable_facilities(session: AsyncSession) -> set[str]:
    """The codes of the facilities whose alerts reach at least one staff mobile (one row per
    such account: staff are few beside facilities, so no list of codes is sent)."""
    return {code for code, _mobile in await session.execute(_alerted()) if code}
