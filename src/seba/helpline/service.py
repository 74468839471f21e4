"""The helpline's state changes: its numbers and its answers (callbacks: ``callbacks.py``).

Each function is one transaction with a keyword-only ``actor``, checked against the policy
table (``helpline.manage``), audited. An answer's every saved version is kept in
``answer_revision``; an edit names the version it started from, and an edit from an older
version is refused (409 ``version_conflict``) rather than silently overwriting a colleague.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from datetime import date
from typing import Any

from pydantic import ValidationError
from sqlalchemy import func, select, update

from seba.core import audit
from seba.core.access import Principal, require
from seba.core.db import after_commit, transactional
from seba.core.errors import Conflict, NotFound, ValidationFailed
from seba.core.runtime import Runtime
from seba.core.types import utcnow
from seba.helpline import queries
from seba.helpline.models import Answer, AnswerRevision, HelplineNumber
from seba.helpline.schemas import AnswerIn, NumberIn
from seba.helpline.text import search_text

# What a revision keeps (everything an admin writes).
REVISION_FIELDS = (
    "slug",
    "topic",
    "question_bn",
    "question_en",
    "body_bn",
    "body_en",
    "aliases",
    "source",
    "reviewed_on",
)


# --- the directory ----------------------------------------------------------------------------
def _number_fields(data: NumberIn) -> dict[str, Any]:
    return data.model_dump()


async def update_number(
    rt: Runtime, *, actor: Principal, number_id: int, data: NumberIn
) -> HelplineNumber:
    require(actor, "helpline.manage")
    async with transactional(rt.db) as session:
        row = await session.get(HelplineNumber, number_id)
        if row is None:
            raise NotFound("No such helpline number.", code="number_not_found")
        before = {k: getattr(row, k) for k in _number_fields(data)}
        for key, value in _number_fields(data).items():
            setattr(row, key, value)
        row.updated_at = utcnow()
        audit.record(
            session,
            actor=actor,
            action="helpline.number.update",
            entity_type="helpline_number",
            entity_id=row.id,
            before=before,
            after=_number_fields(data),
        )
        after_commit(session, lambda: queries.refresh_footer(rt))
    return row


def _code_of(name_en: str, taken: set[str]) -> str:
    """A new number's code (its identity for the data file and the footer's styling): its
    English name in ASCII words, then -2, -3… when that is taken."""
    base = re.sub(r"[^a-z0-9]+", "-", name_en.lower()).strip("-")[:34] or "number"
    code, n = base, 1
    while code in taken:
        n += 1
        code = f"{base}-{n}"
    return code


async def create_number(rt: Runtime, *, actor: Principal, data: NumberIn) -> HelplineNumber:
    """Add a number to the directory (last in order unless the admin gave one)."""
    require(actor, "helpline.manage")
    async with transactional(rt.db) as session:
        taken = set(await session.scalars(select(HelplineNumber.code)))
        fields = _number_fields(data)
        if not fields["position"]:
            last = await session.scalar(select(func.max(HelplineNumber.position)))
            fields["position"] = (last or 0) + 1
        row = HelplineNumber(code=_code_of(data.name_en, taken), updated_at=utcnow(), **fields)
        session.add(row)
        await session.flush()
        audit.record(
            session,
            actor=actor,
            action="helpline.number.create",
            entity_type="helpline_number",
            entity_id=row.id,
            after={"code": row.code, **fields},
        )
        after_commit(session, lambda: queries.refresh_footer(rt))
    return row


async def load_numbers(rt: Runtime, *, actor: Principal, rows: Iterable[Mapping[str, str]]) -> int:
    """Add the numbers of ``data/helplines.csv`` whose codes are not there yet (the migration
    seeds the same list; this restores it on a database emptied since, e.g. a test's)."""
    require(actor, "helpline.manage")
    parsed = [
        (code, NumberIn(**{**fields, "in_footer": fields["in_footer"] == "yes"}))
        for code, fields in (
            (row["code"], {k: v for k, v in row.items() if k != "code"}) for row in rows
        )
    ]
    async with transactional(rt.db) as session:
        have = set(await session.scalars(select(HelplineNumber.code)))
        added = 0
        for position, (code, data) in enumerate(parsed):
            if code in have:
                continue
            fields = {**_number_fields(data), "position": position}
            session.add(HelplineNumber(code=code, updated_at=utcnow(), **fields))
            added += 1
        if added:
            audit.record(
                session,
                actor=actor,
                action="helpline.number.load",
                entity_type="helpline_number",
                entity_id="*",
                after={"added": added},
            )
        after_commit(session, lambda: queries.refresh_footer(rt))
    return added


# --- answers ----------------------------------------------------------------------------------
def _search_fields(data: AnswerIn) -> dict[str, str]:
    return {
        "search_title": search_text(data.question_bn, data.question_en, data.aliases),
        "search_body": search_text(data.body_bn, data.body_en),
    }


def _content(data: AnswerIn) -> dict[str, Any]:
    content = data.model_dump(include=set(REVISION_FIELDS))
    content["reviewed_on"] = data.reviewed_on.isoformat()
    return content


def _revision(answer: Answer, actor: Principal, content: dict[str, Any]) -> AnswerRevision:
    return AnswerRevision(
        answer_id=answer.id,
        version=answer.version,
        at=utcnow(),
        actor_id=actor.user_id,
        actor_name=actor.username,
        content=content,
    )


async def create_answer(rt: Runtime, *, actor: Principal, data: AnswerIn) -> Answer:
    require(actor, "helpline.manage")
    async with transactional(rt.db) as session:
        if await session.scalar(select(Answer.id).where(Answer.slug == data.slug)):
            raise Conflict(
                "An answer with this name already exists.",
                code="answer_slug_taken",
                details={"slug": data.slug},
            )
        answer = Answer(
            **data.model_dump(include=set(REVISION_FIELDS)),
            **_search_fields(data),
            version=1,
            updated_at=utcnow(),
        )
        session.add(answer)
        await session.flush()
        session.add(_revision(answer, actor, _content(data)))
        audit.record(
            session,
            actor=actor,
            action="answer.create",
            entity_type="answer",
            entity_id=answer.id,
            after={"slug": answer.slug, "version": 1},
        )
    return answer


async def update_answer(rt: Runtime, *, actor: Principal, answer_id: int, data: AnswerIn) -> Answer:
    require(actor, "helpline.manage")
    if data.version is None:
        raise ValidationFailed(
            "Say which version you edited.",
            code="version_required",
            details={"field": "version"},
        )
    async with transactional(rt.db) as session:
        current = await session.scalar(select(Answer.version).where(Answer.id == answer_id))
        if current is None:
            raise NotFound("No such answer.", code="answer_not_found")
        taken = await session.scalar(
            select(Answer.id).where(Answer.slug == data.slug, Answer.id != answer_id)
        )
        if taken:
            raise Conflict(
                "An answer with this name already exists.",
                code="answer_slug_taken",
                details={"slug": data.slug},
            )
        # The conditional update decides: of two edits from one version exactly one matches.
        changed = await session.execute(
            update(Answer)
            .where(Answer.id == answer_id, Answer.version == data.version)
            .values(
                **data.model_dump(include=set(REVISION_FIELDS)),
                **_search_fields(data),
                version=Answer.version + 1,
                updated_at=utcnow(),
            )
            .execution_options(synchronize_session=False)
        )
        if changed.rowcount != 1:
            raise Conflict(
                "Someone else changed this answer; reload it and edit again.",
                code="version_conflict",
                details={"version": current},
            )
        answer = await session.get(Answer, answer_id, populate_existing=True)
        assert answer is not None
        session.add(_revision(answer, actor, _content(data)))
        audit.record(
            session,
            actor=actor,
            action="answer.update",
            entity_type="answer",
            entity_id=answer.id,
            before={"version": data.version},
            after={"version": answer.version},
        )
    return answer


async def load_answers(rt: Runtime, *, actor: Principal, rows: Iterable[Mapping[str, str]]) -> int:
    """Add the answers of a data file whose slugs are not there yet (idempotent: an answer an
    admin has edited is never overwritten by the file). All or nothing; returns how many."""
    require(actor, "helpline.manage")
    parsed: list[AnswerIn] = []
    for line, row in enumerate(rows, start=2):
        try:
            parsed.append(
                AnswerIn(**{**row, "reviewed_on": date.fromisoformat(row["reviewed_on"])})
            )
        except (ValidationError, ValueError, KeyError) as exc:
            raise ValidationFailed(
                "Line {line} of the answers file is not valid.",
                code="answers_file_invalid",
                details={"line": line, "error": str(exc)[:300]},
                params={"line": line},
            ) from exc
    async with transactional(rt.db) as session:
        have = set(await session.scalars(select(Answer.slug)))
        added = 0
        for data in parsed:
            if data.slug in have:
                continue
            answer = Answer(
                **data.model_dump(include=set(REVISION_FIELDS)),
                **_search_fields(data),
                version=1,
                updated_at=utcnow(),
            )
            session.add(answer)
            await session.flush()
            session.add(_revision(answer, actor, _content(data)))
            have.add(data.slug)
            added += 1
        if added:
            audit.record(
                session,
                actor=actor,
                action="answer.load",
                entity_type="answer",
                entity_id="*",
                after={"added": added},
            )
    return added
