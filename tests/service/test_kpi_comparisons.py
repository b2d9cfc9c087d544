"""KPI trends and baseline-vs-pilot comparisons through HTTP (SQLite + PostgreSQL), on
delivery days whose answers are known by hand (tests/helpers/kpi_days.py)."""

from __future__ import annotations

import io
from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from pypdf import PdfReader

from helpers.kpi_days import MONDAY, week
from helpers.service import OrgUsers, make_org


def _series(client: TestClient, org: OrgUsers, **params: str) -> dict[str, Any]:
    r = client.get("/api/v1/kpis/series", params=params, headers=org.dispatcher)
    assert r.status_code == 200, r.text
    body: dict[str, Any] = r.json()
    return body


def test_series_per_day_and_week_match_each_days_kpis(client: TestClient) -> None:
    org = make_org(client, "Trend")
    week(client, org, MONDAY, late=1, failed=1)
    week(client, org, MONDAY + timedelta(days=7), late=0, failed=0)
    start, end = MONDAY.isoformat(), (MONDAY + timedelta(days=13)).isoformat()

    daily = _series(client, org, **{"from": start, "to": end, "bucket": "day"})
    assert len(daily["points"]) == 14 and daily["bucket"] == "day"
    assert {m["name"] for m in daily["metrics"]} >= {"on_time_rate", "cost_per_delivery"}
    indicators = {m["name"]: m["indicator"] for m in daily["metrics"]}
    assert indicators["on_time_rate"] == "lagging" and indicators["contacts_per_order"] == "leading"
    for point in daily["points"]:
        one = client.get(
            "/api/v1/kpis", params={"from": point["from"]}, headers=org.dispatcher
        ).json()
        assert point["orders"] == one["orders"]
        assert point["values"]["on_time_rate"] == one["on_time_rate"]
        assert point["values"]["first_attempt_success_rate"] == one["first_attempt_success_rate"]
    first = daily["points"][0]["values"]
    # Monday of week 1: 4 orders, 1 failed first (10:00, on time), 1 served late at 13:00.
    assert first["first_attempt_success_rate"] == pytest.approx(3 / 4)
    assert first["on_time_rate"] == pytest.approx(3 / 4)
    assert first["failed_attempts"] == 1 and first["delivered"] == 4
    assert (
        daily["points"][2]["orders"] == 0 and daily["points"][2]["values"]["on_time_rate"] is None
    )

    weekly = _series(client, org, **{"from": start, "to": end, "bucket": "week"})
    assert [(p["from"], p["to"]) for p in weekly["points"]] == [
        (MONDAY.isoformat(), (MONDAY + timedelta(days=6)).isoformat()),
        ((MONDAY + timedelta(days=7)).isoformat(), end),
    ]
    w1, w2 = (p["values"] for p in weekly["points"])
    assert weekly["points"][0]["orders"] == 8
    assert w1["on_time_rate"] == pytest.approx(6 / 8) and w2["on_time_rate"] == 1.0
    assert w1["failed_attempts"] == 2 and w2["failed_attempts"] == 0

    # A week that starts mid-range is clipped to the range.
    clipped = _series(
        client,
        org,
        **{"from": (MONDAY + timedelta(days=1)).isoformat(), "to": end, "bucket": "week"},
    )
    assert clipped["points"][0]["from"] == (MONDAY + timedelta(days=1)).isoformat()
    assert clipped["points"][0]["orders"] == 4
    bad = client.get(
        "/api/v1/kpis/series",
        params={"from": start, "to": end, "bucket": "month"},
        headers=org.dispatcher,
    )
    assert bad.status_code == 422


def _comparison(client: TestClient, org: OrgUsers, **more: Any) -> Any:
    body = {
        "name": "Cargo bikes in Vaduz",
        "baseline": {"from": MONDAY.isoformat(), "to": (MONDAY + timedelta(days=6)).isoformat()},
        "pilot": {
            "from": (MONDAY + timedelta(days=7)).isoformat(),
            "to": (MONDAY + timedelta(days=13)).isoformat(),
        },
        "objectives": [
            {"metric": "on_time_rate", "op": "at_least", "target": 0.95},
            {"metric": "failed_attempts", "op": "at_most", "target": -0.5, "relative": True},
            {"metric": "first_attempt_success_rate", "op": "at_least", "target": 0.99},
            {"metric": "avg_rating", "op": "at_least", "target": 4.5},
        ],
        **more,
    }
    return client.post("/api/v1/comparisons", json=body, headers=org.dispatcher)


