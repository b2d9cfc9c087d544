"""One truth for a plan: the plan API, its exports and the KPIs read the same route and stop
rows the running day writes. A same-day insert shows everywhere; each stop keeps the arrival
it was dispatched with; a driver's report on a stop moved while the phone was offline wins
and the dispatcher is warned."""

from __future__ import annotations

import csv
import io
from datetime import datetime

import pytest
from fastapi.testclient import TestClient

from helpers.service import make_org
from lastmile.common.clock import utcnow
from lastmile.drivers import service as drivers
from lastmile.drivers.schemas import DriverEventIn
from lastmile.fleet.models import Driver
from lastmile.orders import service as orders
from lastmile.routes import service as routes
from lastmile.routes.models import StopKind
from service.test_live_api import _ready, events_of, seed, sessions_of

pytestmark = pytest.mark.usefixtures("daytime")


def _dispatch_as_planned(client: TestClient, org_id: str, route_ids: list[str]) -> None:
    """The seeded routes are on the road; record their arrivals as dispatched (what the
    dispatch of a plan does)."""
    with sessions_of(client)() as session:
        for route_id in route_ids:
            route = routes.get(session=session, org_id=org_id, route_id=route_id)
            status = route.status
            routes.dispatch(session=session, route=route, driver_id=route.driver_id)
            route.status = status
        session.commit()


def test_an_inserted_order_shows_in_the_plan_and_its_exports(client: TestClient) -> None:
    org = make_org(client, "Bakery")
    day = seed(client, org, [[("A", 1, None), ("B", 2, None), ("C", 3, None)]])
    _dispatch_as_planned(client, org.org_id, day.route_ids)
    before = client.get(f"/api/v1/plans/{day.plan_id}", headers=org.dispatcher).json()
    [route_before] = before["routes"]
    as_dispatched = {s["external_id"]: s["arrival"] for s in route_before["stops"]}
    assert {s["external_id"]: s["dispatched_arrival"] for s in route_before["stops"]} == (
        as_dispatched
    )

    new_id = _ready(client, org, day, "NEW", 2.5)
    inserted = client.post(f"/api/v1/orders/{new_id}/insert", headers=org.dispatcher)
    assert inserted.status_code == 200, inserted.text

    plan = client.get(f"/api/v1/plans/{day.plan_id}", headers=org.dispatcher).json()
    [route] = plan["routes"]
    stops = [s for s in route["stops"] if s["kind"] == "order"]
    assert [s["external_id"] for s in stops] == ["A", "B", "NEW", "C"]
    assert plan["totals"]["routed"] == 4
    assert plan["document"]["routes"] == plan["routes"]
    # Times follow each other, and the route's end is after its last stop.
    previous = datetime.fromisoformat(route["start"]["departure"])
    for s in route["stops"]:
        arrival, start, departure = (
            datetime.fromisoformat(s[k]) for k in ("arrival", "start", "departure")
        )
        assert previous <= arrival <= start <= departure
        previous = departure
    assert previous <= datetime.fromisoformat(route["end"]["arrival"])
    # The rows say the same (the API renders them, it keeps no second copy).
    with sessions_of(client)() as session:
        rows = routes.stops_of(session=session, org_id=org.org_id, route_ids=day.route_ids)
        ids = [s.order_id for s in rows[day.route_ids[0]] if s.kind is StopKind.ORDER]
    assert [s["order_id"] for s in stops] == ids
    # C now comes later than it was dispatched with, and keeps its as-dispatched arrival; the
    # new stop's as-dispatched arrival is the one it joined the route with.
    by_ext = {s["external_id"]: s for s in stops}
    assert by_ext["C"]["dispatched_arrival"] == as_dispatched["C"]
    assert by_ext["C"]["arrival"] > as_dispatched["C"]
    assert by_ext["NEW"]["dispatched_arrival"] == by_ext["NEW"]["arrival"]

    vehicle_id = route["vehicle_id"]
    exported = client.get(
        f"/app/plans/{day.plan_id}/export/{vehicle_id}.csv", headers=org.dispatcher
    )
    assert exported.status_code == 200, exported.text
    lines = list(csv.DictReader(io.StringIO(exported.text)))
    assert [r["external_id"] for r in lines] == ["A", "B", "NEW", "C"]
    assert [r["arrival"] for r in lines] == [s["arrival"] for s in stops]
    gpx = client.get(f"/app/plans/{day.plan_id}/export/{vehicle_id}.gpx", headers=org.dispatcher)
    assert gpx.status_code == 200
    assert gpx.text.index(">3. NEW<") < gpx.text.index(">4. C<")


