"""Fuzz every operation of the public API and of the unpublished dashboard/tracking OpenAPI
(schemathesis): on SQLite and PostgreSQL, as every role, with real ids.

What it holds the service to:

* no input makes a server error (500), and every answer is one the OpenAPI documents, with a
  body that matches it (status-code, content-type and response-schema checks);
* another organisation's ids always answer 404 (or the caller's role is refused first): the
  seeded ids of a second organisation are put into the path, and a 2xx is a failure;
* NUL characters, extreme dates and huge or non-finite numbers, put into each generated case
  (``hostile``), are refused with a 4xx, never a 500.

Both organisations are seeded (vans, orders, a driver, a dispatched plan, a webhook, an API
key, a tracking link), and generated path ids are swapped for real ones of the caller's own
organisation, so requests reach the code past "not found". The SSE streams are excluded
(they never end by design).

``FUZZ_EXAMPLES`` sets the examples per operation and role (default 2, for ``make test``);
``FUZZ_BACKENDS`` the databases (default ``sqlite``, which keeps ``make test`` within its
minutes; ``make test-long`` runs PostgreSQL, ``make fuzz`` both). ``make fuzz`` runs the long
search (docs/security.md has its figures).
"""

from __future__ import annotations

import copy
import json
import os
import random
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg
import pytest
import schemathesis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, settings
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)

from helpers.service import OrgUsers, make_org
from lastmile.app import create_app
from lastmile.config import Settings
from lastmile.ops.openapi import private_openapi

EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "2"))
BACKENDS = [b for b in os.environ.get("FUZZ_BACKENDS", "sqlite").split(",") if b]
ROLES = ("admin", "dispatcher", "driver")
PG_ADMIN = os.environ.get("LASTMILE_TEST_PG", "postgresql://postgres@127.0.0.1:5432/postgres")
SAMPLE = Path(__file__).parents[2] / "src" / "lastmile" / "data" / "sample"
STREAMS = ("/api/v1/events", "/api/v1/driver/stream")
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]
STATS: dict[str, int] = {"calls": 0, "hostile": 0, "foreign": 0}


@dataclass
class World:
    """One backend's app with two seeded organisations."""

    backend: str
    app: Any
    client: TestClient
    mine: OrgUsers
    theirs: OrgUsers
    ids: dict[str, list[str]] = field(default_factory=dict)
    foreign: dict[str, list[str]] = field(default_factory=dict)

    def headers(self, role: str) -> dict[str, str]:
        return self.mine.headers[role]  # type: ignore[index]


