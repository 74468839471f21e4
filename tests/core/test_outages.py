"""Dependencies that go away: PostgreSQL stopped answers 503 ``try_again`` with Retry-After and
recovers without a restart; /healthz stays alive while /readyz tells the truth; the worker's
jobs fail one at a time, never together. (Redis going away under two server processes is in
``tests/beds/test_multiworker.py``.)"""

from __future__ import annotations

import asyncio
import logging
from urllib.parse import urlsplit

import httpx

from seba.app import create_app
from seba.core.health import WorkerHeartbeat
from seba.core.runtime import build_runtime
from seba.notifications import worker
from seba.settings import Settings
from tests import factories
from tests.outage import proxy


async def test_postgresql_stopped_is_503_and_recovers_without_a_restart(
    postgres_url, tmp_path, caplog
):
    parts = urlsplit(postgres_url)
    with proxy(parts.hostname or "127.0.0.1", parts.port or 5432) as gateway:
        url = postgres_url.replace(parts.netloc, f"postgres@127.0.0.1:{gateway.port}")
        settings = Settings(database_url=url, env="test", secret_key="t")
        rt = build_runtime(settings)
        await rt.start()
        try:
            await factories.districts(rt)
            fac = await factories.facility(rt)
            app = create_app(settings, runtime=rt)
            transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
            async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
                assert (await client.get("/readyz")).json()["ready"] is True
                gateway.cut()
                with caplog.at_level(logging.WARNING):
                    for path in (
                        f"/api/v1/facilities/{fac.id}",
                        "/",
                        "/api/v1/beds/availability?district=kolkata",
                    ):
                        r = await client.get(path)
                        assert r.status_code == 503, (path, r.text)
                        assert r.headers["retry-after"] == "5"
                        if path == "/":  # a person's page says so in Bengali
                            assert "পরিষেবা এখন ব্যস্ত" in r.text
                        else:
                            assert r.json()["error"]["code"] == "try_again"
                    login = await client.post(
                        "/api/v1/auth/token", json={"username": "a", "password": "b"}
                    )
                    assert login.status_code == 503
                assert not any(rec.exc_info for rec in caplog.records), "no tracebacks"
                assert (await client.get("/healthz")).status_code == 200
                ready = await client.get("/readyz")
                assert ready.status_code == 503 and ready.json()["ready"] is False
                gateway.restore()
                # Back without a restart: stale pooled connections are dropped as they fail.
                for _ in range(20):
                    r = await client.get(f"/api/v1/facilities/{fac.id}")
                    if r.status_code == 200:
                        break
                    await asyncio.sleep(0.25)
                assert r.status_code == 200
                assert (await client.get("/readyz")).json()["ready"] is True
        finally:
            await rt.close()


async def test_readyz_reports_the_workers_heartbeat_and_failing_jobs(rt, client, monkeypatch):
    body = (await client.get("/readyz")).json()
    assert body["ready"] and body["checks"]["database"] == "ok"
    assert body["checks"]["worker"] == {"status": "never_seen"}

    from seba.referrals import service as referral_service

    async def broken(_rt) -> None:
        raise RuntimeError("hold release broke")

    monkeypatch.setattr(referral_service, "release_expired", broken)
    sent = []

    class Provider:
        async def send(self, *, to: str, body: str) -> str:
            sent.append(to)
            return "id-1"

    from seba.core import outbox
    from seba.core.db import transactional

    async with transactional(rt.db) as session:
        outbox.enqueue(session, channel="sms", recipient="+919830012345", body="hello")
    stop = asyncio.Event()
    task = asyncio.create_task(worker.run_worker(rt, stop=stop, provider=Provider()))
    for _ in range(100):
        async with rt.db.read() as session:
            beat = await session.get(WorkerHeartbeat, worker.health.worker_name())
        if beat is not None and sent:
            break
        await asyncio.sleep(0.05)
    stop.set()
    await task
    # One job failing did not stop the others: the SMS still went out.
    assert sent == ["+919830012345"]
    assert beat is not None and beat.failing == {"release_expired_holds": "RuntimeError"}
    checks = (await client.get("/readyz")).json()["checks"]
    assert checks["worker"]["status"] == "failing"
    assert checks["worker"]["failing"] == {"release_expired_holds": "RuntimeError"}


async def test_handled_errors_log_no_traceback(client, caplog):
    """Answers given cleanly are not crashes: no traceback in the log for them (a flood of
    odd URLs must not flood the log). The test client raises anything re-raised, too."""
    paths = (
        "/verify/%00",
        "/verify/ABCD-EFGH-JKMN%00",
        "/?q=%00",
        "/api/v1/beds/availability?district=%00",
        "/api/v1/facilities/%00",
        "/admission/status?ref=%00",
    )
    with caplog.at_level(logging.INFO):
        for path in paths:
            r = await client.get(path)
            assert r.status_code < 500, (path, r.status_code, r.text[:200])
    assert [rec.getMessage() for rec in caplog.records if rec.exc_info] == []
