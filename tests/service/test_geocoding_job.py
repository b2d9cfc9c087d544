"""Imported addresses without coordinates are geocoded offline by a background job."""

from __future__ import annotations

from fastapi.testclient import TestClient

from helpers.service import make_org
from lastmile.common.jobs import JobContext
from lastmile.orders.jobs import geocode_orders

CSV = (
    "id,address,parcels\n"
    'G1,"Landstr. 19, 9490 Vaduz",1\n'  # abbreviation: corrected
    'G2,"Foppastrasse 3, 9497 Triesenberg",1\n'  # exact
    'G3,"Nirgendwostrasse 999, 9490 Vaduz",1\n'  # does not exist
)


def _orders(client: TestClient, headers: dict[str, str]) -> dict[str, dict[str, object]]:
    items = client.get("/api/v1/orders?date=2026-11-25", headers=headers).json()["items"]
    return {o["external_id"]: o for o in items}


def test_import_then_geocode_in_background(client: TestClient) -> None:
    org = make_org(client, "Florist")
    r = client.post(
        "/api/v1/orders/import?date=2026-11-25",
        files={"file": ("o.csv", CSV.encode())},
        headers=org.dispatcher,
    )
    assert r.status_code == 200, r.text
    assert all(o["status"] == "new" for o in _orders(client, org.dispatcher).values())
    app = client.app
    context = JobContext(app.state.settings, app.state.sessions, lambda *a, **k: None)  # type: ignore[attr-defined]
    geocode_orders(context, org_id=org.org_id)
    orders = _orders(client, org.dispatcher)
    assert orders["G1"]["status"] == "ready" and orders["G1"]["address_verdict"] == "corrected"
    assert abs(orders["G1"]["lon"] - 9.5174) < 0.001 and abs(orders["G1"]["lat"] - 47.1435) < 0.001  # type: ignore[operator]
    assert orders["G2"]["status"] == "ready" and orders["G2"]["address_verdict"] == "exact"
    assert orders["G3"]["status"] == "new" and orders["G3"]["lon"] is None
    assert orders["G3"]["address_verdict"] in ("not_found", "ambiguous")
    geocode_orders(context, org_id=org.org_id)  # a second run changes nothing
    assert _orders(client, org.dispatcher) == orders


def test_geocode_endpoint_gives_candidates(client: TestClient) -> None:
    org = make_org(client, "Florist")
    answer = client.get(
        "/api/v1/geocode", params={"q": "Landstr. 19, Vaduz"}, headers=org.dispatcher
    ).json()
    assert answer["verdict"] in ("exact", "corrected") and answer["address"].startswith(
        "Landstrasse 19"
    )
    assert (
        client.get("/api/v1/geocode", params={"q": "x"}, headers=org.dispatcher).status_code == 422
    )
    assert (
        client.get("/api/v1/geocode", params={"q": "Landstr. 19"}, headers=org.driver).status_code
        == 403
    )


def _import(client: TestClient, headers: dict[str, str], csv: str) -> None:
    r = client.post(
        "/api/v1/orders/import?date=2026-11-25",
        files={"file": ("o.csv", csv.encode())},
        headers=headers,
    )
    assert r.status_code == 200, r.text


def test_every_pending_order_is_geocoded_past_unresolvable_ones(client: TestClient) -> None:
    """Batches continue until no order is left; orders judged unresolvable (sorted first
    here) never fill a batch again, so a later import of good addresses is geocoded too."""
    org = make_org(client, "Florist")
    bad = "".join(f'A{i},"Nirgendwostrasse {900 + i}, 9490 Vaduz",1\n' for i in range(5))
    _import(
        client, org.dispatcher, "id,address,parcels\n" + bad + 'B1,"Landstr. 19, 9490 Vaduz",1\n'
    )
    app = client.app
    context = JobContext(app.state.settings, app.state.sessions, lambda *a, **k: None)  # type: ignore[attr-defined]
    geocode_orders(context, org_id=org.org_id, batch=2)  # 6 orders, batches of 2: one run
    orders = _orders(client, org.dispatcher)
    assert orders["B1"]["status"] == "ready"
    assert all(orders[f"A{i}"]["address_verdict"] in ("not_found", "ambiguous") for i in range(5))

    _import(client, org.dispatcher, 'id,address,parcels\nC1,"Foppastrasse 3, 9497 Triesenberg",1\n')
    geocode_orders(context, org_id=org.org_id, batch=2)  # the 5 unresolvable ones come first
    assert _orders(client, org.dispatcher)["C1"]["status"] == "ready"
