"""What page tests share: a signed-in page session, a page's CSRF value, counting rows, and a
message as a Bengali page shows it."""

from __future__ import annotations

import re

import httpx
from sqlalchemy import func, select

from seba.core.i18n import gettext, number
from tests import factories

CSRF_RE = re.compile(r'name="csrf" value="([^"]*)"')


def csrf_of(html: str) -> str:
    return CSRF_RE.search(html)[1]


async def login(
    client: httpx.AsyncClient, username: str, password: str = factories.PASSWORD
) -> httpx.Response:
    page = await client.get("/staff/login")
    return await client.post(
        "/staff/login",
        data={"csrf": csrf_of(page.text), "username": username, "password": password},
    )


async def as_user(client: httpx.AsyncClient, username: str) -> None:
    """Give ``client`` a page session as ``username`` (any earlier one ends)."""
    client.cookies.clear()
    response = await login(client, username)
    assert response.status_code == 303, response.text


async def staff_session(client: httpx.AsyncClient, rt, role: str, scope: str = "state"):
    """Create a staff user and give ``client`` a page session as them (any earlier one ends)."""
    user = await factories.user(rt, role, scope)
    await as_user(client, user.username)
    return user


async def page_csrf(client: httpx.AsyncClient, path: str = "/staff") -> str:
    return csrf_of((await client.get(path)).text)


async def count(rt, model, *where) -> int:
    async with rt.db.read() as s:
        return await s.scalar(select(func.count()).select_from(model).where(*where))


def bn(message: str, **params) -> str:
    """``message`` as a Bengali page says it: counts in Bengali digits, codes as they are."""
    shown = {k: number(v, "bn") if isinstance(v, int) else v for k, v in params.items()}
    return gettext("bn", message, **shown)
