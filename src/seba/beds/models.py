"""The bed ledger: pools with counts guarded by the database, and their immutable events."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from seba.core.db import Base
from seba.core.types import UTCDateTime, utcnow
from seba.places.models import _in

# The state's page showed: regular, with oxygen, HDU, CCU without ventilator (icu), CCU with
# ventilator; paediatric beds are counted apart because children cannot use adult beds.
BED_TYPES = ("general", "oxygen", "hdu", "icu", "ventilator", "paediatric")
SEXES = ("male", "female", "any")
EVENT_KINDS = ("census", "reserve", "release", "admit", "discharge")


class BedPool(Base):
    """One (facility, bed type, sex) pool. ``available`` is derived, never stored.

    The CHECKs make an over-full pool impossible on either engine, whatever the code does.
    """

    __tablename__ = "bed_pool"
    __table_args__ = (
        UniqueConstraint("facility_id", "bed_type", "sex", name="uq_bed_pool_facility_type_sex"),
        CheckConstraint(_in("bed_type", BED_TYPES), name="bed_type"),
        CheckConstraint(_in("sex", SEXES), name="sex"),
        CheckConstraint("total >= 0", name="total_nonneg"),
        CheckConstraint("occupied >= 0", name="occupied_nonneg"),
        CheckConstraint("reserved >= 0", name="reserved_nonneg"),
        CheckConstraint("occupied + reserved <= total", name="fits"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    facility_id: Mapped[int] = mapped_column(ForeignKey("facility.id", ondelete="CASCADE"))
    bed_type: Mapped[str] = mapped_column(String(20))
    sex: Mapped[str] = mapped_column(String(10))
    total: Mapped[int] = mapped_column(Integer, default=0)
    occupied: Mapped[int] = mapped_column(Integer, default=0)
    reserved: Mapped[int] = mapped_column(Integer, default=0)

    @property
    def available(self) -> int:
        return self.total - self.occupied - self.reserved


class AvailabilityChange(Base):
    """Which facility a bed data version changed (``facility_id`` NULL: anything may have).

    Written by ``beds.live.beds_changed`` in the transaction that bumps the version, so a
    worker's in-memory availability (``beds/snapshot.py``) can follow a new version by reading
    only the facilities it names. Versions commit in order (the bump holds the version row's
    lock until commit), so "every row above the version I have" is complete. Old rows are
    pruned; a worker that fell further behind than what is kept rebuilds from scratch.
    """

    __tablename__ = "availability_change"

    id: Mapped[int] = mapped_column(primary_key=True)
    version: Mapped[int] = mapped_column(Integer, index=True)
    facility_id: Mapped[int | None] = mapped_column(Integer)


class BedEvent(Base):
    """An immutable ledger entry: the pool's counts before and after one change, and why.

    Folding a pool's events in ``id`` order from zero gives its current counts.
    """

    __tablename__ = "bed_event"
    __table_args__ = (
        CheckConstraint(_in("kind", EVENT_KINDS), name="kind"),
        Index("ix_bed_event_pool_id_id", "pool_id", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    pool_id: Mapped[int] = mapped_column(ForeignKey("bed_pool.id", ondelete="CASCADE"))
    facility_id: Mapped[int] = mapped_column(ForeignKey("facility.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(20))
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("staff_user.id"))
    actor_name: Mapped[str] = mapped_column(String(120))
    reason: Mapped[str] = mapped_column(String(400), default="")
    total_before: Mapped[int] = mapped_column(Integer)
    occupied_before: Mapped[int] = mapped_column(Integer)
    reserved_before: Mapped[int] = mapped_column(Integer)
    total_after: Mapped[int] = mapped_column(Integer)
    occupied_after: Mapped[int] = mapped_column(Integer)
    reserved_after: Mapped[int] = mapped_column(Integer)
