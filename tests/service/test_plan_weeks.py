"""Orders with a date range and multi-day plans through the API: the range is validated
(422 naming the field), a week plan becomes one ordinary plan per day, each order on exactly
one day of its range, checked here from the API's own answers (not the planner's numbers)."""

from __future__ import annotations

import csv
import datetime as dt
import io
import math
import time
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient

from helpers.service import OrgUsers, make_org

SAMPLE = Path(__file__).parents[2] / "src" / "lastmile" / "data" / "sample"
MONDAY = dt.date(2026, 11, 23)
DAYS = [MONDAY + dt.timedelta(days=k) for k in range(5)]
ORDERS = "/api/v1/orders"


def _vehicles(client: TestClient, org: OrgUsers) -> None:
    r = client.post(
        "/api/v1/vehicles/import",
        files={"file": ("v.csv", (SAMPLE / "sample_vehicles.csv").read_bytes(), "text/csv")},
        headers=org.dispatcher,
    )
    assert r.status_code in (200, 201), r.text


def _week_csv(count: int) -> tuple[str, dict[str, tuple[dt.date, dt.date]]]:
    """``count`` sample orders: every third for one day, the others flexible over 2-5 days."""
    with (SAMPLE / "sample_day_orders.csv").open(encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    out = io.StringIO()
    fields = ["id", "lon", "lat", "window_start", "window_end", "service_min", "parcels"]
    writer = csv.writer(out)
    writer.writerow([*fields, "date", "latest_date"])
    ranges = {}
    for k, row in enumerate(rows[:count]):
        first = DAYS[k % 4]
        last = first if k % 3 == 0 else DAYS[min(4, k % 4 + 1 + k % 4)]
        writer.writerow(
            [row[f] for f in fields]
            + [first.isoformat(), "" if last == first else last.isoformat()]
        )
        ranges[row["id"]] = (first, last)
    return out.getvalue(), ranges


def _wait(client: TestClient, org: OrgUsers, url: str, timeout: float = 90) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        body: dict[str, Any] = client.get(url, headers=org.dispatcher).json()
        if body["status"] in ("done", "failed"):
            return body
        time.sleep(0.2)
    raise AssertionError(f"{url} not finished after {timeout} s")


def _fields(response: Any) -> list[str]:
    assert response.status_code == 422, response.text
    return [e["field"] for e in response.json()["errors"]]


def test_an_order_range_is_validated_naming_the_field(client: TestClient) -> None:
    org = make_org(client, "Range Co")
    base = {"date": "2026-11-23", "lon": 9.52, "lat": 47.14}
    ok = client.post(
        ORDERS,
        json={"external_id": "R-1", **base, "latest_date": "2026-11-27"},
        headers=org.dispatcher,
    )
    assert ok.status_code in (200, 201), ok.text
    order_id = ok.json()["items"][0]["order"]["id"]
    body = client.get(f"{ORDERS}/{order_id}", headers=org.dispatcher).json()
    assert (body["date"], body["earliest_date"], body["latest_date"]) == (
        "2026-11-23",
        "2026-11-23",
        "2026-11-27",
    )
    before = client.post(
        ORDERS,
        json={"external_id": "R-2", **base, "latest_date": "2026-11-20"},
        headers=org.dispatcher,
    )
    assert "latest_date" in _fields(before)[0]
    assert "before the earliest date" in before.text
    too_long = client.post(
        ORDERS,
        json={"external_id": "R-3", **base, "latest_date": "2027-01-20"},
        headers=org.dispatcher,
    )
    assert "latest_date" in _fields(too_long)[0] and "35 days" in too_long.text
    alone = client.post(
        ORDERS,
        json={"external_id": "R-4", **base, "earliest_date": "2026-11-24"},
        headers=org.dispatcher,
    )
    assert "latest_date" in _fields(alone)[0]
    outside = client.post(
        ORDERS,
        json={
            "external_id": "R-5",
            **base,
            "earliest_date": "2026-11-24",
            "latest_date": "2026-11-26",
        },
        headers=org.dispatcher,
    )
    assert "latest_date" in _fields(outside)[0] and "outside the range" in outside.text
    # PATCH: a range on a one-day order, then back to one day.
    url = f"{ORDERS}/{order_id}"
    patched = client.patch(url, json={"latest_date": "2026-11-21"}, headers=org.dispatcher)
    assert _fields(patched) == ["latest_date"]
    back = client.patch(url, json={"latest_date": None}, headers=org.dispatcher)
    assert back.status_code == 200 and back.json()["earliest_date"] is None


def test_the_csv_import_reads_a_range_and_names_the_bad_row(client: TestClient) -> None:
    org = make_org(client, "Import Co")
    text = (
        "id,lon,lat,date,latest_date\n"
        "C-1,9.52,47.14,2026-11-23,2026-11-25\n"
        "C-2,9.53,47.15,2026-11-23,2026-11-20\n"
    )
    r = client.post(
        f"{ORDERS}/import",
        files={"file": ("o.csv", text.encode(), "text/csv")},
        headers=org.dispatcher,
    )
    assert r.status_code == 422, r.text
    bad = (
        [row for row in r.json()["rows"] if row["status"] == "invalid"]
        if "rows" in r.json()
        else []
    )
    named = bad[0]["errors"][0] if bad else r.json()["errors"][0]
    assert named.get("row", 3) == 3 and named["field"] == "latest_date", r.json()
    assert client.get(ORDERS, headers=org.dispatcher).json()["total"] == 0  # nothing imported
    good = text.splitlines()[:2]
    r = client.post(
        f"{ORDERS}/import",
        files={"file": ("o.csv", "\n".join(good).encode(), "text/csv")},
        headers=org.dispatcher,
    )
    assert r.status_code in (200, 201), r.text
    (order,) = client.get(ORDERS, headers=org.dispatcher).json()["items"]
    assert (order["earliest_date"], order["latest_date"]) == ("2026-11-23", "2026-11-25")


def test_a_week_plan_puts_each_order_on_one_day_of_its_range(client: TestClient) -> None:
    org = make_org(client, "Week Co")
    _vehicles(client, org)
    text, ranges = _week_csv(60)
    r = client.post(
        f"{ORDERS}/import",
        files={"file": ("o.csv", text.encode(), "text/csv")},
        headers=org.dispatcher,
    )
    assert r.status_code in (200, 201), r.text
    created = client.post(
        "/api/v1/plan-weeks",
        json={"start": DAYS[0].isoformat(), "end": DAYS[-1].isoformat(), "time_limit_s": 3},
        headers=org.dispatcher,
    )
    assert created.status_code == 202, created.text
    week = _wait(client, org, f"/api/v1/plan-weeks/{created.json()['id']}")
    assert week["status"] == "done", week["error"]
    assert [d["date"] for d in week["days"]] == [d.isoformat() for d in DAYS]
    assert week["check"] == []
    orders = (
        {
            o["external_id"]: o
            for o in client.get(f"{ORDERS}?date=all&limit=500", headers=org.dispatcher).json()[
                "items"
            ]
        }
        if False
        else {}
    )
    served: dict[str, str] = {}
    for day in week["days"]:
        plan = client.get(f"/api/v1/plans/{day['plan_id']}", headers=org.dispatcher).json()
        assert plan["status"] == "done" and plan["date"] == day["date"]
        assert plan["document"]["check"]["ok"], plan["document"]["check"]
        ids = [s["order_id"] for r in plan["routes"] for s in r["stops"] if s["kind"] == "order"]
        assert len(ids) == day["stops"]
        for oid in ids:
            assert oid not in served, f"{oid} served twice"
            served[oid] = day["date"]
        on_day = client.get(f"{ORDERS}?date={day['date']}&limit=500", headers=org.dispatcher)
        orders.update({o["id"]: o for o in on_day.json()["items"]})
    assert len(served) == 60
    for oid, date in served.items():
        order = orders[oid]
        assert order["date"] == date and order["status"] == "planned"
        first, last = ranges[order["external_id"]]
        assert first.isoformat() <= date <= last.isoformat(), order
    # No day more than 20 % above the mean (or an even share).
    stops = [d["stops"] for d in week["days"]]
    cap = max(math.ceil(60 / 5), math.floor(60 / 5 * 1.2))
    assert max(stops) <= cap, stops
    # Each day is an ordinary plan: it dispatches like one.
    first_day = next(d for d in week["days"] if d["stops"])
    dispatched = client.post(
        f"/api/v1/plans/{first_day['plan_id']}/dispatch", json={}, headers=org.dispatcher
    )
    assert (
        dispatched.status_code == 200
        and dispatched.json()["orders_dispatched"] == first_day["stops"]
    )
    listed = client.get("/api/v1/plan-weeks", headers=org.dispatcher).json()
    assert [w["id"] for w in listed] == [week["id"]]
    other = make_org(client, "Other Co")
    assert (
        client.get(f"/api/v1/plan-weeks/{week['id']}", headers=other.dispatcher).status_code == 404
    )
    assert client.get(f"/api/v1/plan-weeks/{week['id']}", headers=org.driver).status_code == 403


def test_a_bad_week_is_refused_naming_the_field(client: TestClient) -> None:
    org = make_org(client, "Bad Week Co")
    post = lambda body: client.post("/api/v1/plan-weeks", json=body, headers=org.dispatcher)  # noqa: E731
    assert _fields(post({"start": "2026-11-27", "end": "2026-11-23"})) == ["end"]
    assert _fields(post({"start": "2026-11-01", "end": "2026-11-30"})) == ["end"]
    weekend = post({"start": "2026-11-28", "end": "2026-11-29", "skip_weekdays": [6, 7]})
    assert _fields(weekend) == ["skip_weekdays"]
    assert (
        "skip_weekdays"
        in _fields(post({"start": "2026-11-23", "end": "2026-11-24", "skip_weekdays": [8]}))[0]
    )
    unknown = post({"start": "2026-11-23", "end": "2026-11-24", "vehicle_ids": ["nope"]})
    assert _fields(unknown) == ["vehicle_ids.0"]
