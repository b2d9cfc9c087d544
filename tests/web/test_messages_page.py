"""The message log page with a busy day's log: paged (50 a page, newest first), filtered by
state and channel in the query (not after the page was cut), and a page of messages about 50
different orders costs a fixed number of queries (their order numbers in one read)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import event
from sqlalchemy.orm import Session, sessionmaker

from helpers.service import PASSWORD, OrgUsers, make_org, sqlite_settings
from lastmile.app import create_app
from lastmile.notifications.models import Notification

ROW = re.compile(r'<tr data-id="(ntf_[^"]+)"')


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    settings = sqlite_settings(tmp_path_factory.mktemp("messages-page"))
    with TestClient(create_app(settings)) as c:
        yield c


@pytest.fixture(scope="module")
def org(client: TestClient) -> OrgUsers:
    """120 messages (60 e-mails, 60 SMS, one a minute) about 60 orders; 10 SMS failed."""
    org = make_org(client, "Busy Florist")
    body = [
        {
            "external_id": f"M-{i:03d}",
            "date": "2026-11-25",
            "address": f"Landstrasse {i + 1}, 9490 Vaduz",
            "lon": 9.52 + i / 1000,
            "lat": 47.14,
        }
        for i in range(60)
    ]
    r = client.post("/api/v1/orders", json=body, headers=org.dispatcher)
    assert r.status_code in (200, 201), r.text
    ids = [item["order"]["id"] for item in r.json()["items"]]
    sessions: sessionmaker[Session] = client.app.state.sessions  # type: ignore[attr-defined]
    start = datetime(2026, 11, 25, 7, 0, tzinfo=UTC)
    with sessions() as session:
        for i in range(120):
            sms = i % 2 == 1
            failed = sms and i % 12 == 1
            session.add(
                Notification(
                    id=f"ntf_{i:03d}",
                    org_id=org.org_id,
                    order_id=ids[i // 2],
                    channel="sms" if sms else "email",
                    recipient="+423 700" if sms else f"c{i}@example.com",
                    template="out_for_delivery",
                    status="failed" if failed else "sent",
                    error="provider said no" if failed else None,
                    sent_at=start + timedelta(minutes=i),
                    created_at=start + timedelta(minutes=i),
                    subject=f"Message {i:03d}",
                    body="On its way",
                )
            )
        session.commit()
    return org


@pytest.fixture(scope="module")
def dashboard(client: TestClient, org: OrgUsers) -> TestClient:
    """The dispatcher logged in to the dashboard (its session cookie)."""
    browser = TestClient(client.app)
    r = browser.post(
        "/app/login", data={"email": "dispatcher@busy-florist.example", "password": PASSWORD}
    )
    assert r.status_code == 200 and "/app/orders" in str(r.url), r.text[:300]
    return browser


def _page(client: TestClient, org: OrgUsers, query: str = "") -> tuple[list[str], str]:
    r = client.get(f"/app/messages{query}")
    assert r.status_code == 200, r.text
    return ROW.findall(r.text), r.text


def test_newest_first_fifty_a_page(dashboard: TestClient, org: OrgUsers) -> None:
    client = dashboard
    first, html = _page(client, org)
    assert first == [f"ntf_{i:03d}" for i in range(119, 69, -1)]
    assert 'rel="next"' in html and 'rel="prev"' not in html
    assert "M-059" in html and "M-035" in html  # the order numbers, not ids
    second, _ = _page(client, org, "?page=2")
    last, html = _page(client, org, "?page=3")
    assert second == [f"ntf_{i:03d}" for i in range(69, 19, -1)]
    assert last == [f"ntf_{i:03d}" for i in range(19, -1, -1)]
    assert 'rel="prev"' in html and 'rel="next"' not in html
    # the times in the organisation's zone (Vaduz is UTC+1 in November), 24-hour
    assert "2026-11-25 08:00" in html and "2026-11-25 09:59" in _page(client, org)[1]


def test_filters_apply_before_the_page_is_cut(dashboard: TestClient, org: OrgUsers) -> None:
    client = dashboard
    sms, _ = _page(client, org, "?channel=sms")
    more, html = _page(client, org, "?channel=sms&page=2")
    assert len(sms) == 50 and len(more) == 10
    assert all(int(i[4:]) % 2 == 1 for i in sms + more)
    assert "channel=sms&amp;page=1" in html or "channel=sms&page=1" in html
    failed, _ = _page(client, org, "?status=failed")
    assert failed == [f"ntf_{i:03d}" for i in range(109, 0, -12)]


def test_a_page_costs_a_fixed_number_of_queries(
    client: TestClient, dashboard: TestClient, org: OrgUsers
) -> None:
    statements: list[Any] = []
    engine = client.app.state.engine  # type: ignore[attr-defined]

    def count(*args: Any) -> None:
        statements.append(args[2])

    event.listen(engine, "before_cursor_execute", count)
    try:
        rows, _ = _page(dashboard, org)
    finally:
        event.remove(engine, "before_cursor_execute", count)
    assert len(rows) == 50
    order_reads = [s for s in statements if "FROM orders" in s]
    assert len(order_reads) == 1, order_reads
    assert len(statements) <= 15, statements
