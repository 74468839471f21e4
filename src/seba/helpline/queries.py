"""Reads for the helpline's pages and API: the directory (and the footer's copy of it), answers
and their history.

The footer of every public page shows the numbers marked ``in_footer``. Pages render
synchronously from templates and must not query for it, so each process keeps a copy
(``FOOTER``): read at start, after every edit in this process, and once a minute by
``keep_footer`` for edits made in another worker. Until the first read (a test app without its
lifespan) the base template shows the integrated helpline it always showed.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import select

from seba.core.access import Principal, require
from seba.core.errors import NotFound
from seba.core.phones import tel_uri
from seba.core.runtime import Runtime
from seba.helpline import search
from seba.helpline.models import Answer, AnswerRevision, HelplineNumber

log = logging.getLogger(__name__)
FOOTER_REFRESH_S = 60.0


@dataclass(frozen=True)
class FooterLine:
    code: str  # which line ("integrated", "ambulance"…): a page may show one of them larger
    name_en: str
    name_bn: str
    hours_en: str
    hours_bn: str
    number: str
    tel: str


class Footer:
    """This process's copy of the footer's numbers."""

    def __init__(self) -> None:
        self.lines: tuple[FooterLine, ...] = ()

    def for_page(self, lang: str) -> list[dict[str, str]]:
        bn = lang == "bn"
        return [
            {
                "code": line.code,
                "name": line.name_bn if bn else line.name_en,
                "hours": line.hours_bn if bn else line.hours_en,
                "number": line.number,
                "tel": line.tel,
            }
            for line in self.lines
        ]


FOOTER = Footer()


async def numbers(rt: Runtime) -> Sequence[HelplineNumber]:
    async with rt.db.read() as session:
        return (
            await session.scalars(
                select(HelplineNumber).order_by(HelplineNumber.position, HelplineNumber.id)
            )
        ).all()


async def refresh_footer(rt: Runtime) -> None:
    FOOTER.lines = tuple(
        FooterLine(
            code=row.code,
            name_en=row.name_en,
            name_bn=row.name_bn,
            hours_en=row.hours_en,
            hours_bn=row.hours_bn,
            number=row.number,
            tel=tel_uri(row.number),
        )
        for row in await numbers(rt)
        if row.in_footer
    )


async def keep_footer(rt: Runtime, *, every_s: float = FOOTER_REFRESH_S) -> None:
    """Refresh the footer's copy until cancelled (a failed read keeps the last copy)."""
    while True:
        try:
            await refresh_footer(rt)
        except Exception as exc:  # the database away: the last copy stays shown
            log.warning("helpline footer not refreshed: %s", exc)
        await asyncio.sleep(every_s)


async def number(rt: Runtime, number_id: int) -> HelplineNumber:
    async with rt.db.read() as session:
        row = await session.get(HelplineNumber, number_id)
    if row is None:
        raise NotFound("No such helpline number.", code="number_not_found")
    return row


async def answer(rt: Runtime, answer_id: int) -> Answer:
    async with rt.db.read() as session:
        row = await session.get(Answer, answer_id)
    if row is None:
        raise NotFound("No such answer.", code="answer_not_found")
    return row


async def find_answers(rt: Runtime, query: str, *, limit: int = 10) -> list[Answer]:
    """The answers that best match ``query``, best first."""
    async with rt.db.read() as session:
        ids = await search.find(session, query, limit=limit)
        if not ids:
            return []
        rows = {a.id: a for a in await session.scalars(select(Answer).where(Answer.id.in_(ids)))}
    return [rows[i] for i in ids if i in rows]


async def answers_by_topic(rt: Runtime) -> dict[str, list[Answer]]:
    async with rt.db.read() as session:
        rows = (await session.scalars(select(Answer).order_by(Answer.topic, Answer.id))).all()
    grouped: dict[str, list[Answer]] = {}
    for row in rows:
        grouped.setdefault(row.topic, []).append(row)
    return grouped


async def answer_history(
    rt: Runtime, *, actor: Principal, answer_id: int
) -> Sequence[AnswerRevision]:
    require(actor, "helpline.manage")
    await answer(rt, answer_id)
    async with rt.db.read() as session:
        return (
            await session.scalars(
                select(AnswerRevision)
                .where(AnswerRevision.answer_id == answer_id)
                .order_by(AnswerRevision.version.desc())
            )
        ).all()