def test_baseline_vs_pilot_report_judges_every_objective(client: TestClient) -> None:
    org = make_org(client, "Pilot")
    week(client, org, MONDAY, late=1, failed=1)  # on time 6/8, 2 failed attempts
    week(client, org, MONDAY + timedelta(days=7), late=0, failed=1)  # on time 8/8, 2 failed

    r = _comparison(client, org)
    assert r.status_code == 201, r.text
    report = r.json()
    verdicts = [(o["objective"]["metric"], o["met"], o["actual"]) for o in report["objectives"]]
    assert verdicts[0] == ("on_time_rate", True, 1.0)
    assert verdicts[1] == ("failed_attempts", False, 0.0)  # 2 -> 2: no change, -50 % wanted
    assert verdicts[2][:2] == ("first_attempt_success_rate", False)
    assert verdicts[2][2] == pytest.approx(6 / 8)
    assert verdicts[3] == ("avg_rating", None, None)  # nobody rated: cannot be judged
    assert report["all_met"] is False
    assert report["baseline_orders"] == 8 and report["pilot_orders"] == 8
    changes = {c["metric"]["name"]: c for c in report["changes"]}
    on_time = changes["on_time_rate"]
    assert on_time["baseline"] == pytest.approx(0.75) and on_time["pilot"] == 1.0
    assert on_time["change"] == pytest.approx(0.25) and on_time["improved"] is True
    assert on_time["change_rate"] == pytest.approx(0.25 / 0.75)
    assert changes["failed_attempts"]["improved"] is None  # unchanged
    labels = [o["label"] for o in report["objectives"]]
    assert labels[0] == "On time at least 95.0 %"
    assert labels[1] == "Failed attempts: change at most -50.0 %"

    comparison_id = report["comparison"]["id"]
    listed = client.get("/api/v1/comparisons", headers=org.dispatcher).json()
    assert [c["id"] for c in listed] == [comparison_id]
    again = client.get(f"/api/v1/comparisons/{comparison_id}", headers=org.admin).json()
    assert again["objectives"] == report["objectives"]

    html = client.get(f"/api/v1/comparisons/{comparison_id}/report.html", headers=org.dispatcher)
    assert html.status_code == 200 and html.headers["content-type"].startswith("text/html")
    assert "Not all objectives met" in html.text and "<svg" in html.text
    assert html.text.count('class="met"') == 1 and html.text.count('class="not-met"') == 2
    assert "On time at least 95.0 %" in html.text and "100.0 %" in html.text

    pdf = client.get(f"/api/v1/comparisons/{comparison_id}/report.pdf", headers=org.dispatcher)
    assert pdf.status_code == 200 and pdf.headers["content-type"] == "application/pdf"
    reader = PdfReader(io.BytesIO(pdf.content))
    assert len(reader.pages) == 2
    text = " ".join(" ".join(page.extract_text().split()) for page in reader.pages)
    assert "Cargo bikes in Vaduz" in text and "Not all objectives met" in text
    assert "On time at least 95.0 %" in text and "75.0 %" in text and "not met" in text
    assert "Leading indicators" in text

    assert (
        client.delete(f"/api/v1/comparisons/{comparison_id}", headers=org.dispatcher).status_code
        == 204
    )
    assert (
        client.get(f"/api/v1/comparisons/{comparison_id}", headers=org.dispatcher).status_code
        == 404
    )


def test_comparisons_validate_input_and_stay_in_their_organisation(client: TestClient) -> None:
    org = make_org(client, "Gamma")
    stranger = make_org(client, "Delta")
    made = _comparison(client, org)
    assert made.status_code == 201, made.text
    comparison_id = made.json()["comparison"]["id"]

    for path in ("", "/report.html", "/report.pdf"):
        seen = client.get(f"/api/v1/comparisons/{comparison_id}{path}", headers=stranger.dispatcher)
        assert seen.status_code == 404, path
    assert client.get("/api/v1/comparisons", headers=stranger.dispatcher).json() == []
    assert (
        client.delete(f"/api/v1/comparisons/{comparison_id}", headers=stranger.admin).status_code
        == 404
    )
    assert client.get("/api/v1/comparisons", headers=org.driver).status_code == 403
    assert client.get("/api/v1/comparisons").status_code == 401

    unknown = _comparison(
        client, org, objectives=[{"metric": "happiness", "op": "at_least", "target": 1}]
    )
    assert unknown.status_code == 422
    assert "objectives" in unknown.text and "happiness" in unknown.text
    backwards = _comparison(client, org, pilot={"from": "2026-11-20", "to": "2026-11-10"})
    assert backwards.status_code == 422 and "pilot.to" in backwards.text
    # Another organisation's depot is not a scope of this one (and is not revealed).
    depot = client.post(
        "/api/v1/depots", json={"name": "Theirs", "lon": 9.5, "lat": 47.1}, headers=stranger.admin
    )
    assert depot.status_code == 201, depot.text
    theirs = _comparison(
        client, org, baseline={"from": "2026-11-02", "depot_id": depot.json()["id"]}
    )
    assert theirs.status_code == 422 and "baseline.depot_id" in theirs.text
    extra = _comparison(client, org, colour="red")
    assert extra.status_code == 422
    nan = _comparison(
        client, org, objectives=[{"metric": "on_time_rate", "op": "at_least", "target": "NaN"}]
    )
    assert nan.status_code == 422
    assert [c["id"] for c in client.get("/api/v1/comparisons", headers=org.dispatcher).json()] == [
        comparison_id
    ]


