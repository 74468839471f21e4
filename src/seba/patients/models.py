"""The patient registry: people a CHO registers at a spoke, for consults and their records.

Age. A person's age is needed before prescribing (Telemedicine Practice Guidelines), but many
patients know only their age in years. The registry always keeps a ``birth_date``: the real one,
or, when only an age was given, an estimate (the registration day that many years earlier,
``birth_date_estimated`` true). ``age_on(day)`` then counts whole years from it either way; an
estimated age turns over on the registration anniversary, which is as good as the age told.

Family. Several patients may share one phone (the phone owner and their family);
``relation_to_phone_owner`` says who each is. The phone is stored as ``+91XXXXXXXXXX``, the form
the referral domain uses too, so one family's phone is one value across the system.

ABHA. Optional; stored as its 14 digits, unique (one person, one record). Shown formatted.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Boolean, CheckConstraint, Date, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from seba.core.db import Base
from seba.core.types import UTCDateTime, utcnow
from seba.places.models import _in

PATIENT_SEXES = ("female", "male", "other")
RELATIONS = ("self", "spouse", "child", "parent", "sibling", "other")
MAX_AGE_YEARS = 120


class Patient(Base):
    __tablename__ = "patient"
    __table_args__ = (
        CheckConstraint(_in("sex", PATIENT_SEXES), name="sex"),
        CheckConstraint(_in("relation_to_phone_owner", RELATIONS), name="relation"),
        CheckConstraint("length(name) BETWEEN 1 AND 120", name="name"),
        CheckConstraint("length(phone) = 13", name="phone"),
        CheckConstraint("abha_number IS NULL OR length(abha_number) = 14", name="abha_number"),
        # Name searches run inside one district (a CHO's or a district admin's scope).
        Index("ix_patient_district_name", "district_code", "name_key"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(120))
    # name_key: case-folded name for searching (see names.name_key); never shown.
    name_key: Mapped[str] = mapped_column(String(120))
    sex: Mapped[str] = mapped_column(String(10))
    birth_date: Mapped[date] = mapped_column(Date)
    birth_date_estimated: Mapped[bool] = mapped_column(Boolean, default=False)
    phone: Mapped[str] = mapped_column(String(16), index=True)
    relation_to_phone_owner: Mapped[str] = mapped_column(String(10), default="self")
    address: Mapped[str] = mapped_column(String(400), default="")
    village: Mapped[str] = mapped_column(String(120), default="")
    # The district whose services keep this record: the registering spoke's district.
    district_code: Mapped[str] = mapped_column(ForeignKey("district.code"))
    registered_at_spoke: Mapped[str | None] = mapped_column(ForeignKey("spoke.code"))
    abha_number: Mapped[str | None] = mapped_column(String(14), unique=True)
    created_by_user_id: Mapped[int | None] = mapped_column(ForeignKey("staff_user.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    def age_on(self, day: date) -> int:
        """Whole years of age on ``day`` (from the real or the estimated birth date)."""
        return age_between(self.birth_date, day)


def age_between(birth: date, day: date) -> int:
    """Completed years from ``birth`` to ``day`` (a 29 February birthday turns over on 1 March)."""
    return day.year - birth.year - ((day.month, day.day) < (birth.month, birth.day))
