"""Standing orders through the API, on SQLite and PostgreSQL: real orders made ahead in the
organisation's time zone, once per date however often generation runs; one date edited,
skipped or planned keeps its own life while the rule changes; pauses and closed days; bad
input named by field; one organisation never reaches another's standing orders."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from fastapi.testclient import TestClient

from helpers.service import OrgUsers, make_org
from lastmile.common.jobs import JobContext
from lastmile.core.times import DayClock
from lastmile.jobs.registry import run
from lastmile.orgs import clock as org_clock
from lastmile.orgs.models import Organisation

VADUZ = ZoneInfo("Europe/Vaduz")
MONDAY = date(2027, 3, 22)
"""The week before Europe's clocks go forward (Sunday 2027-03-28)."""


def _org(client: TestClient, name: str, at: datetime | None = None) -> OrgUsers:
    """An organisation on its own business clock (a simulation organisation's, running at
    real speed), set to ``at`` (default: Monday 2027-03-22, 10:00 in Vaduz)."""
    org = make_org(client, name)
    with client.app.state.sessions() as session:  # type: ignore[attr-defined]
        session.get(Organisation, org.org_id).simulation = True  # type: ignore[union-attr]
        session.commit()
    _at(client, org, at or datetime(2027, 3, 22, 10, tzinfo=VADUZ))
    return org


def _at(client: TestClient, org: OrgUsers, moment: datetime) -> None:
    """Move the organisation's business clock to ``moment``."""
    with client.app.state.sessions() as session:  # type: ignore[attr-defined]
        org_clock.set_clock(session=session, org_id=org.org_id, start=moment, speed=1.0)


def _customer(client: TestClient, org: OrgUsers, name: str = "Anna Beck") -> dict[str, Any]:
    r = client.post(
        "/api/v1/customers",
        json={
            "name": name,
            "phone": "+423 111 11 11",
            "addresses": [
                {"address": "Landstr. 19, 9490 Vaduz", "lon": 9.5218, "lat": 47.1398,
                 "instructions": "ring twice"},
                {"address": "Office, Vaduz", "lon": 9.52, "lat": 47.14, "label": "office"},
            ],
        },
        headers=org.dispatcher,
    )  # fmt: skip
    assert r.status_code == 201, r.text
    data: dict[str, Any] = r.json()
    return data


def _standing(client: TestClient, org: OrgUsers, customer_id: str, **body: Any) -> dict[str, Any]:
    r = client.post(
        f"/api/v1/customers/{customer_id}/standing-orders", json=body, headers=org.dispatcher
    )
    assert r.status_code == 201, r.text
    data: dict[str, Any] = r.json()
    return data


def _occurrences(
    client: TestClient, org: OrgUsers, standing_id: str, **params: str
) -> list[dict[str, Any]]:
    r = client.get(
        f"/api/v1/standing-orders/{standing_id}/occurrences", params=params, headers=org.dispatcher
    )
    assert r.status_code == 200, r.text
    items: list[dict[str, Any]] = r.json()["items"]
    return items


def _orders(client: TestClient, org: OrgUsers) -> list[dict[str, Any]]:
    r = client.get("/api/v1/orders", params={"limit": 500}, headers=org.dispatcher)
    assert r.status_code == 200, r.text
    items: list[dict[str, Any]] = r.json()["items"]
    return sorted(items, key=lambda o: o["date"])


def _generate(client: TestClient, org: OrgUsers) -> dict[str, Any]:
    r = client.post("/api/v1/standing-orders/generate", headers=org.dispatcher)
    assert r.status_code == 200, r.text
    data: dict[str, Any] = r.json()
    return data


