"""The order state machine: pure rules, and transitions through the API and the service."""

from __future__ import annotations

import itertools
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from helpers.service import OrgUsers, make_org
from lastmile.core.errors import IllegalTransition, NotFound
from lastmile.events.models import Event
from lastmile.orders import lifecycle, service
from lastmile.orders.lifecycle import TRANSITIONS, OrderStatus
from lastmile.orders.models import Order, OrderEvent
from lastmile.orgs.models import Role

ORDERS = "/api/v1/orders"
S = OrderStatus
LEGAL = [(a, b) for a, nexts in TRANSITIONS.items() for b in sorted(nexts)]
ILLEGAL = [(a, b) for a in OrderStatus for b in OrderStatus if b not in TRANSITIONS[a]]


# --- the pure rules ------------------------------------------------------------------------


def test_the_happy_path_is_legal() -> None:
    path = [S.NEW, S.READY, S.PLANNED, S.DISPATCHED, S.OUT_FOR_DELIVERY, S.ARRIVED, S.DELIVERED]
    for a, b in itertools.pairwise(path):
        assert lifecycle.check(a, b) is b


def test_final_states_and_cancellation() -> None:
    assert {S.DELIVERED, S.RETURNED, S.CANCELLED} == lifecycle.FINAL
    cancellable = {s for s in OrderStatus if S.CANCELLED in TRANSITIONS[s]}
    assert cancellable == {S.NEW, S.READY, S.PLANNED, S.DISPATCHED}
    assert lifecycle.allowed(S.FAILED) == {S.RESCHEDULED, S.RETURNED}
    assert lifecycle.allowed(S.RESCHEDULED) == {S.READY, S.NEW}
    assert S.READY in lifecycle.allowed(S.PLANNED)  # removed from a plan / plan discarded


def test_every_status_is_reachable_from_new() -> None:
    seen = {S.NEW}
    todo = [S.NEW]
    while todo:
        for nxt in TRANSITIONS[todo.pop()]:
            if nxt not in seen:
                seen.add(nxt)
                todo.append(nxt)
    assert seen == set(OrderStatus)


def test_illegal_transition_names_from_to_and_allowed() -> None:
    with pytest.raises(IllegalTransition) as caught:
        lifecycle.check("delivered", "ready")
    assert "'delivered'" in caught.value.message and "'ready'" in caught.value.message
    assert "nothing (it is final)" in caught.value.message
    with pytest.raises(IllegalTransition) as caught:
        lifecycle.check("planned", "delivered")
    assert "cancelled, dispatched, ready" in caught.value.message
    with pytest.raises(IllegalTransition, match="unknown order status 'lost'"):
        lifecycle.check("new", "lost")


def test_needs_geocoding() -> None:
    assert lifecycle.needs_geocoding(status="new", lon=None, lat=None)
    assert not lifecycle.needs_geocoding(status="new", lon=9.5, lat=47.1)
    assert not lifecycle.needs_geocoding(status="cancelled", lon=None, lat=None)
    assert lifecycle.status_for_location(has_coordinates=True, verdict="ambiguous") is S.NEW
    assert lifecycle.status_for_location(has_coordinates=True, verdict="exact") is S.READY
    assert lifecycle.status_for_location(has_coordinates=False, verdict=None) is S.NEW


# --- through the API -------------------------------------------------------------------------


def _sessions(client: TestClient) -> sessionmaker[Session]:
    sessions: sessionmaker[Session] = client.app.state.sessions  # type: ignore[attr-defined]
    return sessions


def _create(client: TestClient, org: OrgUsers, external_id: str = "T-1", **fields: Any) -> str:
    body = {
        "external_id": external_id,
        "date": "2026-11-24",
        "address": "Städtle 1, Vaduz",
        "lon": 9.52,
        "lat": 47.14,
    }
    body.update(fields)
    response = client.post(ORDERS, json=body, headers=org.dispatcher)
    assert response.status_code == 201, response.text
    order_id: str = response.json()["items"][0]["order"]["id"]
    return order_id


def _force(client: TestClient, order_id: str, status: OrderStatus) -> None:
    """Put an order in ``status`` directly (test setup, not a transition)."""
    with _sessions(client)() as session:
        session.execute(update(Order).where(Order.id == order_id).values(status=status.value))
        session.commit()


def _move(client: TestClient, org: OrgUsers, order_id: str, to: str, **extra: Any) -> Any:
    return client.post(
        f"{ORDERS}/{order_id}/transitions", json={"to": to, **extra}, headers=org.dispatcher
    )


def test_every_legal_transition_is_accepted(client: TestClient) -> None:
    org = make_org(client, "Legal Co")
    order_id = _create(client, org)
    refused = []
    for source, target in LEGAL:
        _force(client, order_id, source)
        response = _move(client, org, order_id, target.value)
        expected = target
        if target is S.RESCHEDULED:
            expected = S.READY  # passed through: it has coordinates, so it re-enters planning
        if response.status_code != 200 or response.json()["status"] != expected.value:
            refused.append((source.value, target.value, response.status_code, response.text[:200]))
    assert refused == []


