"""A NUL character anywhere in a request is a 422 naming the field, on SQLite and PostgreSQL
(PostgreSQL cannot store or even compare text holding one: these were HTTP 500s)."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.exc import DataError

from helpers.service import make_org
from lastmile.plans.service import failure_message


def _named(response: Any, field: str) -> None:
    assert response.status_code == 422, response.text
    body = response.json()
    assert field in body["detail"] and "NUL" in body["detail"], body


def test_nul_in_json_query_path_and_forms_is_422_naming_the_field(client: TestClient) -> None:
    org = make_org(client, "Nul Co")
    _named(
        client.post("/api/v1/auth/token", json={"email": "a\x00@x.example", "password": "x"}),
        "email",
    )
    _named(
        client.post(
            "/api/v1/orders",
            json={"external_id": "N1", "address": "Street\x001", "lon": 9.5, "lat": 47.1},
            headers=org.dispatcher,
        ),
        "address",
    )
    _named(
        client.post(
            "/api/v1/orders",
            json={"external_id": "N2", "lon": 9.5, "lat": 47.1, "demand": {"par\x00cels": 1}},
            headers=org.dispatcher,
        ),
        "demand.par\\0cels",
    )
    _named(client.get("/api/v1/geocode?q=Land%00strasse", headers=org.dispatcher), "query.q")
    _named(client.get("/api/v1/orders/ord_%00x", headers=org.dispatcher), "path")
    _named(client.get("/api/v1/orders?status=%00", headers=org.dispatcher), "query.status")
    _named(
        client.post(
            "/app/login",
            data={"email": "admin@nul-co.example\x00", "password": "x"},
            follow_redirects=False,
        ),
        "email",
    )
    sent = client.post(
        "/api/v1/orders/import?date=2026-11-25",
        files={
            "file": ("o.csv", b"id,address,lon,lat\nN3,Street 3,9.5,47.1\nN4,Str\x00eet,9.5,47.1\n")
        },
        headers=org.dispatcher,
    )
    assert sent.status_code == 422, sent.text
    assert "row 3, column 'address'" in sent.json()["detail"] and "NUL" in sent.json()["detail"]
    assert client.get("/api/v1/orders", headers=org.dispatcher).json()["items"] == []


def test_nul_in_a_multipart_form_field_is_422(client: TestClient) -> None:
    org = make_org(client, "Nul Form Co")
    answer = client.post(
        "/app/api/orders/preview",
        files={"file": ("o.csv", b"id,address\nA,B\n")},
        data={"date": "2026-11-25\x00"},
        headers=org.dispatcher,
    )
    assert answer.status_code == 422, answer.text
    assert "date" in answer.json()["detail"] and "NUL" in answer.json()["detail"]


@pytest.mark.parametrize("backend_error", [True, False])
def test_a_failed_plan_never_shows_sql(backend_error: bool) -> None:
    from lastmile.core.errors import InputError

    if backend_error:
        exc: Exception = DataError(
            "INSERT INTO stops (id, note) VALUES (%s, %s)", ("x", "y"), Exception("NUL")
        )
        message = failure_message(exc)
        assert "INSERT" not in message and "stops" not in message and "internal error" in message
    else:
        assert "no orders" in failure_message(InputError(issues=[], source="no orders ready"))