def test_a_typed_in_baseline_judges_the_pilot_against_the_spreadsheet_era(
    client: TestClient,
) -> None:
    """September and October typed in from a spreadsheet; the pilot is a lastmile week."""
    org = make_org(client, "Spreadsheet")
    week(client, org, MONDAY, late=1, failed=1)  # on time 6/8, 2 failed attempts, 8 orders
    pilot = {"from": MONDAY.isoformat(), "to": (MONDAY + timedelta(days=6)).isoformat()}
    typed = [
        {"from": "2026-09-01", "to": "2026-09-30", "orders": 300,
         "values": {"on_time_rate": 0.60, "failed_attempts": 30, "cost_per_delivery": 5.0}},
        {"from": "2026-10-01", "to": "2026-10-31", "orders": 100,
         "values": {"on_time_rate": 0.80, "failed_attempts": 10}},
    ]  # fmt: skip
    r = client.post(
        "/api/v1/comparisons",
        json={
            "name": "Before lastmile",
            "baseline": {"from": "2026-09-01", "typed": typed},
            "pilot": pilot,
            "objectives": [
                {"metric": "on_time_rate", "op": "at_least", "target": 0.1, "relative": True}
            ],
        },
        headers=org.dispatcher,
    )
    assert r.status_code == 201, r.text
    report = r.json()
    changes = {c["metric"]["name"]: c for c in report["changes"]}
    # rates: weighted by deliveries (300 x 0.60 + 100 x 0.80) / 400; totals: added up
    assert changes["on_time_rate"]["baseline"] == pytest.approx(0.65)
    assert changes["failed_attempts"]["baseline"] == 40
    assert changes["cost_per_delivery"]["baseline"] == 5.0  # only September gave it
    assert changes["avg_rating"]["baseline"] is None
    assert changes["on_time_rate"]["pilot"] == pytest.approx(0.75)
    assert report["objectives"][0]["met"] is True  # 0.65 -> 0.75 is +15 %, at least +10 %
    assert report["baseline_orders"] == 400 and report["warnings"] == []
    stored = report["comparison"]["baseline"]
    assert stored["from"] == "2026-09-01" and stored["to"] == "2026-10-31"
    assert stored["typed"][1]["values"]["failed_attempts"] == 10
    html = client.get(
        f"/api/v1/comparisons/{report['comparison']['id']}/report.html", headers=org.dispatcher
    )
    assert "typed in, 2026-09-01 to 2026-10-31" in html.text


def test_typed_figures_are_checked_and_an_empty_baseline_is_flagged(client: TestClient) -> None:
    org = make_org(client, "Careful")
    week(client, org, MONDAY, late=0, failed=0)
    pilot = {"from": MONDAY.isoformat(), "to": (MONDAY + timedelta(days=6)).isoformat()}
    bad = client.post(
        "/api/v1/comparisons",
        json={
            "name": "Typos",
            "baseline": {
                "from": "2026-09-01",
                "depot_id": "dep_x",
                "typed": [
                    {"from": "2026-09-30", "to": "2026-09-01",
                     "values": {"on_time_rate": 95, "avg_rating": 7, "speed": 1}},
                ],
            },
            "pilot": pilot,
        },
        headers=org.dispatcher,
    )  # fmt: skip
    assert bad.status_code == 422, bad.text
    fields = {e["field"] for e in bad.json()["errors"]}
    assert fields == {
        "baseline.depot_id",
        "baseline.typed[0].to",
        "baseline.typed[0].values.on_time_rate",
        "baseline.typed[0].values.avg_rating",
        "baseline.typed[0].values.speed",
    }
    assert client.get("/api/v1/comparisons", headers=org.dispatcher).json() == []
    typed_pilot = client.post(
        "/api/v1/comparisons",
        json={"name": "x", "baseline": pilot, "pilot": {**pilot, "typed": [
            {"from": "2026-09-01", "to": "2026-09-30", "values": {"on_time_rate": 0.5}}]}},
        headers=org.dispatcher,
    )  # fmt: skip
    assert typed_pilot.status_code == 422
    assert typed_pilot.json()["errors"][0]["field"] == "pilot.typed"

    empty = client.post(
        "/api/v1/comparisons",
        json={"name": "Empty", "baseline": {"from": "2026-01-05", "to": "2026-01-11"},
              "pilot": pilot},
        headers=org.dispatcher,
    )  # fmt: skip
    assert empty.status_code == 201
    warnings = empty.json()["warnings"]
    assert len(warnings) == 1 and "baseline has no orders" in warnings[0]
    html = client.get(
        f"/api/v1/comparisons/{empty.json()['comparison']['id']}/report.html",
        headers=org.dispatcher,
    )
    assert 'data-testid="warning"' in html.text
