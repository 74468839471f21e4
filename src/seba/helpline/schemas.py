"""One input schema per helpline action (API, pages and loaders share them), and the outputs."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, field_validator

from seba.core import phones
from seba.core.formats import IndianMobile, RowId, free_text, name_type
from seba.helpline.models import (
    ANSWER_TOPICS,
    CALLBACK_LANGUAGES,
    CALLBACK_OUTCOMES,
    CALLBACK_TOPICS,
    Answer,
    CallbackRequest,
    HelplineNumber,
)

Topic = Literal[ANSWER_TOPICS]  # type: ignore[valid-type]
CallbackTopic = Literal[CALLBACK_TOPICS]  # type: ignore[valid-type]
Outcome = Literal[CALLBACK_OUTCOMES]  # type: ignore[valid-type]
Language = Literal[CALLBACK_LANGUAGES]  # type: ignore[valid-type]
SLUG_PATTERN = r"^[a-z0-9][a-z0-9-]{1,59}$"
MAX_QUERY = 200


# --- the directory ----------------------------------------------------------------------------
class NumberIn(BaseModel):
    """A helpline number as an admin writes it (every field, on create and on edit)."""

    model_config = ConfigDict(extra="forbid")

    name_en: name_type(2, 120)
    name_bn: name_type(2, 120)
    purpose_en: name_type(2, 300)
    purpose_bn: name_type(2, 300)
    hours_en: name_type(2, 80)
    hours_bn: name_type(2, 80)
    number: str = Field(
        max_length=30,
        examples=["1800-313-444-222", "033 2357 1075", "108"],
        description="Toll-free (1800 …), a short code, a mobile or a landline with its STD code",
    )
    in_footer: bool = False
    position: int = Field(default=0, ge=0, le=1000)

    @field_validator("number", mode="before")
    @classmethod
    def _number(cls, value: object) -> object:
        if isinstance(value, str):
            return phones.helpline_phone(value)
        return value


class NumberOut(BaseModel):
    id: int
    code: str
    name: str
    purpose: str
    hours: str
    number: str
    tel: str
    in_footer: bool

    @classmethod
    def of(cls, row: HelplineNumber, lang: str) -> NumberOut:
        bn = lang == "bn"
        return cls(
            id=row.id,
            code=row.code,
            name=row.name_bn if bn else row.name_en,
            purpose=row.purpose_bn if bn else row.purpose_en,
            hours=row.hours_bn if bn else row.hours_en,
            number=row.number,
            tel=phones.tel_uri(row.number),
            in_footer=row.in_footer,
        )


class NumberList(BaseModel):
    numbers: list[NumberOut]


# --- answers ----------------------------------------------------------------------------------
class AnswerIn(BaseModel):
    """An answer as an admin writes it. ``version`` (on edit) is the version the edit started
    from: an edit from an older one is refused, so two admins never overwrite each other."""

    model_config = ConfigDict(extra="forbid")

    slug: str = Field(pattern=SLUG_PATTERN, examples=["oxygen-level-low"])
    topic: Topic
    question_bn: name_type(3, 300)
    question_en: name_type(3, 300)
    body_bn: free_text(4000) = Field(min_length=3)
    body_en: free_text(4000) = Field(min_length=3)
    aliases: free_text(2000) = ""
    source: name_type(3, 300)
    reviewed_on: date
    version: int | None = Field(default=None, ge=1, le=2**31 - 1)


class AnswerOut(BaseModel):
    id: int
    slug: str
    topic: str
    question: str
    body: str
    source: str
    reviewed_on: date
    version: int

    @classmethod
    def of(cls, row: Answer, lang: str) -> AnswerOut:
        bn = lang == "bn"
        return cls(
            id=row.id,
            slug=row.slug,
            topic=row.topic,
            question=row.question_bn if bn else row.question_en,
            body=row.body_bn if bn else row.body_en,
            source=row.source,
            reviewed_on=row.reviewed_on,
            version=row.version,
        )


class AnswerFull(BaseModel):
    """Both languages and the aliases: what an admin edits."""

    id: int
    slug: str
    topic: str
    question_bn: str
    question_en: str
    body_bn: str
    body_en: str
    aliases: str
    source: str
    reviewed_on: date
    version: int
    updated_at: datetime

    @classmethod
    def of(cls, row: Answer) -> AnswerFull:
        return cls.model_validate(row, from_attributes=True)


class AnswerHits(BaseModel):
    query: str
    answers: list[AnswerOut]


class RevisionOut(BaseModel):
    version: int
    at: datetime
    actor_name: str
    content: dict


class AnswerHistory(BaseModel):
    answer_id: int
    revisions: list[RevisionOut]


# --- callbacks --------------------------------------------------------------------------------
class CallbackIn(BaseModel):
    """A citizen's request to be called back."""

    model_config = ConfigDict(extra="forbid")

    phone: IndianMobile
    topic: CallbackTopic
    lang: Language = "bn"
    note: free_text(500) = ""