def test_every_illegal_transition_is_refused_with_409(client: TestClient) -> None:
    org = make_org(client, "Illegal Co")
    order_id = _create(client, org)
    accepted = []
    for source, target in ILLEGAL:
        _force(client, order_id, source)
        response = _move(client, org, order_id, target.value)
        body = response.json()
        if (
            response.status_code != 409
            or not response.headers["content-type"].startswith("application/problem+json")
            or body["code"] != "illegal_transition"
            or f"from {source.value!r} to {target.value!r}" not in body["detail"]
        ):
            accepted.append((source.value, target.value, response.status_code))
    assert accepted == []
    with _sessions(client)() as session:
        # only the creation is in the history: nothing refused was written
        rows = session.scalars(select(OrderEvent).where(OrderEvent.order_id == order_id)).all()
        assert [(r.from_status, r.to_status) for r in rows] == [(None, "ready")]


def test_unknown_status_is_invalid_input(client: TestClient) -> None:
    org = make_org(client, "Unknown Co")
    order_id = _create(client, org)
    response = _move(client, org, order_id, "lost")
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "to"


def test_a_delivery_day_writes_history_with_actor_time_and_place(client: TestClient) -> None:
    org = make_org(client, "Day Co")
    order_id = _create(client, org)
    at = datetime(2026, 11, 24, 9, 30, tzinfo=UTC)
    steps = [
        ("planned", {}),
        ("dispatched", {}),
        ("out_for_delivery", {}),
        ("arrived", {"at": "2026-11-24T10:30:00+01:00", "lon": 9.5211, "lat": 47.1412}),
        ("failed", {"reason": "not_home", "note": "card left"}),
        ("rescheduled", {"date": "2026-11-26"}),
        ("planned", {}),
        ("dispatched", {}),
        ("out_for_delivery", {}),
        ("delivered", {"at": at.isoformat()}),
    ]
    for to, extra in steps:
        response = _move(client, org, order_id, to, **extra)
        assert response.status_code == 200, (to, response.text)
    final = client.get(f"{ORDERS}/{order_id}", headers=org.dispatcher).json()
    assert (final["status"], final["date"]) == ("delivered", "2026-11-26")

    history = client.get(f"{ORDERS}/{order_id}/events", headers=org.admin).json()
    pairs = [(h["from_status"], h["to_status"]) for h in history]
    assert pairs == [
        (None, "ready"),
        ("ready", "planned"),
        ("planned", "dispatched"),
        ("dispatched", "out_for_delivery"),
        ("out_for_delivery", "arrived"),
        ("arrived", "failed"),
        ("failed", "rescheduled"),
        ("rescheduled", "ready"),
        ("ready", "planned"),
        ("planned", "dispatched"),
        ("dispatched", "out_for_delivery"),
        ("out_for_delivery", "delivered"),
    ]
    by_to = {h["to_status"]: h for h in history}
    assert all(h["actor"] == f"user:{org.user_ids[Role.DISPATCHER]}" for h in history)
    arrived = by_to["arrived"]
    assert (arrived["lon"], arrived["lat"]) == (9.5211, 47.1412)
    assert datetime.fromisoformat(arrived["at"]) == datetime(2026, 11, 24, 9, 30, tzinfo=UTC)
    assert (by_to["failed"]["reason"], by_to["failed"]["note"]) == ("not_home", "card left")
    assert datetime.fromisoformat(by_to["delivered"]["at"]) == at

    with _sessions(client)() as session:
        changes = session.scalars(
            select(Event)
            .where(Event.org_id == org.org_id, Event.type == "order.status_changed")
            .order_by(Event.id)
        ).all()
    assert len(changes) == len(history) - 1  # creation is an order.created event
    assert {c.payload["order_id"] for c in changes} == {order_id}
    assert (
        changes[-1].payload["to"] == "delivered"
        and changes[-1].payload["from"] == "out_for_delivery"
    )


def test_history_is_in_recorded_order_even_with_earlier_device_times(client: TestClient) -> None:
    org = make_org(client, "Order Co")
    order_id = _create(client, org)
    assert _move(client, org, order_id, "planned", at="2020-01-01T00:00:00Z").status_code == 200
    history = client.get(f"{ORDERS}/{order_id}/events", headers=org.admin).json()
    assert [h["to_status"] for h in history] == ["ready", "planned"]
    assert history[1]["at"].startswith("2020-01-01")


def test_reschedule_defaults_to_the_next_day_and_refuses_the_past(client: TestClient) -> None:
    org = make_org(client, "Resched Co")
    order_id = _create(client, org)
    _force(client, order_id, S.FAILED)
    past = _move(client, org, order_id, "rescheduled", date="2026-11-20")
    assert past.status_code == 409
    assert "before" in past.json()["detail"]
    moved = _move(client, org, order_id, "rescheduled")
    assert moved.status_code == 200
    assert (moved.json()["date"], moved.json()["status"]) == ("2026-11-25", "ready")
    assert _move(client, org, order_id, "cancelled", date="2026-11-30").status_code == 422