def test_a_report_on_a_stop_moved_while_offline_wins_and_warns(client: TestClient) -> None:
    org = make_org(client, "Pharmacy")
    day = seed(client, org, [[("A", 1, None), ("B", 2, None)], [("X", 3, None), ("Y", 4, None)]])
    first, second = day.route_ids
    with sessions_of(client)() as session:
        stops = routes.stops_of(session=session, org_id=org.org_id, route_ids=day.route_ids)
        moved = next(s for s in stops[first] if s.order_id == day.orders["B"])
        moved_id = moved.id
        # The dispatcher moves B to the second van's route (after Y), while van 1 is offline.
        target = routes.get(session=session, org_id=org.org_id, route_id=second)
        kept = [s for s in stops[second] if s.kind is StopKind.ORDER]
        from lastmile.core import model as core

        timed = [
            core.Stop(s.order_id, s.arrival_s, s.start_s, s.departure_s, ()) for s in kept
        ] + [core.Stop(moved.order_id, kept[-1].departure_s + 300, kept[-1].departure_s + 300,
                       kept[-1].departure_s + 420, ())]  # fmt: skip
        routes.rewrite_remaining(
            session=session,
            route=target,
            stops=stops[second],
            remaining=stops[second],
            timed=timed,
            moved_in={moved.order_id or "": moved},
        )
        session.commit()
        driver = session.get(
            Driver,
            routes.get(session=session, org_id=org.org_id, route_id=first).driver_id,
        )
        assert driver is not None
        # Van 1's phone comes back online with the delivery it made at B.
        at = utcnow().replace(microsecond=0)
        [result] = drivers.apply_events(
            session=session,
            org_id=org.org_id,
            driver=driver,
            events_in=[
                DriverEventIn.model_validate(
                    {
                        "key": "offline-b",
                        "type": "delivered",
                        "stop_id": moved_id,
                        "route_id": first,
                        "occurred_at": at.isoformat(),
                        "recipient": "B. Customer",
                    }
                )
            ],
        )
        assert result.status == "applied", result
        order = orders.get(session=session, org_id=org.org_id, order_id=day.orders["B"])
        assert order.status == "delivered"
        driver_id = driver.id
    [warning] = events_of(client, org, "stop.conflict")
    assert warning["stop_id"] == moved_id and warning["route_id"] == second
    assert warning["reported_by"] == driver_id
    assert "B" in warning["message"] and "moved" in warning["message"]
    # A stop that is on nobody's dispatched route is still refused.
    with sessions_of(client)() as session:
        driver = session.get(Driver, driver_id)
        assert driver is not None
        [refused] = drivers.apply_events(
            session=session,
            org_id=org.org_id,
            driver=driver,
            events_in=[
                DriverEventIn.model_validate(
                    {
                        "key": "bogus",
                        "type": "delivered",
                        "stop_id": "stp_does_not_exist",
                        "occurred_at": utcnow().isoformat(),
                    }
                )
            ],
        )
        assert refused.status == "rejected"


def test_a_stop_event_from_the_driver_app_recomputes_the_route_etas(client: TestClient) -> None:
    """Without GPS, a delivery reported by the app refreshes the ETAs of the rest of the
    route (``live.on_stop_done``), which the dispatcher and the customer read."""
    from lastmile.routes.models import StopEta
    from service.test_driver_api import ev, plan_day, send

    day = plan_day(client, "Stop events")
    first = day.stops[0]
    route_id = day.route["id"]

    def predicted() -> dict[str, int]:
        with day.sessions() as session:
            return {
                e.stop_id: e.arrival_s
                for e in session.query(StopEta).filter(StopEta.route_id == route_id)
            }

    assert predicted() == {}
    [started] = send(client, day, ev("s-start-01", "route_started", day.at(0)))
    assert started["status"] == "applied"
    [done] = send(client, day, ev("s-deliv-01", "delivered", day.at(60), first["id"]))
    assert done["status"] == "applied", done
    after = predicted()
    rest = [s["id"] for s in day.stops[1:]]
    assert rest and set(rest) <= set(after)
    assert first["id"] not in after  # a delivered stop has no prediction any more
    assert events_of(client, day.org, "eta.updated")[-1]["route_id"] == route_id