class CallbackOutcome(BaseModel):
    model_config = ConfigDict(extra="forbid")

    outcome: Outcome


class CallbackOut(BaseModel):
    id: int
    phone: str
    topic: str
    lang: str
    note: str
    priority: int
    status: str
    attempts: int
    created_at: datetime
    outcome: str | None

    @classmethod
    def of(cls, row: CallbackRequest) -> CallbackOut:
        return cls.model_validate(row, from_attributes=True)


class CallbackReceipt(BaseModel):
    """What the citizen is told: their place and the expected wait (no one else's data)."""

    id: int
    ahead: int
    expected_wait_min: int
    crisis: bool


class CallbackTaken(BaseModel):
    callback: CallbackOut | None


class DayFiguresOut(BaseModel):
    day: date
    requests: int
    answered: int
    closed_unanswered: int
    waiting: int
    p50_min: float | None
    p90_min: float | None


# --- counselling ------------------------------------------------------------------------------
class CounsellorIn(BaseModel):
    """A counsellor: names, languages, working hours in minutes after midnight (Asia/Kolkata;
    09:00–21:00 by default), on the half hour."""

    model_config = ConfigDict(extra="forbid")

    name: name_type(2, 120)
    name_bn: name_type(2, 120)
    languages: list[Language] = Field(min_length=1, max_length=2)
    day_start: int = Field(default=9 * 60, ge=0, le=24 * 60, multiple_of=30)
    day_end: int = Field(default=21 * 60, ge=0, le=24 * 60, multiple_of=30)

    @field_validator("day_end")
    @classmethod
    def _after_start(cls, value: int, info: Any) -> int:
        if value <= info.data.get("day_start", 0):
            raise ValueError("must be after day_start")
        return value


class CounsellorOut(BaseModel):
    id: int
    name: str
    name_bn: str
    languages: str
    day_start: int
    day_end: int

    @classmethod
    def of(cls, row: Any) -> CounsellorOut:
        return cls.model_validate(row, from_attributes=True)


class SlotOut(BaseModel):
    counsellor_id: int
    counsellor: str
    starts_at: datetime


class SlotList(BaseModel):
    day: date
    slots: list[SlotOut]


class BookingIn(BaseModel):
    """A slot to book, as ``GET /counselling/slots`` gave it (the start with its offset)."""

    model_config = ConfigDict(extra="forbid")

    counsellor_id: RowId
    starts_at: AwareDatetime
    lang: Language = "bn"
    # What the citizen would like to talk about (optional). Only read for crisis words (the
    # answer then carries ``crisis`` and the emergency numbers); not kept.
    note: str = Field(default="", max_length=500)


class MoveIn(BaseModel):
    """The free slot to move a booking to (one step: the old slot is kept if this one is
    taken)."""

    model_config = ConfigDict(extra="forbid")

    counsellor_id: RowId
    starts_at: AwareDatetime


class BookingOut(BaseModel):
    id: int
    counsellor_id: int
    starts_at: datetime
    status: str
    lang: str
    # Crisis words were in the request: call KIRAN 1800-599-0019 or 112 now, do not wait.
    crisis: bool = False
    emergency_numbers: list[str] = []
