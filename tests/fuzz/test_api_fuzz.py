"""Fuzz every API operation from its own OpenAPI spec (schemathesis): no input makes a 500.

Runs as an admin (the widest role) on the embedded SQLite app, with seeded data so that
generated requests also reach code past "not found". The SSE stream is excluded (it never
ends by design).
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
import schemathesis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error

from helpers.service import make_org
from lastmile.app import create_app
from lastmile.config import Settings

SAMPLE = Path(__file__).parents[2] / "src" / "lastmile" / "data" / "sample"
_DATA = Path(tempfile.mkdtemp(prefix="lastmile-fuzz-"))
APP = create_app(
    Settings(
        database_url=f"sqlite:///{_DATA / 'fuzz.db'}",
        data_dir=_DATA,
        use_roads=False,
        jobs="inline",
        secret_key="fuzz",
        plan_time_limit_s=0.5,
        login_max_failures=100_000,
    )
)
schema = schemathesis.openapi.from_asgi("/openapi.json", APP).exclude(path="/api/v1/events")


@pytest.fixture(scope="module")
def auth_headers() -> Iterator[dict[str, str]]:
    with TestClient(APP) as client:  # runs the app's lifespan (job runner, event bus)
        org = make_org(client, "Fuzz")
        client.post(
            "/api/v1/vehicles/import",
            files={"file": ("v.csv", (SAMPLE / "sample_vehicles.csv").read_bytes())},
            headers=org.admin,
        )
        client.post(
            "/api/v1/orders/import?date=2026-11-25",
            files={"file": ("o.csv", (SAMPLE / "sample_day_orders.csv").read_bytes())},
            headers=org.admin,
        )
        yield org.admin


@schema.parametrize()
@settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck))
def test_no_server_errors(case: schemathesis.Case, auth_headers: dict[str, str]) -> None:
    case.call_and_validate(headers=auth_headers, checks=[not_a_server_error])