def test_tuesdays_and_fridays_are_made_ahead_once_as_real_orders(client: TestClient) -> None:
    org = _org(client, "Bakery")
    anna = _customer(client, org)
    made = _standing(
        client, org, anna["id"],
        name="Bread", weekdays=["fri", "tue"], windows=[{"start": "08:00", "end": "10:00"}],
        description="2 bread baskets", demand={"crates": 2}, service_s=120, notes="back door",
    )  # fmt: skip
    assert made["summary"] == "every Tuesday and Friday"
    assert made["weekdays"] == ["tue", "fri"] and made["starts_on"] == "2027-03-22"
    assert made["address_id"] == anna["addresses"][0]["id"]  # the first address by default
    assert made["next_dates"][:3] == ["2027-03-23", "2027-03-26", "2027-03-30"]

    # Made at once, up to 14 days ahead (the default), in Vaduz's calendar.
    orders = _orders(client, org)
    assert [o["date"] for o in orders] == ["2027-03-23", "2027-03-26", "2027-03-30", "2027-04-02"]
    for order in orders:
        assert order["external_id"] == f"SO-{made['id']}-{order['date'].replace('-', '')}"
        assert order["status"] == "ready" and order["address_verdict"] == "given"
        assert (order["lon"], order["lat"]) == (9.5218, 47.1398)
        assert order["windows"] == [{"start": "08:00", "end": "10:00"}]
        assert order["customer"] == "Anna Beck" and order["phone"] == "+423 111 11 11"
        assert order["notes"] == "ring twice\nback door" and order["service_s"] == 120
        assert order["description"] == "2 bread baskets" and order["demand"] == {"crates": 2.0}
    history = client.get(f"/api/v1/orders/{orders[0]['id']}/events", headers=org.dispatcher)
    assert history.json()[0]["actor"] == f"standing_order:{made['id']}"

    # The same local 08:00 on both sides of the change to summer time (one hour less in UTC).
    before, after = (DayClock(date.fromisoformat(d), VADUZ) for d in ("2027-03-26", "2027-03-30"))
    assert before.utc(8 * 3600).hour == 7 and after.utc(8 * 3600).hour == 6

    # Generating again (the hourly round, or by hand) never makes a date twice.
    assert _generate(client, org) == {
        "made": 0,
        "updated": 0,
        "removed": 0,
        "failed": 0,
        "until": "2027-04-05",
    }
    assert len(_orders(client, org)) == 4
    customer_orders = client.get(f"/api/v1/customers/{anna['id']}/orders", headers=org.dispatcher)
    assert len(customer_orders.json()) == 4  # linked to the customer in the address book

    # A week later the round makes the next week's dates.
    _at(client, org, datetime(2027, 3, 29, 10, tzinfo=VADUZ))
    assert _generate(client, org)["until"] == "2027-04-12"  # (the hourly job may be first)
    assert [o["date"] for o in _orders(client, org)][-2:] == ["2027-04-06", "2027-04-09"]
    states = {
        i["date"]: i["state"]
        for i in _occurrences(client, org, made["id"], **{"from": "2027-03-22"})
    }
    assert states["2027-03-23"] == "made" and states["2027-04-13"] == "upcoming"


def test_the_days_turn_at_the_organisations_midnight(client: TestClient) -> None:
    """23:30 UTC on Monday is already Tuesday in Vaduz: Tuesday's order is today's."""
    org = _org(client, "Bakery", datetime(2027, 3, 22, 23, 30, tzinfo=UTC))
    anna = _customer(client, org)
    made = _standing(client, org, anna["id"], weekdays=["tue"])
    assert made["starts_on"] == "2027-03-23"
    assert _orders(client, org)[0]["date"] == "2027-03-23"
    # After the clocks went forward, 22:30 UTC on Sunday 28 is 00:30 on Monday 29 (summer
    # time, UTC+2), so that round's today is Monday and it reaches 12 April.
    _at(client, org, datetime(2027, 3, 28, 22, 30, tzinfo=UTC))
    assert _generate(client, org)["until"] == "2027-04-12"
    assert [o["date"] for o in _orders(client, org)] == [
        "2027-03-23", "2027-03-30", "2027-04-06",
    ]  # fmt: skip


def test_every_other_week_and_monthly_until_a_date(client: TestClient) -> None:
    org = _org(client, "Florist")
    anna = _customer(client, org)
    fortnight = _standing(
        client, org, anna["id"], weekdays=["mon", "fri"], every_weeks=2, starts_on="2027-03-25"
    )
    assert fortnight["summary"] == "every 2 weeks on Monday and Friday"
    # From the week of Thursday 25 March: that Friday, then two weeks on.
    assert fortnight["next_dates"] == [
        "2027-03-26", "2027-04-05", "2027-04-09", "2027-04-19", "2027-04-23",
    ]  # fmt: skip
    monthly = _standing(
        client, org, anna["id"], frequency="monthly", month_day=31, ends_on="2027-06-30"
    )
    assert monthly["summary"] == "monthly on the last day"
    assert monthly["next_dates"] == ["2027-03-31", "2027-04-30", "2027-05-31", "2027-06-30"]
    dates = [o["date"] for o in _orders(client, org)]
    assert dates == ["2027-03-26", "2027-03-31", "2027-04-05"]


