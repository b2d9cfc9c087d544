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


def test_nul_in_any_multipart_text_field_is_422_and_files_pass(client: TestClient) -> None:
    org = make_org(client, "Nul Multipart Co")
    # The login form sent as multipart (a browser never does, a script can): PostgreSQL
    # would have been handed the NUL in the e-mail lookup.
    login = client.post(
        "/app/login",
        files={"email": (None, "admin@nul-multipart-co.example\x00"), "password": (None, "x")},
        follow_redirects=False,
    )
    _named(login, "email")
    raw = (
        b'--b\r\nContent-Disposition: form-data; name="email"\r\n\r\na@b.example\r\n'
        b'--b\r\nContent-Disposition: form-data; name="pass\x00word"\r\n\r\nx\r\n--b--\r\n'
    )
    named = client.post(
        "/app/login", content=raw, headers={"Content-Type": "multipart/form-data; boundary=b"}
    )
    _named(named, "pass\\0word")
    # A file part may hold any byte (images do); the CSV parser names a NUL in a CSV file.
    imported = client.post(
        "/api/v1/orders/import?date=2026-11-25",
        files={"file": ("o.csv", b"id,address\nN1,Street\x001\n", "text/csv")},
        headers=org.dispatcher,
    )
    assert imported.status_code == 422 and "row 2, column 'address'" in imported.json()["detail"]
    fine = client.post(
        "/api/v1/orders/import?date=2026-11-25",
        files={"file": ("o.csv", b"id,address,lon,lat\nN1,Street 1,9.5,47.1\n", "text/csv")},
        headers=org.dispatcher,
    )
    assert fine.status_code in (200, 201), fine.text


def test_an_oversized_json_body_is_refused_not_passed_on_unread(client: TestClient) -> None:
    org = make_org(client, "Nul Big Co")
    padding = "x" * 20_000_001
    big = client.post(
        "/api/v1/orders",
        content=('{"external_id": "B\\u0000", "notes": "' + padding + '"}').encode(),
        headers={**org.dispatcher, "Content-Type": "application/json"},
    )
    assert big.status_code == 413, big.text[:300]


def test_nul_is_checked_in_one_place() -> None:
    """The request middleware is the one NUL check for HTTP input (plus the CSV reader, which
    names row and column): no route, schema or service looks for NUL itself."""
    from pathlib import Path

    src = Path(__file__).parents[2] / "src" / "lastmile"
    allowed = {"common/nul.py", "core/formats/table.py"}
    checking = sorted(
        str(path.relative_to(src))
        for path in src.rglob("*.py")
        if str(path.relative_to(src)) not in allowed
        and any(
            needle in path.read_text(encoding="utf-8")
            for needle in (
                "has_nul",
                'in value:\n        raise ValueError("contains a NUL',
                "no NUL",
            )
        )
    )
    assert checking == [], checking


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
