"""What the referral page tests share: a small world of two hospitals, requests and holds made
through the service, and snapshots of everything a page may write."""

from __future__ import annotations

import re
from dataclasses import dataclass

from sqlalchemy import func, select

from seba.beds.models import BedPool
from seba.core.access import SYSTEM
from seba.core.audit import AuditEntry
from seba.core.idempotency import IdempotencyRecord
from seba.core.outbox import OutboxMessage
from seba.core.runtime import Runtime
from seba.places.models import Facility
from seba.referrals import service as referral_service
from seba.referrals.models import AdmissionRequest, OtpChallenge, Referral
from seba.referrals.schemas import CallerRequest, ReferralCreate
from tests import factories

PHONE = "+919830012345"
VALID_ABHA = "12-3456-7890-1237"  # passes the Luhn check
LUHN_FAILS = "12-3456-7890-1234"


@dataclass
class World:
    alpha: Facility  # Kolkata: oxygen beds for women and for anyone, general beds
    beta: Facility  # Howrah: oxygen and general beds


async def make_world(rt: Runtime) -> World:
    await factories.districts(rt)
    alpha = await factories.facility(rt, code="alpha", name="Alpha Hospital", name_bn="আলফা হাসপাতাল")
    beta = await factories.facility(
        rt, code="beta", name="Beta Hospital", name_bn="বিটা হাসপাতাল", district_code="howrah"
    )
    await factories.census(
        rt, alpha, [("oxygen", "female", 3, 1), ("oxygen", "any", 1, 0), ("general", "any", 4, 0)]
    )
    await factories.census(rt, beta, [("oxygen", "any", 2, 0), ("general", "any", 5, 0)])
    return World(alpha=alpha, beta=beta)


def patient(n: int = 1, sex: str = "female") -> dict:
    return {"name": f"Rina Das {n}", "age": 54, "sex": sex, "phone": f"98300{n:05d}"}


async def make_waiting(rt: Runtime, n: int = 1, need: str = "oxygen", **extra) -> dict:
    """A request in the queue, as an operator would record a caller's."""
    data = CallerRequest(
        patient=patient(n), district="kolkata", condition="severe", need=need, **extra
    )
    return await referral_service.create_caller_request(rt, actor=SYSTEM, data=data)


async def make_hold(rt: Runtime, facility: Facility, n: int = 1, bed_type: str = "oxygen") -> dict:
    data = ReferralCreate(facility_id=facility.id, bed_type=bed_type, patient=patient(n))
    result, _ = await referral_service.create_referral(rt, actor=SYSTEM, data=data)
    return result


async def count_rows(rt: Runtime, model, *where) -> int:
    async with rt.db.read() as s:
        return await s.scalar(select(func.count()).select_from(model).where(*where))


async def pool_counts(
    rt: Runtime, facility: Facility, bed_type: str, sex: str
) -> tuple[int, int, int]:
    async with rt.db.read() as s:
        p = await s.scalar(
            select(BedPool).where(
                BedPool.facility_id == facility.id, BedPool.bed_type == bed_type, BedPool.sex == sex
            )
        )
    return p.total, p.occupied, p.reserved


async def referral_row(rt: Runtime, referral_id: int) -> Referral:
    async with rt.db.read() as s:
        return await s.get(Referral, referral_id)


async def snapshot(rt: Runtime) -> dict:
    """Every row a referral page may write, and every pool's numbers."""
    async with rt.db.read() as s:
        counts = {
            m.__tablename__: await s.scalar(select(func.count()).select_from(m))
            for m in (
                AdmissionRequest,
                Referral,
                OtpChallenge,
                OutboxMessage,
                IdempotencyRecord,
            )
        }
        counts["audit"] = await s.scalar(
            select(func.count())
            .select_from(AuditEntry)
            .where(AuditEntry.action.not_in(("patient.list", "patient.read")))
        )
        pools = {p.id: (p.occupied, p.reserved) for p in await s.scalars(select(BedPool))}
    return {"counts": counts, "pools": pools}


def idem_of(html: str, form_action: str) -> str:
    """The Idempotency-Key of the first form posting to ``form_action``."""
    form = html.split(f'action="{form_action}"', 1)[1].split("</form>", 1)[0]
    return re.search(r'name="idem" value="([^"]+)"', form)[1]


FIELD_ABHA = "An ABHA number has 14 digits, like 12-3456-7890-1234. Or leave it empty."
FIELD_CONSENT = "Tick the box to agree; without it the request cannot go to a hospital."
FIELD_LOCATION = "This location is not in West Bengal. Send the form without it."