def test_one_date_edited_or_planned_keeps_its_own_life_when_the_rule_changes(
    client: TestClient,
) -> None:
    org = _org(client, "Bakery")
    anna = _customer(client, org)
    made = _standing(
        client, org, anna["id"], weekdays=["tue", "fri"],
        windows=[{"start": "08:00", "end": "10:00"}], description="bread",
    )  # fmt: skip
    tue, fri, tue2, fri2 = _orders(client, org)
    # Friday's order is changed by hand on its own page; the next Tuesday's gets planned.
    r = client.patch(
        f"/api/v1/orders/{fri['id']}",
        json={"description": "bread and cake"},
        headers=org.dispatcher,
    )
    assert r.status_code == 200, r.text
    r = client.post(
        f"/api/v1/orders/{tue2['id']}/transitions", json={"to": "planned"}, headers=org.dispatcher
    )
    assert r.status_code == 200, r.text

    r = client.patch(
        f"/api/v1/standing-orders/{made['id']}",
        json={"windows": [{"start": "14:00", "end": "16:00"}], "description": "rolls",
              "address_id": anna["addresses"][1]["id"]},
        headers=org.dispatcher,
    )  # fmt: skip
    assert r.status_code == 200, r.text
    after = {o["id"]: o for o in _orders(client, org)}
    for untouched in (tue, fri2):
        order = after[untouched["id"]]
        assert order["windows"] == [{"start": "14:00", "end": "16:00"}]
        assert order["description"] == "rolls" and (order["lon"], order["lat"]) == (9.52, 47.14)
    assert after[fri["id"]]["description"] == "bread and cake"  # edited: its own
    assert after[fri["id"]]["windows"] == [{"start": "08:00", "end": "10:00"}]
    assert after[tue2["id"]]["description"] == "bread"  # planned: not changed under the plan
    states = {i["date"]: i["state"] for i in _occurrences(client, org, made["id"])}
    assert states[fri["date"]] == "edited" and states[tue2["date"]] == "planned"
    assert states[tue["date"]] == "made"

    # A new weekday: the untouched Tuesday goes (no longer due), Wednesdays come, the edited
    # Friday and the planned Tuesday stay.
    r = client.patch(
        f"/api/v1/standing-orders/{made['id']}", json={"weekdays": ["wed", "fri"]},
        headers=org.dispatcher,
    )  # fmt: skip
    ids = {o["id"]: o["date"] for o in _orders(client, org)}
    assert tue["id"] not in ids and fri2["id"] in ids
    assert fri["id"] in ids and tue2["id"] in ids
    assert {"2027-03-24", "2027-03-31"} <= set(ids.values())


