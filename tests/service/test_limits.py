"""Values at the edge of what the types allow answer 4xx with a message, never 500."""

from __future__ import annotations

from fastapi.testclient import TestClient

from helpers.service import make_org
from lastmile.events.follow import MAX_EVENT_ID, resume_cursor


def test_dates_at_the_end_of_the_calendar_are_refused_with_a_message(client: TestClient) -> None:
    org = make_org(client, "Limits Co")
    series = client.get(
        "/api/v1/kpis/series?from=9999-12-25&to=9999-12-31&bucket=week", headers=org.dispatcher
    )
    assert series.status_code == 422, series.text
    assert "from" in series.json()["detail"] and "2099-12-31" in series.json()["detail"]
    for path in ("/api/v1/kpis?from=0001-01-01", "/api/v1/kpis.csv?from=9999-12-31"):
        assert client.get(path, headers=org.dispatcher).status_code == 422
    usage = client.get("/api/v1/notifications/usage?month=9999-12", headers=org.admin)
    assert usage.status_code == 422, usage.text
    assert "month" in usage.json()["detail"]
    fine = client.get("/api/v1/notifications/usage?month=2026-12", headers=org.admin)
    assert fine.status_code == 200, fine.text


def test_event_cursors_beyond_64_bits_never_reach_the_database(client: TestClient) -> None:
    org = make_org(client, "Cursor Co")
    for path in ("/api/v1/events", "/api/v1/driver/stream"):
        answer = client.get(f"{path}?last_event_id={2**63}", headers=org.dispatcher)
        assert answer.status_code == 422, answer.text
    assert resume_cursor(None, str(2**64)) is None  # a header beyond: start from now
    assert resume_cursor(None, str(MAX_EVENT_ID)) == MAX_EVENT_ID
    assert resume_cursor(None, "\u00b2") is None  # a digit to str.isdigit, not to int()
    assert resume_cursor(7, "9") == 7
