"""The routes slice: it alone queries and writes routes and stops; statuses are enums that
survive the database; one ``stop_of``; stops never go back; rewrites keep the stop ids the
driver app knows."""

from __future__ import annotations

import ast
from pathlib import Path

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker

from helpers.service import make_org
from lastmile.core import model as core
from lastmile.orders import service as orders
from lastmile.routes import service as routes
from lastmile.routes.models import Route, RouteStatus, Stop, StopKind, StopStatus
from service.test_plans import DAY, _seed, _wait

SRC = Path(__file__).parents[2] / "src" / "lastmile"
QUERY_CALLS = {"select", "update", "delete", "insert", "exists"}


def _sessions(client: TestClient) -> sessionmaker[Session]:
    factory: sessionmaker[Session] = client.app.state.sessions  # type: ignore[attr-defined]
    return factory


def _table_users(path: Path) -> list[str]:
    """Where a module outside the routes slice builds a query on ``Route``, ``Stop`` or
    ``StopEta`` rows
    (class attributes like ``Stop.order_id`` or ``select(Route)``)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module == "lastmile.routes.models":
            names |= {
                a.asname or a.name for a in node.names if a.name in ("Route", "Stop", "StopEta")
            }
    found = []
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Attribute)
            and isinstance(node.value, ast.Name)
            and node.value.id in names
            and not node.attr[0].isupper()
        ):
            found.append(f"{path.name}:{node.lineno} {node.value.id}.{node.attr}")
        if isinstance(node, ast.Call) and getattr(node.func, "id", None) in QUERY_CALLS:
            for arg in node.args:
                if isinstance(arg, ast.Name) and arg.id in names:
                    found.append(f"{path.name}:{node.lineno} {node.func.id}({arg.id})")  # type: ignore[attr-defined]
    return found


def test_only_the_routes_slice_queries_routes_and_stops() -> None:
    offenders = [
        hit
        for path in sorted(SRC.rglob("*.py"))
        if "routes" not in path.relative_to(SRC).parts[:1] and "migrations" not in path.parts
        for hit in _table_users(path)
    ]
    assert offenders == []


def test_the_check_above_finds_a_query() -> None:
    """The AST check is not blind: the routes service itself is full of such queries."""
    assert _table_users(SRC / "routes" / "service.py")


def _planned_day(client: TestClient, name: str = "Florist") -> tuple[str, str]:
    org = make_org(client, name)
    _seed(client, org)
    plan_id = client.post(
        "/api/v1/plans", json={"date": DAY, "time_limit_s": 1}, headers=org.dispatcher
    ).json()["id"]
    assert _wait(client, org, plan_id)["status"] == "done"
    return org.org_id, plan_id


def test_statuses_are_enums_after_a_round_trip_and_stop_of_sees_dispatched_routes(
    client: TestClient,
) -> None:
    org_id, plan_id = _planned_day(client)
    other_id, _ = _planned_day(client, "Pharmacy")
    with _sessions(client)() as session:
        rows = routes.of_plan(session=session, org_id=org_id, plan_id=plan_id)
        assert rows and all(r.status is RouteStatus.PLANNED for r in rows)
        stops = routes.stops_of(session=session, org_id=org_id, route_ids=[r.id for r in rows])
        first = next(s for rs in stops.values() for s in rs if s.kind is StopKind.ORDER)
        assert first.status is StopStatus.PENDING
        assert first.order_id is not None
        order = orders.get(session=session, org_id=org_id, order_id=first.order_id)
        # A planned route is not the customer's or the driver's yet.
        assert routes.stop_of(session=session, org_id=org_id, order=order) is None
        found = routes.stop_of(
            session=session, org_id=org_id, order=order, statuses=tuple(RouteStatus)
        )
        assert found is not None and found[1].id == first.id
        # Another organisation asking for this order finds nothing.
        assert (
            routes.stop_of(
                session=session, org_id=other_id, order=order, statuses=tuple(RouteStatus)
            )
            is None
        )
        for route in rows:
            routes.dispatch(session=session, route=route, driver_id=None)
        session.commit()
    with _sessions(client)() as session:
        order = orders.get(session=session, org_id=org_id, order_id=first.order_id)
        found = routes.stop_of(session=session, org_id=org_id, order=order)
        assert found is not None
        route, stop = found
        assert route.status is RouteStatus.DISPATCHED and stop.id == first.id


def test_a_stop_never_goes_back_and_a_rewrite_keeps_stop_ids(client: TestClient) -> None:
    org_id, plan_id = _planned_day(client)
    with _sessions(client)() as session:
        route = routes.of_plan(session=session, org_id=org_id, plan_id=plan_id)[0]
        stops = routes.stops_of(session=session, org_id=org_id, route_ids=[route.id])[route.id]
        orders_only = [s for s in stops if s.kind is StopKind.ORDER]
        assert len(orders_only) >= 3
        done, arrived = orders_only[0], orders_only[1]
        routes.mark_stop(stop=done, status=StopStatus.DONE)
        routes.mark_stop(stop=done, status=StopStatus.ARRIVED)  # synced late: ignored
        assert done.status is StopStatus.DONE
        routes.mark_stop(stop=arrived, status=StopStatus.ARRIVED)
        remaining = [s for s in stops if s not in (done, arrived)]
        ids = {s.order_id: s.id for s in remaining if s.order_id}
        reversed_order = [s for s in reversed(remaining) if s.order_id]
        base = arrived.departure_s
        timed = [
            core.Stop(s.order_id, base + 60 * k, base + 60 * k, base + 60 * k + 30, ())
            for k, s in enumerate(reversed_order, start=1)
        ]
        routes.rewrite_remaining(
            session=session, route=route, stops=stops, remaining=remaining, timed=timed
        )
        session.commit()
    with _sessions(client)() as session:
        fresh = routes.stops_of(session=session, org_id=org_id, route_ids=[route.id])[route.id]
        assert [s.id for s in fresh[:2]] == [done.id, arrived.id]
        assert [s.status for s in fresh[:2]] == [StopStatus.DONE, StopStatus.ARRIVED]
        rest = fresh[2:]
        assert [s.order_id for s in rest] == [s.order_id for s in reversed_order]
        assert all(ids[s.order_id] == s.id for s in rest if s.order_id)
        assert [s.sequence for s in fresh] == sorted(s.sequence for s in fresh)
        assert all(isinstance(s, Stop) for s in fresh)
        assert isinstance(route, Route)