def test_pause_closed_days_and_skipping_one_date(client: TestClient) -> None:
    org = _org(client, "Bakery")
    anna = _customer(client, org)
    made = _standing(client, org, anna["id"], weekdays=["tue", "fri"])
    base = f"/api/v1/standing-orders/{made['id']}"
    assert len(_orders(client, org)) == 4

    # Holidays: 26 March to 31 March. Friday 26 and Tuesday 30 go; the pause shows.
    r = client.patch(
        base, json={"paused_from": "2027-03-26", "paused_until": "2027-03-31"},
        headers=org.dispatcher,
    )  # fmt: skip
    assert r.status_code == 200, r.text
    assert [o["date"] for o in _orders(client, org)] == ["2027-03-23", "2027-04-02"]
    states = {i["date"]: i["state"] for i in _occurrences(client, org, made["id"])}
    assert states["2027-03-26"] == "paused" and states["2027-03-30"] == "paused"
    # Back from holidays early: the pause removed, the dates come back.
    r = client.patch(base, json={"paused_from": None, "paused_until": None}, headers=org.dispatcher)
    assert r.status_code == 200, r.text
    assert len(_orders(client, org)) == 4

    # An org-wide closed day (Good Friday) removes it for every standing order.
    r = client.put(
        "/api/v1/closed-days/2027-03-26", json={"note": "Good Friday"}, headers=org.dispatcher
    )
    assert r.status_code == 200, r.text
    assert "2027-03-26" not in [o["date"] for o in _orders(client, org)]
    listed = client.get("/api/v1/closed-days", headers=org.dispatcher).json()
    assert listed == [{"date": "2027-03-26", "note": "Good Friday"}]
    states = {i["date"]: i["state"] for i in _occurrences(client, org, made["id"])}
    assert states["2027-03-26"] == "closed"
    assert (
        client.delete("/api/v1/closed-days/2027-03-26", headers=org.dispatcher).status_code == 204
    )
    assert "2027-03-26" in [o["date"] for o in _orders(client, org)]

    # Skipping one date cancels its order; generating again never brings it back.
    r = client.post(f"{base}/occurrences/2027-03-30/skip", headers=org.dispatcher)
    assert r.status_code == 200 and r.json()["state"] == "cancelled", r.text
    # A date not made yet (beyond 14 days) is marked and never made.
    r = client.post(f"{base}/occurrences/2027-04-13/skip", headers=org.dispatcher)
    assert r.status_code == 200 and r.json()["state"] == "skipped", r.text
    _at(client, org, datetime(2027, 4, 5, 10, tzinfo=VADUZ))
    _generate(client, org)
    by_date = {o["date"]: o["status"] for o in _orders(client, org)}
    assert by_date["2027-03-30"] == "cancelled" and "2027-04-13" not in by_date
    assert "2027-04-16" in by_date
    # Not a date of the rule: named.
    r = client.post(f"{base}/occurrences/2027-03-24/skip", headers=org.dispatcher)
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "date"


def test_an_order_moved_or_deleted_by_hand_is_never_made_again(client: TestClient) -> None:
    org = _org(client, "Bakery")
    anna = _customer(client, org)
    made = _standing(client, org, anna["id"], weekdays=["tue", "fri"])
    tue, fri, *_ = _orders(client, org)
    # Tuesday's delivery moves to Wednesday; Friday's order is deleted on the orders page.
    r = client.patch(
        f"/api/v1/orders/{tue['id']}", json={"date": "2027-03-24"}, headers=org.dispatcher
    )
    assert r.status_code == 200, r.text
    assert client.delete(f"/api/v1/orders/{fri['id']}", headers=org.dispatcher).status_code == 204
    assert _generate(client, org)["made"] == 0
    dates = [o["date"] for o in _orders(client, org)]
    assert dates == ["2027-03-24", "2027-03-30", "2027-04-02"]
    items = {i["date"]: i for i in _occurrences(client, org, made["id"])}
    assert items["2027-03-23"]["state"] == "edited"
    assert items["2027-03-23"]["order_date"] == "2027-03-24"
    assert items["2027-03-26"]["state"] == "skipped" and items["2027-03-26"]["order_id"] is None


def test_stopping_a_standing_order_removes_its_coming_unplanned_orders(client: TestClient) -> None:
    org = _org(client, "Bakery")
    anna = _customer(client, org)
    made = _standing(client, org, anna["id"], weekdays=["tue", "fri"])
    first, *_rest = _orders(client, org)
    client.post(
        f"/api/v1/orders/{first['id']}/transitions", json={"to": "planned"}, headers=org.dispatcher
    )
    r = client.delete(f"/api/v1/standing-orders/{made['id']}", headers=org.dispatcher)
    assert r.status_code == 204
    assert [o["id"] for o in _orders(client, org)] == [first["id"]]  # planned: stays
    r = client.get(f"/api/v1/standing-orders/{made['id']}", headers=org.dispatcher)
    assert r.status_code == 404


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"weekdays": []}, "weekdays"),
        ({"weekdays": ["tuesday"]}, "weekdays.0"),
        ({"frequency": "monthly"}, "month_day"),
        ({"frequency": "monthly", "month_day": 32}, "month_day"),
        ({"frequency": "yearly", "weekdays": ["tue"]}, "frequency"),
        ({"weekdays": ["tue"], "every_weeks": 0}, "every_weeks"),
        ({"weekdays": ["tue"], "starts_on": "2027-04-01", "ends_on": "2027-03-31"}, "ends_on"),
        ({"weekdays": ["tue"], "starts_on": "2027-03-01"}, "starts_on"),
        ({"weekdays": ["tue"], "starts_on": "22.03.2027"}, "starts_on"),
        ({"weekdays": ["tue"], "paused_from": "2027-04-01"}, "paused_until"),
        (
            {"weekdays": ["tue"], "paused_from": "2027-04-09", "paused_until": "2027-04-01"},
            "paused_until",
        ),
        ({"weekdays": ["tue"], "windows": [{"start": "10:00", "end": "08:00"}]}, "windows.0"),
        ({"weekdays": ["tue"], "address_id": "cad_nothere"}, "address_id"),
        ({"weekdays": ["tue"], "service_s": -1}, "service_s"),
        ({"weekdays": ["tue"], "demand": {"crates": -2}}, "demand.crates"),
        ({"weekdays": ["tue"], "colour": "red"}, "colour"),
    ],
)
def test_bad_input_is_refused_naming_the_field(
    client: TestClient, body: dict[str, Any], field: str
) -> None:
    org = _org(client, "Bakery")
    anna = _customer(client, org)
    r = client.post(
        f"/api/v1/customers/{anna['id']}/standing-orders", json=body, headers=org.dispatcher
    )
    assert r.status_code == 422, r.text
    assert field in [e["field"] for e in r.json()["errors"]], r.json()
    assert _orders(client, org) == []  # nothing made
    assert client.get("/api/v1/standing-orders", headers=org.dispatcher).json() == []


