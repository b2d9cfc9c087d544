"""A customer's personal data erased on request, on SQLite and PostgreSQL: everything that
names or shows them goes, their orders stay (anonymous) for the KPIs, other customers and
other organisations are untouched."""

from __future__ import annotations

from pathlib import Path

from fastapi.testclient import TestClient

from helpers.service import make_org
from lastmile.ops.erasure import find_orders
from lastmile.orders.models import Order
from service.test_driver_api import JPEG, ev, plan_day, send


def test_erase_a_customer_keeps_anonymous_orders(client: TestClient) -> None:
    day = plan_day(client, "Forget")
    ann = next(s for s in day.stops if s["order_id"])
    ann_order = client.get(f"/api/v1/orders/{ann['order_id']}", headers=day.org.admin).json()
    described = client.patch(
        f"/api/v1/orders/{ann['order_id']}",
        json={"description": "birthday cake for Ann"},
        headers=day.org.dispatcher,
    )
    assert described.status_code == 200 and described.json()["description"], described.text
    send(
        client,
        day,
        ev("e-start", "route_started", day.at(0), lon=9.5087, lat=47.1657),
        ev("e-deliver", "delivered", day.at(60), ann["id"], lon=9.5215, lat=47.141,
           recipient="Ann's neighbour", note="left with the neighbour at no. 3"),
    )  # fmt: skip
    photo = client.post(
        "/api/v1/driver/pod",
        files={"file": ("p.jpg", JPEG, "image/jpeg")},
        data={"kind": "photo", "event_key": "e-deliver"},
        headers=day.org.driver,
    )
    assert photo.status_code == 201, photo.text
    pod_id = photo.json()["id"]
    link = client.post(
        f"/api/v1/orders/{ann['order_id']}/tracking-link", headers=day.org.dispatcher
    ).json()
    assert client.get(link["path"]).status_code == 200
    settings = client.app.state.settings  # type: ignore[attr-defined]
    # This order's photos only: other tests of the session leave theirs in the same data dir.
    files_before = [
        p for p in (Path(settings.data_dir) / "pod").rglob("*.jpg") if ann["order_id"] in p.parts
    ]
    assert files_before

    # Another organisation with the same customer phone finds nothing of ours.
    other = make_org(client, "Other Shop")
    erase = "/api/v1/customers/erase"
    assert (
        client.post(erase, json={"phone": ann_order["phone"]}, headers=other.admin).json()[
            "order_ids"
        ]
        == []
    )
    # Only admins; an empty request is refused with the field named.
    assert (
        client.post(erase, json={"phone": "423111"}, headers=day.org.dispatcher).status_code == 403
    )
    empty = client.post(erase, json={}, headers=day.org.admin)
    assert empty.status_code == 422 and empty.json()["errors"][0]["field"] == "email"

    # The phone written another way finds the order; a dry run changes nothing.
    digits = "00" + "".join(c for c in ann_order["phone"] if c.isdigit())
    found = client.post(erase, json={"phone": digits, "dry_run": True}, headers=day.org.admin)
    assert found.json() == {
        "order_ids": [ann["order_id"]], "erased": False,
        "pod_files": 0, "messages": 0, "tracking_links": 0, "events": 0,
    }  # fmt: skip
    assert client.get(f"/api/v1/pod/{pod_id}/file", headers=day.org.admin).content == JPEG

    done = client.post(erase, json={"phone": digits}, headers=day.org.admin).json()
    assert done["erased"] and done["pod_files"] == 1 and done["tracking_links"] == 1

    after = client.get(f"/api/v1/orders/{ann['order_id']}", headers=day.org.admin).json()
    assert after["status"] == "delivered"  # the KPIs still count the delivery
    assert after["customer"] == "(erased)"
    assert after["phone"] == after["email"] == after["address"] == after["notes"] == ""
    assert after["description"] == ""
    for step in client.get(
        f"/api/v1/orders/{ann['order_id']}/events", headers=day.org.admin
    ).json():
        assert "neighbour" not in (step["note"] or "")
    pods = client.get(f"/api/v1/orders/{ann['order_id']}/pod", headers=day.org.admin).json()
    assert len(pods) == 1 and pods[0]["kind"] == "photo" and "neighbour" not in str(pods[0])
    gone = client.get(f"/api/v1/pod/{pod_id}/file", headers=day.org.admin)
    assert gone.status_code == 404 and "erased" in gone.json()["detail"]
    assert not [p for p in files_before if p.exists()]
    assert client.get(link["path"]).status_code != 200
    with client.app.state.sessions() as session:  # type: ignore[attr-defined]
        from sqlalchemy import select

        from lastmile.events.models import Event

        payloads = [
            e.payload for e in session.scalars(select(Event).where(Event.org_id == day.org.org_id))
        ]
        assert not [p for p in payloads if "neighbour" in str(p)]
        # The other customers keep their data.
        rest = session.scalars(
            select(Order).where(Order.org_id == day.org.org_id, Order.id != ann["order_id"])
        ).all()
        assert rest and all(o.customer not in ("", "(erased)") and o.phone for o in rest)
        # Nothing is left to find them by.
        assert find_orders(session=session, org_id=day.org.org_id, phone=digits) == []


def test_the_settings_page_offers_the_erasure_to_admins(client: TestClient) -> None:
    make_org(client, "Page Shop")
    login = client.post(
        "/app/login",
        data={"email": "admin@page-shop.example", "password": "correct horse battery"},
        follow_redirects=False,
    )
    assert login.status_code == 303, login.text
    page = client.get("/app/settings")
    assert page.status_code == 200 and "Erase a customer" in page.text
    assert 'data-erase="/api/v1/customers/erase"' in page.text
    client.cookies.clear()