def test_rescheduled_order_without_coordinates_goes_back_to_new(client: TestClient) -> None:
    org = make_org(client, "Resched New Co")
    order_id = _create(client, org, lon=None, lat=None)
    _force(client, order_id, S.FAILED)
    moved = _move(client, org, order_id, "rescheduled", date="2026-11-24")
    assert (moved.json()["status"], moved.json()["date"]) == ("new", "2026-11-24")


def test_ready_needs_coordinates(client: TestClient) -> None:
    org = make_org(client, "Coords Co")
    order_id = _create(client, org, lon=None, lat=None)
    response = _move(client, org, order_id, "ready")
    assert response.status_code == 409
    assert "coordinates" in response.json()["detail"]
    with _sessions(client)() as session:
        service.set_location(
            session=session,
            org_id=org.org_id,
            order_id=order_id,
            lon=9.5,
            lat=47.1,
            verdict="ambiguous",
        )
    assert client.get(f"{ORDERS}/{order_id}", headers=org.admin).json()["status"] == "new"
    # a person confirms the ambiguous answer
    assert _move(client, org, order_id, "ready").json()["status"] == "ready"


def test_transition_at_needs_a_time_zone(client: TestClient) -> None:
    org = make_org(client, "Tz Co")
    order_id = _create(client, org)
    response = _move(client, org, order_id, "planned", at="2026-11-24T10:00:00")
    assert response.status_code == 422


# --- the service functions other slices call -------------------------------------------------


def test_transition_many_is_all_or_nothing(client: TestClient) -> None:
    org = make_org(client, "Bulk Co")
    ids = [_create(client, org, f"M-{i}") for i in range(3)]
    _force(client, ids[2], S.DELIVERED)
    with _sessions(client)() as session:
        with pytest.raises(IllegalTransition) as caught:
            service.transition_many(
                session=session,
                org_id=org.org_id,
                order_ids=ids,
                to_status="planned",
                actor="system",
            )
        assert "'M-2'" in caught.value.message
    with _sessions(client)() as session:
        statuses = [session.get(Order, i).status for i in ids]  # type: ignore[union-attr]
        assert statuses == ["ready", "ready", "delivered"]
        moved = service.transition_many(
            session=session,
            org_id=org.org_id,
            order_ids=[ids[0], ids[1], ids[0]],
            to_status="planned",
            actor="system",
        )
        assert [o.id for o in moved] == ids[:2]
    with _sessions(client)() as session:
        assert [session.get(Order, i).status for i in ids] == ["planned", "planned", "delivered"]  # type: ignore[union-attr]
        rows = session.scalars(select(OrderEvent).where(OrderEvent.to_status == "planned")).all()
        assert sorted(r.order_id for r in rows) == sorted(ids[:2])
        assert {r.actor for r in rows} == {"system"}


def test_transition_many_refuses_other_organisations_orders(client: TestClient) -> None:
    org_a = make_org(client, "Bulk A")
    org_b = make_org(client, "Bulk B")
    a_id = _create(client, org_a, "X-1")
    b_id = _create(client, org_b, "X-1")
    with _sessions(client)() as session, pytest.raises(NotFound):
        service.transition_many(
            session=session,
            org_id=org_b.org_id,
            order_ids=[b_id, a_id],
            to_status="planned",
            actor="system",
        )
    with _sessions(client)() as session:
        assert session.get(Order, a_id).status == "ready"  # type: ignore[union-attr]
        assert session.get(Order, b_id).status == "ready"  # type: ignore[union-attr]


def test_transition_without_commit_joins_the_callers_transaction(client: TestClient) -> None:
    org = make_org(client, "Join Co")
    order_id = _create(client, org)
    with _sessions(client)() as session:
        order = service.transition(
            session=session,
            org_id=org.org_id,
            order_id=order_id,
            to_status="planned",
            actor="system",
            commit=False,
        )
        assert order.status == "planned"
        session.rollback()
    with _sessions(client)() as session:
        assert session.get(Order, order_id).status == "ready"  # type: ignore[union-attr]
        assert (
            session.scalars(select(Event).where(Event.type == "order.status_changed")).all() == []
        )


def test_transition_records_the_given_time(client: TestClient) -> None:
    org = make_org(client, "When Co")
    order_id = _create(client, org)
    when = datetime.now(UTC) - timedelta(hours=3)
    with _sessions(client)() as session:
        service.transition(
            session=session,
            org_id=org.org_id,
            order_id=order_id,
            to_status="cancelled",
            actor="user:x",
            at=when,
            reason="duplicate",
        )
    with _sessions(client)() as session:
        row = session.scalars(select(OrderEvent).where(OrderEvent.to_status == "cancelled")).one()
        assert (row.at, row.actor, row.reason) == (when, "user:x", "duplicate")
        event = session.scalars(select(Event).where(Event.type == "order.status_changed")).one()
        assert event.payload["at"] == when.isoformat()
        assert date.fromisoformat(event.payload["date"]) == date(2026, 11, 24)