def test_edits_after_dispatch_are_checked_and_reach_the_drivers_at_once(
    client: TestClient,
) -> None:
    """Move a stop to another dispatched route, re-order one, take one off: each is checked
    like an edit before dispatch (a preview writes nothing), rewrites the stops through the
    routes slice, tells both drivers' apps (``route.changed``) and recomputes both routes'
    ETAs. Goods in a van that has left stay in it."""
    from lastmile.drivers import stream
    from lastmile.routes.models import StopEta

    org = make_org(client, "Edits")
    day = seed(
        client,
        org,
        [[("A", 1, None), ("B", 2, None), ("C", 3, None)], [("D", 4, None), ("E", 5, None)]],
        started=False,
    )
    _dispatch_as_planned(client, org.org_id, day.route_ids)
    first, second = day.route_ids

    def order_stops(route_id: str) -> list[str]:
        with sessions_of(client)() as session:
            rows = routes.stops_of(session=session, org_id=org.org_id, route_ids=[route_id])
            return [s.order_id or "" for s in rows[route_id] if s.kind is StopKind.ORDER]

    ext = {v: k for k, v in day.orders.items()}
    move = {"order_id": day.orders["B"], "to_route_id": second, "position": 1}
    seen = client.post(
        f"/api/v1/plans/{day.plan_id}/moves", json={**move, "preview": True}, headers=org.dispatcher
    )
    assert seen.status_code == 200, seen.text
    assert seen.json()["applied"] is False and seen.json()["ok"] is True
    assert [ext[o] for o in order_stops(first)] == ["A", "B", "C"]  # a preview writes nothing
    done = client.post(f"/api/v1/plans/{day.plan_id}/moves", json=move, headers=org.dispatcher)
    assert done.status_code == 200, done.text
    assert done.json()["applied"] is True and set(done.json()["changed_routes"]) == {first, second}
    assert [ext[o] for o in order_stops(first)] == ["A", "C"]
    assert [ext[o] for o in order_stops(second)] == ["D", "B", "E"]
    changes = events_of(client, org, "route.changed")
    assert {(c["route_id"], c["change"]) for c in changes} == {
        (first, "stop_removed"),
        (second, "stop_added"),
    }
    with sessions_of(client)() as session:
        second_driver = routes.get(session=session, org_id=org.org_id, route_id=second).driver_id
        assert second_driver is not None
        who = stream.interest(session=session, org_id=org.org_id, driver_id=second_driver)
        predicted = {e.order_id for e in session.query(StopEta).filter(StopEta.route_id == second)}
    told = [stream.driver_view("route.changed", c, who) for c in changes]
    assert [t["change"] for t in told if t] == ["stop_added"]  # only their own route
    assert day.orders["B"] in predicted  # ETAs of the new route recomputed

    # Re-order within a route, then take E off: back to ready, its stop gone.
    within = {"order_id": day.orders["E"], "to_route_id": second, "position": 0}
    assert client.post(
        f"/api/v1/plans/{day.plan_id}/moves", json=within, headers=org.dispatcher
    ).json()["applied"]
    assert [ext[o] for o in order_stops(second)] == ["E", "D", "B"]
    off = client.post(
        f"/api/v1/plans/{day.plan_id}/moves",
        json={"order_id": day.orders["E"], "to_route_id": None},
        headers=org.dispatcher,
    )
    assert off.status_code == 200, off.text
    assert [ext[o] for o in order_stops(second)] == ["D", "B"]
    with sessions_of(client)() as session:
        assert orders.get(session=session, org_id=org.org_id, order_id=day.orders["E"]).status == (
            "ready"
        )
    assert events_of(client, org, "route.changed")[-1]["change"] == "stop_removed"

    # A van that has left keeps its goods; unknown routes are named.
    other = make_org(client, "Edits On The Road")
    moving = seed(client, other, [[("F", 1, None)], [("G", 2, None)]], started=True)
    away = {"order_id": moving.orders["F"], "to_route_id": moving.route_ids[1], "position": 0}
    refused = client.post(
        f"/api/v1/plans/{moving.plan_id}/moves", json=away, headers=other.dispatcher
    )
    assert refused.status_code == 409, refused.text
    unknown = client.post(
        f"/api/v1/plans/{day.plan_id}/moves",
        json={"order_id": day.orders["A"], "to_route_id": "rte_nope"},
        headers=org.dispatcher,
    )
    assert unknown.status_code == 422 and unknown.json()["errors"][0]["field"] == "to_route_id"
