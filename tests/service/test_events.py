"""Live events over SSE (real HTTP) and signed, retried webhooks."""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
import time
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker

from helpers.live import Receiver, serve_app
from helpers.service import make_org
from lastmile.common.jobs import JobContext
from lastmile.events import service as events
from lastmile.events.jobs import SIGNATURE_HEADER, deliver_webhook


def _create_order(
    client: TestClient, headers: dict[str, str], external_id: str
) -> dict[str, object]:
    response = client.post(
        "/api/v1/orders",
        json={
            "external_id": external_id,
            "date": "2026-11-25",
            "lon": 9.52,
            "lat": 47.14,
            "address": "Städtle 1, Vaduz",
        },
        headers=headers,
    )
    assert response.status_code in (200, 201), response.text
    body = response.json()
    return body[0] if isinstance(body, list) else body


def _read_events(
    url: str,
    headers: dict[str, str],
    want: int,
    found: list[dict[str, object]],
    ready: threading.Event,
    params: dict[str, str] | None = None,
) -> None:
    with httpx.stream(
        "GET", f"{url}/api/v1/events", headers=headers, params=params, timeout=20
    ) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        for line in response.iter_lines():
            if line.startswith(": connected"):
                ready.set()
            if line.startswith("data: "):
                found.append(json.loads(line[6:]))
                if len(found) >= want:
                    return


def test_sse_delivers_only_the_callers_organisation_events(client: TestClient) -> None:
    a = make_org(client, "Alpha")
    b = make_org(client, "Beta")
    found: list[dict[str, object]] = []
    ready = threading.Event()
    with serve_app(client.app) as url:
        reader = threading.Thread(target=_read_events, args=(url, a.dispatcher, 2, found, ready))
        reader.start()
        assert ready.wait(10)
        _create_order(client, b.dispatcher, "B-1")  # another organisation: must not arrive
        _create_order(client, a.dispatcher, "A-1")
        _create_order(client, a.dispatcher, "A-2")
        reader.join(timeout=20)
    assert not reader.is_alive()
    assert len(found) >= 2
    texts = json.dumps(found)
    assert "A-1" in texts and "A-2" in texts and "B-1" not in texts
    ids = [e["id"] for e in found]
    assert ids == sorted(ids)


def test_sse_replays_after_last_event_id(client: TestClient) -> None:
    org = make_org(client, "Alpha")
    _create_order(client, org.dispatcher, "A-1")
    _create_order(client, org.dispatcher, "A-2")
    found: list[dict[str, object]] = []
    ready = threading.Event()
    with serve_app(client.app) as url:
        _read_events(url, org.dispatcher, 1, found, ready, params={"last_event_id": "0"})
    assert "A-1" in json.dumps(found[0])


def test_sse_is_staff_only(client: TestClient) -> None:
    org = make_org(client, "Alpha")
    assert client.get("/api/v1/events", headers=org.driver).status_code == 403
    assert client.get("/api/v1/events").status_code == 401


def test_webhook_is_signed_and_retried(client: TestClient) -> None:
    org = make_org(client, "Alpha")
    with Receiver() as receiver:
        hook = client.post("/api/v1/webhooks", json={"url": receiver.url}, headers=org.admin)
        assert hook.status_code == 201
        secret = hook.json()["secret"]
        _create_order(client, org.dispatcher, "A-1")
        receiver.wait_for(1)
        headers, body = receiver.requests[0]
        expected = "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
        assert headers[SIGNATURE_HEADER.lower()] == expected
        assert json.loads(body)["organisation_id"] == org.org_id

        receiver.status = 500
        _create_order(client, org.dispatcher, "A-2")
        receiver.wait_for(2)
        deliveries_url = f"/api/v1/webhooks/{hook.json()['id']}/deliveries"
        deadline = time.monotonic() + 5
        while True:
            log = client.get(deliveries_url, headers=org.admin).json()
            failing = [d for d in log if d["last_status_code"] == 500]
            if failing or time.monotonic() > deadline:
                break
            time.sleep(0.05)
        assert failing and failing[0]["status"] == "pending" and failing[0]["attempts"] == 1
        assert failing[0]["next_attempt_at"] is not None
        assert any(d["status"] == "delivered" for d in log)

        # The retry (normally after the backoff delay) succeeds once the receiver recovers.
        receiver.status = 200
        app = client.app
        later: list[tuple[str, float]] = []
        context = JobContext(
            app.state.settings,
            app.state.sessions,
            lambda name, delay_s=0, **kw: later.append((name, delay_s)),
        )  # type: ignore[attr-defined]
        deliver_webhook(context, delivery_id=failing[0]["id"])
        log = client.get(deliveries_url, headers=org.admin).json()
        retried = next(d for d in log if d["id"] == failing[0]["id"])
        assert retried["status"] == "delivered" and retried["attempts"] == 2
        assert len(receiver.requests) == 3
        # Delivering again changes nothing (idempotent job).
        deliver_webhook(context, delivery_id=failing[0]["id"])
        assert len(receiver.requests) == 3