def _seed(client: TestClient, org: OrgUsers) -> dict[str, list[str]]:
    """Vans, a day of orders, a depot, a driver, a dispatched plan, a webhook, an API key, a
    customer with a standing order and a tracking link; the ids of each, by the path
    parameter name that takes them."""
    admin, dispatcher = org.admin, org.dispatcher
    day = time.strftime("%Y-%m-%d")
    client.post(
        "/api/v1/vehicles/import",
        files={"file": ("v.csv", (SAMPLE / "sample_vehicles.csv").read_bytes())},
        headers=admin,
    )
    client.post(
        f"/api/v1/orders/import?date={day}",
        files={"file": ("o.csv", (SAMPLE / "sample_day_orders.csv").read_bytes())},
        headers=admin,
    )
    ids: dict[str, list[str]] = {}

    def items(path: str) -> list[dict[str, Any]]:
        body = client.get(path, headers=admin).json()
        return list(body["items"] if isinstance(body, dict) else body)

    ids["order_id"] = [o["id"] for o in items(f"/api/v1/orders?date={day}&limit=20")]
    ids["vehicle_id"] = [v["id"] for v in items("/api/v1/vehicles")]
    depot = client.post(
        "/api/v1/depots",
        json={"name": "Hub", "address": "Industriestrasse 1, Vaduz", "lon": 9.52, "lat": 47.14},
        headers=admin,
    )
    ids["depot_id"] = [depot.json()["id"]] if depot.status_code == 201 else []
    driver = client.post(
        "/api/v1/drivers",
        json={"name": "Fuzz Driver", "user_id": org.user_ids["driver"]},  # type: ignore[index]
        headers=dispatcher,
    )
    ids["driver_id"] = [driver.json()["id"]] if driver.status_code == 201 else []
    plan = client.post("/api/v1/plans", json={"date": day, "time_limit_s": 0.3}, headers=dispatcher)
    ids["plan_id"] = [plan.json()["id"]] if plan.status_code in (200, 201, 202) else []
    hook = client.post(
        "/api/v1/webhooks", json={"url": "https://hooks.example.com/fuzz"}, headers=admin
    )
    ids["webhook_id"] = [hook.json()["id"]] if hook.status_code == 201 else []
    key = client.post("/api/v1/api-keys", json={"name": "fuzz"}, headers=admin)
    ids["key_id"] = [key.json()["id"]] if key.status_code == 201 else []
    customer = client.post(
        "/api/v1/customers",
        json={
            "name": "Fuzz Customer",
            "addresses": [{"address": "Städtle 1", "lon": 9.52, "lat": 47.14}],
        },
        headers=dispatcher,
    )
    ids["customer_id"] = [customer.json()["id"]] if customer.status_code == 201 else []
    standing = client.post(
        f"/api/v1/customers/{ids['customer_id'][0]}/standing-orders",
        json={"weekdays": ["mon", "thu"], "description": "fuzz"},
        headers=dispatcher,
    )
    ids["standing_order_id"] = [standing.json()["id"]] if standing.status_code == 201 else []
    tokens = []
    for order_id in ids["order_id"][:2]:
        link = client.post(f"/api/v1/orders/{order_id}/tracking-link", headers=dispatcher)
        if link.status_code == 201:
            tokens.append(link.json()["path"].removeprefix("/t/"))
    ids["token"] = tokens
    return {name: values for name, values in ids.items() if values}


def _postgres_url() -> str | None:
    try:
        with psycopg.connect(PG_ADMIN, connect_timeout=3, autocommit=True) as conn:
            name = f"lastmile_fuzz_{uuid.uuid4().hex[:8]}"
            conn.execute(f'CREATE DATABASE "{name}"')
    except psycopg.Error:
        if os.environ.get("CI") == "true":
            raise
        return None
    base = PG_ADMIN.rsplit("/", 1)[0]
    return f"{base}/{name}".replace("postgresql://", "postgresql+psycopg://", 1)


def _drop(url: str) -> None:
    name = url.rsplit("/", 1)[1]
    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _settings(url: str, data: Path) -> Settings:
    return Settings(
        database_url=url,
        data_dir=data,
        use_roads=False,
        jobs="inline",
        secret_key="fuzz",
        plan_time_limit_s=0.3,
        login_max_failures=1_000_000,
        login_address_max_failures=1_000_000,
        org_orders_per_day=0,  # the limits are tested in tests/service/test_org_limits.py;
        org_api_requests_per_minute=0,  # here every example should reach the route
        geocode_imports=False,
    )


_DATA = Path(tempfile.mkdtemp(prefix="lastmile-fuzz-"))
REFERENCE = create_app(_settings(f"sqlite:///{_DATA / 'fuzz.db'}", _DATA))
"""The SQLite app; the OpenAPI documents are read from it (every backend has the same)."""
public = schemathesis.openapi.from_asgi("/openapi.json", REFERENCE)
for _stream in STREAMS:
    public = public.exclude(path=_stream)
private = schemathesis.openapi.from_dict(private_openapi(REFERENCE))
private.app = REFERENCE


@contextmanager
def _world(backend: str) -> Iterator[World | None]:
    if backend == "sqlite":
        app, url = REFERENCE, None
    else:
        url = _postgres_url()
        if url is None:
            yield None
            return
        data = Path(tempfile.mkdtemp(prefix="lastmile-fuzz-pg-"))
        app = create_app(_settings(url, data))
    try:
        with TestClient(app, raise_server_exceptions=False) as client:
            mine, theirs = make_org(client, "Fuzz Mine"), make_org(client, "Fuzz Theirs")
            result = World(backend, app, client, mine, theirs)
            result.ids, result.foreign = _seed(client, mine), _seed(client, theirs)
            yield result
    finally:
        if url:
            _drop(url)


