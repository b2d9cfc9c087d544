"""Delivery days with known KPIs for trend and comparison tests: orders created through the
API for past dates, their attempts written as order history rows (what the driver API
stores), so every period's answer can be worked out by hand."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker

from helpers.service import OrgUsers
from lastmile.orders.models import Order, OrderEvent

ZONE = ZoneInfo("Europe/Vaduz")
MONDAY = date(2026, 11, 2)
"""A Monday: weeks of a series start here."""


def orders_for(client: TestClient, org: OrgUsers, day: date, count: int, tag: str) -> list[str]:
    body = [
        {
            "external_id": f"{tag}-{day.isoformat()}-{i}",
            "date": day.isoformat(),
            "address": f"Landstrasse {i + 1}, 9490 Vaduz",
            "lon": 9.52 + i / 1000,
            "lat": 47.14,
            "windows": [{"start": "08:00", "end": "12:00"}],
        }
        for i in range(count)
    ]
    r = client.post("/api/v1/orders", json=body, headers=org.dispatcher)
    assert r.status_code in (200, 201), r.text
    return [item["order"]["id"] for item in r.json()["items"]]


def attempts(
    client: TestClient, org: OrgUsers, day: date, outcomes: dict[str, list[tuple[str, str]]]
) -> None:
    """History rows: per order, (status, local clock) in order, e.g. ("delivered", "09:00").
    The orders count as placed at 18:00 the evening before (as a shop's export would say)."""
    sessions: sessionmaker[Session] = client.app.state.sessions  # type: ignore[attr-defined]
    placed = datetime.combine(day - timedelta(days=1), time(18), ZONE).astimezone(UTC)
    with sessions() as session:
        for order_id, steps in outcomes.items():
            order = session.get(Order, order_id)
            assert order is not None
            order.created_at = placed
            for status, clock in steps:
                at = datetime.combine(day, time.fromisoformat(clock), ZONE).astimezone(UTC)
                session.add(
                    OrderEvent(
                        org_id=org.org_id,
                        order_id=order_id,
                        from_status=None,
                        to_status=status,
                        at=at,
                        reason="not_home" if status == "failed" else None,
                    )
                )
        session.commit()


def week(client: TestClient, org: OrgUsers, monday: date, *, late: int, failed: int) -> None:
    """Four orders a day on Monday and Tuesday of the week; ``late`` of each day's orders are
    served at 13:00 (outside 08-12), ``failed`` fail first and are delivered at 15:00."""
    for offset in (0, 1):
        day = monday + timedelta(days=offset)
        ids = orders_for(client, org, day, 4, f"W{monday.isoformat()}")
        steps: dict[str, list[tuple[str, str]]] = {}
        for i, order_id in enumerate(ids):
            if i < failed:
                steps[order_id] = [("failed", "10:00"), ("delivered", "15:00")]
            elif i < failed + late:
                steps[order_id] = [("delivered", "13:00")]
            else:
                steps[order_id] = [("delivered", "09:00")]
        attempts(client, org, day, steps)
