"""Per-organisation limits (#17, many businesses on one install): orders per business day and
API requests per minute, on the login limiter's atomic counter; one tenant at its limit
leaves every other tenant's requests and orders alone. SQLite and PostgreSQL."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from helpers.service import OrgUsers, make_org
from lastmile.auth import org_limits
from lastmile.auth.models import LoginThrottle
from lastmile.common import clock
from lastmile.orders.models import Order
from lastmile.orgs import clock as org_clock
from lastmile.orgs import limits
from lastmile.orgs.models import Organisation

ORDERS = "/api/v1/orders"


def _sessions(client: TestClient) -> sessionmaker[Session]:
    return client.app.state.sessions  # type: ignore[attr-defined,no-any-return]


def _limit(client: TestClient, org: OrgUsers, **values: int | None) -> None:
    """What ``lastmile admin set-limits`` does, then this process forgets its blocks (another
    server process would within the running minute)."""
    with _sessions(client)() as session:
        limits.set_overrides(session=session, org_id=org.org_id, values=values)
    org_limits.forget_leases()


def _order(external_id: str) -> dict[str, Any]:
    return {
        "external_id": external_id,
        "address": "Städtle 1, 9490 Vaduz",
        "lon": 9.5209,
        "lat": 47.1410,
        "demand": {"parcels": 1},
    }


def _stored(client: TestClient, org: OrgUsers) -> int:
    with _sessions(client)() as session:
        return int(
            session.scalar(
                select(func.count()).select_from(Order).where(Order.org_id == org.org_id)
            )
            or 0
        )


def _assert_limited(response: Any, limit: str, allowed: int) -> None:
    assert response.status_code == 429, response.text
    assert response.headers["content-type"] == "application/problem+json"
    wait = int(response.headers["Retry-After"])
    assert wait >= 1
    problem = response.json()
    assert problem["code"] == "rate_limited"
    assert (problem["limit"], problem["allowed"], problem["retry_after_s"]) == (
        limit,
        allowed,
        wait,
    )
    assert str(allowed) in problem["detail"]


def test_orders_per_day_refuses_beyond_the_limit_and_spares_other_tenants(
    client: TestClient,
) -> None:
    busy, quiet = make_org(client, "Busy Florist"), make_org(client, "Quiet Pharmacy")
    _limit(client, busy, orders_per_day=3)
    first = client.post(ORDERS, json=[_order("B-1"), _order("B-2")], headers=busy.dispatcher)
    assert first.status_code == 201, first.text
    # Two more would make four: refused as a whole, nothing of the request written.
    refused = client.post(ORDERS, json=[_order("B-3"), _order("B-4")], headers=busy.dispatcher)
    _assert_limited(refused, "orders_per_day", 3)
    assert "1 more today" in refused.json()["detail"]
    # Retry-After: the organisation's next midnight (Europe/Vaduz), never more than a day.
    assert int(refused.headers["Retry-After"]) <= 86_400 + 1
    assert _stored(client, busy) == 2
    # Sending stored orders again creates nothing, so it counts nothing.
    again = client.post(ORDERS, json=[_order("B-1"), _order("B-2")], headers=busy.dispatcher)
    assert again.status_code == 201 and again.json()["unchanged"] == 2, again.text
    assert client.post(ORDERS, json=_order("B-3"), headers=busy.dispatcher).status_code == 201
    _assert_limited(
        client.post(ORDERS, json=_order("B-4"), headers=busy.dispatcher), "orders_per_day", 3
    )
    # The CSV import counts the same orders of the same day.
    csv = "id,address,lon,lat\nB-5,Städtle 2,9.521,47.141\n"
    imported = client.post(
        "/api/v1/orders/import",
        files={"file": ("orders.csv", csv.encode(), "text/csv")},
        headers=busy.dispatcher,
    )
    _assert_limited(imported, "orders_per_day", 3)
    assert _stored(client, busy) == 3
    # The other tenant has the instance default (5,000): its orders go through.
    created = client.post(
        ORDERS, json=[_order(f"Q-{i}") for i in range(20)], headers=quiet.dispatcher
    )
    assert created.status_code == 201 and created.json()["created"] == 20, created.text
    # Back to the default: the busy tenant may create orders again.
    _limit(client, busy, orders_per_day=None)
    assert client.post(ORDERS, json=_order("B-4"), headers=busy.dispatcher).status_code == 201


def test_the_orders_count_is_the_business_day_of_the_organisation(client: TestClient) -> None:
    org = make_org(client, "Night Bakery")
    _limit(client, org, orders_per_day=1)
    assert client.post(ORDERS, json=_order("N-1"), headers=org.dispatcher).status_code == 201
    _assert_limited(
        client.post(ORDERS, json=_order("N-2"), headers=org.dispatcher), "orders_per_day", 1
    )
    # A simulation organisation's clock moved to its next day: a new count (same real day).
    with _sessions(client)() as session:
        row = session.get(Organisation, org.org_id)
        assert row is not None
        row.simulation = True
        session.commit()
        org_clock.set_clock(
            session=session, org_id=org.org_id, start=clock.utcnow() + timedelta(days=1), speed=1
        )
    assert client.post(ORDERS, json=_order("N-2"), headers=org.dispatcher).status_code == 201
    _assert_limited(
        client.post(ORDERS, json=_order("N-3"), headers=org.dispatcher), "orders_per_day", 1
    )


def test_parallel_orders_never_pass_the_limit(client: TestClient) -> None:
    org = make_org(client, "Parallel Parcels")
    _limit(client, org, orders_per_day=7)

    def send(i: int) -> int:
        return client.post(ORDERS, json=_order(f"P-{i}"), headers=org.dispatcher).status_code

    with ThreadPoolExecutor(max_workers=6) as pool:
        codes = list(pool.map(send, range(15)))
    assert codes.count(201) == 7, codes
    assert codes.count(429) == 8, codes
    assert _stored(client, org) == 7


def test_api_requests_per_minute_refuse_one_tenant_only(client: TestClient) -> None:
    noisy, calm = make_org(client, "Noisy Vans"), make_org(client, "Calm Bikes")
    _limit(client, noisy, api_requests_per_minute=5)
    codes = [client.get(ORDERS, headers=noisy.dispatcher).status_code for _ in range(7)]
    assert codes == [200] * 5 + [429] * 2, codes
    refused = client.get("/api/v1/auth/me", headers=noisy.driver)  # every login of the org
    _assert_limited(refused, "api_requests_per_minute", 5)
    assert int(refused.headers["Retry-After"]) <= 61
    # The other organisation is not slowed down at all.
    assert all(client.get(ORDERS, headers=calm.dispatcher).status_code == 200 for _ in range(20))
    # A new minute: the noisy tenant is served again.
    with clock.shifted(timedelta(seconds=61)):
        assert client.get(ORDERS, headers=noisy.dispatcher).status_code == 200
        assert client.get(ORDERS, headers=calm.dispatcher).status_code == 200


def test_parallel_requests_get_exactly_the_limit(client: TestClient) -> None:
    org = make_org(client, "Rush Hour")
    _limit(client, org, api_requests_per_minute=20)
    with ThreadPoolExecutor(max_workers=8) as pool:
        codes = list(
            pool.map(lambda _: client.get(ORDERS, headers=org.dispatcher).status_code, range(40))
        )
    assert codes.count(200) == 20, codes
    assert codes.count(429) == 20, codes


@pytest.mark.parametrize("processes", [1, 3])
def test_blocks_of_counts_never_admit_more_than_the_limit(
    client: TestClient, processes: int
) -> None:
    """At 300 a minute a process takes 3 counts at a time; several processes (each with its
    own blocks: simulated by forgetting them) admit at most the limit together, and lose at
    most a block each."""
    org = make_org(client, f"Blocks {processes}")
    _limit(client, org, api_requests_per_minute=300)
    admitted = 0
    for i in range(330):
        if processes > 1 and i % 100 == 1:
            org_limits.forget_leases()  # the next request reaches another process
        if client.get("/api/v1/auth/me", headers=org.driver).status_code == 200:
            admitted += 1
    assert 300 - 3 * processes <= admitted <= 300
    with _sessions(client)() as session:
        counter = session.get(LoginThrottle, f"api:{org.org_id}")
        assert counter is not None and counter.failures >= 300
        # Refused requests cost no database writes once the process knows the minute is full.
        before = counter.failures
    for _ in range(5):
        assert client.get("/api/v1/auth/me", headers=org.driver).status_code == 429
    with _sessions(client)() as session:
        counter = session.get(LoginThrottle, f"api:{org.org_id}")
        assert counter is not None and counter.failures == before


def test_limits_refuse_what_is_not_a_limit(client: TestClient) -> None:
    org = make_org(client, "Typo Transport")
    with _sessions(client)() as session, pytest.raises(Exception) as caught:
        limits.set_overrides(
            session=session, org_id=org.org_id, values={"orders_a_day": 5, "orders_per_day": -1}
        )
    issues = {i.field: i.message for i in caught.value.issues}  # type: ignore[attr-defined]
    assert "orders_a_day" in issues and "orders_per_day" in issues
    # An organisation's own admin cannot raise its limits through its settings.
    client.patch("/api/v1/organisation", json={"limits": {"orders_per_day": 0}}, headers=org.admin)
    with _sessions(client)() as session:
        stored = session.get(Organisation, org.org_id)
        assert stored is not None and limits.overrides(stored) == {}
