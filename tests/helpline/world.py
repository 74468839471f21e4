"""What helpline tests share: the seeded numbers and answers, on either engine."""

from __future__ import annotations

from seba.core.access import SYSTEM
from seba.data import read_csv
from seba.helpline import service as helpline_service


async def seed(rt) -> None:
    """The numbers (PostgreSQL tests start from empty tables) and the answers."""
    await helpline_service.load_numbers(rt, actor=SYSTEM, rows=read_csv("helplines.csv"))
    await helpline_service.load_answers(rt, actor=SYSTEM, rows=read_csv("answers.csv"))
