"""The live page's feed says when an event happened on the organisation's clock: in a
simulation organisation an event stamped only with its (real) recording time, such as a new
order, shows at the simulated day's time, not the real one. In a real browser (Debian
chromium) against the app under uvicorn."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from fastapi.testclient import TestClient

from helpers.browser import chromium
from helpers.live import serve_app
from helpers.service import PASSWORD, make_org, sqlite_settings
from lastmile.app import create_app
from lastmile.common.clock import utcnow
from lastmile.orgs import clock as org_clock
from lastmile.orgs.models import Organisation
from service.test_live_api import sessions_of

OFFSET = dt.timedelta(hours=7, minutes=13)
"""How far the simulated day is ahead of the real time: no real clock face can match it."""


def _apart(a: str, b: str) -> int:
    """Minutes between two clock faces (``HH:MM[:SS]``), across midnight too."""
    minutes = [int(t.split(":")[0]) * 60 + int(t.split(":")[1]) for t in (a, b)]
    gap = abs(minutes[0] - minutes[1])
    return min(gap, 24 * 60 - gap)


def test_a_simulations_feed_shows_the_simulated_time_of_an_event(tmp_path: Path) -> None:
    with TestClient(create_app(sqlite_settings(tmp_path))) as client:
        org = make_org(client, "Sim Feed")
        with sessions_of(client)() as session:
            row = session.get(Organisation, org.org_id)
            assert row is not None
            row.simulation = True
            session.commit()
            org_clock.set_clock(
                session=session, org_id=org.org_id, start=utcnow() + OFFSET, speed=1.0
            )
            zone = ZoneInfo(row.timezone)
        with serve_app(client.app) as url, chromium() as browser:
            context = browser.new_context(viewport={"width": 1366, "height": 900}, base_url=url)
            page: Any = context.new_page()
            errors: list[str] = []
            page.on("pageerror", lambda exc: errors.append(str(exc)))
            page.goto("/app/login")
            page.fill("#email", "dispatcher@sim-feed.example")
            page.fill("#password", PASSWORD)
            page.click("button[type=submit]")
            page.wait_for_url("**/app/**")
            page.goto("/app/live")
            page.wait_for_selector("#live-status:text('live')", timeout=15_000)
            business = (utcnow() + OFFSET).astimezone(zone)
            created = client.post(
                "/api/v1/orders",
                json={
                    "external_id": "SIM-1",
                    "date": business.date().isoformat(),
                    "lon": 9.52,
                    "lat": 47.14,
                },
                headers=org.dispatcher,
            )
            assert created.status_code == 201, created.text
            line = page.locator("#feed li", has_text="SIM-1")
            line.wait_for(timeout=15_000)
            shown = line.locator("time").inner_text()
            context.close()
        assert errors == [], errors
        real = utcnow().astimezone(zone)
        # Within a couple of minutes of the simulated time (a loaded machine), far from the real.
        assert _apart(shown, business.strftime("%H:%M")) <= 2, (shown, business)
        assert _apart(shown, real.strftime("%H:%M")) >= 60, (shown, real)