def test_webhooks_admin_only_and_private(client: TestClient) -> None:
    a = make_org(client, "Alpha")
    b = make_org(client, "Beta")
    assert (
        client.post(
            "/api/v1/webhooks", json={"url": "http://127.0.0.1:9/x"}, headers=a.dispatcher
        ).status_code
        == 403
    )
    hook = client.post(
        "/api/v1/webhooks", json={"url": "http://127.0.0.1:9/x"}, headers=a.admin
    ).json()
    assert (
        client.get(f"/api/v1/webhooks/{hook['id']}/deliveries", headers=b.admin).status_code == 404
    )
    assert client.delete(f"/api/v1/webhooks/{hook['id']}", headers=b.admin).status_code == 404
    assert client.get("/api/v1/webhooks", headers=b.admin).json() == []
    bad = client.post("/api/v1/webhooks", json={"url": "not a url"}, headers=a.admin)
    assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "url"


def test_a_delivery_not_visible_yet_is_looked_up_again(client: TestClient) -> None:
    app = client.app
    later: list[tuple[str, float, dict[str, object]]] = []
    context = JobContext(
        app.state.settings,  # type: ignore[attr-defined]
        app.state.sessions,  # type: ignore[attr-defined]
        lambda name, delay_s=0, **kw: later.append((name, delay_s, kw)),
    )
    deliver_webhook(context, delivery_id="whd_not_committed_yet")
    assert later == [
        ("deliver_webhook", 0.5, {"delivery_id": "whd_not_committed_yet", "lookups": 1})
    ]
    later.clear()
    deliver_webhook(context, delivery_id="whd_not_committed_yet", lookups=5)
    assert later == []  # gives up after a few looks: the row does not exist


def _engine_of(client: TestClient) -> Any:
    return client.app.state.engine  # type: ignore[attr-defined]


def test_an_event_committed_after_a_later_one_is_still_delivered(client: TestClient) -> None:
    """Ids are taken at insert, so a transaction can commit after a later one (PostgreSQL):
    the stream must deliver the earlier id when it commits, not skip it for good."""
    if _engine_of(client).dialect.name != "postgresql":
        pytest.skip("SQLite has one writer at a time: ids always commit in order there")
    org = make_org(client, "Alpha")
    sessions: sessionmaker[Session] = client.app.state.sessions  # type: ignore[attr-defined]
    found: list[dict[str, object]] = []
    ready = threading.Event()

    def read(url: str) -> None:
        with httpx.stream("GET", f"{url}/api/v1/events", headers=org.dispatcher, timeout=20) as r:
            for line in r.iter_lines():
                if line.startswith(": connected"):
                    ready.set()
                if line.startswith("data: "):
                    found.append(json.loads(line[6:]))
                    if found[-1]["type"] == "order.contact":
                        return

    with serve_app(client.app) as url:
        reader = threading.Thread(target=read, args=(url,))
        reader.start()
        assert ready.wait(10)
        slow = sessions()
        early = events.record(session=slow, org_id=org.org_id, type="order.contact", payload={})
        _create_order(client, org.dispatcher, "A-1")  # a later id, committed first
        deadline = time.monotonic() + 10
        while not found and time.monotonic() < deadline:
            time.sleep(0.05)
        assert found and all(e["id"] > early.id for e in found), found
        slow.commit()
        slow.close()
        reader.join(timeout=20)
    assert not reader.is_alive(), found
    assert found[-1]["id"] == early.id, found
    assert len({e["id"] for e in found}) == len(found)  # each once


def test_one_event_catalogue_documented_and_enforced(client: TestClient) -> None:
    """Every event type is listed once (``lastmile.events.types``) and documented; recording
    another type fails, a webhook asking for one is a 422 naming it, and every type a listener
    waits for is one that is recorded (``stop.added`` was listened for, never emitted)."""
    from pathlib import Path

    from lastmile.drivers import stream
    from lastmile.events.types import CATALOGUE

    doc = (Path(__file__).parents[2] / "docs" / "api.md").read_text(encoding="utf-8")
    assert [t for t in CATALOGUE if f"| `{t}` |" not in doc] == []
    assert set(CATALOGUE) >= stream.RELEVANT_TYPES
    assert set(CATALOGUE) >= stream.MEMBERSHIP_TYPES
    src = Path(events.__file__).parents[1]
    listened = "\n".join(p.read_text(encoding="utf-8") for p in src.rglob("*.py"))
    assert '"stop.added"' not in listened and '"stop.removed"' not in listened
    org = make_org(client, "Catalogue")
    factory: sessionmaker[Session] = client.app.state.sessions  # type: ignore[attr-defined]
    with factory() as session, pytest.raises(ValueError, match="unknown event type"):
        events.record(session=session, org_id=org.org_id, type="stop.added", payload={})
    bad = client.post(
        "/api/v1/webhooks",
        json={"url": "http://127.0.0.1:9/x", "event_types": ["order.status_changed", "stop.added"]},
        headers=org.admin,
    )
    assert bad.status_code == 422, bad.text
    issue = bad.json()["errors"][0]
    assert issue["field"] == "event_types" and "stop.added" in json.dumps(issue)
