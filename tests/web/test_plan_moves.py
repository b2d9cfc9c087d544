"""After dispatch, the plan page's drag and drop is an edit of the running day: it goes through
``POST /api/v1/plans/{id}/moves`` (checked first, then stored, and the driver's app is told),
never through the edit routes of a plan not yet dispatched, which refuse it. In a real browser
(Debian chromium) against the app under uvicorn."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient

from helpers.browser import chromium
from helpers.live import serve_app
from helpers.service import PASSWORD, make_org, sqlite_settings
from lastmile.app import create_app
from lastmile.common.clock import utcnow
from lastmile.plans.models import Plan
from lastmile.routes import service as routes
from lastmile.routes.models import StopKind, StopStatus
from service.test_live_api import events_of, seed, sessions_of
from service.test_plan_truth import _dispatch_as_planned


def _order_stops(client: TestClient, org_id: str, route_id: str) -> list[str]:
    with sessions_of(client)() as session:
        rows = routes.stops_of(session=session, org_id=org_id, route_ids=[route_id])
        return [s.order_id or "" for s in rows[route_id] if s.kind is StopKind.ORDER]


def test_dragging_a_stop_of_a_dispatched_plan_moves_it_on_the_running_routes(
    tmp_path: Path,
) -> None:
    with TestClient(create_app(sqlite_settings(tmp_path))) as client:
        org = make_org(client, "Moves Co")
        day = seed(
            client,
            org,
            [[("A", 1, None), ("B", 2, None), ("C", 3, None)], [("D", 4, None), ("E", 5, None)]],
            started=False,
        )
        _dispatch_as_planned(client, org.org_id, day.route_ids)
        first, second = day.route_ids
        with sessions_of(client)() as session:
            plan = session.get(Plan, day.plan_id)
            assert plan is not None
            plan.dispatched_at = utcnow()
            # A stop already reached stays where it is: A is delivered, so not offered.
            rows = routes.stops_of(session=session, org_id=org.org_id, route_ids=[first])[first]
            next(s for s in rows if s.order_id == day.orders["A"]).status = StopStatus.DONE
            session.commit()
        ext = {v: k for k, v in day.orders.items()}
        calls: list[str] = []
        with serve_app(client.app) as url, chromium() as browser:
            context = browser.new_context(viewport={"width": 1366, "height": 900}, base_url=url)
            page: Any = context.new_page()
            errors: list[str] = []
            page.on("pageerror", lambda exc: errors.append(str(exc)))
            page.on("request", lambda r: calls.append(f"{r.method} {r.url.split(url, 1)[-1]}"))
            page.goto("/app/login")
            page.fill("#email", "dispatcher@moves-co.example")
            page.fill("#password", PASSWORD)
            page.click("button[type=submit]")
            page.wait_for_url("**/app/**")
            page.goto(f"/app/plans/{day.plan_id}")
            assert page.locator("#running-note").is_visible()
            assert (
                page.locator(f"li[data-order='{day.orders['A']}']").get_attribute("draggable")
                == "false"
            ), "a delivered stop cannot be moved"
            # C (route 1) dropped on D (route 2): it goes before D, first of the stops to do.
            page.locator(f"li[data-order='{day.orders['C']}']").drag_to(
                page.locator(f"li[data-order='{day.orders['D']}']")
            )
            page.wait_for_selector("#move-delta", timeout=15_000)
            assert page.locator("#move-position").input_value() == "1"
            assert [ext[o] for o in _order_stops(client, org.org_id, first)] == ["A", "B", "C"]
            with page.expect_navigation():
                page.click("#move-confirm")
            page.wait_for_selector(f"li[data-order='{day.orders['C']}']")
            # The page shows the routes as they run now (the one plan truth).
            moved_to = page.locator(f"li[data-order='{day.orders['C']}']").get_attribute(
                "data-vehicle"
            )
            shown_d = page.locator(f"li[data-order='{day.orders['D']}']").get_attribute(
                "data-vehicle"
            )
            assert moved_to == shown_d
            context.close()
        assert errors == [], errors
        assert [ext[o] for o in _order_stops(client, org.org_id, first)] == ["A", "B"]
        assert [ext[o] for o in _order_stops(client, org.org_id, second)] == ["C", "D", "E"]
        moves = [c for c in calls if c.startswith("POST") and "/moves" in c]
        assert moves == [f"POST /api/v1/plans/{day.plan_id}/moves"] * 2, calls  # check, apply
        assert not [c for c in calls if "/edit/" in c], calls
        changes = events_of(client, org, "route.changed")
        assert {(c["route_id"], c["change"]) for c in changes} == {
            (first, "stop_removed"),
            (second, "stop_added"),
        }
