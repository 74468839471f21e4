"""The API keeps its own OpenAPI contract: schemathesis sends generated requests to every
operation, anonymous and as a state admin, a CHO and a doctor, on SQLite and PostgreSQL; every
answer must be documented (status), conform (body schema, content type) and never be a 5xx.

Bounded and deterministic so CI is stable: ``EXAMPLES`` per operation and caller, derandomized,
no example database. One app (and one database) per engine for the whole module: the examples of
one operation find the rows the examples before them made, which is how real clients use it.
"""

from __future__ import annotations

import asyncio
import os
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

# CI's bound; a deeper local hunt: SEBA_CONTRACT_EXAMPLES=200 (the same seeds, more of them).
EXAMPLES = int(os.environ.get("SEBA_CONTRACT_EXAMPLES", "15"))
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
    "GET /api/v1/doctors/me/events",
    "GET /api/v1/consultations/{consult_id}/events",
}
# Not sent with a caller's token: the run would revoke its own token (then every later example
# of that caller would be anonymous). Fuzzed anonymously; logout is tested in accounts.
EXCLUDED_WITH_TOKEN = {"POST /api/v1/auth/logout"}


def _schema_app_settings(tmp: str = "/nonexistent") -> Settings:
    # The schema does not depend on the database; this app never starts.
    return Settings(database_url=f"sqlite+aiosqlite:///{tmp}/schema.db", secret_key="x", env="test")


SCHEMA = schemathesis.openapi.from_dict(create_app(_schema_app_settings()).openapi())
OPERATIONS = sorted(
    result.ok().label for result in SCHEMA.get_all_operations() if result.ok().label not in EXCLUDED
)


CALLERS = ("anonymous", "state_admin", "cho", "doctor")


@dataclass
class Served:
    client: TestClient
    # Authorization headers per caller.
    headers: dict[str, dict[str, str]]


async def _seed(rt) -> dict[str, str]:
    """The network (districts, two hubs and spokes), two hospitals with beds, a state admin, a
    CHO and a doctor at the Kolkata hub: low ids are real rows. Returns the usernames."""
    codes = await factories.network(rt)
    for _ in range(2):
        hospital = await factories.facility(rt)
        await factories.census(rt, hospital, [("general", "female", 20, 5), ("icu", "male", 4, 4)])
    await factories.user(rt, "state_admin", username="contract-admin")
    await factories.cho(rt, codes["kolkata_spoke"], username="contract-cho")
    await factories.doctor(rt, codes["kolkata_hub"], username="contract-doctor")
    return {"state_admin": "contract-admin", "cho": "contract-cho", "doctor": "contract-doctor"}


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
        usernames = client.portal.call(_seed, app.state.runtime)
        headers: dict[str, dict[str, str]] = {"anonymous": {}}
        for role, username in usernames.items():
            answer = client.post(
                "/api/v1/auth/token",
                json={"username": username, "password": factories.PASSWORD},
            )
            assert answer.status_code == 200, answer.text
            headers[role] = {"Authorization": f"Bearer {answer.json()['access_token']}"}
        # A patient of the CHO's district and a consult waiting for the doctor.
        patient = client.post(
            "/api/v1/patients",
            json={"name": "Rina Das", "sex": "female", "age_years": 34, "phone": "9830012345"},
            headers=headers["cho"],
        )
        assert patient.status_code == 201, patient.text
        consult = client.post(
            "/api/v1/consultations",
            json={"patient_id": patient.json()["id"], "chief_complaint": "Fever", "consent": True},
            headers=headers["cho"],
        )
        assert consult.status_code == 201, consult.text
        yield Served(client, headers)


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
        # Extra multipart fields may be generated as numbers; httpx sends text or bytes only.
        sent["files"] = [
            (name, (filename, value if isinstance(value, str | bytes) else str(value)))
            for name, (filename, value, *_) in kwargs["files"]
        ]
    return sent


@pytest.mark.parametrize("who", CALLERS)
@pytest.mark.parametrize("label", OPERATIONS)
def test_operation_keeps_its_contract(served: Served, who: str, label: str) -> None:
    if who != "anonymous" and label in EXCLUDED_WITH_TOKEN:
        pytest.skip("would revoke the token the run uses")
    operation = SCHEMA.find_operation_by_label(label)
    assert operation is not None
    headers = served.headers[who]

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
