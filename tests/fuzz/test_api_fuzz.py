"""Fuzz every API operation from its own OpenAPI spec (schemathesis): no input makes a 500.

Runs as a dispatcher (the widest role) on the embedded SQLite app, with seeded data so that
generated requests also reach code past "not found". The SSE stream is excluded (it never
ends by design).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import schemathesis
from fastapi.testclient import TestClient
from helpers.service import make_org
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error

from lastmile.app import create_app
from lastmile.config import Settings

SAMPLE = Path(__file__).parents[2] / "src" / "lastmile" / "data" / "sample"


@pytest.fixture(scope="module")
def fuzz_client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    data = tmp_path_factory.mktemp("fuzz")
    settings_ = Settings(database_url=f"sqlite:///{data / 'fuzz.db'}", data_dir=data, use_roads=False, jobs="inline", secret_key="fuzz", plan_time_limit_s=0.5, login_max_failures=1000)
    with TestClient(create_app(settings_)) as client:
        yield client


@pytest.fixture(scope="module")
def auth_headers(fuzz_client: TestClient) -> dict[str, str]:
    org = make_org(fuzz_client, "Fuzz")
    fuzz_client.post("/api/v1/vehicles/import", files={"file": ("v.csv", (SAMPLE / "sample_vehicles.csv").read_bytes())}, headers=org.admin)
    fuzz_client.post("/api/v1/orders/import?date=2026-11-25", files={"file": ("o.csv", (SAMPLE / "sample_day_orders.csv").read_bytes())}, headers=org.admin)
    return org.admin


@pytest.fixture(scope="module")
def api_schema(fuzz_client: TestClient) -> schemathesis.BaseSchema:
    return schemathesis.openapi.from_asgi("/openapi.json", fuzz_client.app).exclude(path="/api/v1/events")


schema = schemathesis.pytest.from_fixture("api_schema")


@schema.parametrize()
@settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck))
def test_no_server_errors(case: schemathesis.Case, auth_headers: dict[str, str]) -> None:
    case.call_and_validate(headers=auth_headers, checks=[not_a_server_error])