@pytest.fixture(scope="module")
def worlds() -> Iterator[list[World]]:
    """A seeded world per backend (PostgreSQL skipped, with a message, when unreachable)."""
    with ExitStack() as stack:
        found = [stack.enter_context(_world(b)) for b in BACKENDS]
        if None in found:
            print(f"\nfuzz: PostgreSQL not reachable at {PG_ADMIN}; SQLite only")
        yield [w for w in found if w is not None]
        print(f"\nfuzz: {json.dumps(STATS)}")


HOSTILE_STRINGS = ("a\x00b", "\x00", "9999-12-31", "0001-01-01", "2026-02-30", "x" * 5000)
HOSTILE_NUMBERS: tuple[Any, ...] = (1e308, -1e308, 2**63, -(2**63) - 1, 10**30, 0, -1)


def _hostile(value: Any, rng: random.Random) -> Any:
    """``value`` with one string or number somewhere in it replaced by a hostile one."""
    if isinstance(value, dict) and value:
        key = rng.choice(sorted(value, key=str))
        return {**value, key: _hostile(value[key], rng)}
    if isinstance(value, list) and value:
        index = rng.randrange(len(value))
        return [*value[:index], _hostile(value[index], rng), *value[index + 1 :]]
    if isinstance(value, bool) or value is None:
        return rng.choice(HOSTILE_STRINGS + HOSTILE_NUMBERS)
    if isinstance(value, int | float):
        return rng.choice(HOSTILE_NUMBERS)
    return rng.choice(HOSTILE_STRINGS)


def _run(world: World, case: Any, role: str) -> None:
    """``case`` as ``role`` (its parts are put back afterwards, for the next role)."""
    saved = {
        name: copy.deepcopy(getattr(case, name)) for name in ("path_parameters", "query", "body")
    }
    try:
        _call(world, case, role)
    finally:
        for name, value in saved.items():
            setattr(case, name, value)


def _call(world: World, case: Any, role: str) -> None:
    case.operation.schema.app = world.app
    rng = random.Random(repr((case.path, case.method, case.path_parameters, case.query, role)))
    foreign = False
    for name in list(case.path_parameters or {}):
        choice = rng.random()
        # a tracking token is a capability, not an id of an organisation: any holder may use it
        if name in world.foreign and name != "token" and choice < 0.25:
            case.path_parameters[name] = rng.choice(world.foreign[name])
            foreign = True
        elif name in world.ids and choice < 0.85:
            case.path_parameters[name] = rng.choice(world.ids[name])
    headers = {} if case.path.startswith("/t/") else world.headers(role)
    response = case.call_and_validate(headers=headers, checks=CHECKS)
    STATS["calls"] += 1
    if foreign:
        STATS["foreign"] += 1
        # Another organisation's id: never an answer about it (404 unless refused earlier).
        assert response.status_code in (400, 401, 403, 404, 405, 409, 413, 422, 429), (
            f"{case.method} {case.formatted_path} with another organisation's id answered "
            f"{response.status_code}: {response.text[:300]}"
        )
        if case.method == "GET" and response.status_code not in (400, 401, 403, 405, 422):
            assert response.status_code == 404, response.text[:300]
    # The same case with something hostile inside: a 4xx, never a 500.
    target = rng.choice(["query", "body", "path_parameters"])
    original = getattr(case, target, None)
    if original:
        setattr(case, target, _hostile(original, rng))
        hostile = case.call(headers=headers)
        STATS["hostile"] += 1
        assert hostile.status_code < 500, (
            f"{case.method} {case.formatted_path} with {target}={getattr(case, target)!r:.300} "
            f"answered {hostile.status_code}: {hostile.text[:500]}"
        )


@public.parametrize()
@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck))
def test_public_api(case: Any, worlds: list[World]) -> None:
    for world in worlds:
        for role in ROLES:
            _run(world, case, role)


@private.parametrize()
@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck))
def test_dashboard_and_tracking_routes(case: Any, worlds: list[World]) -> None:
    for world in worlds:
        for role in ROLES:
            _run(world, case, role)
