"""The API keeps its own OpenAPI contract: schemathesis sends generated requests to every
operation, anonymous and as a state admin, on SQLite and PostgreSQL, and every answer must be
documented (status), conform (body schema, content type) and never be a 5xx.

Bounded and deterministic so CI is stable: ``EXAMPLES`` per operation and caller, derandomized,
no example database. One app (and one database) per engine for the whole module: the examples of
one operation find the rows the examples before them made, which is how real clients use it.
"""

from __future__ import annotations

import asyncio
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)
from starlette.testclient import TestClient

from seba.app import create_app
from seba.settings import Settings
from tests import factories
from tests.conftest import POSTGRES_URL, _truncate_postgres, unavailable

EXAMPLES = 12
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]
BASE_URL = "http://testserver"
# Operations that cannot be fuzzed as a request and its answer:
EXCLUDED = {
    # A server-sent event stream never ends; its contract is tested in tests/web (live.py).
    "GET /api/v1/beds/events",
}
# Not sent with the admin's token: the run would revoke its own token (then every later
# authenticated example would be anonymous). Fuzzed anonymously; logout is tested in accounts.
EXCLUDED_WITH_TOKEN = {"POST /api/v1/auth/logout"}


def _schema_app_settings(tmp: str = "/nonexistent") -> Settings:
    # The schema does not depend on the database; this app never starts.
    return Settings(database_url=f"sqlite+aiosqlite:///{tmp}/schema.db", secret_key="x", env="test")


SCHEMA = schemathesis.openapi.from_dict(create_app(_schema_app_settings()).openapi())
OPERATIONS = sorted(
    result.ok().label for result in SCHEMA.get_all_operations() if result.ok().label not in EXCLUDED
)


@dataclass
class Served:
    client: TestClient
    token: str


async def _seed(rt) -> str:
    """Districts, two hospitals with beds, and a state admin: ids 1 and 2 are real rows."""
    await factories.districts(rt)
    for _ in range(2):
        hospital = await factories.facility(rt)
        await factories.census(rt, hospital, [("general", "female", 20, 5), ("icu", "male", 4, 4)])
    admin = await factories.user(rt, "state_admin", username="contract-admin")
    return admin.username


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def served(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Served]:
    tmp = tmp_path_factory.mktemp("contract")
    if request.param == "sqlite":
        path = tmp / "seba.db"
        shutil.copy(request.getfixturevalue("sqlite_template"), path)
        url = f"sqlite+aiosqlite:///{path}"
    else:
        reason = request.getfixturevalue("postgres_migrated")
        if reason:
            unavailable(reason)
        asyncio.run(_truncate_postgres())
        url = POSTGRES_URL
    app_settings = Settings(
        database_url=url,
        env="test",
        redis_url=None,
        secret_key="test-secret",
        attachment_dir=str(tmp / "attachments"),
        sms_file=str(tmp / "sms.jsonl"),
    )
    app = create_app(app_settings)
    # The app's own event loop (the client's portal) runs the lifespan, the seeding and every
    # request, so the database pool lives in one loop.
    with TestClient(app, base_url=BASE_URL, raise_server_exceptions=False) as client:
        username = client.portal.call(_seed, app.state.runtime)
        answer = client.post(
            "/api/v1/auth/token", json={"username": username, "password": factories.PASSWORD}
        )
        assert answer.status_code == 200, answer.text
        yield Served(client, answer.json()["access_token"])


def _request_kwargs(case: Any, headers: dict[str, str]) -> dict[str, Any]:
    """schemathesis serialises for ``requests``; the test client is httpx."""
    kwargs = case.as_transport_kwargs(base_url=BASE_URL, headers=headers)
    sent = {k: kwargs[k] for k in ("method", "url", "headers", "params") if k in kwargs}
    if kwargs.get("cookies"):
        sent["cookies"] = kwargs["cookies"]
    if "json" in kwargs:
        sent["json"] = kwargs["json"]
    if kwargs.get("data") is not None:
        data = kwargs["data"]
        if isinstance(data, bytes | str):
            sent["content"] = data
        else:
            sent["data"] = data
    if kwargs.get("files"):
        sent["files"] = kwargs["files"]
    return sent


@pytest.mark.parametrize("who", ["anonymous", "admin"])
@pytest.mark.parametrize("label", OPERATIONS)
def test_operation_keeps_its_contract(served: Served, who: str, label: str) -> None:
    if who == "admin" and label in EXCLUDED_WITH_TOKEN:
        pytest.skip("would revoke the token the run uses")
    operation = SCHEMA.find_operation_by_label(label)
    assert operation is not None
    headers = {"Authorization": f"Bearer {served.token}"} if who == "admin" else {}

    @settings(
        max_examples=EXAMPLES,
        derandomize=True,
        database=None,
        deadline=None,
        phases=[Phase.explicit, Phase.generate, Phase.shrink],
        suppress_health_check=list(HealthCheck),
    )
    @given(case=operation.as_strategy())
    def example(case: Any) -> None:
        response = served.client.request(**_request_kwargs(case, headers))
        # A multipart body is a stream; schemathesis reads the request it reports.
        response.request.read()
        case.validate_response(response, checks=CHECKS)

    example()