def test_a_changed_rule_is_checked_as_a_whole_and_nothing_changes_when_refused(
    client: TestClient,
) -> None:
    org = _org(client, "Bakery")
    anna = _customer(client, org)
    made = _standing(client, org, anna["id"], weekdays=["tue"])
    base = f"/api/v1/standing-orders/{made['id']}"
    for body, field in (
        ({"frequency": "monthly"}, "month_day"),
        ({"ends_on": "2027-03-01"}, "ends_on"),
        ({"weekdays": None}, "weekdays"),
        ({"paused_from": "2027-04-01"}, "paused_until"),
        ({"address_id": "", "ends_on": "2027-05-01"}, "address_id"),  # found by the fuzz test
    ):
        r = client.patch(base, json=body, headers=org.dispatcher)
        assert r.status_code == 422, r.text
        assert field in [e["field"] for e in r.json()["errors"]], r.json()
    again = client.get(base, headers=org.dispatcher).json()
    assert again["frequency"] == "weekly" and again["ends_on"] is None
    assert again["paused_from"] is None and len(_orders(client, org)) == 2


def test_another_organisation_never_reaches_them(client: TestClient) -> None:
    bakery, florist = _org(client, "Bakery"), _org(client, "Florist")
    anna = _customer(client, bakery)
    made = _standing(client, bakery, anna["id"], weekdays=["tue"])
    base = f"/api/v1/standing-orders/{made['id']}"
    for method, path, body in (
        ("GET", base, None),
        ("PATCH", base, {"name": "mine"}),
        ("DELETE", base, None),
        ("GET", f"{base}/occurrences", None),
        ("POST", f"{base}/occurrences/2027-03-23/skip", None),
        ("POST", f"/api/v1/customers/{anna['id']}/standing-orders", {"weekdays": ["tue"]}),
    ):
        r = client.request(method, path, json=body, headers=florist.dispatcher)
        assert r.status_code == 404, (method, path, r.text)
    assert client.get("/api/v1/standing-orders", headers=florist.dispatcher).json() == []
    assert _generate(client, florist)["made"] == 0
    r = client.get("/api/v1/standing-orders", headers=bakery.driver)
    assert r.status_code == 403
    assert client.get(base, headers=bakery.admin).json()["name"] == ""  # unchanged


def test_the_hourly_job_makes_every_organisations_orders(client: TestClient) -> None:
    bakery, florist = _org(client, "Bakery"), _org(client, "Florist")
    for org in (bakery, florist):
        _standing(client, org, _customer(client, org)["id"], weekdays=["wed"])
    app = client.app
    context = JobContext(app.state.settings, app.state.sessions, lambda *a, **k: None)  # type: ignore[attr-defined]
    for org in (bakery, florist):
        _at(client, org, datetime(2027, 4, 1, 10, tzinfo=VADUZ))
    run(context, "generate_standing_orders", {})
    run(context, "generate_standing_orders", {})  # twice: nothing more
    for org in (bakery, florist):
        dates = [o["date"] for o in _orders(client, org)]
        assert dates == ["2027-03-24", "2027-03-31", "2027-04-07", "2027-04-14"]
