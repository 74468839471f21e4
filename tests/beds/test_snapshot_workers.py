"""Freshness of the in-memory availability across real server processes: a census taken by
one is in the very next ``near=`` answer and live-refresh fragment of the other."""

from __future__ import annotations

import re

import httpx
import pytest
import redis

from tests import factories
from tests.servers import servers

pytestmark = pytest.mark.server


def _census(version: int, occupied: int) -> dict:
    return {
        "version": version,
        "pools": [{"bed_type": "icu", "sex": "any", "total": 10, "occupied": occupied}],
    }


@pytest.mark.parametrize("shared", ["redis", "database"])
async def test_a_census_on_one_worker_is_in_the_next_read_of_another(
    db_url, rt, redis_url, tmp_path, shared
):
    await factories.districts(rt)
    fac = await factories.facility(rt, code="fresh-one", lat=22.57, lon=88.36)
    await factories.census(rt, fac, [("icu", "any", 10, 1)])
    user = await factories.user(rt, "hospital_staff", f"facility:{fac.code}")
    near = "/api/v1/beds/availability?near=22.57,88.36&bed_type=icu&limit=1"
    fragment = "/beds/list?near=22.57,88.36&bed_type=icu"
    # Two servers sharing Redis, or one server of two workers reading the version row (no
    # keep-alive: each request may land on either worker).
    if shared == "redis":
        redis.Redis.from_url(redis_url).flushdb()
        options, count, limits = {"redis_url": redis_url}, 2, httpx.Limits()
    else:
        options, count = {"workers": 2}, 1
        limits = httpx.Limits(max_keepalive_connections=0)
    with servers(count, db_url, tmp_path, **options) as started:
        one, two = (started[0], started[-1])
        async with (
            httpx.AsyncClient(base_url=one.url, timeout=30, limits=limits) as c1,
            httpx.AsyncClient(base_url=two.url, timeout=30, limits=limits) as c2,
        ):
            auth = {"Authorization": f"Bearer {await factories.token(c1, user.username)}"}
            for occupied in (6, 3, 9):
                before = (await c2.get(near)).json()["facilities"][0]
                await c2.get(fragment)
                version = (await c2.get(f"/api/v1/facilities/{fac.id}")).json()["version"]
                put = await c1.put(
                    f"/api/v1/facilities/{fac.id}/beds",
                    json=_census(version, occupied),
                    headers=auth,
                )
                assert put.status_code == 200, put.text
                after = (await c2.get(near)).json()["facilities"][0]
                assert after["available"] == 10 - occupied
                assert before["available"] != after["available"]
                page = (await c2.get(fragment)).text
                free = re.search(r'<span class="n">(\d+)</span>', page).group(1)
                assert int(free) == 10 - occupied
